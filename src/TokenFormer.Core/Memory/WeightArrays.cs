using System.Runtime.InteropServices;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Memory;

/// <summary>
/// Arrays for a model's weights. On Linux, arrays of 4 MiB or more are asked to be backed by transparent huge pages
/// (2 MiB, <c>madvise(MADV_HUGEPAGE)</c>) before their memory is first touched. Why: decoding streams every weight
/// once per token, and with 4 KiB pages that stream crosses a page — a TLB miss and a restart of the hardware
/// prefetcher — every 4 KiB; with huge pages the 150m preset decoded 1.26× (float32), 1.25× (bf16) and 1.08× (int8)
/// faster, while the first touch of fresh huge pages can make a model's first load slower on a VM (docs/benchmarks.md,
/// "Weights on huge pages"). Where the kernel does not offer them (<c>transparent_hugepage=never</c>, other systems)
/// the advice does nothing and the array is an ordinary one. <c>TOKENFORMER_HUGE_PAGES=0</c> turns it off.
/// </summary>
public static unsafe class WeightArrays
{
    private const long MinBytes = 4L << 20;
    private const long HugePage = 2L << 20;
    private const int MadvHugePage = 14; // linux/mman.h

    /// <summary>Whether large weight arrays get the huge-page advice (default on; <c>TOKENFORMER_HUGE_PAGES=0</c>: off).</summary>
    public static bool UseHugePages { get; set; } = Environment.GetEnvironmentVariable("TOKENFORMER_HUGE_PAGES") != "0";

    /// <summary>
    /// A zeroed array of <paramref name="length"/> elements, like <c>new T[length]</c>; large ones are pinned (so the
    /// advised range stays theirs) and advised to use huge pages, then cleared, which faults their pages in as such.
    /// </summary>
    public static T[] Allocate<T>(long length) where T : unmanaged
    {
        long bytes = length * sizeof(T);
        if (!UseHugePages || !OperatingSystem.IsLinux() || bytes < MinBytes) return new T[length];
        T[] array = GC.AllocateUninitializedArray<T>(checked((int)length), pinned: true);
        fixed (T* p = array)
        {
            // the whole 2 MiB pages inside the array (the advice applies to whole pages of the range it is given)
            long start = PageUp((long)p), end = ((long)p + bytes) & ~(HugePage - 1);
            if (end > start) _ = madvise((nint)start, (nuint)(end - start), MadvHugePage); // a refusal leaves ordinary pages
            ClearInPages((byte*)p, bytes);
        }
        return array;
    }

    /// <summary>
    /// Clears [p, p + bytes) on the worker threads, one 2 MiB page at a time (the part before the first page boundary is
    /// piece 0): the first touch of each huge page is where the kernel zeroes (and, on a VM, the host backs) it, which is
    /// slow enough to be worth spreading over the cores, and a page is touched by one thread only.
    /// </summary>
    internal static void ClearInPages(byte* p, long bytes)
    {
        long head = Math.Min(bytes, PageUp((long)p) - (long)p);
        Parallelism.For(1 + checked((int)((bytes - head + HugePage - 1) / HugePage)), new ClearJob(p, bytes, head));
    }

    /// <summary>The first 2 MiB page boundary at or after <paramref name="address"/>.</summary>
    private static long PageUp(long address) => (address + HugePage - 1) & ~(HugePage - 1);

    private sealed class ClearJob(byte* p, long bytes, long head) : IParallelWork
    {
        private readonly byte* _p = p;
        private readonly long _bytes = bytes, _head = head;

        public void Execute(int index)
        {
            long start = index == 0 ? 0 : _head + (index - 1) * HugePage;
            long end = index == 0 ? _head : Math.Min(_bytes, start + HugePage);
            if (end > start) new Span<byte>(_p + start, (int)(end - start)).Clear();
        }
    }

    /// <summary>Whether large weight arrays will be on huge pages here, and why (for <c>tokenformer selfcheck</c>).</summary>
    public static string Describe()
    {
        if (!UseHugePages) return "off (TOKENFORMER_HUGE_PAGES=0)";
        if (!OperatingSystem.IsLinux()) return "no (transparent huge pages are a Linux feature)";
        const string mode = "/sys/kernel/mm/transparent_hugepage/enabled";
        string text;
        try { text = File.ReadAllText(mode).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return $"no ({mode} cannot be read)"; }
        int open = text.IndexOf('['), close = text.IndexOf(']');
        string current = open >= 0 && close > open ? text[(open + 1)..close] : text;
        return current == "never" ? $"no (transparent huge pages are off: {mode} is \"{text}\")" : $"yes (transparent huge pages: {current})";
    }

    /// <summary>The process's resident memory in huge pages (AnonHugePages of /proc/self/smaps_rollup; 0 where there is none to read).</summary>
    public static long ResidentHugePageBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/smaps_rollup"))
                if (AnonHugePageBytes(line) is long bytes) return bytes;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }

    /// <summary>The bytes of an "AnonHugePages: N kB" line of /proc/…/smaps(_rollup); null for any other line.</summary>
    internal static long? AnonHugePageBytes(string line) =>
        line.StartsWith("AnonHugePages:", StringComparison.Ordinal)
            ? long.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024
            : null;

    [DllImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static extern int madvise(nint address, nuint length, int advice);
}
