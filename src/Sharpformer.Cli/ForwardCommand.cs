using System.CommandLine;
using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Cli;

/// <summary>`sharpformer forward`: one forward pass, writing logits and (optionally) every layer's hidden states.</summary>
internal static class ForwardCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommandLine.ModelOption();
        var ids = new Option<string>("--ids") { Description = "token ids, comma-separated; rows of a batch separated by ';' (equal lengths)", Required = true };
        var hiddenStates = new Option<bool>("--hidden-states") { Description = "also write hidden_states.0 … hidden_states.L (HF output_hidden_states order)" };
        var outFile = new Option<string>("--out", "-o") { Description = "output .safetensors file", Required = true };
        var dtype = CommandLine.DTypeOption();
        var command = new Command("forward", "Run one forward pass and write logits (and hidden states) to a safetensors file") { model, ids, hiddenStates, outFile, dtype };
        command.SetAction(parse =>
        {
            var rows = CommandLine.ParseIdRows(parse.GetValue(ids)!, "--ids");
            if (rows.Any(row => row.Length != rows[0].Length))
            {
                throw new ArgumentException("--ids: every row of a batch needs the same number of ids");
            }
            using var loaded = ModelRegistry.Load(parse.GetValue(model)!, CommandLine.ReadDType(parse, dtype));
            if (loaded is not Gpt2Model gpt2)
            {
                throw new ArgumentException($"forward supports decoder-only GPT-2 models; this is '{loaded.ModelType}'");
            }
            foreach (int id in rows.SelectMany(row => row))
            {
                if (id >= gpt2.VocabSize)
                {
                    throw new ArgumentException($"--ids: id {id} is outside the vocabulary of {gpt2.VocabSize}");
                }
            }
            var result = gpt2.Forward(rows.SelectMany(row => row).ToArray(), rows.Length, rows[0].Length, outputHiddenStates: parse.GetValue(hiddenStates));
            var tensors = new List<KeyValuePair<string, Tensor>> { new("logits", result.Logits) };
            if (result.HiddenStates is not null)
            {
                tensors.AddRange(result.HiddenStates.Select((state, index) => new KeyValuePair<string, Tensor>($"hidden_states.{index}", state)));
            }
            string path = parse.GetValue(outFile)!;
            SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "sharpformer forward" });
            output.WriteLine($"wrote {string.Join(", ", tensors.Select(t => $"{t.Key} {t.Value}"))} to {path}");
            return 0;
        });
        return command;
    }
}
