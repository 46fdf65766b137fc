namespace TokenFormer.Model;

/// <summary>
/// How the tensors a file holds differ from a <see cref="ParameterLayout"/>: missing keys, keys with the wrong shape
/// and keys the layout does not have, each named with its shape. The model-directory loader and the checkpoint
/// importer both check their files with it, so the two report the same problems in the same words.
/// </summary>
public sealed class LayoutMismatch
{
    /// <summary>Expected tensors the file lacks: "'key' [shape]".</summary>
    public List<string> Missing { get; } = [];
    /// <summary>Tensors with another shape than the layout's: "'key' is [a], expected [b]".</summary>
    public List<string> WrongShape { get; } = [];
    /// <summary>Tensors the layout does not have: "'key' [shape]".</summary>
    public List<string> Unexpected { get; } = [];
    /// <summary>True when the file fits the layout.</summary>
    public bool IsEmpty => Missing.Count + WrongShape.Count + Unexpected.Count == 0;

    /// <summary>
    /// Compares <paramref name="stored"/> (each tensor's key and shape) with <paramref name="layout"/>;
    /// <paramref name="ignore"/> names stored keys that may be present without being part of the layout.
    /// </summary>
    public static LayoutMismatch Compare(ParameterLayout layout, IEnumerable<(string Name, long[] Shape)> stored, Func<string, bool>? ignore = null)
    {
        var result = new LayoutMismatch();
        var byName = new Dictionary<string, long[]>();
        foreach (var (name, shape) in stored)
        {
            byName[name] = shape;
            if (layout.Find(name) == null && ignore?.Invoke(name) != true) result.Unexpected.Add($"'{name}' {Format(shape)}");
        }
        foreach (ParameterTensor t in layout.Tensors)
        {
            long[] expected = t.Shape.Select(x => (long)x).ToArray();
            if (!byName.TryGetValue(t.Name, out long[]? shape)) result.Missing.Add($"'{t.Name}' {Format(expected)}");
            else if (!shape.SequenceEqual(expected)) result.WrongShape.Add($"'{t.Name}' is {Format(shape)}, expected {Format(expected)}");
        }
        return result;
    }

    /// <summary>"N tensor(s) with the wrong shape: …; N missing tensor(s): …; N unexpected tensor(s): …" (eight of each at most).</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (WrongShape.Count > 0) parts.Add($"{WrongShape.Count} tensor(s) with the wrong shape: {List(WrongShape)}");
        if (Missing.Count > 0) parts.Add($"{Missing.Count} missing tensor(s): {List(Missing)}");
        if (Unexpected.Count > 0) parts.Add($"{Unexpected.Count} unexpected tensor(s): {List(Unexpected)}");
        return string.Join("; ", parts);
    }

    /// <summary>"[a, b]".</summary>
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    private static string List(List<string> items) =>
        string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", … ({items.Count - 8} more)" : "");
}
