namespace Sharpformer.Tokenizers;

/// <summary>
/// A token matched in raw text before the model sees it (HF tokenizer.json "added_tokens"), such as
/// <c>&lt;|endoftext|&gt;</c>. <paramref name="Special"/> tokens are the ones <c>skipSpecialTokens</c> drops;
/// <paramref name="LeftStrip"/>/<paramref name="RightStrip"/> let a match swallow neighbouring whitespace
/// (BART's <c>&lt;mask&gt;</c>), <paramref name="SingleWord"/> refuses matches inside a word.
/// </summary>
public sealed record AddedToken(string Content, int Id, bool Special = true, bool LeftStrip = false,
    bool RightStrip = false, bool SingleWord = false);
