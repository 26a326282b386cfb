using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Layers;

namespace Sharpformer.Models;

/// <summary>T5's dropout probability (HF dropout_rate: embeddings, attention probabilities, feed-forward, residual branches); training only.</summary>
public sealed record T5Dropout(float Rate)
{
    public static T5Dropout None { get; } = new(0f);

    public static T5Dropout FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new T5Dropout(config.GetFloat("dropout_rate", 0.1f));
    }
}

public sealed partial class T5Model
{
    /// <summary>
    /// Training forward (T5ForConditionalGeneration): encoder over <paramref name="inputIds"/> [batch, sourceLength]
    /// with padding mask <paramref name="sourceMask"/>, decoder over <paramref name="decoderIds"/> [batch, targetLength]
    /// (causal only). Returns logits [batch·targetLength, vocab].
    /// </summary>
    public Variable Forward(Tape tape, int[] inputIds, int[]? sourceMask, int batchSize, int sourceLength, int[] decoderIds, int targetLength,
        T5Dropout dropout)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(dropout);
        var memory = RunStack(tape, _encoder, inputIds, batchSize, sourceLength, null, sourceMask, 0, dropout);
        var x = RunStack(tape, _decoder, decoderIds, batchSize, targetLength, memory, sourceMask, sourceLength, dropout);
        // Tied head: the input is rescaled by d_model^-0.5 first (v1.1 unties it and does not).
        return _head.Forward(tape, tape.Scale(x, _headInputScale), batchSize * targetLength);
    }

    /// <summary>
    /// Token embeddings (no positions, no scaling) → dropout → pre-norm blocks → final RMS norm → dropout. The relative
    /// bias is gathered once from block 0's table and shared by every layer, so its gradient sums over the layers.
    /// </summary>
    private Variable RunStack(Tape tape, Stack stack, int[] ids, int batchSize, int tokenCount, Variable? memory, int[]? sourceMask, int sourceLength,
        T5Dropout dropout)
    {
        if (ids.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"ids hold {ids.Length} values; expected batch {batchSize} × {tokenCount}");
        }
        int rows = batchSize * tokenCount;
        var buckets = new int[tokenCount * tokenCount];
        for (int q = 0; q < tokenCount; q++)
        {
            for (int k = 0; k < tokenCount; k++)
            {
                buckets[q * tokenCount + k] = RelativePositionBucket(k - q, stack.Bidirectional, Config.RelativeBuckets, Config.RelativeMaxDistance);
            }
        }
        var bias = tape.PositionBias(stack.RelativeBias, Config.HeadCount, buckets);
        bool decoder = memory is not null;
        // The encoder's padding mask covers its own keys; the decoder's self-attention is causal only.
        var selfMasks = new TrainingAttentionMask { KeyMask = decoder ? null : sourceMask, ScoreBias = bias };
        var crossMasks = sourceMask is null ? null : new TrainingAttentionMask { KeyMask = sourceMask };

        var x = tape.Dropout(tape.Embedding(_tokenEmbedding.Table, ids), dropout.Rate);
        foreach (var block in stack.Blocks)
        {
            // Pre-norm residual branches: x += dropout(sublayer(rms(x))).
            var attention = block.SelfAttention.Forward(tape, block.SelfNorm.Forward(tape, x), batchSize, tokenCount, selfMasks, dropout.Rate);
            x = tape.Add(x, tape.Dropout(attention, dropout.Rate));
            if (decoder)
            {
                // Cross-attention has no relative bias in T5 (only the encoder padding mask).
                var cross = block.CrossAttention!.ForwardCross(tape, block.CrossNorm!.Forward(tape, x), memory!, batchSize, tokenCount, sourceLength,
                    crossMasks, dropout.Rate);
                x = tape.Add(x, tape.Dropout(cross, dropout.Rate));
            }
            x = tape.Add(x, tape.Dropout(FeedForward(tape, block, block.MlpNorm.Forward(tape, x), rows, dropout), dropout.Rate));
        }
        return tape.Dropout(stack.FinalNorm.Forward(tape, x), dropout.Rate);
    }

    /// <summary>wo(dropout(act(wi(x)))) for v1.0; wo(dropout(act(wi_0(x)) ⊙ wi_1(x))) for the gated v1.1 variant.</summary>
    private Variable FeedForward(Tape tape, Block block, Variable input, int rows, T5Dropout dropout)
    {
        var inner = Layers.FeedForward.Activate(tape, Config.Activation, block.Up.Forward(tape, input, rows));
        if (block.Gate is not null)
        {
            inner = tape.Multiply(inner, block.Gate.Forward(tape, input, rows));
        }
        return block.Down.Forward(tape, tape.Dropout(inner, dropout.Rate), rows);
    }
}
