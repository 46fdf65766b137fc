using TokenFormer.Core.PyTorch;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Import;

namespace TokenFormer.Model.Tests.Import;

/// <summary>
/// The file-to-file import path writes a model directory that loads as the same model as reading the checkpoint into
/// memory (fp32, fp16 and shared strided views), and commits nothing when a step fails.
/// </summary>
public class ImportedModelWriterTests
{
    private static string Dir(string name) => Path.Combine(Fixtures.Root, "torch", name);

    /// <summary>Opens <paramref name="checkpoint"/> (default: the fixture's own) and checks it against fixture <paramref name="name"/>'s config.</summary>
    private static (TorchCheckpoint Checkpoint, OfficialCheckpointImporter.Plan Plan) OpenChecked(string name, string? checkpoint = null)
    {
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir(name), "config.json"));
        TorchCheckpoint ckpt = TorchCheckpoint.Open(checkpoint ?? Path.Combine(Dir(name), "pytorch_model.bin"));
        return (ckpt, OfficialCheckpointImporter.Check(ckpt, config));
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("shared_views")]
    [InlineData("fp16")]
    [InlineData("bf16")]
    public void WritesTheModelThatLoadingInMemoryGives(string name)
    {
        var (ckpt, plan) = OpenChecked(name);
        using TorchCheckpoint _ = ckpt;
        string written = TempDir.Create(), plain = TempDir.Create();
        ImportedModelWriter.Result result = ImportedModelWriter.Write(ckpt, plan, written);
        TokenFormerModel expected = OfficialCheckpointImporter.Load(ckpt, plan);
        ModelDirectory.Save(expected, plain);
        Assert.Equal(expected.Parameters.LongLength, result.ParameterCount);
        Assert.Equal(expected.Parameters, ModelDirectory.Load(written).Parameters);
        Assert.Equal(File.ReadAllText(Path.Combine(plain, "config.json")), File.ReadAllText(Path.Combine(written, "config.json")));
        Assert.DoesNotContain(Directory.GetFiles(written), f => f.Contains(".import-") || f.Contains(".tmp-"));
    }

    [Fact]
    public void TensorsAreLaidOutInArchiveOrder()
    {
        var (ckpt, plan) = OpenChecked("fp32");
        using TorchCheckpoint _ = ckpt;
        string dir = TempDir.Create();
        ImportedModelWriter.Write(ckpt, plan, dir);
        using SafeTensorsFile file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        var byArchive = plan.Tensors.OrderBy(p => ckpt.FilePosition(p.Source)).Select(p => p.Target.Name).ToList();
        Assert.Equal(byArchive, file.Tensors.Select(t => t.Name).ToList());
        Assert.NotEqual(byArchive.OrderBy(n => n, StringComparer.Ordinal).ToList(), byArchive);
    }

    [Fact]
    public void NothingIsCommittedWhenTheLastCheckFails()
    {
        var (ckpt, plan) = OpenChecked("fp32");
        using TorchCheckpoint _ = ckpt;
        string dir = TempDir.Create();
        var e = Assert.Throws<InvalidOperationException>(() =>
            ImportedModelWriter.Write(ckpt, plan, dir, () => throw new InvalidOperationException("tokenizer does not fit")));
        Assert.Equal("tokenizer does not fit", e.Message);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void AReadErrorReachesTheCallerAndLeavesNoFiles()
    {
        // the checkpoint file is cut short after it was opened (e.g. a download still being written)
        string dir = TempDir.Create();
        string copy = Path.Combine(dir, "pytorch_model.bin");
        File.Copy(Path.Combine(Dir("fp32"), "pytorch_model.bin"), copy);
        var (ckpt, plan) = OpenChecked("fp32", copy);
        using TorchCheckpoint _ = ckpt;
        using (var fs = new FileStream(copy, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) fs.SetLength(4000);
        string outDir = Path.Combine(dir, "out");
        var err = Assert.Throws<PyTorchFormatException>(() => ImportedModelWriter.Write(ckpt, plan, outDir));
        Assert.Contains("truncated", err.Message);
        Assert.Contains(copy, err.Message);
        Assert.Empty(Directory.GetFiles(outDir));
    }
}
