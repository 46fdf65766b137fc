using Microsoft.Win32.SafeHandles;
using TokenFormer.Core.IO;

namespace TokenFormer.Core.Tests;

public class FileRangeCopyTests
{
    [Theory]
    [InlineData(0, 0, 0, true)]
    [InlineData(3, 5, 1, true)]
    [InlineData(4096, 8, 100_000, true)]
    [InlineData(17, 70_000, 5_000_000, true)]
    [InlineData(3, 5, 1, false)]
    [InlineData(17, 70_000, 5_000_000, false)]
    public void CopiesTheRangeToTheOffset_LeavingTheRestAlone(long from, long to, long count, bool kernel)
    {
        string dir = Directory.CreateTempSubdirectory("tf-copy-").FullName;
        try
        {
            byte[] source = new byte[from + count + 13];
            new Random(7).NextBytes(source);
            byte[] before = new byte[to + count + 9];
            new Random(8).NextBytes(before);
            string src = Path.Combine(dir, "src"), dst = Path.Combine(dir, "dst");
            File.WriteAllBytes(src, source);
            File.WriteAllBytes(dst, before);
            long copied;
            using (SafeFileHandle s = File.OpenHandle(src), d = File.OpenHandle(dst, FileMode.Open, FileAccess.ReadWrite))
                copied = FileRangeCopy.Copy(s, from, d, to, count, kernel);
            Assert.Equal(count, copied);
            byte[] expected = (byte[])before.Clone();
            Array.Copy(source, from, expected, to, count);
            Assert.Equal(expected, File.ReadAllBytes(dst));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ASourceThatEndsEarly_CopiesWhatThereIs(bool kernel)
    {
        string dir = Directory.CreateTempSubdirectory("tf-copy-").FullName;
        try
        {
            string src = Path.Combine(dir, "src"), dst = Path.Combine(dir, "dst");
            File.WriteAllBytes(src, Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray());
            using SafeFileHandle s = File.OpenHandle(src), d = File.OpenHandle(dst, FileMode.Create, FileAccess.Write);
            Assert.Equal(400, FileRangeCopy.Copy(s, 600, d, 0, 5000, kernel));
            Assert.Equal(0, FileRangeCopy.Copy(s, 2000, d, 400, 10, kernel));
            d.Dispose();
            Assert.Equal(Enumerable.Range(600, 400).Select(i => (byte)i).ToArray(), File.ReadAllBytes(dst));
        }
        finally { Directory.Delete(dir, true); }
    }
}
