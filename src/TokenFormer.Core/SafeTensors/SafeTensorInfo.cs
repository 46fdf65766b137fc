namespace TokenFormer.Core.SafeTensors;

/// <summary>One tensor entry of a safetensors header: byte range [Begin, End) relative to the data section.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (product of the shape; 1 for a 0-rank scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long s in Shape) n = checked(n * s);
            return n;
        }
    }

    /// <summary>The shape as text, e.g. <c>[768, 64]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as <c>[a, b, …]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Formats a shape as <c>[a, b, …]</c>.</summary>
    public static string FormatShape(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";
}
