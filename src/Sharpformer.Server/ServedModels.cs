using Sharpformer.Pipelines;
using Sharpformer.Tokenizers;

namespace Sharpformer.Server;

/// <summary>
/// The models behind the endpoints, each under the name clients pass as "model"; the generator's chat template (null:
/// /v1/chat/completions answers 400).
/// </summary>
public sealed record ServedModels(TextGenerator Generator, string GeneratorName, SentenceEmbedder? Embedder = null, string? EmbedderName = null,
    ChatTemplate? ChatTemplate = null)
{
    /// <summary>A model's public name: its folder name (or the model id as given).</summary>
    public static string NameOf(string folderOrModelId)
    {
        ArgumentNullException.ThrowIfNull(folderOrModelId);
        string trimmed = folderOrModelId.TrimEnd('/', '\\');
        return Directory.Exists(trimmed) ? Path.GetFileName(trimmed) : trimmed;
    }
}
