using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Generation;

/// <summary>Beam bookkeeping on fake models, with expectations worked out by hand from HF 4.36's BeamSearchScorer.</summary>
public class BeamSearchTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private const int A = 0, B = 1, Eos = 2;

    /// <summary>After A: P(A, B, EOS) = (0.5, 0.3, 0.2); after B: (0.1, 0.1, 0.8).</summary>
    private static FakeLanguageModel ThreeTokens() => new(3, (history, logits) =>
    {
        if (history[^1] == B)
        {
            FakeLanguageModel.LogProbabilities(logits, 0.1, 0.1, 0.8);
        }
        else
        {
            FakeLanguageModel.LogProbabilities(logits, 0.5, 0.3, 0.2);
        }
    }, new SpecialTokens(-1, [Eos], -1));

    [Fact]
    public void TwoBeamsOverThreeStepsMatchTheHandWorkedSearch()
    {
        // Step 1 from [A]: candidates A (ln .5), B (ln .3) fill both beams: [A,A], [A,B].
        // Step 2: A after [A,A] = 2 ln .5 = -1.386; EOS after [A,B] = ln .3 + ln .8 = -1.427 (rank 1 < 2: hypothesis
        //   [A,B,EOS] with score -1.427 / 2 = -0.7136); B after [A,A] = -1.897. Beams: [A,A,A], [A,A,B].
        // Step 3 (last): A after [A,A,A] = -2.079; EOS after [A,A,B] = -2.120 (hypothesis, -2.120 / 3 = -0.7068);
        //   B after [A,A,A] = -2.590. Max length: finalize [A,A,A,A] at -2.079 / 3 = ln .5 (replaces the -0.7136
        //   hypothesis) and [A,A,A,B] at -0.863 (worse than both, dropped).
        var model = ThreeTokens();
        var result = Generator.Generate(model, [A], new GenerationOptions { MaxNewTokens = 3, NumBeams = 2, NumReturnSequences = 2 }, Token);

        Assert.Equal(2, result.Sequences.Count);
        var best = result.Sequences[0];
        Assert.Equal(new[] { A, A, A, A }, best.Sequence);
        Assert.Equal(new[] { A, A, A }, best.GeneratedIds);
        Assert.Equal(FinishReason.Length, best.FinishReason);
        Assert.Equal(Math.Log(0.5), best.SequenceScore!.Value, 5);

        var second = result.Sequences[1];
        Assert.Equal(new[] { A, A, B, Eos }, second.Sequence);
        Assert.Equal(new[] { A, B, Eos }, second.GeneratedIds);
        Assert.Equal(FinishReason.Eos, second.FinishReason);
        Assert.Equal((Math.Log(0.5) + Math.Log(0.3) + Math.Log(0.8)) / 3, second.SequenceScore!.Value, 5);

        // Prefill + 2 steps; each step reordered the cache first: step 2 kept beam 0 twice ([A,A,A], [A,A,B]).
        var session = Assert.Single(model.Sessions);
        Assert.Equal(2, session.BatchSize);
        Assert.Equal(2, session.StepTokens.Count);
        Assert.Equal(new[] { 0, 0 }, session.Reorders[1]);
        Assert.Equal(new[] { A, B }, session.StepTokens[1]);
    }

    [Fact]
    public void LengthPenaltyChangesTheRanking()
    {
        // length_penalty 0 ranks by the plain sum: [B,EOS] (ln .3 + ln .8 = -1.427) beats [A,A,A] (3 ln .5 = -2.079).
        var result = Generator.Generate(ThreeTokens(), [A], new GenerationOptions { MaxNewTokens = 3, NumBeams = 2, NumReturnSequences = 2, LengthPenalty = 0f }, Token);
        Assert.Equal(new[] { B, Eos }, result.Sequences[0].GeneratedIds);
        Assert.Equal(Math.Log(0.3) + Math.Log(0.8), result.Sequences[0].SequenceScore!.Value, 5);
        // Rows are right-padded (pad defaults to the EOS) to min(longest + 1, max length).
        Assert.Equal(new[] { A, B, Eos, Eos }, result.Sequences[0].Sequence);
    }

    [Fact]
    public void EarlyStoppingEndsAPromptOnceNumBeamsHypothesesAreFinished()
    {
        // Almost certain EOS after B: each step yields one EOS hypothesis ([A,B,EOS] at step 2, [A,A,B,EOS] at step 3).
        var result = Generator.Generate(ThreeTokens(), [A], new GenerationOptions { MaxNewTokens = 10, NumBeams = 2, NumReturnSequences = 2, EarlyStopping = true }, Token);
        Assert.All(result.Sequences, row => Assert.Equal(FinishReason.Eos, row.FinishReason));
        Assert.Equal(new[] { A, A, B, Eos }, result.Sequences[0].Sequence);
        Assert.Equal(new[] { A, B, Eos, Eos }, result.Sequences[1].Sequence);
    }

    [Fact]
    public void AnEosCandidateOutsideTheTopNumBeamsIsIgnored()
    {
        const int C = 3;
        // From [C]: A .5, B .4 → beams [C,A] (-0.693), [C,B] (-0.916).
        // Step 2 candidates: EOS after [C,A] = ln .5 + ln .6 = -1.204 (rank 0: hypothesis), A after [C,A] = -1.897,
        //   EOS after [C,B] = ln .4 + ln .3 = -2.120 (rank 2 >= 2 beams: ignored), A after [C,B] = -2.303.
        // Step 3 (last): A, B after [C,A,A] refill the beams; at max length [C,A,A,A] = ln .5 + 2 ln .3 = -3.101 joins.
        // With length_penalty 0 an accepted [C,B,EOS] (-2.120) would have beaten it.
        var model = new FakeLanguageModel(4, (history, logits) =>
        {
            switch (history.Count, history[^1])
            {
                case (1, _): FakeLanguageModel.LogProbabilities(logits, 0.5, 0.4, 0.05, 0.05); break;
                case (2, A): FakeLanguageModel.LogProbabilities(logits, 0.3, 0.05, 0.6, 0.05); break;
                case (2, _): FakeLanguageModel.LogProbabilities(logits, 0.25, 0.25, 0.3, 0.2); break;
                default: FakeLanguageModel.LogProbabilities(logits, 0.3, 0.28, 0.22, 0.2); break;
            }
        }, new SpecialTokens(-1, [Eos], -1));
        var result = Generator.Generate(model, [C], new GenerationOptions { MaxNewTokens = 3, NumBeams = 2, NumReturnSequences = 2, LengthPenalty = 0f }, Token);
        Assert.Equal(new[] { C, A, Eos, Eos }, result.Sequences[0].Sequence);
        Assert.Equal(Math.Log(0.5) + Math.Log(0.6), result.Sequences[0].SequenceScore!.Value, 5);
        Assert.Equal(new[] { C, A, A, A }, result.Sequences[1].Sequence);
        Assert.Equal(Math.Log(0.5) + 2 * Math.Log(0.3), result.Sequences[1].SequenceScore!.Value, 5);
        Assert.Equal(FinishReason.Length, result.Sequences[1].FinishReason);
    }

    [Fact]
    public void ABatchGivesTheSameBeamsAsEachPromptAlone()
    {
        // Logits depend on the whole history the fake session keeps, so wrong reorders would change the result.
        FakeLanguageModel Noisy() => new(12, (history, logits) =>
        {
            ulong seed = 3;
            foreach (int id in history.SkipWhile(id => id == 11)) // 11 = left padding, invisible as with a mask
            {
                seed = seed * 131 + (ulong)id;
            }
            new Rng(seed).FillNormal(logits, 1.5f);
        }, new SpecialTokens(-1, [10], 11));
        var options = new GenerationOptions { MaxNewTokens = 6, NumBeams = 3, NumReturnSequences = 2 };
        int[][] prompts = [[1, 2, 3], [4]];
        var batch = Generator.Generate(Noisy(), PromptBatch.LeftPadded(prompts, 11), options, Token);
        for (int prompt = 0; prompt < 2; prompt++)
        {
            var alone = Generator.Generate(Noisy(), prompts[prompt], options, Token);
            for (int rank = 0; rank < 2; rank++)
            {
                var batched = batch.Sequences[prompt * 2 + rank];
                Assert.Equal(alone.Sequences[rank].GeneratedIds, batched.GeneratedIds);
                Assert.Equal(alone.Sequences[rank].SequenceScore!.Value, batched.SequenceScore!.Value, 5);
            }
        }
    }

    [Fact]
    public void EncoderDecoderSessionsStartFromTheDecoderStartTokenWithForcedBosAndEos()
    {
        // BART-like: decoder start 2, forced BOS 0 at the first step and forced EOS 2 at the last.
        var model = new FakeLanguageModel(5, (history, logits) => FakeLanguageModel.Favour(logits, 3),
            new SpecialTokens(0, [2], 1, DecoderStartTokenId: 2, ForcedBosTokenId: 0, ForcedEosTokenId: 2), decoderStartTokenId: 2);
        var beams = Generator.Generate(model, [4, 4, 4], new GenerationOptions { MaxNewTokens = 4, NumBeams = 2 }, Token);
        Assert.Equal(new[] { 2, 0, 3, 3, 2 }, beams.Sequences[0].Sequence);
        Assert.Equal(FinishReason.Eos, beams.Sequences[0].FinishReason);
        var greedy = Generator.Generate(model, [4, 4, 4], new GenerationOptions { MaxNewTokens = 4, OutputScores = true }, Token);
        Assert.Equal(new[] { 2, 0, 3, 3, 2 }, greedy.Sequences[0].Sequence);
        Assert.Equal(float.NegativeInfinity, greedy.Scores![0][3]);
        Assert.Equal(0f, greedy.Scores[0][0]);
    }
}
