namespace TokenFormer.Model.Training;

/// <summary>
/// Draws training windows: the k-th window (k = 0, 1, …, counting over the whole run) starts at a uniform position
/// in [0, count − length] given by a counter-based generator (SplitMix64 of seed and k), so the complete RNG and data
/// state is (seed, <see cref="Drawn"/>) and a resumed run continues the exact sequence.
/// </summary>
public sealed class WindowSampler(ulong seed)
{
    /// <summary>The seed.</summary>
    public ulong Seed { get; } = seed;

    /// <summary>Windows drawn so far (the generator's position).</summary>
    public long Drawn { get; set; }

    /// <summary>Start of the next window of <paramref name="length"/> ids in a stream of <paramref name="count"/> ids.</summary>
    public long Next(long count, int length)
    {
        long range = count - length + 1;
        if (range <= 0) throw new ArgumentException($"a window of {length} tokens does not fit in {count} tokens");
        ulong r = Mix(Seed ^ Mix((ulong)Drawn * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL));
        Drawn++;
        return (long)Math.BigMul(r, (ulong)range, out _);
    }

    /// <summary>SplitMix64 finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
