namespace TokenFormer.Core.PyTorch;

/// <summary>
/// A PyTorch checkpoint is malformed, truncated, or asks for something the restricted reader refuses (a global,
/// an opcode, an impossible storage or shape); the message names the file and, where one is involved, the key,
/// opcode or global.
/// </summary>
public sealed class PyTorchFormatException(string message) : Exception(message);
