using Xunit.Abstractions;

namespace TokenFormer.Cli.Tests.Distributed;

/// <summary><c>bench allreduce</c> under mpirun and without a launcher; <c>bench scaling-model</c>'s table and plot.</summary>
public sealed class DistributedBenchTests(ITestOutputHelper output)
{
    [Fact]
    public void BenchAllreduce_UnderMpirun_PrintsTimeAndBandwidthPerSize_AndTheFit()
    {
        if (Mpi.Require(output) is not string mpirun) return;
        var (code, stdout, stderr) = Mpi.Run(mpirun, 2, "bench", "allreduce", "--min-bytes", "4096", "--max-bytes", "65536", "--reps", "3");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("over 2 ranks", stdout);
        foreach (string size in new[] { "4,096", "16,384", "65,536" }) Assert.Matches(@"\s" + size + @"\s+\d+\.\d\s+\d+\.\d{3}\s+\d+\.\d{3}", stdout);
        Assert.Contains("ring model: alpha =", stdout);
        Assert.Equal(1, stdout.Split('\n').Count(l => l.Contains("over 2 ranks"))); // rank 0 only
    }

    [Fact]
    public void BenchAllreduce_WithoutALauncher_SaysHowToRunIt()
    {
        var (code, _, err) = Fixtures.RunCli("bench", "allreduce");
        Assert.Equal(1, code);
        Assert.Contains("mpirun -np 2 tokenformer bench allreduce", err);
    }

    [Fact]
    public void ScalingModel_PrintsEveryPresetNetworkAndNodeCount_AndWritesThePlot()
    {
        string svg = Path.Combine(Fixtures.TempDir("scaling-model"), "eff.svg");
        var (code, stdout, err) = Fixtures.RunCli("bench", "scaling-model", "--node-tflops", "100", "--presets", "150m,1.5b", "--networks", "25,400", "--nodes", "8,256", "--svg", svg);
        Assert.True(code == 0, err);
        Assert.Equal(2 * 2 * 2, stdout.Split('\n').Count(l => l.StartsWith("150m", StringComparison.Ordinal) || l.StartsWith("1.5b", StringComparison.Ordinal)));
        string text = File.ReadAllText(svg);
        Assert.StartsWith("<svg", text.TrimStart().StartsWith("<?xml", StringComparison.Ordinal) ? text[(text.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart() : text.TrimStart());
        Assert.Contains("1.5b, 400 Gb/s", text);
        (code, _, err) = Fixtures.RunCli("bench", "scaling-model", "--node-tflops", "100", "--presets", "nope");
        Assert.Equal(1, code);
        Assert.Contains("--presets", err);
    }
}
