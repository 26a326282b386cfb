namespace Sharpformer.Models;

public sealed partial class Gpt2Model : IRowBatchingModel
{
    public IRowDecoder CreateRowDecoder() => new RowDecoder(this);

    /// <summary>Unpadded sequences, each in its own batch-1 cache: a sequence's positions are 0, 1, … as in a solo run.</summary>
    private sealed class RowDecoder(Gpt2Model model) : IRowDecoder
    {
        private readonly Workspace _workspace = new();
        private int[] _positions = [];

        public int VocabSize => model.VocabSize;

        public KvCache CreateCache(int capacity) => model.CreateCache(1, capacity);

        public void Prefill(ReadOnlySpan<int> promptIds, KvCache cache, bool allPositions, Span<float> logits)
        {
            ArgumentNullException.ThrowIfNull(cache);
            if (promptIds.IsEmpty || cache.Length != 0 || cache.BatchSize != 1)
            {
                throw new ArgumentException("prefill needs a non-empty prompt and an empty cache of one row");
            }
            CheckIds(promptIds);
            int length = promptIds.Length;
            var positions = Grow(length);
            for (int t = 0; t < length; t++)
            {
                positions[t] = t;
            }
            model.Run(promptIds, positions, null, 0, 1, length, cache, _workspace, null, lastPositionOnly: !allPositions,
                logits[..((allPositions ? length : 1) * VocabSize)]);
        }

        public void Step(ReadOnlySpan<int> tokens, IReadOnlyList<KvCache> caches, Span<float> logits)
        {
            ArgumentNullException.ThrowIfNull(caches);
            if (tokens.Length != caches.Count || tokens.IsEmpty)
            {
                throw new ArgumentException($"a step needs one token per cache (got {tokens.Length} tokens for {caches.Count} caches)");
            }
            CheckIds(tokens);
            var positions = Grow(tokens.Length);
            for (int r = 0; r < tokens.Length; r++)
            {
                if (caches[r].BatchSize != 1 || caches[r].Length == 0)
                {
                    throw new ArgumentException($"row {r}: a step continues a prefilled one-row cache");
                }
                positions[r] = caches[r].Length;
            }
            model.Run(tokens, positions, null, 0, tokens.Length, 1, null, _workspace, null, lastPositionOnly: true,
                logits[..(tokens.Length * VocabSize)], caches);
        }

        private Span<int> Grow(int length)
        {
            if (_positions.Length < length)
            {
                _positions = new int[Math.Max(length, 2 * _positions.Length)];
            }
            return _positions.AsSpan(0, length);
        }

        private void CheckIds(ReadOnlySpan<int> ids)
        {
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)VocabSize)
                {
                    throw new ArgumentException($"token id {id} is outside the model's vocabulary of {VocabSize}");
                }
            }
        }
    }
}
