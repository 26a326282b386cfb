using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Generation;

/// <summary>The greedy/sampling loop on fake models: stopping, padding of finished rows, scores, sampling statistics, streaming.</summary>
public class SamplingLoopTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private const int Eos = 9;

    /// <summary>Vocab 10: after token t the favourite is t + 1 (9 = EOS follows 8).</summary>
    private static FakeLanguageModel Counting(int? padTokenId = null) =>
        new(10, (history, logits) => FakeLanguageModel.Favour(logits, Math.Min(history[^1] + 1, Eos)), new SpecialTokens(0, [Eos], padTokenId ?? -1));

    /// <summary>Vocab 16, logits a fixed pseudo-random function of the whole history, so every step differs.</summary>
    private static FakeLanguageModel Noisy() => new(16, (history, logits) =>
    {
        ulong seed = 17;
        foreach (int id in history)
        {
            seed = seed * 31 + (ulong)id;
        }
        new Rng(seed).FillNormal(logits, 2f);
    });

    private static string Letters(IReadOnlyList<int> ids) => string.Concat(ids.Select(id => (char)('a' + id)));

    [Fact]
    public void GreedyFollowsTheArgmaxAndStopsAtEosIncludingIt()
    {
        var model = Counting();
        var result = Generator.Generate(model, [5], new GenerationOptions { MaxNewTokens = 10 }, Token);
        var row = Assert.Single(result.Sequences);
        Assert.Equal(new[] { 6, 7, 8, 9 }, row.GeneratedIds);
        Assert.Equal(new[] { 5, 6, 7, 8, 9 }, row.Sequence);
        Assert.Equal(FinishReason.Eos, row.FinishReason);
        Assert.Null(row.SequenceScore);
        var session = Assert.Single(model.Sessions);
        Assert.Equal(3, session.StepTokens.Count); // no model step after the last token
        Assert.True(session.Disposed);
    }

    [Fact]
    public void TheBudgetEndsARowWithFinishReasonLength()
    {
        var result = Generator.Generate(Counting(), [1], new GenerationOptions { MaxNewTokens = 3 }, Token);
        Assert.Equal(new[] { 2, 3, 4 }, result.Sequences[0].GeneratedIds);
        Assert.Equal(FinishReason.Length, result.Sequences[0].FinishReason);
        Assert.Equal(1, result.InitialLength);
    }

    [Fact]
    public void FinishedRowsAreFilledWithPadAndTheLoopEndsWhenAllRowsAreDone()
    {
        var model = Counting(padTokenId: 0);
        var prompts = PromptBatch.LeftPadded([[7], [2, 3]], padTokenId: 0);
        var result = Generator.Generate(model, prompts, new GenerationOptions { MaxNewTokens = 4, OutputScores = true }, Token);
        // Row 0 (left-padded [0, 7]): 8, EOS, then pad. Row 1: 4, 5, 6, 7 (budget).
        Assert.Equal(new[] { 0, 7, 8, 9, 0, 0 }, result.Sequences[0].Sequence);
        Assert.Equal(new[] { 8, 9 }, result.Sequences[0].GeneratedIds);
        Assert.Equal(FinishReason.Eos, result.Sequences[0].FinishReason);
        Assert.Equal(new[] { 2, 3, 4, 5, 6, 7 }, result.Sequences[1].Sequence);
        Assert.Equal(FinishReason.Length, result.Sequences[1].FinishReason);
        // The finished row keeps being fed the pad id, as HF feeds it.
        var session = Assert.Single(model.Sessions);
        Assert.Equal(new[] { 0, 6 }, session.StepTokens[^1]);
        Assert.Equal(4, result.Scores!.Count);
        Assert.Equal(2 * 10, result.Scores[0].Length);
    }

    [Fact]
    public void PadDefaultsToTheFirstEosWhenTheModelHasNone()
    {
        var prompts = PromptBatch.LeftPadded([[8], [1]], padTokenId: 0);
        var result = Generator.Generate(Counting(), prompts, new GenerationOptions { MaxNewTokens = 3 }, Token);
        Assert.Equal(new[] { 8, 9, Eos, Eos }, result.Sequences[0].Sequence);
        Assert.Equal(new[] { 9 }, result.Sequences[0].GeneratedIds);
    }

    [Fact]
    public void CustomEosOverridesTheModels()
    {
        var result = Generator.Generate(Counting(), [1], new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [3] }, Token);
        Assert.Equal(new[] { 2, 3 }, result.Sequences[0].GeneratedIds);
        Assert.Equal(FinishReason.Eos, result.Sequences[0].FinishReason);
    }

    [Fact]
    public void MinNewTokensKeepsEosAwayUntilReached()
    {
        // After 8 EOS is the favourite; banned, the argmax falls to the first zero logit: token 0, then 1.
        var result = Generator.Generate(Counting(), [7], new GenerationOptions { MaxNewTokens = 4, MinNewTokens = 3 }, Token);
        Assert.Equal(new[] { 8, 0, 1, 2 }, result.Sequences[0].GeneratedIds);
    }

    [Fact]
    public void StopStringsEndTheRowAndCutTheText()
    {
        // Tokens 2,3,4,... decode to "cde..."; the stop string "de" appears once 4 is generated.
        var result = Generator.Generate(Counting(), [1], new GenerationOptions { MaxNewTokens = 8, StopStrings = ["de", "zz"], Detokenizer = Letters }, Token);
        Assert.Equal(new[] { 2, 3, 4 }, result.Sequences[0].GeneratedIds);
        Assert.Equal(FinishReason.Stop, result.Sequences[0].FinishReason);
        Assert.Equal("c", result.Sequences[0].Text);
    }

    [Fact]
    public void ScoresAreTheProcessedLogits()
    {
        var result = Generator.Generate(Counting(), [3, 4], new GenerationOptions { MaxNewTokens = 2, RepetitionPenalty = 2f, OutputScores = true }, Token);
        // Step 0: favourite 5 (logit 5); ids 3, 4 present with logit 0 stay 0. Step 1: 5 is now present: 5 → favourite 6 unaffected.
        Assert.Equal(5f, result.Scores![0][5]);
        Assert.Equal(5f, result.Scores[1][6]);
        var penalised = Generator.Generate(Counting(), [4], new GenerationOptions { MaxNewTokens = 1, RepetitionPenalty = 2f, NoRepeatNgramSize = 1, OutputScores = true }, Token);
        Assert.Equal(float.NegativeInfinity, penalised.Scores![0][4]);
    }

    [Fact]
    public void TheSameSeedGivesTheSameSampleAndAnotherSeedAnother()
    {
        var options = new GenerationOptions { MaxNewTokens = 12, Temperature = 1.5f, TopK = 0, Seed = 7 };
        var first = Generator.Generate(Noisy(), [1, 2], options, Token).Sequences[0].GeneratedIds;
        Assert.Equal(first, Generator.Generate(Noisy(), [1, 2], options, Token).Sequences[0].GeneratedIds);
        var others = Enumerable.Range(8, 5).Select(seed => Generator.Generate(Noisy(), [1, 2], options with { Seed = (ulong)seed }, Token).Sequences[0].GeneratedIds);
        Assert.Contains(others, other => !other.SequenceEqual(first));
    }

    [Fact]
    public void TopKOneAndATinyTopPSampleExactlyWhatGreedyPicks()
    {
        var prompts = PromptBatch.LeftPadded([[1, 2, 3], [4]], padTokenId: 0);
        var greedy = Generator.Generate(Noisy(), prompts, new GenerationOptions { MaxNewTokens = 15 }, Token);
        var topK = Generator.Generate(Noisy(), prompts, new GenerationOptions { MaxNewTokens = 15, DoSample = true, TopK = 1, Seed = 3 }, Token);
        var topP = Generator.Generate(Noisy(), prompts, new GenerationOptions { MaxNewTokens = 15, Temperature = 0.8f, TopK = 0, TopP = 1e-6f, Seed = 4 }, Token);
        for (int row = 0; row < 2; row++)
        {
            Assert.Equal(greedy.Sequences[row].Sequence, topK.Sequences[row].Sequence);
            Assert.Equal(greedy.Sequences[row].Sequence, topP.Sequences[row].Sequence);
        }
    }

    [Fact]
    public void DrawsFollowTheSoftmaxProbabilities()
    {
        double[] probabilities = [0.2, 0.3, 0.5];
        float[] logits = probabilities.Select(p => (float)Math.Log(p) + 1.7f).ToArray(); // a shift must not matter
        var rng = new Rng(11);
        var counts = new int[3];
        const int Draws = 20_000;
        for (int i = 0; i < Draws; i++)
        {
            counts[Sampler.Sample(logits, rng)]++;
        }
        for (int token = 0; token < 3; token++)
        {
            Assert.InRange(counts[token] / (double)Draws, probabilities[token] - 0.015, probabilities[token] + 0.015); // ≈ 4 σ
        }
        Assert.Equal(2, Sampler.Sample([float.NegativeInfinity, float.NegativeInfinity, 0f], rng));
    }

    [Fact]
    public void SamplingWithSeveralReturnSequencesRepeatsEachPrompt()
    {
        var model = Noisy();
        var result = Generator.Generate(model, PromptBatch.LeftPadded([[1], [2]], 0), new GenerationOptions { MaxNewTokens = 3, DoSample = true, NumReturnSequences = 3, Seed = 1 }, Token);
        Assert.Equal(6, result.Sequences.Count);
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 2 }, result.Sequences.Select(row => row.Sequence[0]).ToArray());
        Assert.Equal(6, model.Sessions[0].BatchSize);
    }

    [Fact]
    public async Task StreamingYieldsTheGreedyTokensWithTextDeltasAndAFinishReason()
    {
        var options = new GenerationOptions { MaxNewTokens = 10, Detokenizer = Letters, StopStrings = ["gh"] };
        var tokens = new List<GeneratedToken>();
        await foreach (var token in Generator.GenerateStreamAsync(Counting(), [3], options, Token))
        {
            tokens.Add(token);
        }
        // Generated 4,5,6,7 → "efgh"; "g" is held back as a possible start of "gh"; the text ends before the stop string.
        Assert.Equal(new[] { 4, 5, 6, 7 }, tokens.Select(token => token.TokenId).ToArray());
        Assert.Equal(new[] { 0, 1, 2, 3 }, tokens.Select(token => token.Index).ToArray());
        Assert.Equal(new[] { "e", "f", "", "" }, tokens.Select(token => token.TextDelta).ToArray());
        Assert.Equal(FinishReason.Stop, tokens[^1].FinishReason);
        Assert.All(tokens.SkipLast(1), token => Assert.Null(token.FinishReason));
    }

    [Fact]
    public async Task StreamingMatchesGenerateAndStopsWhenCancelled()
    {
        var options = new GenerationOptions { MaxNewTokens = 20, Temperature = 1f, Seed = 5 };
        var expected = Generator.Generate(Noisy(), [2], options, Token).Sequences[0].GeneratedIds;
        var streamed = new List<int>();
        await foreach (var token in Generator.GenerateStreamAsync(Noisy(), [2], options, Token))
        {
            streamed.Add(token.TokenId);
        }
        Assert.Equal(expected, streamed);

        using var cancellation = new CancellationTokenSource();
        var model = Noisy();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var token in Generator.GenerateStreamAsync(model, [2], options with { MaxNewTokens = 500 }, cancellation.Token))
            {
                if (++received == 3)
                {
                    await cancellation.CancelAsync();
                }
            }
        });
        Assert.True(model.Sessions[0].Disposed);
        Assert.True(model.Sessions[0].StepTokens.Count < 499);
    }

    [Fact]
    public async Task LeavingAStreamEarlyStopsDecoding()
    {
        var model = Noisy();
        await foreach (var token in Generator.GenerateStreamAsync(model, [2], new GenerationOptions { MaxNewTokens = 500 }, Token))
        {
            break;
        }
        Assert.True(model.Sessions[0].Disposed);
        Assert.True(model.Sessions[0].StepTokens.Count < 499);
    }

    [Fact]
    public async Task AModelFailureReachesTheStreamReader()
    {
        var model = new FakeLanguageModel(4, (history, logits) =>
        {
            if (history.Count > 3)
            {
                throw new InvalidOperationException("model broke");
            }
            FakeLanguageModel.Favour(logits, 1);
        });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (var token in Generator.GenerateStreamAsync(model, [2], new GenerationOptions { MaxNewTokens = 10 }, Token))
            {
            }
        });
        Assert.Equal("model broke", error.Message);
        Assert.True(model.Sessions[0].Disposed);
    }
}
