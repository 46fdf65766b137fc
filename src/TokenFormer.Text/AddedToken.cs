namespace TokenFormer.Text;

/// <summary>
/// A token matched in the input before pre-tokenisation (Hugging Face's <c>added_tokens</c> entries).
/// <see cref="Normalized"/> tokens are matched in normalised text, the others in the raw input.
/// </summary>
public sealed record AddedToken(
    int Id,
    string Content,
    bool Special,
    bool Normalized = false,
    bool SingleWord = false,
    bool LeftStrip = false,
    bool RightStrip = false);
