using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Layers;

namespace Sharpformer.Models;

/// <summary>GPT-2's dropout probabilities (HF attn_pdrop, resid_pdrop, embd_pdrop); applied only while training.</summary>
public sealed record Gpt2Dropout(float Attention, float Residual, float Embedding)
{
    public static Gpt2Dropout None { get; } = new(0f, 0f, 0f);

    public static Gpt2Dropout FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new Gpt2Dropout(config.GetFloat("attn_pdrop", 0.1f), config.GetFloat("resid_pdrop", 0.1f), config.GetFloat("embd_pdrop", 0.1f));
    }
}

public sealed partial class Gpt2Model
{
    /// <summary>
    /// Training forward: the same layers as <see cref="Run"/>, called through their tape overloads (no cache; positions
    /// 0..tokenCount-1 as HF's GPT2Model without position_ids). Returns logits [batch·tokenCount, vocab].
    /// <paramref name="masks"/> carries the right-padding key mask and an optional visibility matrix.
    /// </summary>
    public Variable Forward(Tape tape, int[] inputIds, int batchSize, int tokenCount, TrainingAttentionMask? masks, Gpt2Dropout dropout)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(dropout);
        if (batchSize <= 0 || tokenCount <= 0 || inputIds.Length != batchSize * tokenCount)
        {
            throw new ArgumentException($"input ids hold {inputIds.Length} values; expected batch {batchSize} × {tokenCount} tokens (both > 0)");
        }
        if (tokenCount > Config.MaxPositions)
        {
            throw new ArgumentException($"{tokenCount} positions exceed the model's context of {Config.MaxPositions}");
        }
        int rows = batchSize * tokenCount;
        var positions = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            positions[i] = i % tokenCount;
        }

        // Embeddings: token + learned absolute position, then embedding dropout.
        var x = tape.Add(tape.Embedding(_tokenEmbedding.Table, inputIds), tape.Embedding(_positionEmbedding, positions));
        x = tape.Dropout(x, dropout.Embedding);
        foreach (var block in _blocks)
        {
            // Pre-norm attention with residual; HF drops attention probabilities and the projected output.
            var attention = block.Attention.Forward(tape, block.AttentionNorm.Forward(tape, x), batchSize, tokenCount, masks, dropout.Attention);
            x = tape.Add(x, tape.Dropout(attention, dropout.Residual));
            // Pre-norm MLP with residual; GPT2MLP drops after c_proj.
            var mlp = block.Mlp.Forward(tape, block.MlpNorm.Forward(tape, x), rows);
            x = tape.Add(x, tape.Dropout(mlp, dropout.Residual));
        }

        // Final norm, then the head tied to wte (its gradient adds to the embedding's).
        return _head.Forward(tape, _finalNorm.Forward(tape, x), rows);
    }
}
