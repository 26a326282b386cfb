namespace Sharpformer.Generation;

/// <summary>
/// Turns a growing list of ids into text deltas for streaming. It re-decodes the whole generation each token (the
/// detokenizer is the caller's; BPE pieces can merge across tokens) and holds back text that may still change: a
/// trailing U+FFFD (an incomplete UTF-8 character) and a tail that could be the start of a stop string.
/// </summary>
internal sealed class StreamingText(Func<IReadOnlyList<int>, string> detokenizer, IReadOnlyList<string>? stopStrings)
{
    private readonly List<int> _ids = [];
    private int _emitted;

    /// <summary>The new final text after <paramref name="tokenId"/>; on the last token, everything left up to a stop string.</summary>
    public string Add(int tokenId, bool isLast)
    {
        _ids.Add(tokenId);
        string text = detokenizer(_ids);
        int stop = StopStringCriterion.FindStop(text, stopStrings);
        int safe = stop >= 0 ? stop : isLast ? text.Length : SafeLength(text);
        if (safe <= _emitted)
        {
            return "";
        }
        string delta = text[_emitted..safe];
        _emitted = safe;
        return delta;
    }

    private int SafeLength(string text)
    {
        int end = text.Length;
        while (end > _emitted && text[end - 1] == '\uFFFD')
        {
            end--;
        }
        int safe = end;
        foreach (string stop in stopStrings ?? [])
        {
            // Hold back the longest tail that is a proper prefix of this stop string.
            for (int length = Math.Min(stop.Length - 1, end); length > 0; length--)
            {
                if (text.AsSpan(end - length, length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    safe = Math.Min(safe, end - length);
                    break;
                }
            }
        }
        return Math.Max(safe, _emitted);
    }
}
