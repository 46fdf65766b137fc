namespace TokenFormer.Text;

/// <summary>
/// Options of Hugging Face's ByteLevel component (pre-tokenizer, post-processor and decoder share them).
/// Only <see cref="AddPrefixSpace"/> and <see cref="UseRegex"/> affect the ids the pre-tokenizer produces.
/// </summary>
/// <param name="AddPrefixSpace">Prepend a space to each text segment that does not start with one.</param>
/// <param name="TrimOffsets">Offsets trimming (kept for saving; offsets are not computed here).</param>
/// <param name="UseRegex">Split with the GPT-2 pattern; when false each segment is one word.</param>
public sealed record ByteLevelOptions(bool AddPrefixSpace = false, bool TrimOffsets = true, bool UseRegex = true);
