using Sharpformer.Models;

namespace Sharpformer.Tests.Models;

/// <summary>`sharpformer info` numbers: the GPT-3 paper's parameter counts and hand-computed FLOPs and memory.</summary>
public sealed class ModelCostTests
{
    /// <summary>Table 2.1 of Brown et al. 2020, "Language Models are Few-Shot Learners".</summary>
    [Theory]
    [InlineData("gpt3-small", 125e6)]
    [InlineData("gpt3-medium", 350e6)]
    [InlineData("gpt3-large", 760e6)]
    [InlineData("gpt3-xl", 1.3e9)]
    [InlineData("gpt3-2.7b", 2.7e9)]
    [InlineData("gpt3-6.7b", 6.7e9)]
    [InlineData("gpt3-13b", 13.0e9)]
    [InlineData("gpt3-175b", 175.0e9)]
    [InlineData("gpt2", 124.4e6)]   // HF's gpt2 checkpoint: 124,439,808 parameters
    [InlineData("gpt2-xl", 1.558e9)]
    public void ParameterCountsMatchThePublishedSizes(string name, double published)
    {
        var cost = ModelCost.Of(Gpt2Config.Named[name]);
        Assert.InRange(cost.Parameters / published, 0.97, 1.03);
    }

    [Theory]
    [InlineData("gpt-neo-125M", 125.2e6)]
    [InlineData("gpt-neo-1.3B", 1.316e9)]
    [InlineData("gpt-neo-2.7B", 2.652e9)]
    public void GptNeoSizesMatchEleutherAi(string name, double published)
    {
        var cost = ModelCost.Of(GptNeoConfig.Named[name]);
        Assert.InRange(cost.Parameters / published, 0.98, 1.02);
    }

    [Fact]
    public void Gpt3SmallByHand()
    {
        var cost = ModelCost.Of(Gpt2Config.Named["gpt3-small"]);
        const long d = 768, layers = 12, vocab = 50257, context = 2048;
        // wte + wpe + per block (qkv 3d²+3d, proj d²+d, fc 4d²+4d, fc-proj 4d²+d, two layer norms 4d) + ln_f.
        long parameters = vocab * d + context * d + layers * (12 * d * d + 13 * d) + 2 * d;
        Assert.Equal(parameters, cost.Parameters);
        Assert.Equal(125_226_240, parameters);
        Assert.Equal(2 * (parameters - context * d), cost.WeightFlopsPerToken);
        Assert.Equal(4 * layers * context * d, cost.AttentionFlopsPerToken); // q·kᵀ and weights·v over 2048 keys
        Assert.Equal(2 * layers * d * 4, cost.KvBytesPerToken(NumberFormat.Float32));
        Assert.Equal(2 * layers * d * 2 * context, cost.KvBytesFullContext(NumberFormat.BFloat16));
        Assert.Equal(parameters, cost.WeightBytes(NumberFormat.Int8));
    }

    [Fact]
    public void Gpt3_175bFlopsAndCacheByHand()
    {
        var cost = ModelCost.Of(Gpt2Config.Named["gpt3-175b"]);
        // ≈ 2·N forward: 2 × 175e9 = 350 GFLOP, plus 4·96·2048·12288 = 9.66 GFLOP of attention.
        Assert.InRange(cost.WeightFlopsPerToken / 2 / 175e9, 0.99, 1.01);
        Assert.Equal(4L * 96 * 2048 * 12288, cost.AttentionFlopsPerToken);
        Assert.Equal(2L * 96 * 12288 * 2048 * 2, cost.KvBytesFullContext(NumberFormat.BFloat16)); // 9.66 GB per sequence
    }

    [Fact]
    public void LocalLayersCostOnlyTheirWindow()
    {
        var neo = ModelCost.Of(GptNeoConfig.Named["gpt-neo-125M"]);
        const long d = 768, context = 2048, window = 256;
        Assert.Equal(6 * 4 * context * d + 6 * 4 * window * d, neo.AttentionFlopsPerToken);
        Assert.Equal((6 * context + 6 * window) * 2 * d, neo.KvValuesFullContext);
        Assert.Equal(2 * 12 * d, neo.KvValuesPerToken);
    }
}
