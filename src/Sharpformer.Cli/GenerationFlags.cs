using System.CommandLine;
using Sharpformer.Generation;

namespace Sharpformer.Cli;

/// <summary>The generation flags `generate` and `text2text` share, and the <see cref="GenerationOptions"/> they make.</summary>
internal sealed class GenerationFlags
{
    private readonly Option<int> _maxNewTokens = new("--max-new-tokens", "-n") { Description = "most tokens to generate", DefaultValueFactory = _ => 32 };
    private readonly Option<float?> _temperature = new("--temperature", "-t") { Description = "sampling temperature; 0 means greedy (default: greedy)" };
    private readonly Option<int> _topK = new("--top-k") { Description = "sample from the k most likely tokens (0 = off)", DefaultValueFactory = _ => 50 };
    private readonly Option<float> _topP = new("--top-p") { Description = "nucleus sampling: smallest set of tokens with this probability mass", DefaultValueFactory = _ => 1f };
    private readonly Option<float> _minP = new("--min-p") { Description = "drop tokens below min-p × the top token's probability (0 = off)" };
    private readonly Option<float> _repetitionPenalty = new("--repetition-penalty") { Description = "penalize tokens already present (1 = off)", DefaultValueFactory = _ => 1f };
    private readonly Option<int> _noRepeat = new("--no-repeat-ngram-size") { Description = "forbid repeating any n-gram of this size (0 = off)" };
    private readonly Option<int> _numBeams = new("--num-beams") { Description = "beam search width (1 = no beam search)", DefaultValueFactory = _ => 1 };
    private readonly Option<ulong?> _seed = new("--seed") { Description = "seed for sampling, for reproducible output" };
    private readonly Option<float> _lengthPenalty = new("--length-penalty") { Description = "beam score = log-prob sum / length^penalty", DefaultValueFactory = _ => 1f };
    private readonly Option<string[]> _stop = new("--stop") { Description = "stop when the text contains this string (repeatable)", AllowMultipleArgumentsPerToken = false };

    public void AddTo(Command command)
    {
        foreach (Option option in (Option[])[_maxNewTokens, _temperature, _topK, _topP, _minP, _repetitionPenalty, _noRepeat, _numBeams, _seed, _lengthPenalty, _stop])
        {
            command.Add(option);
        }
    }

    /// <summary>The options the flags give; not yet validated (the caller adds what it knows, then validates).</summary>
    public GenerationOptions Read(ParseResult parse) => new()
    {
        MaxNewTokens = parse.GetValue(_maxNewTokens),
        Temperature = parse.GetValue(_temperature),
        TopK = parse.GetValue(_topK),
        TopP = parse.GetValue(_topP),
        MinP = parse.GetValue(_minP),
        RepetitionPenalty = parse.GetValue(_repetitionPenalty),
        NoRepeatNgramSize = parse.GetValue(_noRepeat),
        NumBeams = parse.GetValue(_numBeams),
        Seed = parse.GetValue(_seed),
        LengthPenalty = parse.GetValue(_lengthPenalty),
        StopStrings = parse.GetValue(_stop) is { Length: > 0 } stops ? stops : null,
    };
}
