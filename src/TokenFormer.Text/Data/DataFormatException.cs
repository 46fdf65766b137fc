namespace TokenFormer.Text.Data;

/// <summary>An input or data directory that cannot be used; the message names the file (and line or field).</summary>
public sealed class DataFormatException(string message) : Exception(message);
