using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tokenizers;

namespace Sharpformer.Pipelines;

/// <summary>One candidate for a [MASK]: the token, its softmax probability, and the text with it filled in.</summary>
public sealed record MaskPrediction(int TokenId, string Token, float Probability, string Sequence);

/// <summary>
/// HF's fill-mask pipeline: a BERT with its masked-LM head and a WordPiece tokenizer, loaded from one folder.
/// A text longer than the model's positions is refused (truncating could cut the [MASK] off).
/// </summary>
public sealed class FillMask : IDisposable
{
    public FillMask(BertForMaskedLM model, WordPieceTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (!model.HasMaskedLMHead)
        {
            throw new ArgumentException("this BERT checkpoint has no masked-LM head (cls.predictions.*): it can embed, not fill masks");
        }
        if (tokenizer.VocabSize > model.VocabSize)
        {
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} tokens but the model only {model.VocabSize}");
        }
        Model = model;
        Tokenizer = tokenizer;
    }

    public BertForMaskedLM Model { get; }

    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Loads a folder (config.json, model.safetensors, vocab.txt or tokenizer.json) or a cached model id.</summary>
    public static FillMask Load(string folderOrModelId)
    {
        string folder = ModelLocator.Resolve(folderOrModelId);
        var (model, tokenizer) = BertFolder.Load(folder, "fill-mask");
        try
        {
            return new FillMask(model, tokenizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The <paramref name="topK"/> most likely tokens for each [MASK] in <paramref name="text"/>, in text order.</summary>
    public IReadOnlyList<IReadOnlyList<MaskPrediction>> Predict(string text, int topK = 5)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (topK <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(topK), $"top-k must be at least 1, got {topK}");
        }
        int maxLength = Model.MaxPositions;
        var encoding = Tokenizer.EncodeForModel(text, maxLength: int.MaxValue);
        if (encoding.InputIds.Length > maxLength)
        {
            throw new ArgumentException($"the text is {encoding.InputIds.Length} tokens with [CLS] and [SEP]; the model takes at most {maxLength}");
        }
        int[] ids = encoding.InputIds;
        int[] maskPositions = [.. Enumerable.Range(0, ids.Length).Where(i => ids[i] == Tokenizer.MaskTokenId)];
        if (maskPositions.Length == 0)
        {
            throw new ArgumentException("the text has no [MASK] token to fill");
        }
        var logits = Model.Forward(ids, 1, ids.Length, encoding.TokenTypeIds).Logits;
        int vocab = Model.VocabSize;
        var results = new List<IReadOnlyList<MaskPrediction>>(maskPositions.Length);
        foreach (int position in maskPositions)
        {
            var probabilities = new float[vocab];
            Kernels.Softmax.Apply(logits.Span.Slice(position * vocab, vocab), probabilities);
            var best = Enumerable.Range(0, Math.Min(Tokenizer.VocabSize, vocab))
                .OrderByDescending(id => probabilities[id]).ThenBy(id => id).Take(topK);
            results.Add([.. best.Select(id =>
            {
                int[] filled = (int[])ids.Clone();
                filled[position] = id;
                string sequence = Tokenizer.Decode(filled, skipSpecialTokens: true, cleanUpTokenizationSpaces: true);
                return new MaskPrediction(id, Tokenizer.IdToToken(id) ?? "", probabilities[id], sequence);
            })]);
        }
        return results;
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>Loads a BERT checkpoint and its WordPiece tokenizer from one folder, naming what is wrong.</summary>
internal static class BertFolder
{
    public static (BertForMaskedLM Model, WordPieceTokenizer Tokenizer) Load(string folder, string task)
    {
        var tokenizer = Tokenizers.Tokenizer.FromFolder(folder) as WordPieceTokenizer
            ?? throw new ArgumentException($"{folder}: {task} needs a BERT WordPiece tokenizer (vocab.txt or a WordPiece tokenizer.json)");
        var model = ModelRegistry.Load(folder);
        if (model is BertForMaskedLM bert)
        {
            return (bert, tokenizer);
        }
        string modelType = model.ModelType;
        model.Dispose();
        throw new ArgumentException($"{folder}: model_type '{modelType}' is not BERT; {task} needs a BERT encoder");
    }
}
