using Sharpformer.IO;
using Sharpformer.Models;

namespace Sharpformer.Training;

/// <summary>
/// The trainable model for a checkpoint folder or a config, chosen by config.json's "model_type" (the training
/// counterpart of <see cref="ModelRegistry"/>): gpt2, gpt_neo, bert, bart, t5 (v1.0 and v1.1), xlnet.
/// </summary>
public static class TrainableModels
{
    public static IReadOnlyList<string> ModelTypes { get; } = ["gpt2", "gpt_neo", "bert", "bart", "t5", "xlnet"];

    /// <summary>Loads a checkpoint folder for training, with the dropouts its config names (masks drawn from <paramref name="dropoutSeed"/>).</summary>
    public static ITrainableModel Load(string folder, ulong dropoutSeed = 0)
    {
        string modelType;
        using (var checkpoint = Checkpoint.Open(folder))
        {
            modelType = checkpoint.Config.ModelType;
        }
        return modelType switch
        {
            "gpt2" or "gpt_neo" => Gpt2TrainableModel.Load(folder, dropoutSeed),
            "bert" => BertTrainableModel.Load(folder, dropoutSeed),
            "bart" => BartTrainableModel.Load(folder, dropoutSeed),
            "t5" => T5TrainableModel.Load(folder, dropoutSeed),
            "xlnet" => XLNetTrainableModel.Load(folder),
            _ => throw new CheckpointException($"{folder}: model_type '{modelType}' cannot be trained (trainable: {string.Join(", ", ModelTypes)})"),
        };
    }

    /// <summary>A freshly initialised model for <paramref name="config"/> (random weights from <paramref name="seed"/>, the config's dropouts).</summary>
    public static ITrainableModel Create(HfConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.ModelType switch
        {
            "gpt2" => Gpt2TrainableModel.CreateRandom(Gpt2Config.FromHf(config), seed, Gpt2Dropout.FromHf(config)),
            "gpt_neo" => new Gpt2TrainableModel(GptNeoConfig.FromHf(config), RandomWeights.Create(seed), Gpt2TrainableModel.NeoDropout(config), seed + 1),
            "bert" => BertTrainableModel.CreateRandom(BertConfig.FromHf(config), seed, BertDropout.FromHf(config)),
            "bart" => BartTrainableModel.CreateRandom(BartConfig.FromHf(config), seed, BartDropout.FromHf(config)),
            "t5" => T5TrainableModel.CreateRandom(T5Config.FromHf(config), seed, T5Dropout.FromHf(config)),
            "xlnet" => XLNetTrainableModel.CreateRandom(XLNetConfig.FromHf(config), seed),
            _ => throw new CheckpointException($"{config.Source}: model_type '{config.ModelType}' cannot be trained (trainable: {string.Join(", ", ModelTypes)})"),
        };
    }
}
