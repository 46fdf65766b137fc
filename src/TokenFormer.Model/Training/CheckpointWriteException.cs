namespace TokenFormer.Model.Training;

/// <summary>
/// A checkpoint could not be written (full disk, read-only folder); its partial copy was removed and the message names
/// the newest complete checkpoint, which is untouched.
/// </summary>
public sealed class CheckpointWriteException(string message, Exception inner) : IOException(message, inner);
