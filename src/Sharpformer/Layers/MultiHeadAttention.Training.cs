using Sharpformer.Autograd;
using Sharpformer.Kernels;

namespace Sharpformer.Layers;

/// <summary>
/// Masks for training attention over a batch (null fields = none). <see cref="KeyMask"/> [batch, keyCount]: 1 = token,
/// 0 = padding. <see cref="Visibility"/> [batch, tokenCount, keyCount]: 1 = query i may see key j; when present it
/// replaces the layer's own mask kind (UniLM, prefix LM). <see cref="ScoreBias"/> [heads, tokenCount, keyCount] is
/// added to the scores of every batch row and gets its gradient (summed over the batch), as T5's relative bias needs.
/// </summary>
public sealed record TrainingAttentionMask
{
    public int[]? KeyMask { get; init; }

    public byte[]? Visibility { get; init; }

    public Variable? ScoreBias { get; init; }
}

public sealed partial class MultiHeadAttention
{
    /// <summary>
    /// Training self-attention: input [batch·tokenCount, hidden] → output, recorded on the tape. No cache: every key
    /// is in this call. <paramref name="dropout"/> drops attention probabilities (GPT-2 attn_pdrop, BERT
    /// attention_probs_dropout_prob) when the tape has an Rng.
    /// </summary>
    public Variable Forward(Tape tape, Variable input, int batchSize, int tokenCount, TrainingAttentionMask? masks = null, float dropout = 0f)
    {
        ArgumentNullException.ThrowIfNull(tape);
        int rows = batchSize * tokenCount;
        int inner = InnerWidth;
        Variable heads;
        if (Fused is not null)
        {
            // One projection whose output rows are q | k | v.
            var qkv = Fused.Forward(tape, input, rows);
            heads = Attend(tape, qkv, 0, 3 * inner, qkv, inner, qkv, 2 * inner, 3 * inner, batchSize, tokenCount, tokenCount, Kind, masks, dropout);
        }
        else
        {
            var q = Query!.Forward(tape, input, rows);
            var k = Key!.Forward(tape, input, rows);
            var v = Value!.Forward(tape, input, rows);
            heads = Attend(tape, q, 0, inner, k, 0, v, 0, inner, batchSize, tokenCount, tokenCount, Kind, masks, dropout);
        }
        return Output.Forward(tape, heads, rows);
    }

    /// <summary>
    /// Training cross-attention: queries from <paramref name="input"/> [batch·tokenCount, hidden], keys and values from
    /// <paramref name="memory"/> [batch·sourceLength, hidden] (the encoder output, which receives its gradient).
    /// </summary>
    public Variable ForwardCross(Tape tape, Variable input, Variable memory, int batchSize, int tokenCount, int sourceLength,
        TrainingAttentionMask? masks = null, float dropout = 0f)
    {
        ArgumentNullException.ThrowIfNull(tape);
        int inner = InnerWidth;
        var q = Query!.Forward(tape, input, batchSize * tokenCount);
        var k = Key!.Forward(tape, memory, batchSize * sourceLength);
        var v = Value!.Forward(tape, memory, batchSize * sourceLength);
        var heads = Attend(tape, q, 0, inner, k, 0, v, 0, inner, batchSize, tokenCount, sourceLength, AttentionKind.Bidirectional, masks, dropout);
        return Output.Forward(tape, heads, batchSize * tokenCount);
    }

    private Variable Attend(Tape tape, Variable q, int queryOffset, int queryStride, Variable k, int keyOffset, Variable v, int valueOffset, int keyStride,
        int batchSize, int tokenCount, int keyCount, AttentionKind kind, TrainingAttentionMask? masks, float dropout)
    {
        int headCount = HeadCount, headDim = HeadDim, inner = InnerWidth, square = tokenCount * keyCount;
        float scale = Scale;
        int window = LocalWindow;
        CheckMasks(masks, batchSize, tokenCount, keyCount);
        if (masks?.Visibility is not null)
        {
            kind = AttentionKind.Bidirectional; // an explicit visibility matrix replaces the causal rule
        }
        var keyMask = masks?.KeyMask;
        var visibility = masks?.Visibility;
        var bias = masks?.ScoreBias;
        float[]? dropMask = null;
        if (dropout > 0f && tape.Rng is not null)
        {
            dropMask = new float[batchSize * headCount * square];
            Kernels.Backward.DropoutMask(tape.Rng, dropout, dropMask);
        }
        var probabilities = new float[batchSize * headCount * square];
        var heads = new Variable(new float[batchSize * tokenCount * inner]);

        HeadMask MaskOf(int b, int h) => new()
        {
            Kind = kind,
            LocalWindow = window,
            KeyMask = keyMask is null ? default : keyMask.AsSpan(b * keyCount, keyCount),
            Visibility = visibility is null ? default : visibility.AsSpan(b * square, square),
            ScoreBias = bias is null ? default : bias.Value.AsSpan(h * square, square),
            Dropout = dropMask is null ? default : dropMask.AsSpan((b * headCount + h) * square, square),
        };

        Parallel.For(0, batchSize * headCount, index =>
        {
            int b = index / headCount, h = index % headCount;
            AttentionTraining.Forward(
                q.Value.AsSpan(b * tokenCount * queryStride + queryOffset + h * headDim), queryStride,
                k.Value.AsSpan(b * keyCount * keyStride + keyOffset + h * headDim),
                v.Value.AsSpan(b * keyCount * keyStride + valueOffset + h * headDim), keyStride,
                MaskOf(b, h), tokenCount, keyCount, headDim, scale,
                probabilities.AsSpan(index * square, square), heads.Value.AsSpan(b * tokenCount * inner + h * headDim), inner);
        });

        tape.Record(() =>
        {
            if (!heads.HasGradient)
            {
                return;
            }
            // Fetch (allocate) the gradients before going parallel; q, k and v may be one fused variable.
            float[] dq = q.Gradient, dk = k.Gradient, dv = v.Gradient, dOut = heads.Gradient;
            float[]? dBias = bias?.Gradient;
            // One worker per head: the bias gradient [heads, tokens, keys] sums over batch rows without races.
            Parallel.For(0, headCount, h =>
            {
                var scratch = new float[keyCount];
                for (int b = 0; b < batchSize; b++)
                {
                    int index = b * headCount + h;
                    AttentionTraining.Backward(
                        q.Value.AsSpan(b * tokenCount * queryStride + queryOffset + h * headDim), queryStride,
                        k.Value.AsSpan(b * keyCount * keyStride + keyOffset + h * headDim),
                        v.Value.AsSpan(b * keyCount * keyStride + valueOffset + h * headDim), keyStride,
                        MaskOf(b, h), tokenCount, keyCount, headDim, scale,
                        probabilities.AsSpan(index * square, square), dOut.AsSpan(b * tokenCount * inner + h * headDim), inner,
                        dq.AsSpan(b * tokenCount * queryStride + queryOffset + h * headDim),
                        dk.AsSpan(b * keyCount * keyStride + keyOffset + h * headDim),
                        dv.AsSpan(b * keyCount * keyStride + valueOffset + h * headDim),
                        dBias is null ? default : dBias.AsSpan(h * square, square), scratch);
                }
            });
        });
        return heads;
    }

    private void CheckMasks(TrainingAttentionMask? masks, int batchSize, int tokenCount, int keyCount)
    {
        if (masks is null)
        {
            return;
        }
        if (masks.KeyMask is { } keyMask && keyMask.Length != batchSize * keyCount)
        {
            throw new ArgumentException($"attention mask holds {keyMask.Length} values; expected batch {batchSize} × {keyCount} keys");
        }
        if (masks.Visibility is { } visibility && visibility.Length != batchSize * tokenCount * keyCount)
        {
            throw new ArgumentException($"visibility matrix holds {visibility.Length} values; expected [batch {batchSize}, {tokenCount}, {keyCount}]");
        }
        if (masks.ScoreBias is { } bias && bias.Length != HeadCount * tokenCount * keyCount)
        {
            throw new ArgumentException($"score bias holds {bias.Length} values; expected [heads {HeadCount}, {tokenCount}, {keyCount}]");
        }
    }
}
