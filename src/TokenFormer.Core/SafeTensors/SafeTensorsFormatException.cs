namespace TokenFormer.Core.SafeTensors;

/// <summary>A safetensors file is malformed or does not hold what the caller needs; the message names file and key.</summary>
public sealed class SafeTensorsFormatException(string message) : Exception(message);
