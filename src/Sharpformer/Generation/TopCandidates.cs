namespace Sharpformer.Generation;

/// <summary>The n best (score, index) pairs seen, best first, as torch.topk(sorted=True); on ties the earlier index ranks first.</summary>
internal sealed class TopCandidates(int capacity)
{
    private readonly float[] _scores = new float[capacity];
    private readonly int[] _indices = new int[capacity];

    public int Count { get; private set; }

    public float Score(int rank) => _scores[rank];

    public int Index(int rank) => _indices[rank];

    /// <summary>Replaces the contents with the best of <paramref name="scores"/> (index = position in the span).</summary>
    public void SelectFrom(ReadOnlySpan<float> scores)
    {
        Count = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float score = scores[i];
            if (Count == capacity && !(score > _scores[Count - 1]))
            {
                continue;
            }
            int at = Count == capacity ? capacity - 1 : Count++;
            while (at > 0 && score > _scores[at - 1])
            {
                _scores[at] = _scores[at - 1];
                _indices[at] = _indices[at - 1];
                at--;
            }
            _scores[at] = score;
            _indices[at] = i;
        }
    }
}
