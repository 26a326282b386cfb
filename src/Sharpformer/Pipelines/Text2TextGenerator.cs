using Sharpformer.Generation;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Models;
using Sharpformer.Tokenizers;

namespace Sharpformer.Pipelines;

/// <summary>One text2text result: the encoder input ids, the generated ids (no decoder start token; EOS included when reached) and their text.</summary>
public sealed record Text2TextGeneration(int[] InputIds, int[] GeneratedIds, string? Text, FinishReason FinishReason, float? Score);

/// <summary>
/// Text in, text out through an encoder-decoder (BART, T5), as HF's text2text-generation / summarization pipelines.
/// The tokenizer is optional: without one, ids in and ids out still work.
/// </summary>
public sealed class Text2TextGenerator : IDisposable
{
    private readonly string? _tokenizerProblem;

    public Text2TextGenerator(ILanguageModel model, Tokenizer? tokenizer, string? tokenizerProblem = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.IsEncoderDecoder)
        {
            throw new ArgumentException($"'{model.ModelType}' is a decoder-only model: use generate, not text2text");
        }
        Model = model;
        Tokenizer = tokenizer;
        _tokenizerProblem = tokenizerProblem;
    }

    public ILanguageModel Model { get; }

    public Tokenizer? Tokenizer { get; }

    /// <summary>Loads a model folder or cached model id; a missing or not yet supported tokenizer leaves <see cref="Tokenizer"/> null.</summary>
    public static Text2TextGenerator Load(string folderOrModelId, WeightType weightType = WeightType.Float32)
    {
        string folder = ModelLocator.Resolve(folderOrModelId);
        var model = ModelRegistry.Load(folder, weightType);
        try
        {
            return new Text2TextGenerator(model, Tokenizer.FromFolder(folder));
        }
        catch (Exception exception) when (exception is IOException or TokenizerException)
        {
            return new Text2TextGenerator(model, null, exception.Message);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Encoder input ids for a text; BART's tokenizer wraps every input as &lt;s&gt; … &lt;/s&gt; (RobertaProcessing).</summary>
    public int[] EncodeInput(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Tokenizer is null)
        {
            throw new InvalidOperationException($"this model has no usable tokenizer ({_tokenizerProblem}); pass token ids instead of text");
        }
        int[] ids = [.. Tokenizer.Encode(text)];
        if (Model.ModelType == "bart")
        {
            var special = Model.SpecialTokens;
            ids = [.. ids.FirstOrDefault(-1) == special.BosTokenId ? [] : new[] { special.BosTokenId }, .. ids,
                .. ids.LastOrDefault(-1) == special.EosTokenId ? [] : new[] { special.EosTokenId }];
        }
        if (ids.Length == 0)
        {
            throw new ArgumentException("the input is empty");
        }
        return ids;
    }

    public Text2TextGeneration Generate(string text, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        GenerateIds(EncodeInput(text), options, cancellationToken);

    /// <summary>Generates from encoder input ids (greedy, sampling or beam search, as the options say).</summary>
    public Text2TextGeneration GenerateIds(int[] inputIds, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        options ??= new GenerationOptions();
        if (Tokenizer is not null)
        {
            options = options with { Detokenizer = ids => DecodeText(ids) };
        }
        var result = Generator.Generate(Model, inputIds, options, cancellationToken);
        var best = result.Sequences[0];
        string? text = Tokenizer is null ? null : DecodeText(best.GeneratedIds);
        return new Text2TextGeneration(inputIds, best.GeneratedIds, text, best.FinishReason, best.SequenceScore);
    }

    /// <summary>
    /// As HF's pipeline (skip_special_tokens): the model's own special ids (forced BOS, EOS, padding, decoder start)
    /// and the tokenizer's special tokens are left out of the text.
    /// </summary>
    private string DecodeText(IReadOnlyList<int> ids)
    {
        var special = Model.SpecialTokens;
        int[] kept = [.. ids.Where(id => id != special.BosTokenId && id != special.PadTokenId && id != special.DecoderStartTokenId
            && !special.EosTokenIds.Contains(id))];
        return Tokenizer!.Decode(kept, skipSpecialTokens: true);
    }

    public void Dispose() => Model.Dispose();
}
