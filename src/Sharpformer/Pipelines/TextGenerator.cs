using System.Runtime.CompilerServices;
using Sharpformer.Generation;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Models;
using Sharpformer.Tokenizers;

namespace Sharpformer.Pipelines;

/// <summary>The text result of one prompt: the prompt's ids, the generated ids (EOS included when reached) and their text.</summary>
public sealed record TextGeneration(int[] PromptIds, int[] GeneratedIds, string Text, FinishReason FinishReason, float? Score);

/// <summary>
/// Text in, text out: a decoder-only model and its tokenizer, loaded from one folder or cached model id,
/// as HF's text-generation pipeline. Thread-safe for concurrent calls (each call has its own session and cache).
/// </summary>
public sealed class TextGenerator : IDisposable
{
    public TextGenerator(ILanguageModel model, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (model.IsEncoderDecoder)
        {
            throw new ArgumentException($"'{model.ModelType}' is an encoder-decoder model: use text2text, not text generation");
        }
        Model = model;
        Tokenizer = tokenizer;
    }

    public ILanguageModel Model { get; }

    public Tokenizer Tokenizer { get; }

    /// <summary>
    /// Loads a model folder (config.json, model.safetensors, tokenizer files) or a model id from the HF cache, its linear
    /// weights stored as <paramref name="weightType"/>.
    /// </summary>
    public static TextGenerator Load(string folderOrModelId, WeightType weightType = WeightType.Float32)
    {
        string folder = ModelLocator.Resolve(folderOrModelId);
        var tokenizer = Tokenizer.FromFolder(folder);
        var model = ModelRegistry.Load(folder, weightType);
        return new TextGenerator(model, tokenizer);
    }

    /// <summary>Token ids of a prompt; an empty prompt starts from the BOS token, as HF does.</summary>
    public int[] EncodePrompt(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        int[] ids = [.. Tokenizer.Encode(prompt)];
        if (ids.Length == 0)
        {
            int bos = Model.SpecialTokens.BosTokenId;
            if (bos < 0)
            {
                throw new ArgumentException("the prompt is empty and the model has no BOS token to start from");
            }
            ids = [bos];
        }
        return ids;
    }

    /// <summary>Generates a continuation of one prompt (greedy, sampling or beam search, as the options say).</summary>
    public TextGeneration Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        GenerateIds(EncodePrompt(prompt), options, cancellationToken);

    /// <summary>Generates from prompt ids (for callers that tokenize themselves).</summary>
    public TextGeneration GenerateIds(int[] promptIds, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        var result = Generator.Generate(Model, promptIds, WithText(options), cancellationToken);
        var best = result.Sequences[0];
        return new TextGeneration(promptIds, best.GeneratedIds, best.Text ?? Tokenizer.Decode(best.GeneratedIds), best.FinishReason, best.SequenceScore);
    }

    /// <summary>Generates for several prompts at once: one left-padded batch, one result per prompt, in order.</summary>
    public IReadOnlyList<TextGeneration> GenerateBatch(IReadOnlyList<string> prompts, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var promptIds = prompts.Select(EncodePrompt).ToArray();
        int pad = options?.PadTokenId ?? (Model.SpecialTokens.PadTokenId >= 0 ? Model.SpecialTokens.PadTokenId : Math.Max(0, Model.SpecialTokens.EosTokenId));
        var withText = WithText(options);
        var result = Generator.Generate(Model, PromptBatch.LeftPadded(promptIds, pad), withText, cancellationToken);
        int perPrompt = result.Sequences.Count / prompts.Count;
        return [.. promptIds.Select((ids, index) =>
        {
            var best = result.Sequences[index * perPrompt];
            return new TextGeneration(ids, best.GeneratedIds, best.Text ?? Tokenizer.Decode(best.GeneratedIds), best.FinishReason, best.SequenceScore);
        })];
    }

    /// <summary>Streams the continuation as text pieces; a piece never ends inside a UTF-8 character or a stop string.</summary>
    public async IAsyncEnumerable<string> StreamAsync(string prompt, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var token in StreamTokensAsync(EncodePrompt(prompt), options, cancellationToken).ConfigureAwait(false))
        {
            if (!string.IsNullOrEmpty(token.TextDelta))
            {
                yield return token.TextDelta;
            }
        }
    }

    /// <summary>Streams tokens with their text deltas (ids, finish reason on the last one).</summary>
    public IAsyncEnumerable<GeneratedToken> StreamTokensAsync(int[] promptIds, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Generator.GenerateStreamAsync(Model, promptIds, WithText(options), cancellationToken);

    private GenerationOptions WithText(GenerationOptions? options) =>
        (options ?? new GenerationOptions()) with { Detokenizer = ids => Tokenizer.Decode(ids is int[] array ? array : [.. ids]) };

    public void Dispose() => Model.Dispose();
}
