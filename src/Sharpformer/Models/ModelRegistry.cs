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

    /// <summary>
    /// Loads an open checkpoint; the model takes ownership. f32: F32 weights stay memory-mapped views. bf16/int8: the
    /// tensors are read into owned arrays (see <see cref="Checkpoint.MapTensors"/>), each linear weight is converted and
    /// its f32 copy dropped as the layer is built, and tied embeddings read the head's copy; what stays f32 (norms,
    /// biases, position and untied embeddings) is small. Such a model runs inference only: training it throws.
    /// </summary>
    public static ILanguageModel Load(Checkpoint checkpoint, WeightType weightType = WeightType.Float32)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string modelType = checkpoint.Config.ModelType;
        if (!Loaders.TryGetValue(modelType, out var loader))
        {
            throw new CheckpointException(
                $"{checkpoint.Config.Source}: unknown model_type '{modelType}' (supported: {string.Join(", ", Loaders.Keys.Order())})");
        }
        if (weightType == WeightType.Float32)
        {
            return loader(checkpoint);
        }
        bool mapped = checkpoint.MapTensors;
        // Converted tensors are read through the file, not the mapping: their mapped pages would stay resident.
        checkpoint.MapTensors = false;
        try
        {
            return Build(() => loader(checkpoint), weightType);
        }
        finally
        {
            checkpoint.MapTensors = mapped;
        }
    }

    /// <summary>
    /// Runs a model constructor with every linear layer it makes converted to <paramref name="weightType"/> as it is
    /// made, its f32 weight released (<see cref="Linear.ConvertWeights"/> with keepFloat32: false): an inference-only
    /// model holding about a half (bf16) or a quarter (int8) of the f32 weight bytes. To keep f32 beside the copy
    /// (training or export after converting), collect the layers with <see cref="Linear.CollectCreated"/> and call
    /// ConvertWeights on each.
    /// </summary>
    public static T Build<T>(Func<T> construct, WeightType weightType)
    {
        ArgumentNullException.ThrowIfNull(construct);
        if (weightType == WeightType.Float32)
        {
            return construct();
        }
        T model = Linear.ConvertWhileBuilding(construct, weightType);
        // The released f32 tensors are garbage now: collect them and hand the memory back to the OS, once, so the
        // process's RSS is what the model keeps.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return model;
    }
}
