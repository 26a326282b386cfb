using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Generation;

/// <summary>Options resolved against a model: special tokens in effect, and the processors and criteria in HF's order.</summary>
internal sealed class DecodingPlan
{
    private DecodingPlan(GenerationOptions options, int[] eosTokenIds, int padTokenId, ILogitsProcessor[] processors,
        ILogitsProcessor[] warpers, IStoppingCriterion[] criteria, Rng? rng)
    {
        Options = options;
        EosTokenIds = eosTokenIds;
        PadTokenId = padTokenId;
        Processors = processors;
        Warpers = warpers;
        Criteria = criteria;
        Rng = rng;
    }

    public GenerationOptions Options { get; }

    public int MaxNewTokens => Options.MaxNewTokens;

    public int[] EosTokenIds { get; }

    public int PadTokenId { get; }

    /// <summary>HF _get_logits_processor order: repetition penalty, no-repeat-ngram, bad words, min new tokens, forced BOS, forced EOS.</summary>
    public ILogitsProcessor[] Processors { get; }

    /// <summary>Sampling only, HF order: temperature, top-k, top-p, min-p.</summary>
    public ILogitsProcessor[] Warpers { get; }

    /// <summary>Checked in this order, so a final EOS reports Eos rather than Length.</summary>
    public IStoppingCriterion[] Criteria { get; }

    /// <summary>Null for greedy and beam search.</summary>
    public Rng? Rng { get; }

    public static DecodingPlan Create(ILanguageModel model, GenerationOptions options)
    {
        var special = model.SpecialTokens;
        int vocab = model.VocabSize;
        int[] eos = (options.EosTokenIds ?? special.EosTokenIds).Where(id => id >= 0).Distinct().ToArray();
        // HF: with no pad token, pad_token_id = eos_token_id[0] (it warns and does so).
        int pad = options.PadTokenId ?? (special.PadTokenId >= 0 ? special.PadTokenId : eos.Length > 0 ? eos[0] : 0);
        int forcedBos = options.ForcedBosTokenId ?? special.ForcedBosTokenId;
        int forcedEos = options.ForcedEosTokenId ?? special.ForcedEosTokenId;
        CheckId(eos.Length == 0 ? 0 : eos.Max(), vocab, nameof(options.EosTokenIds));
        CheckId(pad, vocab, nameof(options.PadTokenId));
        CheckId(forcedBos, vocab, nameof(options.ForcedBosTokenId));
        CheckId(forcedEos, vocab, nameof(options.ForcedEosTokenId));

        var processors = new List<ILogitsProcessor>();
        if (options.RepetitionPenalty != 1f)
        {
            processors.Add(new RepetitionPenaltyProcessor(options.RepetitionPenalty));
        }
        if (options.NoRepeatNgramSize > 0)
        {
            processors.Add(new NoRepeatNgramProcessor(options.NoRepeatNgramSize));
        }
        if (options.BadWordsIds is { Count: > 0 })
        {
            processors.Add(new BadWordsProcessor(options.BadWordsIds, eos));
        }
        if (options.MinNewTokens > 0 && eos.Length > 0)
        {
            processors.Add(new MinNewTokensProcessor(options.MinNewTokens, eos));
        }
        if (forcedBos >= 0)
        {
            processors.Add(new ForcedBosProcessor(forcedBos));
        }
        if (forcedEos >= 0)
        {
            processors.Add(new ForcedEosProcessor(forcedEos, options.MaxNewTokens));
        }

        var warpers = new List<ILogitsProcessor>();
        Rng? rng = null;
        if (options.IsSampling)
        {
            if (options.EffectiveTemperature != 1f)
            {
                warpers.Add(new TemperatureWarper(options.EffectiveTemperature));
            }
            if (options.TopK > 0)
            {
                warpers.Add(new TopKWarper(options.TopK));
            }
            if (options.TopP < 1f)
            {
                warpers.Add(new TopPWarper(options.TopP));
            }
            if (options.MinP > 0f)
            {
                warpers.Add(new MinPWarper(options.MinP));
            }
            rng = new Rng(options.Seed ?? (ulong)Random.Shared.NextInt64());
        }

        var criteria = new List<IStoppingCriterion>();
        if (eos.Length > 0)
        {
            criteria.Add(new EosCriterion(eos));
        }
        if (options.StopStrings is { Count: > 0 } && options.Detokenizer is not null)
        {
            criteria.Add(new StopStringCriterion(options.StopStrings, options.Detokenizer));
        }
        criteria.Add(new MaxNewTokensCriterion(options.MaxNewTokens));
        return new DecodingPlan(options, eos, pad, [.. processors], [.. warpers], [.. criteria], rng);
    }

    /// <summary>Runs every processor (and, when sampling, every warper) over one row's scores.</summary>
    public void Process(ReadOnlySpan<int> sequence, int generatedLength, Span<float> logits, bool warp)
    {
        foreach (var processor in Processors)
        {
            processor.Process(sequence, generatedLength, logits);
        }
        if (warp)
        {
            foreach (var warper in Warpers)
            {
                warper.Process(sequence, generatedLength, logits);
            }
        }
    }

    public FinishReason? Check(ReadOnlySpan<int> sequence, int generatedLength)
    {
        foreach (var criterion in Criteria)
        {
            if (criterion.Check(sequence, generatedLength) is { } reason)
            {
                return reason;
            }
        }
        return null;
    }

    /// <summary>The text of a finished row: decoded, cut before the earliest stop string; null without a detokenizer.</summary>
    public string? TextOf(int[] generatedIds)
    {
        if (Options.Detokenizer is null)
        {
            return null;
        }
        string text = Options.Detokenizer(generatedIds);
        int stop = StopStringCriterion.FindStop(text, Options.StopStrings);
        return stop >= 0 ? text[..stop] : text;
    }

    private static void CheckId(int id, int vocabSize, string option)
    {
        if (id >= vocabSize)
        {
            throw new ArgumentException($"{option}: token id {id} is outside the model's vocabulary of {vocabSize}", option);
        }
    }
}
