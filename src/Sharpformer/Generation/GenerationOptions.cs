namespace Sharpformer.Generation;

/// <summary>
/// How to generate, named after Hugging Face <c>GenerationConfig</c>. Defaults follow HF where HF has one
/// (top_k 50, top_p 1, length_penalty 1, early_stopping false); the model's config supplies the special tokens
/// unless <see cref="EosTokenIds"/>, <see cref="PadTokenId"/> or the forced tokens override them.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate per row (HF max_new_tokens).</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>EOS is forbidden until this many tokens are generated (HF min_new_tokens).</summary>
    public int MinNewTokens { get; init; }

    /// <summary>Sample instead of taking the argmax; null means "sample when <see cref="Temperature"/> &gt; 0".</summary>
    public bool? DoSample { get; init; }

    /// <summary>Divides the logits before sampling; 0 means greedy; null means 1 when sampling.</summary>
    public float? Temperature { get; init; }

    /// <summary>Keep only the k most likely tokens when sampling; 0 turns the filter off. HF's default is 50.</summary>
    public int TopK { get; init; } = 50;

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches this mass.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens whose probability is below MinP × the top token's; 0 turns the filter off.</summary>
    public float MinP { get; init; }

    /// <summary>CTRL repetition penalty θ over every id already in the row: s/θ when s &gt; 0, s·θ otherwise.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Forbid any n-gram of this size from occurring twice; 0 turns it off.</summary>
    public int NoRepeatNgramSize { get; init; }

    /// <summary>Token sequences that must never be generated (HF bad_words_ids).</summary>
    public IReadOnlyList<int[]>? BadWordsIds { get; init; }

    public int NumBeams { get; init; } = 1;

    /// <summary>Rows returned per prompt: at most <see cref="NumBeams"/> for beam search, any count when sampling.</summary>
    public int NumReturnSequences { get; init; } = 1;

    /// <summary>Beam hypothesis score = sum of log-probs / generated_length^LengthPenalty.</summary>
    public float LengthPenalty { get; init; } = 1f;

    /// <summary>Beam search: false = HF's heuristic stop; true = stop a prompt once NumBeams hypotheses are finished.</summary>
    public bool EarlyStopping { get; init; }

    /// <summary>Seed of the sampling RNG; null draws a fresh one.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Overrides the model's EOS ids (HF eos_token_id); an empty array disables EOS.</summary>
    public int[]? EosTokenIds { get; init; }

    /// <summary>Fills finished rows; defaults to the model's pad token, else the first EOS id (as HF does).</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Overrides the model's forced first token (BART: 0); a negative value disables it.</summary>
    public int? ForcedBosTokenId { get; init; }

    /// <summary>Overrides the model's forced last token at max length (BART: 2); a negative value disables it.</summary>
    public int? ForcedEosTokenId { get; init; }

    /// <summary>A row stops once its generated text contains one of these; needs <see cref="Detokenizer"/>.</summary>
    public IReadOnlyList<string>? StopStrings { get; init; }

    /// <summary>Turns generated ids into text, for stop strings and the text of results; Generation knows no tokenizer.</summary>
    public Func<IReadOnlyList<int>, string>? Detokenizer { get; init; }

    /// <summary>Keep each step's processed logits, as HF output_scores (greedy and sampling).</summary>
    public bool OutputScores { get; init; }

    /// <summary>Whether tokens are drawn at random rather than taken by argmax.</summary>
    public bool IsSampling => DoSample ?? Temperature is > 0f;

    /// <summary>The temperature sampling uses: 1 when unset.</summary>
    public float EffectiveTemperature => Temperature ?? 1f;

    /// <summary>Throws an <see cref="ArgumentException"/> whose ParamName is the first invalid option.</summary>
    public void Validate()
    {
        Require(MaxNewTokens > 0, nameof(MaxNewTokens), $"must be > 0 (got {MaxNewTokens})");
        Require(MinNewTokens >= 0, nameof(MinNewTokens), $"must be >= 0 (got {MinNewTokens})");
        Require(Temperature is null || (float.IsFinite(Temperature.Value) && Temperature >= 0), nameof(Temperature),
            $"must be a finite number >= 0 (got {Temperature})");
        Require(!(DoSample == true && Temperature == 0f), nameof(Temperature), "must be > 0 when DoSample is true (0 means greedy)");
        Require(TopK >= 0, nameof(TopK), $"must be >= 0 (got {TopK})");
        Require(TopP > 0 && TopP <= 1, nameof(TopP), $"must be in (0, 1] (got {TopP})");
        Require(MinP >= 0 && MinP < 1, nameof(MinP), $"must be in [0, 1) (got {MinP})");
        Require(float.IsFinite(RepetitionPenalty) && RepetitionPenalty > 0, nameof(RepetitionPenalty), $"must be > 0 (got {RepetitionPenalty})");
        Require(NoRepeatNgramSize >= 0, nameof(NoRepeatNgramSize), $"must be >= 0 (got {NoRepeatNgramSize})");
        Require(NumBeams >= 1, nameof(NumBeams), $"must be >= 1 (got {NumBeams})");
        Require(!(NumBeams > 1 && IsSampling), nameof(DoSample), "beam sampling (NumBeams > 1 with sampling) is not supported");
        Require(NumReturnSequences >= 1 && (NumReturnSequences <= NumBeams || IsSampling), nameof(NumReturnSequences),
            $"must be between 1 and NumBeams ({NumBeams}) unless sampling (got {NumReturnSequences})");
        Require(float.IsFinite(LengthPenalty), nameof(LengthPenalty), $"must be a finite number (got {LengthPenalty})");
        Require(EosTokenIds is null || EosTokenIds.All(id => id >= 0), nameof(EosTokenIds), "ids must be >= 0");
        Require(PadTokenId is null or >= 0, nameof(PadTokenId), $"must be >= 0 (got {PadTokenId})");
        Require(BadWordsIds is null || BadWordsIds.All(words => words is { Length: > 0 } && words.All(id => id >= 0)), nameof(BadWordsIds),
            "every entry needs at least one id, all >= 0");
        if (StopStrings is { Count: > 0 })
        {
            Require(StopStrings.All(text => !string.IsNullOrEmpty(text)), nameof(StopStrings), "stop strings must not be empty");
            Require(Detokenizer is not null, nameof(StopStrings), "need a Detokenizer to turn ids into text");
            Require(NumBeams == 1, nameof(StopStrings), "are not supported with beam search");
        }
    }

    private static void Require(bool condition, string option, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"{option} {message}", option);
        }
    }
}
