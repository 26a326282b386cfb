namespace Sharpformer.Models;

/// <summary>Storage formats a weight or cache value can take, with their size.</summary>
public enum NumberFormat
{
    Float32 = 4,
    BFloat16 = 2,
    Int8 = 1,
}

/// <summary>
/// What a decoder-only model costs to hold and to run, from its shape alone: parameters, forward FLOPs per token,
/// weight bytes and KV-cache bytes. <see cref="LayerWindows"/>: 0 for a dense (global) layer, N for a local layer
/// that attends to (and caches) only the last N tokens.
/// </summary>
public sealed record ModelCost(
    string Architecture,
    int LayerCount,
    int HiddenSize,
    int HeadCount,
    int InnerSize,
    int VocabSize,
    int ContextLength,
    long Parameters,
    IReadOnlyList<int> LayerWindows)
{
    public static ModelCost Of(Gpt2Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ModelCost("GPT-2 decoder-only transformer (pre-norm, learned positions, tied lm_head)",
            config.LayerCount, config.HiddenSize, config.HeadCount, config.InnerSize, config.VocabSize, config.MaxPositions,
            config.ParameterCount, new int[config.LayerCount]);
    }

    public static ModelCost Of(GptNeoConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ModelCost($"GPT-Neo decoder (GPT-2 blocks, unscaled attention, global/local layers, window {config.WindowSize})",
            config.LayerCount, config.HiddenSize, config.HeadCount, config.InnerSize, config.VocabSize, config.MaxPositions,
            config.ParameterCount, [.. Enumerable.Range(0, config.LayerCount).Select(config.LayerWindow)]);
    }

    public int HeadDim => HiddenSize / HeadCount;

    /// <summary>Keys a token at the end of a full context attends to in each layer.</summary>
    private IEnumerable<long> KeysAtFullContext => LayerWindows.Select(window => (long)(window > 0 ? Math.Min(window, ContextLength) : ContextLength));

    /// <summary>
    /// Matrix-multiply FLOPs per token: 2 per weight (multiply + add) over every weight a token passes through, which
    /// is every parameter except the position table (a lookup) and with the token table counted once, as the tied head.
    /// </summary>
    public long WeightFlopsPerToken => 2 * (Parameters - (long)ContextLength * HiddenSize);

    /// <summary>
    /// Attention FLOPs per token at full context: q·kᵀ and weights·v each cost 2·keys·hidden per layer
    /// (Kaplan et al. count only q·kᵀ, 2·layers·context·hidden).
    /// </summary>
    public long AttentionFlopsPerToken => KeysAtFullContext.Sum(keys => 4 * keys * HiddenSize);

    /// <summary>Forward FLOPs per token at full context (a training step costs about 3×: forward + 2× backward).</summary>
    public long FlopsPerToken => WeightFlopsPerToken + AttentionFlopsPerToken;

    public long WeightBytes(NumberFormat format) => Parameters * (int)format;

    /// <summary>Key + value values one more cached token adds while the context is not full (every layer stores it).</summary>
    public long KvValuesPerToken => 2L * LayerCount * HiddenSize;

    /// <summary>Key + value values one sequence holds at full context; a local layer keeps only its window.</summary>
    public long KvValuesFullContext => KeysAtFullContext.Sum(keys => 2 * keys * HiddenSize);

    public long KvBytesPerToken(NumberFormat format) => KvValuesPerToken * (int)format;

    public long KvBytesFullContext(NumberFormat format) => KvValuesFullContext * (int)format;
}
