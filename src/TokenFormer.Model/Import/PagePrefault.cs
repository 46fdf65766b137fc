using System.Runtime.InteropServices;

namespace TokenFormer.Model.Import;

/// <summary>
/// Faults in a large, freshly allocated float array with one <c>madvise(MADV_POPULATE_WRITE)</c> call (Linux ≥ 5.14)
/// instead of one page fault per 4 KiB page while it is first written: on a virtual machine each fault is a trap,
/// and ~150,000 of them dominate reading a 600 MB checkpoint. A hint only: ignored elsewhere or when it fails.
/// </summary>
internal static partial class PagePrefault
{
    private const int MadvPopulateWrite = 23;
    private const long Page = 4096;

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>Pre-faults the whole 4 KiB pages inside <paramref name="array"/>; returns whether the call succeeded.</summary>
    public static unsafe bool Populate(float[] array)
    {
        if (!OperatingSystem.IsLinux() || array.LongLength * 4 < (8L << 20)) return false;
        try
        {
            fixed (float* p = array)
            {
                long start = ((long)p + Page - 1) & ~(Page - 1);
                long end = ((long)p + array.LongLength * 4) & ~(Page - 1);
                return end > start && Madvise((nint)start, (nuint)(end - start), MadvPopulateWrite) == 0;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }
}
