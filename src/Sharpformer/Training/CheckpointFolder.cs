namespace Sharpformer.Training;

/// <summary>
/// Writes a whole checkpoint folder so that a crash or an exception never leaves a half-written one: the files go
/// into a hidden sibling folder, which then takes the target's place (the old folder is moved aside first and
/// deleted last). Between those two renames the previous checkpoint survives as ".NAME.old-PID".
/// </summary>
public static class CheckpointFolder
{
    /// <summary>Tokenizer files copied beside the weights when present, so the folder loads as a whole model.</summary>
    public static IReadOnlyList<string> TokenizerFileNames { get; } =
    [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.json", "merges.txt", "vocab.txt", "spiece.model",
    ];

    public static void WriteAtomically(string directory, Action<string> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        string parent = Path.GetDirectoryName(full)!;
        string name = Path.GetFileName(full);
        Directory.CreateDirectory(parent);
        Recover(full);
        string temporary = Path.Combine(parent, $".{name}.tmp-{Environment.ProcessId}");
        string previous = Path.Combine(parent, $".{name}.old-{Environment.ProcessId}");
        DeleteIfPresent(temporary);
        Directory.CreateDirectory(temporary);
        try
        {
            write(temporary);
        }
        catch
        {
            DeleteIfPresent(temporary);
            throw;
        }
        DeleteIfPresent(previous);
        if (Directory.Exists(full))
        {
            Directory.Move(full, previous);
        }
        Directory.Move(temporary, full);
        DeleteIfPresent(previous);
    }

    /// <summary>
    /// Finishes a swap that a crash cut between its two renames: when <paramref name="directory"/> is missing but a
    /// moved-aside ".NAME.old-PID" is there, that previous checkpoint is put back. Returns true when it did so.
    /// </summary>
    public static bool Recover(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string full = Path.GetFullPath(directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        string parent = Path.GetDirectoryName(full)!;
        if (Directory.Exists(full) || !Directory.Exists(parent))
        {
            return false;
        }
        var previous = new DirectoryInfo(parent).GetDirectories($".{Path.GetFileName(full)}.old-*").OrderByDescending(d => d.LastWriteTimeUtc).FirstOrDefault();
        if (previous is null)
        {
            return false;
        }
        previous.MoveTo(full);
        return true;
    }

    /// <summary>Copies the tokenizer files found in <paramref name="tokenizerDirectory"/>; returns their names.</summary>
    public static IReadOnlyList<string> CopyTokenizerFiles(string tokenizerDirectory, string destination)
    {
        var copied = new List<string>();
        foreach (string file in TokenizerFileNames)
        {
            string source = Path.Combine(tokenizerDirectory, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(destination, file), overwrite: true);
                copied.Add(file);
            }
        }
        return copied;
    }

    private static void DeleteIfPresent(string directory)
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
