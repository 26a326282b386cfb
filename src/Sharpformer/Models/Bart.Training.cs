using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Layers;

namespace Sharpformer.Models;

/// <summary>BART's dropout probabilities (HF dropout, attention_dropout, activation_dropout); applied only while training.</summary>
public sealed record BartDropout(float Hidden, float Attention, float Activation)
{
    public static BartDropout None { get; } = new(0f, 0f, 0f);

    public static BartDropout FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new BartDropout(config.GetFloat("dropout", 0.1f), config.GetFloat("attention_dropout", 0f), config.GetFloat("activation_dropout", 0f));
    }
}

public sealed partial class BartModel
{
    /// <summary>
    /// Training forward (BartForConditionalGeneration): encoder over <paramref name="inputIds"/> [batch, sourceLength]
    /// with padding mask <paramref name="sourceMask"/>, decoder over <paramref name="decoderIds"/> [batch, targetLength]
    /// (causal only, as HF without decoder_attention_mask). Returns logits [batch·targetLength, vocab].
    /// </summary>
    public Variable Forward(Tape tape, int[] inputIds, int[]? sourceMask, int batchSize, int sourceLength, int[] decoderIds, int targetLength,
        BartDropout dropout)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(dropout);
        if (sourceLength > Config.MaxPositions || targetLength > Config.MaxPositions)
        {
            throw new ArgumentException($"source {sourceLength} or target {targetLength} tokens exceed the model's {Config.MaxPositions} positions");
        }
        var masks = sourceMask is null ? null : new TrainingAttentionMask { KeyMask = sourceMask };

        // Encoder: post-norm self-attention and feed-forward blocks.
        var memory = Embed(tape, _encoder, inputIds, batchSize, sourceLength, dropout);
        foreach (var block in _encoder.Blocks)
        {
            memory = Residual(tape, block.SelfNorm, memory, block.SelfAttention.Forward(tape, memory, batchSize, sourceLength, masks, dropout.Attention), dropout);
            memory = Residual(tape, block.MlpNorm, memory, FeedForward(tape, block, memory, batchSize * sourceLength, dropout), dropout);
        }

        // Decoder: causal self-attention, cross-attention over the encoder output (its gradient flows into the encoder), feed-forward.
        var x = Embed(tape, _decoder, decoderIds, batchSize, targetLength, dropout);
        foreach (var block in _decoder.Blocks)
        {
            x = Residual(tape, block.SelfNorm, x, block.SelfAttention.Forward(tape, x, batchSize, targetLength, null, dropout.Attention), dropout);
            var cross = block.CrossAttention!.ForwardCross(tape, x, memory, batchSize, targetLength, sourceLength, masks, dropout.Attention);
            x = Residual(tape, block.CrossNorm!, x, cross, dropout);
            x = Residual(tape, block.MlpNorm, x, FeedForward(tape, block, x, batchSize * targetLength, dropout), dropout);
        }

        // lm_head (tied to the shared embeddings), then final_logits_bias: a buffer, so no gradient.
        return tape.AddConstantRow(_head.Forward(tape, x, batchSize * targetLength), _finalLogitsBias.Span);
    }

    /// <summary>layernorm_embedding(embed_tokens(ids)·scale + embed_positions(t + 2)), then dropout.</summary>
    private Variable Embed(Tape tape, Stack stack, int[] ids, int batchSize, int tokenCount, BartDropout dropout)
    {
        if (ids.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"ids hold {ids.Length} values; expected batch {batchSize} × {tokenCount}");
        }
        var positions = new int[ids.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            // Learned positions start at row 2 of the table (BartLearnedPositionalEmbedding's offset).
            positions[i] = i % tokenCount + BartConfig.PositionOffset;
        }
        var tokens = tape.Scale(tape.Embedding(_tokenEmbedding.Table, ids), _embeddingScale);
        var x = stack.EmbeddingNorm.Forward(tape, tape.Add(tokens, tape.Embedding(stack.Positions, positions)));
        return tape.Dropout(x, dropout.Hidden);
    }

    /// <summary>Post-norm residual: LN(x + dropout(branch)).</summary>
    private static Variable Residual(Tape tape, LayerNorm norm, Variable x, Variable branch, BartDropout dropout) =>
        norm.Forward(tape, tape.Add(x, tape.Dropout(branch, dropout.Hidden)));

    /// <summary>fc2(activation_dropout(act(fc1(x)))).</summary>
    private static Variable FeedForward(Tape tape, Block block, Variable x, int rows, BartDropout dropout)
    {
        var inner = Layers.FeedForward.Activate(tape, block.Mlp.Activation, block.Mlp.Up.Forward(tape, x, rows));
        return block.Mlp.Down.Forward(tape, tape.Dropout(inner, dropout.Activation), rows);
    }
}
