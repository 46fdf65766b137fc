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

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 100)]
    [InlineData(5, (2 << 20) - 5)]            // ends exactly on a page boundary
    [InlineData(7, (9 << 20) + 3)]            // a head, several whole pages, a partial last one
    [InlineData(2 << 20, 4 << 20)]            // starts on a boundary: no head
    public unsafe void ClearInPages_ClearsExactlyTheRange(int offsetFromPage, int bytes)
    {
        // a dirty buffer that starts on a 2 MiB boundary, so the offsets above place the range against page boundaries
        long size = offsetFromPage + (long)bytes + 64;
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)size, 2 << 20);
        try
        {
            new Span<byte>(buffer, (int)size).Fill(0xA5);
            WeightArrays.ClearInPages(buffer + offsetFromPage, bytes);
            var all = new ReadOnlySpan<byte>(buffer, (int)size);
            Assert.True(all[..offsetFromPage].IndexOfAnyExcept((byte)0xA5) < 0, "a byte before the range changed");
            int firstDirty = all.Slice(offsetFromPage, bytes).IndexOfAnyExcept((byte)0);
            Assert.True(firstDirty < 0, $"byte {firstDirty} of the range was not cleared");
            Assert.True(all[(offsetFromPage + bytes)..].IndexOfAnyExcept((byte)0xA5) < 0, "a byte after the range changed");
        }
        finally { NativeMemory.AlignedFree(buffer); }
    }

    [Fact]
    public void Allocate_LargeArrayIsAdvisedForHugePagesWhereTheSystemOffersThem()
    {
        const string mode = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!OperatingSystem.IsLinux() || !File.Exists(mode) || File.ReadAllText(mode).Contains("[never]") || !WeightArrays.UseHugePages)
            return; // nothing to check: the array is an ordinary one (the test above)
        float[] a = WeightArrays.Allocate<float>(16 << 20 >> 2);
        a.AsSpan().Fill(1f);
        // The advice is given before the clear that first touches the pages, so the kernel faults them in as 2 MiB pages
        // when it has them: that part depends on the machine's free memory (under memory pressure it falls back to 4 KiB
        // pages), so the test checks the advice itself, the "hg" flag (MADV_HUGEPAGE) of the mapping that holds the array.
        (bool advised, long hugeBytes) = MappingsAround(a);
        Assert.True(advised, $"no mapping holding the 16 MiB array carries the MADV_HUGEPAGE advice (AnonHugePages {hugeBytes} bytes; THP mode: {File.ReadAllText(mode).Trim()})");
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

    /// <summary>
    /// Whether a mapping that holds <paramref name="array"/> carries the MADV_HUGEPAGE advice ("hg" in its VmFlags), and
    /// the AnonHugePages of those mappings (/proc/self/smaps).
    /// </summary>
    private static (bool Advised, long HugeBytes) MappingsAround(float[] array)
    {
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        try
        {
            ulong begin = (ulong)handle.AddrOfPinnedObject(), end = begin + (ulong)array.Length * 4;
            long total = 0;
            bool inside = false, advised = false;
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
                if (!inside) continue;
                if (WeightArrays.AnonHugePageBytes(line) is long bytes) total += bytes;
                if (line.StartsWith("VmFlags:", StringComparison.Ordinal) && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("hg")) advised = true;
            }
            return (advised, total);
        }
        finally { handle.Free(); }
    }
}
