using Sharpformer.IO;

namespace Sharpformer.Models;

public sealed class Gpt2Model
{
    public static ILanguageModel Load(Checkpoint checkpoint) => throw new NotImplementedException("GPT-2 is being written");
}
