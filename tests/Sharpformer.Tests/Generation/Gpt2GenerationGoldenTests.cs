using Sharpformer.Generation;
using Sharpformer.Models;

namespace Sharpformer.Tests.Generation;

/// <summary>
/// <c>generate()</c> of HF transformers 4.36 on the tiny GPT-2 fixture: identical <c>sequences</c>, greedy
/// <c>scores</c> within 1e-4 (-inf where HF has -inf), beam <c>sequences_scores</c> within 1e-5.
/// Every call passed pad_token_id=999 (= bos = eos) and a left-padded batch.
/// </summary>
public sealed class Gpt2GenerationGoldenTests : IDisposable
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private const int Pad = 999;
    private readonly ILanguageModel _model = ModelRegistry.Load(Fixture.File("gpt2"));
    private readonly Goldens _goldens = new("gpt2");

    public void Dispose()
    {
        _model.Dispose();
        _goldens.Dispose();
    }

    public static TheoryData<string, GenerationOptions> Entries() => new()
    {
        { "greedy_single", new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 20, OutputScores = true } },
        { "greedy_batch", new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 20, OutputScores = true } },
        { "greedy_batch_custom_eos", new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 20, EosTokenIds = [251], OutputScores = true } },
        { "greedy_repetition_penalty_no_repeat_ngram",
            new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 20, RepetitionPenalty = 1.3f, NoRepeatNgramSize = 2, OutputScores = true } },
        { "beam_single", new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 12, NumBeams = 4, NumReturnSequences = 4 } },
        { "beam_batch", new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 12, NumBeams = 4 } },
        { "beam_batch_custom_eos", new GenerationOptions { PadTokenId = Pad, MaxNewTokens = 12, NumBeams = 4, NumReturnSequences = 2, EosTokenIds = [661] } },
    };

    [Theory]
    [MemberData(nameof(Entries))]
    public void GenerateMatchesHf(string entry, GenerationOptions options)
    {
        int[] ids = _goldens.Ints($"{entry}.input_ids", out var inputShape);
        int[] mask = _goldens.Ints($"{entry}.attention_mask");
        var prompts = new PromptBatch(ids, mask, inputShape[0], inputShape[1]);

        var result = Generator.Generate(_model, prompts, options, Token);

        int[] expected = _goldens.Ints($"{entry}.sequences", out var shape);
        int rows = shape[0], width = shape[1];
        Assert.Equal(rows, result.Sequences.Count);
        Assert.Equal(inputShape[1], result.InitialLength);
        for (int row = 0; row < rows; row++)
        {
            Assert.Equal(expected.AsSpan(row * width, width).ToArray(), result.Sequences[row].Sequence);
            AssertGeneratedIdsAreTheUnpaddedTail(result.Sequences[row], inputShape[1], options);
        }

        if (_goldens.Has($"{entry}.scores"))
        {
            var scores = _goldens.Floats($"{entry}.scores"); // [steps, batch, vocab]
            Assert.NotNull(result.Scores);
            Assert.Equal(scores.Shape[0], result.Scores.Count);
            int perStep = scores.Shape[1] * scores.Shape[2];
            for (int step = 0; step < result.Scores.Count; step++)
            {
                Goldens.AssertClose(scores.Span.Slice(step * perStep, perStep), result.Scores[step], 1e-4f, $"{entry} scores[{step}]");
            }
        }
        if (_goldens.Has($"{entry}.sequences_scores"))
        {
            var sequenceScores = _goldens.Floats($"{entry}.sequences_scores").Span;
            for (int row = 0; row < rows; row++)
            {
                Assert.True(MathF.Abs(sequenceScores[row] - result.Sequences[row].SequenceScore!.Value) <= 1e-5f,
                    $"{entry} sequences_scores[{row}]: {result.Sequences[row].SequenceScore} vs HF {sequenceScores[row]}");
            }
        }
    }

    /// <summary>GeneratedIds: the tokens after the prompt up to and including the EOS, never the pad fill.</summary>
    private static void AssertGeneratedIdsAreTheUnpaddedTail(GeneratedSequence sequence, int promptLength, GenerationOptions options)
    {
        var tail = sequence.Sequence.AsSpan(promptLength);
        Assert.Equal(tail[..sequence.GeneratedIds.Length].ToArray(), sequence.GeneratedIds);
        int eos = options.EosTokenIds?[0] ?? Pad;
        if (sequence.FinishReason == FinishReason.Eos)
        {
            Assert.Equal(eos, sequence.GeneratedIds[^1]);
            Assert.All(tail[sequence.GeneratedIds.Length..].ToArray(), id => Assert.Equal(Pad, id));
        }
        else
        {
            Assert.Equal(options.MaxNewTokens, sequence.GeneratedIds.Length);
        }
    }
}
