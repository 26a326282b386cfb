using Sharpformer.IO;

namespace Sharpformer.Models;

/// <summary>Finds the model family for a checkpoint by config.json "model_type", so later families plug in.</summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, Func<Checkpoint, ILanguageModel>> Loaders = new(StringComparer.Ordinal);

    static ModelRegistry()
    {
        Register("gpt2", Gpt2Model.Load);
        Register("gpt_neo", GptNeoModel.Load);
        Register("bert", BertForMaskedLM.Load);
        Register("xlnet", XLNetModel.Load);
        Register("bart", BartModel.Load);
        Register("t5", T5Model.Load);
    }

    public static IReadOnlyCollection<string> ModelTypes => Loaders.Keys;

    public static void Register(string modelType, Func<Checkpoint, ILanguageModel> loader) => Loaders[modelType] = loader;

    /// <summary>Loads a folder or cached model id into the family its config names.</summary>
    public static ILanguageModel Load(string folderOrModelId)
    {
        var checkpoint = Checkpoint.Open(folderOrModelId);
        try
        {
            return Load(checkpoint);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Loads an open checkpoint; the model takes ownership (F32 weights stay memory-mapped views).</summary>
    public static ILanguageModel Load(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string modelType = checkpoint.Config.ModelType;
        if (!Loaders.TryGetValue(modelType, out var loader))
        {
            throw new CheckpointException(
                $"{checkpoint.Config.Source}: unknown model_type '{modelType}' (supported: {string.Join(", ", Loaders.Keys.Order())})");
        }
        return loader(checkpoint);
    }
}
