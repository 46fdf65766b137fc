using System.Text;
using TokenFormer.Core.SafeTensors;

namespace TokenFormer.Model.Tests;

/// <summary>The safetensors reader and writer: round trips, conversions and every malformed-file check.</summary>
public class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tf-st-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void RoundTripKeepsValuesShapesAndMetadata()
    {
        var w = new SafeTensorsWriter();
        w.Metadata["format"] = "pt";
        float[] a = [1.5f, -2, 3, 4, 5, 6];
        long[] ids = [0, 7, long.MaxValue];
        w.AddFloat32("b.weight", a, 2, 3);
        w.AddInt64("a.ids", ids, 3);
        w.AddFloat32("scalar", new[] { 42f });
        w.AddFloat32("empty", Array.Empty<float>(), 0, 4);
        w.AddBytes("half", SafeTensorDType.F16, BitConverter.GetBytes((Half)0.5f).Concat(BitConverter.GetBytes((Half)(-2f))).ToArray(), 2);
        w.AddBytes("bf", SafeTensorDType.BF16, new byte[] { 0x80, 0x3F, 0x00, 0xC0 }, 2); // 1.0, −2.0
        string path = PathOf("x.safetensors");
        w.Save(path);
        Assert.False(File.Exists(path + ".tmp-" + Environment.ProcessId));

        byte[] raw = File.ReadAllBytes(path);
        long headerLen = BitConverter.ToInt64(raw, 0);
        Assert.Equal(0, headerLen % 8);

        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal(a, f.ReadFloat32("b.weight"));
        Assert.Equal(new long[] { 2, 3 }, f.Get("b.weight").Shape);
        Assert.Equal(ids, f.ReadInt64("a.ids"));
        Assert.Empty(f.Get("scalar").Shape);
        Assert.Equal(42f, f.ReadFloat32("scalar")[0]);
        Assert.Empty(f.ReadFloat32("empty"));
        Assert.Equal(new[] { 0.5f, -2f }, f.ReadFloat32("half"));
        Assert.Equal(new[] { 1f, -2f }, f.ReadFloat32("bf"));
        // 8-byte tensors first (descending alignment), so every tensor is aligned
        Assert.Equal("a.ids", f.Tensors[0].Name);
    }

    [Fact]
    public void ReadBytesReadsAnyRangeOfATensorFromTheFileAndRefusesRangesOutsideIt()
    {
        var w = new SafeTensorsWriter();
        float[] first = [7, 8, 9];
        byte[] second = Enumerable.Range(0, 70).Select(i => (byte)(3 * i + 1)).ToArray();
        w.AddFloat32("first", first, 3);
        w.AddBytes("second", SafeTensorDType.I8, second, 7, 10);
        string path = PathOf("r.safetensors");
        w.Save(path);
        using var f = SafeTensorsFile.Open(path);
        SafeTensorInfo t = f.Get("second");
        var all = new byte[70];
        f.ReadBytes(t, 0, all);
        Assert.Equal(second, all);
        var part = new byte[9];
        f.ReadBytes(t, 61, part);
        Assert.Equal(second[61..], part);
        // the float32 tensor before it, through ReadFloat32 (which reads the file the same way)
        Assert.Equal(first, f.ReadFloat32("first"));
        var e = Assert.Throws<ArgumentException>(() => f.ReadBytes(t, 62, new byte[9]));
        Assert.Contains("'second'", e.Message);
        Assert.Throws<ArgumentException>(() => f.ReadBytes(t, -1, new byte[1]));
    }

    [Fact]
    public void ErrorsNameFileAndKey()
    {
        var w = new SafeTensorsWriter();
        w.AddFloat32("t", new float[4], 4);
        string path = PathOf("y.safetensors");
        w.Save(path);
        using var f = SafeTensorsFile.Open(path);
        var e = Assert.Throws<SafeTensorsFormatException>(() => f.Get("missing"));
        Assert.Contains(path, e.Message);
        Assert.Contains("'missing'", e.Message);
        var e2 = Assert.Throws<SafeTensorsFormatException>(() => f.ReadFloat32("t", new float[3]));
        Assert.Contains("'t'", e2.Message);
        Assert.Throws<SafeTensorsFormatException>(() => f.ReadInt64("t"));
        Assert.Throws<ArgumentException>(() => w.AddFloat32("t", new float[4], 4));       // duplicate
        Assert.Throws<ArgumentException>(() => w.AddFloat32("u", new float[5], 2, 2));    // shape mismatch
    }

    private string WriteRaw(string header, int dataBytes, long? headerLength = null)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        string path = PathOf(Guid.NewGuid().ToString("N") + ".safetensors");
        using var fs = File.Create(path);
        fs.Write(BitConverter.GetBytes(headerLength ?? h.Length));
        fs.Write(h);
        fs.Write(new byte[dataBytes]);
        return path;
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, null)]   // valid
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "cover")] // extra bytes
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "cover")]  // truncated
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "contiguous")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "contiguous")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "invalid dimension")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "invalid data_offsets")] // a string (found by fuzzing model-dir)
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,null]}}", 4, "invalid data_offsets")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate")]
    [InlineData("{\"a\": [1,2", 0, "JSON")]
    [InlineData("[1,2]", 0, "JSON object")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__")]
    public void MalformedFilesAreRejectedWithAReason(string header, int dataBytes, string? expected)
    {
        string path = WriteRaw(header, dataBytes);
        if (expected == null)
        {
            using var ok = SafeTensorsFile.Open(path);
            Assert.Single(ok.Tensors);
            return;
        }
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void BadHeaderLengthsAreRejected()
    {
        string shortFile = PathOf("short.safetensors");
        File.WriteAllBytes(shortFile, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(shortFile)).Message);
        string past = WriteRaw("{}", 0, headerLength: 1000);
        Assert.Contains("past the end", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(past)).Message);
        string huge = WriteRaw("{}", 0, headerLength: 200_000_000);
        Assert.Contains("exceeds", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(huge)).Message);
        string invalidUtf8 = PathOf("utf8.safetensors");
        File.WriteAllBytes(invalidUtf8, [.. BitConverter.GetBytes(2L), 0xC3, 0x28]);
        Assert.Contains("UTF-8", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(invalidUtf8)).Message);
    }
}
