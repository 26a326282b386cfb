using System.CommandLine;
using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Tokenizers;

namespace Sharpformer.Cli;

/// <summary>`sharpformer tokenize`: the ids and tokens a model's tokenizer gives for a text.</summary>
internal static class TokenizeCommand
{
    public static Command Create(TextWriter output)
    {
        var text = new Argument<string>("TEXT") { Description = "text to tokenize" };
        var model = CommandLine.ModelOption("model folder or cached model id whose tokenizer to use (default: the bundled model)");
        var json = CommandLine.JsonOption();
        var command = new Command("tokenize", "Show the token ids and tokens of a text") { text, model, json };
        command.SetAction(parse =>
        {
            var tokenizer = Tokenizer.FromFolder(ModelLocator.Resolve(parse.GetValue(model)!));
            int[] ids = [.. tokenizer.Encode(parse.GetValue(text)!)];
            string[] tokens = [.. ids.Select(id => tokenizer.IdToToken(id) ?? "")];
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new TokenizeJson(ids, tokens), CliJson.Options.GetTypeInfo<TokenizeJson>()));
                return 0;
            }
            output.WriteLine($"{ids.Length} tokens");
            for (int i = 0; i < ids.Length; i++)
            {
                // The byte-level token (Ġ = space), then the text it stands for (partial UTF-8 shows as U+FFFD).
                output.WriteLine($"{ids[i],8}  {JsonSerializer.Serialize(tokens[i], CliJson.Options.GetTypeInfo<string>()),-16} {JsonSerializer.Serialize(tokenizer.Decode([ids[i]]), CliJson.Options.GetTypeInfo<string>())}");
            }
            return 0;
        });
        return command;
    }
}
