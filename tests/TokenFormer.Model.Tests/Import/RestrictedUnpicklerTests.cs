using TokenFormer.Core.PyTorch;

namespace TokenFormer.Model.Tests.Import;

/// <summary>
/// Hand-made pickles: a valid one reads back, and every malicious or impossible one is refused with a message
/// naming the file and the opcode/global/storage — before anything is executed or allocated.
/// </summary>
public class RestrictedUnpicklerTests
{
    private static readonly long[] Shape2x2 = [2, 2];
    private static readonly long[] RowMajor2x2 = [2, 1];

    /// <summary>A one-tensor state dict {"w": tensor} over storage "0" of 4 floats.</summary>
    private static PickleBuilder OneTensor(long numel = 4, long[]? size = null, long[]? stride = null, long offset = 0, string type = "FloatStorage") =>
        new PickleBuilder().Proto().OrderedDict().Mark().Unicode("w")
            .Tensor("0", numel, offset, size ?? Shape2x2, stride ?? RowMajor2x2, type).SetItems().Stop();

    private static string Archive(PickleBuilder p, byte[]? storage = null) =>
        TorchArchiveBuilder.Write(p.ToArray(), new Dictionary<string, byte[]> { ["0"] = storage ?? TorchArchiveBuilder.Floats(1, 2, 3, 4) });

    private static PyTorchFormatException Refused(string path)
    {
        var e = Assert.Throws<PyTorchFormatException>(() => { using var _ = TorchCheckpoint.Open(path); });
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void HandMadeStateDictReadsBack()
    {
        string path = Archive(OneTensor());
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(path);
        TorchTensor t = Assert.Single(ckpt.Tensors);
        Assert.Equal("w", t.Name);
        Assert.Equal(Shape2x2, t.Shape);
        var values = new float[4];
        ckpt.ReadFloat32(t, values);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, values);
    }

    [Fact]
    public void TransposedViewIsGathered()
    {
        string path = Archive(OneTensor(stride: [1, 2]));
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(path);
        var values = new float[4];
        ckpt.ReadFloat32(ckpt.Tensors[0], values);
        Assert.Equal(new float[] { 1, 3, 2, 4 }, values);
    }

    [Fact]
    public void GlobalOsSystemIsRefusedAtTheGlobalOpcode()
    {
        // the classic payload: os.system("touch <marker>") via GLOBAL + REDUCE
        string marker = Path.Combine(TempDir.Create(), "pwned");
        var p = new PickleBuilder().Proto().Global("os", "system").Mark().Unicode("touch " + marker).Tuple().Reduce().Stop();
        PyTorchFormatException e = Refused(Archive(p));
        Assert.Contains("GLOBAL 'os.system' is not allowed", e.Message);
        Assert.Contains("at byte 2", e.Message); // the GLOBAL right after PROTO, before any REDUCE
        Assert.False(File.Exists(marker));
    }

    [Theory]
    [InlineData("builtins", "eval")]
    [InlineData("posix", "system")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    [InlineData("torch._utils", "_rebuild_device_tensor_from_numpy")]
    [InlineData("numpy.core.multiarray", "_reconstruct")]
    public void OtherGlobalsAreRefused(string module, string name)
    {
        var p = new PickleBuilder().Proto().OrderedDict().Mark().Unicode("w").Global(module, name).SetItems().Stop();
        PyTorchFormatException e = Refused(Archive(p));
        Assert.Contains($"'{module}.{name}' is not allowed", e.Message);
    }

    [Fact]
    public void StackGlobalIsCheckedAgainstTheSameAllowList()
    {
        var p = new PickleBuilder().Proto(4).Op(0x8c).Op(2).Bytes("os"u8.ToArray()).Op(0x8c).Op(6).Bytes("system"u8.ToArray()).Op(0x93).Stop();
        Assert.Contains("STACK_GLOBAL 'os.system' is not allowed", Refused(Archive(p)).Message);
    }

    [Fact]
    public void ReduceOfAnAllowedButNonCallableGlobalIsRefused()
    {
        // torch.FloatStorage may appear in a persistent id, but calling it (e.g. FloatStorage(10**12)) is refused
        var p = new PickleBuilder().Proto().Global("torch", "FloatStorage").Mark().Int(1_000_000_000_000).Tuple().Reduce().Stop();
        Assert.Contains("REDUCE of 'torch.FloatStorage' is not allowed", Refused(Archive(p)).Message);
    }

    [Fact]
    public void ReduceOfANonGlobalIsRefused()
    {
        var p = new PickleBuilder().Proto().Unicode("os.system").Mark().Unicode("ls").Tuple().Reduce().Stop();
        Assert.Contains("REDUCE of the string 'os.system' is not allowed", Refused(Archive(p)).Message);
    }

    [Fact]
    public void OrderedDictCalledWithArgumentsIsRefused()
    {
        var p = new PickleBuilder().Proto().Global("collections", "OrderedDict").Mark().Unicode("x").Tuple().Reduce().Stop();
        Assert.Contains("OrderedDict with arguments", Refused(Archive(p)).Message);
    }

    [Theory]
    [InlineData((byte)'i', "INST")]
    [InlineData((byte)'o', "OBJ")]
    [InlineData((byte)0x81, "NEWOBJ")]
    [InlineData((byte)0x82, "EXT1")]
    [InlineData((byte)'P', "PERSID")]
    [InlineData((byte)'S', "STRING")]
    public void CodeRunningOpcodesAreRefused(byte op, string name)
    {
        var p = new PickleBuilder().Proto().Op(op).Bytes("os\nsystem\n"u8.ToArray()).Stop();
        PyTorchFormatException e = Refused(Archive(p));
        Assert.Contains($"({name}) is not allowed", e.Message);
    }

    [Fact]
    public void StorageClaimingATrillionElementsIsRefusedWithoutAllocating()
    {
        string path = Archive(OneTensor(numel: 1_000_000_000_000));
        long before = GC.GetAllocatedBytesForCurrentThread();
        PyTorchFormatException e = Refused(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("claims 1000000000000 Float32 elements", e.Message);
        Assert.Contains("holds 16 bytes", e.Message);
        Assert.True(allocated < 4 << 20, $"refusing the storage allocated {allocated} bytes");
    }

    [Fact]
    public void ShapeWhoseProductOverflowsIsRefused()
    {
        long big = 1L << 40;
        PyTorchFormatException e = Refused(Archive(OneTensor(size: [big, big, big], stride: [0, 0, 0])));
        Assert.Contains("overflow", e.Message);
    }

    [Fact]
    public void StridesReachingPastAnyStorageAreRefused()
    {
        PyTorchFormatException e = Refused(Archive(OneTensor(size: [3, 2], stride: [long.MaxValue / 2 + 1, 1])));
        Assert.Contains("overflow", e.Message);
    }

    [Fact]
    public void ViewOutsideItsStorageIsRefused()
    {
        PyTorchFormatException e = Refused(Archive(OneTensor(size: [3, 2], stride: [2, 1])));
        Assert.Contains("needs storage element 5, but storage '0' holds 4 elements", e.Message);
        Assert.Contains("storage_offset", Refused(Archive(OneTensor(offset: -1))).Message);
    }

    [Fact]
    public void HugeStringLengthIsRefusedWithoutAllocating()
    {
        // BINUNICODE claiming 4 GB - 1 bytes in a pickle of a few bytes
        var p = new PickleBuilder().Proto().Op((byte)'X').Bytes(0xff, 0xff, 0xff, 0xff).Bytes("abc"u8.ToArray()).Stop();
        string path = Archive(p);
        long before = GC.GetAllocatedBytesForCurrentThread();
        PyTorchFormatException e = Refused(path);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20);
        Assert.Contains("BINUNICODE claims 4294967295 bytes", e.Message);
    }

    [Fact]
    public void UnsupportedStorageTypeIsRefused()
    {
        // torch.LongStorage is not on the allow-list at all; DoubleStorage neither
        PyTorchFormatException e = Refused(Archive(OneTensor(type: "DoubleStorage")));
        Assert.Contains("'torch.DoubleStorage' is not allowed", e.Message);
    }

    [Fact]
    public void MissingStorageMemberIsRefused()
    {
        var p = new PickleBuilder().Proto().OrderedDict().Mark().Unicode("w").Tensor("7", 4, 0, Shape2x2, RowMajor2x2).SetItems().Stop();
        PyTorchFormatException e = Refused(Archive(p));
        Assert.Contains("storage '7' has no archive member 'archive/data/7'", e.Message);
    }

    [Fact]
    public void NonTensorValuesAndNonDictRootsAreRefused()
    {
        var nested = new PickleBuilder().Proto().OrderedDict().Mark().Unicode("state_dict").OrderedDict().SetItems().Stop();
        Assert.Contains("'state_dict' is a nested dict", Refused(Archive(nested)).Message);
        var list = new PickleBuilder().Proto().Op((byte)']').Stop();
        Assert.Contains("not a state dict", Refused(Archive(list)).Message);
    }

    [Fact]
    public void TruncatedPickleIsRefused()
    {
        byte[] full = OneTensor().ToArray();
        for (int cut = 1; cut < full.Length; cut += 7)
        {
            string path = TorchArchiveBuilder.Write(full[..cut], new Dictionary<string, byte[]> { ["0"] = TorchArchiveBuilder.Floats(1, 2, 3, 4) });
            var e = Assert.Throws<PyTorchFormatException>(() => { using var _ = TorchCheckpoint.Open(path); });
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void Float16AndBFloat16StoragesAreWidened()
    {
        byte[] half = new byte[8];
        float[] expected = [1.5f, -2.25f, 65504f, 0.0009765625f];
        for (int i = 0; i < 4; i++) BitConverter.TryWriteBytes(half.AsSpan(2 * i), BitConverter.HalfToUInt16Bits((Half)expected[i]));
        using (TorchCheckpoint c = TorchCheckpoint.Open(Archive(OneTensor(type: "HalfStorage"), half)))
        {
            var v = new float[4];
            c.ReadFloat32(c.Tensors[0], v);
            Assert.Equal(expected, v);
        }
        byte[] bf = new byte[8];
        float[] bfExpected = [1.5f, -2.25f, 3.0e38f, 1e-30f];
        for (int i = 0; i < 4; i++) BitConverter.TryWriteBytes(bf.AsSpan(2 * i), (ushort)(BitConverter.SingleToUInt32Bits(bfExpected[i]) >> 16));
        using (TorchCheckpoint c = TorchCheckpoint.Open(Archive(OneTensor(type: "BFloat16Storage"), bf)))
        {
            var v = new float[4];
            c.ReadFloat32(c.Tensors[0], v);
            for (int i = 0; i < 4; i++)
                Assert.Equal(BitConverter.SingleToUInt32Bits(bfExpected[i]) & 0xFFFF0000u, BitConverter.SingleToUInt32Bits(v[i]));
        }
    }

    [Fact]
    public void LegacyFormatAndNonArchivesAreNamed()
    {
        string dir = TempDir.Create();
        string legacy = Path.Combine(dir, "legacy.bin");
        // the legacy format starts with a pickled magic number: PROTO 2, LONG1 of 10 bytes
        File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        Assert.Contains("legacy (PyTorch < 1.6) torch.save format", Refused(legacy).Message);
        string text = Path.Combine(dir, "notes.txt");
        File.WriteAllText(text, new string('x', 5000));
        Assert.Contains("no zip end-of-central-directory record", Refused(text).Message);
    }
}
