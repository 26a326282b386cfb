using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;

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

    /// <summary>
    /// Loads a folder or cached model id into the family its config names; <paramref name="weightType"/> chooses how
    /// every linear layer stores its weight for inference (see <see cref="WeightType"/>).
    /// </summary>
    public static ILanguageModel Load(string folderOrModelId, WeightType weightType = WeightType.Float32)
    {
        var checkpoint = Checkpoint.Open(folderOrModelId);
        try
        {
            return Load(checkpoint, weightType);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Loads an open checkpoint; the model takes ownership (F32 weights stay memory-mapped views).</summary>
    public static ILanguageModel Load(Checkpoint checkpoint, WeightType weightType = WeightType.Float32)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string modelType = checkpoint.Config.ModelType;
        if (!Loaders.TryGetValue(modelType, out var loader))
        {
            throw new CheckpointException(
                $"{checkpoint.Config.Source}: unknown model_type '{modelType}' (supported: {string.Join(", ", Loaders.Keys.Order())})");
        }
        return Build(() => loader(checkpoint), weightType);
    }

    /// <summary>Runs a model constructor and converts every linear layer it made to <paramref name="weightType"/>.</summary>
    public static T Build<T>(Func<T> construct, WeightType weightType)
    {
        ArgumentNullException.ThrowIfNull(construct);
        if (weightType == WeightType.Float32)
        {
            return construct();
        }
        T model = Linear.CollectCreated(construct, out var linears);
        // A tied head and its embedding are two Linears over one tensor at most; each converts its own copy.
        foreach (var linear in linears)
        {
            linear.ConvertWeights(weightType);
        }
        return model;
    }
}
