namespace TokenFormer.Core.PyTorch;

/// <summary>A global reference (<c>module.name</c>) that passed the allow-list; never called except as listed in <see cref="RestrictedUnpickler"/>.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => Module + "." + Name;
}

/// <summary>A pickled tuple.</summary>
public sealed record PickleTuple(object?[] Items)
{
    /// <summary>Number of items.</summary>
    public int Count => Items.Length;
}

/// <summary>A pickled dict or <c>collections.OrderedDict</c> (insertion order kept; string, integer or bool keys).</summary>
public sealed class PickleDict
{
    /// <summary>Entries in insertion order (a repeated key replaces the value in place, as Python does).</summary>
    public OrderedDictionary<object, object?> Items { get; } = new();

    /// <summary>State given by a BUILD opcode (e.g. a state dict's <c>_metadata</c>), kept but not interpreted.</summary>
    public object? State { get; set; }
}
