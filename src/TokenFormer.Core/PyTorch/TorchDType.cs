namespace TokenFormer.Core.PyTorch;

/// <summary>Element types of the tensor storages the reader accepts (all widened to float32 on read).</summary>
public enum TorchDType
{
    /// <summary><c>torch.FloatStorage</c>: IEEE float32.</summary>
    Float32,
    /// <summary><c>torch.HalfStorage</c>: IEEE float16.</summary>
    Float16,
    /// <summary><c>torch.BFloat16Storage</c>: bfloat16 (the high 16 bits of a float32).</summary>
    BFloat16,
}

/// <summary>Helpers for <see cref="TorchDType"/>.</summary>
public static class TorchDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ItemSize(TorchDType t) => t == TorchDType.Float32 ? 4 : 2;

    /// <summary>The dtype of storage class <c>torch.{name}</c>, or null when the reader does not accept it.</summary>
    public static TorchDType? FromStorageName(string name) => name switch
    {
        "FloatStorage" => TorchDType.Float32,
        "HalfStorage" => TorchDType.Float16,
        "BFloat16Storage" => TorchDType.BFloat16,
        _ => null,
    };
}
