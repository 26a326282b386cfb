using Sharpformer.Generation;

namespace Sharpformer.Tests.Generation;

/// <summary>Each processor against values worked out by hand from HF's definitions (transformers 4.36 logits_process.py).</summary>
public class LogitsProcessorTests
{
    private const float NegativeInfinity = float.NegativeInfinity;

    private static float[] Run(ILogitsProcessor processor, int[] sequence, int generatedLength, params float[] logits)
    {
        processor.Process(sequence, generatedLength, logits);
        return logits;
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOncePerDistinctId()
    {
        // ids 0 and 1 present (1 twice): 1 / 2 = 0.5, -1 · 2 = -2; ids 2, 3 untouched.
        Assert.Equal(new[] { 0.5f, -2f, 2f, 0.5f }, Run(new RepetitionPenaltyProcessor(2f), [0, 1, 1], 2, 1f, -1f, 2f, 0.5f));
        // A penalty below 1 rewards repeats; zero stays zero.
        Assert.Equal(new[] { 0f, -0.5f, 4f }, Run(new RepetitionPenaltyProcessor(0.5f), [0, 1, 2], 0, 0f, -1f, 2f));
    }

    [Fact]
    public void RepetitionPenaltyCountsPaddingIdsBecauseHfGathersOverAllInputIds()
    {
        // A left-padded row [pad=3, pad=3, 1]: id 3 is penalised too.
        Assert.Equal(new[] { 1f, 0.5f, 1f, -6f }, Run(new RepetitionPenaltyProcessor(2f), [3, 3, 1], 0, 1f, 1f, 1f, -3f));
    }

    [Fact]
    public void NoRepeatNgramBansTokensThatCompleteASeenNgram()
    {
        // Bigrams of [1,2,3,1]: (1,2) (2,3) (3,1). The last token 1 was followed by 2 → ban 2.
        Assert.Equal(new[] { 0f, 0f, NegativeInfinity, 0f }, Run(new NoRepeatNgramProcessor(2), [1, 2, 3, 1], 1, 0f, 0f, 0f, 0f));
        // Trigrams of [1,2,3,1,2]: prefix (1,2) was followed by 3 → ban 3 only.
        Assert.Equal(new[] { 0f, 0f, 0f, NegativeInfinity }, Run(new NoRepeatNgramProcessor(3), [1, 2, 3, 1, 2], 1, 0f, 0f, 0f, 0f));
        // Unigrams: every id already present.
        Assert.Equal(new[] { NegativeInfinity, 0f, NegativeInfinity, 0f }, Run(new NoRepeatNgramProcessor(1), [0, 2], 0, 0f, 0f, 0f, 0f));
        // Too short to hold an n-gram prefix plus one: nothing banned.
        Assert.Equal(new[] { 0f, 0f }, Run(new NoRepeatNgramProcessor(3), [1], 0, 0f, 0f));
    }

    [Fact]
    public void BadWordsBansSingleIdsAlwaysAndLastIdsAfterTheirPrefix()
    {
        var processor = new BadWordsProcessor([[3], [1, 2], [4]], eosTokenIds: [4]);
        // Ends with 1: bans 2 (prefix matched) and 3; [4] equals the EOS and is dropped, as HF does.
        Assert.Equal(new[] { 0f, 0f, NegativeInfinity, NegativeInfinity, 0f }, Run(processor, [0, 1], 1, 0f, 0f, 0f, 0f, 0f));
        Assert.Equal(new[] { 0f, 0f, 0f, NegativeInfinity, 0f }, Run(processor, [1, 0], 1, 0f, 0f, 0f, 0f, 0f));
    }

    [Fact]
    public void MinNewTokensBansEveryEosUntilEnoughTokensAreGenerated()
    {
        var processor = new MinNewTokensProcessor(2, [1, 3]);
        Assert.Equal(new[] { 0f, NegativeInfinity, 0f, NegativeInfinity }, Run(processor, [5, 5, 5], 1, 0f, 0f, 0f, 0f));
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, Run(processor, [5, 5, 5, 5], 2, 0f, 0f, 0f, 0f));
    }

    [Fact]
    public void ForcedBosAppliesWhenTheRowHoldsOnlyTheDecoderStartToken()
    {
        var processor = new ForcedBosProcessor(0);
        Assert.Equal(new[] { 0f, NegativeInfinity, NegativeInfinity }, Run(processor, [2], 0, 1f, 2f, 3f));
        Assert.Equal(new[] { 1f, 2f, 3f }, Run(processor, [2, 0], 1, 1f, 2f, 3f));
    }

    [Fact]
    public void ForcedEosAppliesAtTheLastStepOfTheBudget()
    {
        // max_new_tokens 3: HF forces when cur_len == max_length - 1, i.e. 2 tokens generated.
        var processor = new ForcedEosProcessor(2, maxNewTokens: 3);
        Assert.Equal(new[] { 1f, 2f, 3f }, Run(processor, [2, 0], 1, 1f, 2f, 3f));
        Assert.Equal(new[] { NegativeInfinity, NegativeInfinity, 0f }, Run(processor, [2, 0, 1], 2, 1f, 2f, 3f));
    }

    [Fact]
    public void TemperatureDividesEveryScore()
    {
        Assert.Equal(new[] { 1f, 2f, -0.5f }, Run(new TemperatureWarper(2f), [], 0, 2f, 4f, -1f));
    }

    [Fact]
    public void TopKKeepsScoresAtLeastTheKthLargestIncludingTies()
    {
        Assert.Equal(new[] { NegativeInfinity, 3f, NegativeInfinity, 3f, NegativeInfinity }, Run(new TopKWarper(2), [], 0, 1f, 3f, 2f, 3f, 0f));
        // k = 3: sorted 3,3,2,1,0 → threshold 2.
        Assert.Equal(new[] { NegativeInfinity, 3f, 2f, 3f, NegativeInfinity }, Run(new TopKWarper(3), [], 0, 1f, 3f, 2f, 3f, 0f));
        // k larger than the vocabulary keeps everything.
        Assert.Equal(new[] { 1f, 2f }, Run(new TopKWarper(10), [], 0, 1f, 2f));
    }

    [Fact]
    public void KthLargestAgreesWithSortingOnRandomData()
    {
        var rng = new Sharpformer.Tensors.Rng(5);
        for (int trial = 0; trial < 200; trial++)
        {
            var values = new float[1 + rng.NextInt(60)];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = rng.NextInt(8); // many ties
            }
            int k = 1 + rng.NextInt(values.Length);
            float expected = values.OrderDescending().ElementAt(k - 1);
            Assert.Equal(expected, TopKWarper.KthLargest(values.ToArray(), k));
        }
    }

    [Fact]
    public void TopPDropsTheLeastLikelyTokensWhoseCumulativeMassStaysBelowOneMinusP()
    {
        // p = [0.5, 0.3, 0.15, 0.05]; ascending cumulative 0.05, 0.20, 0.50, 1.0.
        float[] Logits() => [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        // top_p 0.75: remove cumulative <= 0.25 → the 0.05 and 0.15 tokens.
        var kept = Run(new TopPWarper(0.75f), [], 0, Logits());
        Assert.Equal(new[] { false, false, true, true }, kept.Select(float.IsNegativeInfinity).ToArray());
        // top_p 0.9: remove cumulative <= 0.1 → only the 0.05 token.
        kept = Run(new TopPWarper(0.9f), [], 0, Logits());
        Assert.Equal(new[] { false, false, false, true }, kept.Select(float.IsNegativeInfinity).ToArray());
        // A tiny top_p still keeps the most likely token (min_tokens_to_keep = 1).
        kept = Run(new TopPWarper(1e-6f), [], 0, Logits());
        Assert.Equal(new[] { false, true, true, true }, kept.Select(float.IsNegativeInfinity).ToArray());
        Assert.Equal(MathF.Log(0.5f), kept[0]);
    }

    [Fact]
    public void MinPDropsTokensLessLikelyThanMinPTimesTheTopProbability()
    {
        float[] Logits() => [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        // min_p 0.2 → threshold 0.1: only 0.05 goes.
        Assert.Equal(new[] { false, false, false, true }, Run(new MinPWarper(0.2f), [], 0, Logits()).Select(float.IsNegativeInfinity).ToArray());
        // min_p 0.5 → threshold 0.25: 0.15 and 0.05 go.
        Assert.Equal(new[] { false, false, true, true }, Run(new MinPWarper(0.5f), [], 0, Logits()).Select(float.IsNegativeInfinity).ToArray());
    }

    [Fact]
    public void LogSoftmaxMatchesTheClosedForm()
    {
        float[] scores = [1f, 2f, 3f];
        Sampler.LogSoftmax(scores);
        double logTotal = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)); // 3.4076059644
        Assert.Equal(1 - logTotal, scores[0], 6);
        Assert.Equal(2 - logTotal, scores[1], 6);
        Assert.Equal(3 - logTotal, scores[2], 6);
    }

    [Fact]
    public void ArgMaxTakesTheFirstOfTiedMaxima()
    {
        Assert.Equal(1, Sampler.ArgMax([0f, 2f, 2f, NegativeInfinity]));
    }

    [Fact]
    public void StoppingCriteriaReportEosLengthAndStopStrings()
    {
        Assert.Equal(FinishReason.Eos, new EosCriterion([7, 9]).Check([1, 9], 1));
        Assert.Null(new EosCriterion([7]).Check([7, 1], 1));
        Assert.Null(new EosCriterion([7]).Check([7], 0)); // a prompt ending in EOS is not a finished generation
        Assert.Equal(FinishReason.Length, new MaxNewTokensCriterion(2).Check([1, 2, 3], 2));
        Assert.Null(new MaxNewTokensCriterion(3).Check([1, 2, 3], 2));
        var stop = new StopStringCriterion(["cd"], ids => string.Concat(ids.Select(id => (char)('a' + id))));
        Assert.Equal(FinishReason.Stop, stop.Check([0, 1, 2, 3, 4], 4)); // generated "bcde" contains "cd"
        Assert.Null(stop.Check([2, 3, 4], 1)); // "cd" is in the prompt only
    }
}
