namespace TokenFormer.Core.Kernels;

/// <summary>Shape checks shared by the row-wise and element-wise kernels; messages name the kernel, shapes and lengths.</summary>
internal static class KernelArguments
{
    /// <summary>Checks rows, cols ≥ 0 and that rows·cols fits in a span; returns rows·cols.</summary>
    public static int Matrix(string kernel, int rows, int cols)
    {
        if (rows < 0 || cols < 0)
            throw new ArgumentException($"{kernel}: rows and cols must not be negative (rows={rows}, cols={cols})");
        long n = (long)rows * cols;
        if (n > int.MaxValue)
            throw new ArgumentException($"{kernel}: [{rows}, {cols}] has {n} elements, more than a span can hold");
        return (int)n;
    }

    /// <summary>
    /// Checks that a span named <paramref name="name"/> of shape [d0] (d1 &lt; 0) or [d0, d1] holds at least
    /// <paramref name="need"/> elements; the message is only built when throwing.
    /// </summary>
    public static void AtLeast(string kernel, string name, int length, long need, int d0, int d1 = -1, bool optional = false)
    {
        if (length < need)
            throw new ArgumentException(
                $"{kernel}: {name} should be {(d1 < 0 ? $"[{d0}]" : $"[{d0}, {d1}]")} ({need} elements{(optional ? ", or empty" : "")}) but has {length}");
    }

    /// <summary>Checks that two spans of an element-wise op have the same length and the output is long enough.</summary>
    public static void SameLength(string kernel, string xName, int xLength, string yName, int yLength)
    {
        if (xLength != yLength)
            throw new ArgumentException($"{kernel}: {xName} has {xLength} elements but {yName} has {yLength}");
    }

    /// <summary>Rejects an output that overlaps an input other than exactly (same start and length).</summary>
    public static void NoPartialOverlap(string kernel, ReadOnlySpan<float> input, string inputName,
        ReadOnlySpan<float> output, string outputName)
    {
        if (input.Overlaps(output, out int offset) && (offset != 0 || input.Length != output.Length))
            throw new ArgumentException(
                $"{kernel}: {outputName} partly overlaps {inputName} (offset {offset}); it must be disjoint or the same span");
    }
}
