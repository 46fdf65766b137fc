namespace TokenFormer.Core.PyTorch;

/// <summary>
/// One tensor storage of a <c>torch.save</c> archive: the key of its persistent id, element type, element count
/// (checked to equal the archive member's size / item size) and the member holding its bytes.
/// Several tensors (views) may share one storage.
/// </summary>
public sealed record TorchStorage(string Key, TorchDType DType, long ElementCount, ZipEntry Entry);
