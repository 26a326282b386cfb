using System.Numerics.Tensors;
using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tokenizers;

namespace Sharpformer.Pipelines;

/// <summary>How token vectors become one sentence vector.</summary>
public enum Pooling
{
    /// <summary>The average over real (unpadded) tokens, [CLS] and [SEP] included: sentence-transformers' default.</summary>
    Mean,

    /// <summary>The [CLS] token's last hidden state.</summary>
    Cls,
}

/// <summary>One sentence vector, with how many tokens were read and whether the text was cut to fit.</summary>
public sealed record SentenceEmbedding(float[] Vector, int TokenCount, bool Truncated);

/// <summary>
/// Sentence embeddings as sentence-transformers computes them: a BERT encoder, then pooling over the attention mask,
/// then optional L2 normalisation. Texts longer than <see cref="MaxLength"/> tokens are truncated and marked.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    public SentenceEmbedder(BertForMaskedLM model, WordPieceTokenizer tokenizer, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize > model.VocabSize)
        {
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} tokens but the model only {model.VocabSize}");
        }
        Model = model;
        Tokenizer = tokenizer;
        MaxLength = Math.Min(maxLength ?? model.MaxPositions, model.MaxPositions);
    }

    public BertForMaskedLM Model { get; }

    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Most tokens read per text, [CLS] and [SEP] included.</summary>
    public int MaxLength { get; }

    public int Dimension => Model.Config.HiddenSize;

    /// <summary>Loads a model folder or cached id; sentence_bert_config.json's max_seq_length applies when present.</summary>
    public static SentenceEmbedder Load(string folderOrModelId)
    {
        string folder = ModelLocator.Resolve(folderOrModelId);
        var (model, tokenizer) = BertFolder.Load(folder, "embed");
        int? maxLength = null;
        string sentenceConfig = Path.Combine(folder, "sentence_bert_config.json");
        if (File.Exists(sentenceConfig))
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(sentenceConfig));
            if (document.RootElement.TryGetProperty("max_seq_length", out var value) && value.TryGetInt32(out int length))
            {
                maxLength = length;
            }
        }
        return new SentenceEmbedder(model, tokenizer, maxLength);
    }

    /// <summary>Embeds all <paramref name="texts"/> as one right-padded batch.</summary>
    public IReadOnlyList<SentenceEmbedding> Embed(IReadOnlyList<string> texts, Pooling pooling = Pooling.Mean, bool normalize = false)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0)
        {
            return [];
        }
        var encodings = texts.Select(text => Tokenizer.EncodeForModel(text, maxLength: MaxLength)).ToArray();
        int batchSize = encodings.Length;
        int length = encodings.Max(encoding => encoding.InputIds.Length);
        var ids = new int[batchSize * length];
        var types = new int[batchSize * length];
        var mask = new int[batchSize * length];
        Array.Fill(ids, Tokenizer.PadTokenId);
        for (int b = 0; b < batchSize; b++)
        {
            encodings[b].InputIds.CopyTo(ids, b * length);
            encodings[b].TokenTypeIds.CopyTo(types, b * length);
            encodings[b].AttentionMask.CopyTo(mask, b * length);
        }
        var hidden = Model.Encode(ids, batchSize, length, types, mask).LastHiddenState.Span;
        int width = Dimension;
        var results = new SentenceEmbedding[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            int count = encodings[b].InputIds.Length;
            var vector = new float[width];
            if (pooling == Pooling.Cls)
            {
                hidden.Slice(b * length * width, width).CopyTo(vector);
            }
            else
            {
                // Mean over the attention mask: padded positions are left out (right padding, so the first count rows).
                for (int t = 0; t < count; t++)
                {
                    TensorPrimitives.Add(vector, hidden.Slice((b * length + t) * width, width), vector);
                }
                TensorPrimitives.Divide(vector, count, vector);
            }
            if (normalize)
            {
                // torch.nn.functional.normalize: divide by max(‖v‖, 1e-12).
                TensorPrimitives.Divide(vector, MathF.Max(TensorPrimitives.Norm(vector), 1e-12f), vector);
            }
            results[b] = new SentenceEmbedding(vector, count, encodings[b].Truncated);
        }
        return results;
    }

    public void Dispose() => Model.Dispose();
}
