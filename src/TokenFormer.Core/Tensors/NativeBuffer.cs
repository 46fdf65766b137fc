using System.Runtime.InteropServices;

namespace TokenFormer.Core.Tensors;

/// <summary>64-byte aligned, unmanaged float storage (invisible to the GC, so it never moves or adds GC pressure).</summary>
internal static unsafe class NativeBuffer
{
    /// <summary>Alignment of every block and of every arena allocation, in bytes (one cache line, one Vector512).</summary>
    public const int Alignment = 64;

    /// <summary>Allocates <paramref name="floats"/> floats (at least one cache line), optionally zeroed.</summary>
    public static float* Allocate(long floats, bool zero)
    {
        if (floats < 0) throw new ArgumentException($"cannot allocate {floats} floats");
        nuint bytes = (nuint)Math.Max(Alignment, RoundUp(floats * sizeof(float)));
        void* p = NativeMemory.AlignedAlloc(bytes, Alignment);
        if (zero) NativeMemory.Clear(p, bytes);
        return (float*)p;
    }

    public static void Free(float* p)
    {
        if (p != null) NativeMemory.AlignedFree(p);
    }

    /// <summary>Rounds a byte count up to a multiple of <see cref="Alignment"/>.</summary>
    public static long RoundUp(long bytes) => (bytes + Alignment - 1) & ~(long)(Alignment - 1);
}
