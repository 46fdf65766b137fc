using TokenFormer.Core.PyTorch;
using TokenFormer.Model.Import;

namespace TokenFormer.Model.Tests.Import;

/// <summary>The overlapped read-and-write import path writes the same model directory as ModelDirectory.Save, and commits nothing when a step fails.</summary>
public class PipelinedModelWriterTests
{
    private static string Dir(string name) => Path.Combine(Fixtures.Root, "torch", name);

    [Theory]
    [InlineData("fp32")]
    [InlineData("shared_views")]
    [InlineData("fp16")]
    public void WritesTheSameFilesAsModelDirectorySave(string name)
    {
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir(name), "config.json"));
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Path.Combine(Dir(name), "pytorch_model.bin"));
        OfficialCheckpointImporter.Plan plan = OfficialCheckpointImporter.Check(ckpt, config);
        string piped = TempDir.Create(), plain = TempDir.Create();
        var (model, timings) = PipelinedModelWriter.ReadAndSave(ckpt, plan, piped);
        Assert.True(timings.TotalSeconds >= timings.ReadSeconds);
        ModelDirectory.Save(OfficialCheckpointImporter.Load(ckpt, plan), plain);
        Assert.Equal(File.ReadAllBytes(Path.Combine(plain, "model.safetensors")), File.ReadAllBytes(Path.Combine(piped, "model.safetensors")));
        Assert.Equal(File.ReadAllText(Path.Combine(plain, "config.json")), File.ReadAllText(Path.Combine(piped, "config.json")));
        Assert.Equal(model.Parameters, ModelDirectory.Load(piped).Parameters);
        Assert.DoesNotContain(Directory.GetFiles(piped), f => f.Contains(".import-") || f.Contains(".tmp-"));
    }

    [Fact]
    public void NothingIsCommittedWhenTheLastCheckFails()
    {
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json"));
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(Path.Combine(Dir("fp32"), "pytorch_model.bin"));
        OfficialCheckpointImporter.Plan plan = OfficialCheckpointImporter.Check(ckpt, config);
        string dir = TempDir.Create();
        var e = Assert.Throws<InvalidOperationException>(() =>
            PipelinedModelWriter.ReadAndSave(ckpt, plan, dir, () => throw new InvalidOperationException("tokenizer does not fit")));
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
        TokenFormerConfig config = OfficialConfigReader.Load(Path.Combine(Dir("fp32"), "config.json"));
        using TorchCheckpoint ckpt = TorchCheckpoint.Open(copy);
        OfficialCheckpointImporter.Plan plan = OfficialCheckpointImporter.Check(ckpt, config);
        using (var fs = new FileStream(copy, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) fs.SetLength(4000);
        string outDir = Path.Combine(dir, "out");
        var err = Assert.Throws<PyTorchFormatException>(() => PipelinedModelWriter.ReadAndSave(ckpt, plan, outDir));
        Assert.Contains("truncated", err.Message);
        Assert.Contains(copy, err.Message);
        Assert.Empty(Directory.GetFiles(outDir));
    }
}
