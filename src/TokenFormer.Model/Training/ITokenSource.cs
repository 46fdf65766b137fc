namespace TokenFormer.Model.Training;

/// <summary>A flat stream of token ids (e.g. a memory-mapped split of a prepared data directory).</summary>
public interface ITokenSource
{
    /// <summary>Token ids in the stream.</summary>
    long Count { get; }

    /// <summary>Copies ids [start, start + destination.Length) into <paramref name="destination"/>.</summary>
    void CopyTo(long start, Span<int> destination);
}

/// <summary>An in-memory <see cref="ITokenSource"/> (tests, small data).</summary>
public sealed class ArrayTokenSource(int[] tokens) : ITokenSource
{
    /// <inheritdoc/>
    public long Count => tokens.Length;

    /// <inheritdoc/>
    public void CopyTo(long start, Span<int> destination) => tokens.AsSpan(checked((int)start), destination.Length).CopyTo(destination);
}
