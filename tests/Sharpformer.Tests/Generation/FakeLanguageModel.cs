using Sharpformer.Models;

namespace Sharpformer.Tests.Generation;

/// <summary>
/// A model whose next-token logits are a function of each row's own history (its initial ids, then every token fed).
/// The session keeps that history itself, so a loop that forgets to <see cref="IGenerationSession.Reorder"/> or feeds
/// the wrong tokens gets different logits. Every call is recorded for the tests to check the loop's bookkeeping.
/// </summary>
internal sealed class FakeLanguageModel(int vocabSize, FakeLanguageModel.NextLogits next, SpecialTokens? specialTokens = null,
    int decoderStartTokenId = -1) : ILanguageModel
{
    public delegate void NextLogits(IReadOnlyList<int> history, Span<float> logits);

    public NextLogits Next { get; } = next;

    public int DecoderStartTokenId { get; } = decoderStartTokenId;

    public string ModelType => "fake";

    public int VocabSize => vocabSize;

    public int MaxPositions => 1000;

    /// <summary>With a decoder start token the fake acts as an encoder-decoder: rows start with that one token.</summary>
    public bool IsEncoderDecoder => DecoderStartTokenId >= 0;

    public SpecialTokens SpecialTokens { get; } = specialTokens ?? new SpecialTokens(-1, [], -1);

    public List<FakeSession> Sessions { get; } = [];

    public IGenerationSession StartSession(PromptBatch prompts, int maxNewTokens)
    {
        var session = new FakeSession(this, prompts, maxNewTokens);
        Sessions.Add(session);
        return session;
    }

    public void Dispose() { }

    /// <summary>Logits that make <paramref name="token"/> the clear favourite.</summary>
    public static void Favour(Span<float> logits, int token)
    {
        logits.Clear();
        logits[token] = 5f;
    }

    /// <summary>Logits equal to ln(p), so log_softmax returns ln(p) itself.</summary>
    public static void LogProbabilities(Span<float> logits, params double[] probabilities)
    {
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)Math.Log(probabilities[i]);
        }
    }

    internal sealed class FakeSession : IGenerationSession
    {
        private readonly FakeLanguageModel _model;
        private List<int>[] _histories;

        public FakeSession(FakeLanguageModel model, PromptBatch prompts, int maxNewTokens)
        {
            _model = model;
            BatchSize = prompts.BatchSize;
            MaxNewTokens = maxNewTokens;
            Prompts = prompts;
            InitialLength = model.IsEncoderDecoder ? 1 : prompts.Length;
            InitialSequences = model.IsEncoderDecoder ? Enumerable.Repeat(model.DecoderStartTokenId, BatchSize).ToArray() : prompts.Ids;
            _histories = Enumerable.Range(0, BatchSize).Select(row => InitialSequences.Skip(row * InitialLength).Take(InitialLength).ToList()).ToArray();
        }

        public PromptBatch Prompts { get; }

        public int MaxNewTokens { get; }

        public int BatchSize { get; }

        public int VocabSize => _model.VocabSize;

        public int[] InitialSequences { get; }

        public int InitialLength { get; }

        public int PrefillCount { get; private set; }

        public List<int[]> StepTokens { get; } = [];

        public List<int[]> Reorders { get; } = [];

        public bool Disposed { get; private set; }

        public void Prefill(Span<float> logits)
        {
            Assert.Equal(0, PrefillCount);
            PrefillCount++;
            WriteLogits(logits);
        }

        public void Step(ReadOnlySpan<int> nextTokens, Span<float> logits)
        {
            Assert.Equal(1, PrefillCount);
            Assert.Equal(BatchSize, nextTokens.Length);
            Assert.True(StepTokens.Count < MaxNewTokens, "a step past the token budget");
            StepTokens.Add(nextTokens.ToArray());
            for (int row = 0; row < BatchSize; row++)
            {
                _histories[row].Add(nextTokens[row]);
            }
            WriteLogits(logits);
        }

        public void Reorder(ReadOnlySpan<int> rowIndices)
        {
            Reorders.Add(rowIndices.ToArray());
            var sources = rowIndices.ToArray();
            _histories = sources.Select(source => _histories[source].ToList()).ToArray();
        }

        public void Dispose() => Disposed = true;

        private void WriteLogits(Span<float> logits)
        {
            for (int row = 0; row < BatchSize; row++)
            {
                _model.Next(_histories[row], logits.Slice(row * VocabSize, VocabSize));
            }
        }
    }
}
