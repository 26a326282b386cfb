using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Layers;

namespace Sharpformer.Models;

/// <summary>BERT's dropout probabilities (HF hidden_dropout_prob, attention_probs_dropout_prob); applied only while training.</summary>
public sealed record BertDropout(float Hidden, float Attention)
{
    public static BertDropout None { get; } = new(0f, 0f);

    public static BertDropout FromHf(HfConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new BertDropout(config.GetFloat("hidden_dropout_prob", 0.1f), config.GetFloat("attention_probs_dropout_prob", 0.1f));
    }
}

/// <summary>Training outputs of BERT: prediction logits [batch·tokens, vocab] and, with the NSP head, [batch, 2].</summary>
public sealed record BertTrainingOutput(Variable Logits, Variable? NextSentenceLogits);

public sealed partial class BertModel
{
    /// <summary>
    /// Training forward: the same layers as <see cref="Forward(int[], int, int, int[], int[], bool)"/> through their tape
    /// overloads; returns the last hidden state [batch·tokens, hidden]. <paramref name="masks"/> carries the padding key
    /// mask and an optional visibility matrix (UniLM); <paramref name="tokenTypeIds"/> null = all segment 0.
    /// </summary>
    public Variable Forward(Tape tape, int[] inputIds, int[]? tokenTypeIds, int batchSize, int tokenCount, TrainingAttentionMask? masks, BertDropout dropout)
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
            throw new ArgumentException($"{tokenCount} tokens exceed the model's {Config.MaxPositions} positions");
        }
        if (tokenTypeIds is not null && tokenTypeIds.Length != inputIds.Length)
        {
            throw new ArgumentException($"token type ids hold {tokenTypeIds.Length} values; expected {inputIds.Length}");
        }
        int rows = batchSize * tokenCount;
        var positions = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            positions[i] = i % tokenCount;
        }

        // Embeddings: word + absolute position + token type, LayerNorm, dropout.
        var x = tape.Add(tape.Add(tape.Embedding(_wordEmbedding.Table, inputIds), tape.Embedding(_positionEmbedding, positions)),
            tape.Embedding(_tokenTypeEmbedding, tokenTypeIds ?? new int[rows]));
        x = tape.Dropout(_embeddingNorm.Forward(tape, x), dropout.Hidden);
        foreach (var block in _blocks)
        {
            // Post-norm attention: x = LN(x + dropout(attention(x))).
            var attention = block.Attention.Forward(tape, x, batchSize, tokenCount, masks, dropout.Attention);
            x = block.AttentionNorm.Forward(tape, tape.Add(tape.Dropout(attention, dropout.Hidden), x));
            // Post-norm feed-forward: x = LN(x + dropout(output(act(intermediate(x))))).
            var mlp = block.Mlp.Forward(tape, x, rows);
            x = block.MlpNorm.Forward(tape, tape.Add(tape.Dropout(mlp, dropout.Hidden), x));
        }
        return x;
    }

    /// <summary>pooler_output = tanh(dense(h[:, 0])) on the tape: [batch, hidden].</summary>
    public Variable Pool(Tape tape, Variable lastHiddenState, int batchSize, int tokenCount)
    {
        ArgumentNullException.ThrowIfNull(tape);
        if (_pooler is null)
        {
            throw new InvalidOperationException("this BERT checkpoint has no pooler (bert.pooler.dense.*)");
        }
        var first = tape.Rows(lastHiddenState, Config.HiddenSize, [.. Enumerable.Range(0, batchSize).Select(b => b * tokenCount)]);
        return tape.Tanh(_pooler.Forward(tape, first, batchSize));
    }
}

public sealed partial class BertForMaskedLM
{
    /// <summary>
    /// Training forward: encoder, then the prediction head (dense → act → LayerNorm → tied decoder + bias) over every
    /// position; with <paramref name="nextSentence"/> also pooler → seq_relationship (BertForPreTraining).
    /// </summary>
    public BertTrainingOutput Forward(Tape tape, int[] inputIds, int[]? tokenTypeIds, int batchSize, int tokenCount, TrainingAttentionMask? masks,
        BertDropout dropout, bool nextSentence)
    {
        if (_decoder is null)
        {
            throw new InvalidOperationException("this BERT checkpoint has no masked-LM head (cls.predictions.*): it cannot be trained for masked LM");
        }
        if (nextSentence && (_nextSentence is null || !Encoder.HasPooler))
        {
            throw new InvalidOperationException("next-sentence labels need the pooler and NSP head (bert.pooler.*, cls.seq_relationship.*), which this checkpoint lacks");
        }
        var hidden = Encoder.Forward(tape, inputIds, tokenTypeIds, batchSize, tokenCount, masks, dropout);
        int rows = batchSize * tokenCount;
        // Prediction head transform, then the decoder tied to the word embeddings (its gradient adds to theirs).
        var transformed = _transformNorm!.Forward(tape, FeedForward.Activate(tape, Config.Activation, _transform!.Forward(tape, hidden, rows)));
        var logits = _decoder.Forward(tape, transformed, rows);
        var nextSentenceLogits = nextSentence ? _nextSentence!.Forward(tape, Encoder.Pool(tape, hidden, batchSize, tokenCount), batchSize) : null;
        return new BertTrainingOutput(logits, nextSentenceLogits);
    }
}
