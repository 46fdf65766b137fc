using System.Globalization;
using System.Runtime.InteropServices;
using TokenFormer.Core.Memory;

namespace TokenFormer.Core.Tests;

public class WeightArraysTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData((4 << 20) / 4 + 1)] // just over the huge-page threshold
    [InlineData(5 << 20)]
    public void Allocate_GivesAZeroedArrayOfTheLength(int length)
    {
        float[] f = WeightArrays.Allocate<float>(length);
        sbyte[] b = WeightArrays.Allocate<sbyte>(length);
        ushort[] u = WeightArrays.Allocate<ushort>(length);
        Assert.Equal(length, f.Length);
        Assert.Equal(length, b.Length);
        Assert.Equal(length, u.Length);
        Assert.True(f.AsSpan().IndexOfAnyExcept(0f) < 0);
        Assert.True(b.AsSpan().IndexOfAnyExcept((sbyte)0) < 0);
        Assert.True(u.AsSpan().IndexOfAnyExcept((ushort)0) < 0);
    }

    [Fact]
    public void Allocate_ClearsMemoryThatAnEarlierArrayLeftDirty()
    {
        // pinned large arrays come from the pinned heap, whose freed memory the next one of the same size reuses: its
        // old contents must not show (the huge-page path clears in 2 MiB pieces on the worker threads)
        const int length = (9 << 20) / 4 + 3; // several 2 MiB pieces and a partial last one
        for (int round = 0; round < 3; round++)
        {
            DirtyAndDrop(length);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            float[] fresh = WeightArrays.Allocate<float>(length);
            Assert.True(fresh.AsSpan().IndexOfAnyExcept(0f) < 0, $"round {round}: element {fresh.AsSpan().IndexOfAnyExcept(0f)} is not zero");
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void DirtyAndDrop(int length) => WeightArrays.Allocate<float>(length).AsSpan().Fill(float.NaN);

    [Fact]
    public void Allocate_LargeArrayIsBackedByHugePagesWhereTheSystemOffersThem()
    {
        const string mode = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!OperatingSystem.IsLinux() || !File.Exists(mode) || File.ReadAllText(mode).Contains("[never]") || !WeightArrays.UseHugePages)
            return; // nothing to check: the array is an ordinary one (the test above)
        float[] a = WeightArrays.Allocate<float>(16 << 20 >> 2);
        a.AsSpan().Fill(1f);
        // the advice is given before the clear that first touches the pages, so they are faulted in as 2 MiB pages
        Assert.True(HugePageBytesAround(a) >= 2L << 20, $"no huge pages back the 16 MiB array (THP mode: {File.ReadAllText(mode).Trim()})");
        GC.KeepAlive(a);
    }

    [Fact]
    public void Describe_SaysWhetherAndWhy()
    {
        bool was = WeightArrays.UseHugePages;
        try
        {
            WeightArrays.UseHugePages = false;
            Assert.Equal("off (TOKENFORMER_HUGE_PAGES=0)", WeightArrays.Describe());
            Assert.Equal(1 << 21, WeightArrays.Allocate<float>(1 << 21).Length); // an ordinary array, still zeroed and whole
            WeightArrays.UseHugePages = true;
            const string mode = "/sys/kernel/mm/transparent_hugepage/enabled";
            if (OperatingSystem.IsLinux() && File.Exists(mode))
                Assert.StartsWith(File.ReadAllText(mode).Contains("[never]") ? "no (" : "yes (transparent huge pages: ", WeightArrays.Describe());
        }
        finally { WeightArrays.UseHugePages = was; }
    }

    /// <summary>AnonHugePages of the mappings that hold <paramref name="array"/> (/proc/self/smaps).</summary>
    private static long HugePageBytesAround(float[] array)
    {
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        try
        {
            ulong begin = (ulong)handle.AddrOfPinnedObject(), end = begin + (ulong)array.Length * 4;
            long total = 0;
            bool inside = false;
            foreach (string line in File.ReadLines("/proc/self/smaps"))
            {
                int dash = line.IndexOf('-'), space = line.IndexOf(' ');
                if (dash > 0 && space > dash
                    && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong s)
                    && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong e))
                {
                    inside = e > begin && s < end;
                    continue;
                }
                if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                    total += long.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
            return total;
        }
        finally { handle.Free(); }
    }
}
