namespace TokenFormer.Core.SafeTensors;

/// <summary>Element types of the safetensors format (the names used in the JSON header).</summary>
public enum SafeTensorDType
{
    BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
}

/// <summary>Names, sizes and parsing of <see cref="SafeTensorDType"/>.</summary>
public static class SafeTensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ItemSize(SafeTensorDType t) => t switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.F64 or SafeTensorDType.I64 or SafeTensorDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>Parses a header dtype name; returns false for names this library does not support.</summary>
    public static bool TryParse(string name, out SafeTensorDType type) =>
        Enum.TryParse(name, ignoreCase: false, out type) && Enum.IsDefined(type) && name == type.ToString();
}
