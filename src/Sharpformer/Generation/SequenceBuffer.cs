namespace Sharpformer.Generation;

/// <summary>Every row's ids so far (HF input_ids), preallocated for the whole run: [rows × (initial + maxNewTokens)].</summary>
internal sealed class SequenceBuffer
{
    private int[] _ids;
    private int[] _scratch; // beam reorders copy into it, then the two swap
    private readonly int _capacity;

    public SequenceBuffer(int[] initial, int rows, int initialLength, int maxNewTokens)
    {
        Rows = rows;
        InitialLength = initialLength;
        Length = initialLength;
        _capacity = initialLength + maxNewTokens;
        _ids = new int[rows * _capacity];
        _scratch = new int[rows * _capacity];
        for (int row = 0; row < rows; row++)
        {
            initial.AsSpan(row * initialLength, initialLength).CopyTo(_ids.AsSpan(row * _capacity));
        }
    }

    public int Rows { get; }

    public int InitialLength { get; }

    public int Length { get; private set; }

    public int GeneratedLength => Length - InitialLength;

    public ReadOnlySpan<int> Row(int row) => _ids.AsSpan(row * _capacity, Length);

    /// <summary>Row b gets <paramref name="tokens"/>[b] appended.</summary>
    public void Append(ReadOnlySpan<int> tokens)
    {
        for (int row = 0; row < Rows; row++)
        {
            _ids[row * _capacity + Length] = tokens[row];
        }
        Length++;
    }

    /// <summary>Row b becomes old row <paramref name="sources"/>[b] followed by <paramref name="tokens"/>[b] (beam search).</summary>
    public void ReorderAndAppend(ReadOnlySpan<int> sources, ReadOnlySpan<int> tokens)
    {
        for (int row = 0; row < Rows; row++)
        {
            Row(sources[row]).CopyTo(_scratch.AsSpan(row * _capacity));
            _scratch[row * _capacity + Length] = tokens[row];
        }
        (_ids, _scratch) = (_scratch, _ids);
        Length++;
    }
}
