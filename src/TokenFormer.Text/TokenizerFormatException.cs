namespace TokenFormer.Text;

/// <summary>
/// A tokenizer.json that is malformed or uses a component this library does not implement. The message names the
/// file (when known), the JSON field and what was expected.
/// </summary>
public sealed class TokenizerFormatException(string message) : Exception(message);
