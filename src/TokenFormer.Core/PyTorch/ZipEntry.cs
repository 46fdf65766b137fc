namespace TokenFormer.Core.PyTorch;

/// <summary>
/// One stored (uncompressed) member of a zip archive: its name, size in bytes and the absolute file offset of its
/// first data byte (after the local header), so that it can be read in place.
/// </summary>
public sealed record ZipEntry(string Name, long Size, long DataOffset);
