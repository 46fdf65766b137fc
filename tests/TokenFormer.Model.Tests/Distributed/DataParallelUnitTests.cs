using TokenFormer.Model.Distributed;
using TokenFormer.Model.Optimizer;
using TokenFormer.Model.Training;

namespace TokenFormer.Model.Tests.Distributed;

using Fixtures = TokenFormer.TestSupport.TrainingFixtures;

/// <summary>The parts of data-parallel training that need no MPI: shard and bucket plans, the sharded AdamW, launcher detection, the start-up check's summaries.</summary>
public class DataParallelUnitTests
{
    [Theory]
    [InlineData(1000, 2)]
    [InlineData(1000, 3)]
    [InlineData(17, 4)]
    [InlineData(0, 2)]
    [InlineData(69_760, 7)]
    public void ShardPlan_CoversTheArenaContiguously_OnVectorBoundaries_Balanced(int total, int ranks)
    {
        var plan = new ShardPlan(total, ranks);
        int at = 0;
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(at, plan.Offset(r));
            Assert.True(plan.Offset(r) % ShardPlan.Alignment == 0 || plan.Offset(r) == total);
            at += plan.Count(r);
        }
        Assert.Equal(total, at);
        int[] counts = [.. Enumerable.Range(0, ranks).Select(plan.Count)];
        Assert.True(counts.Max() - counts.Min() <= ShardPlan.Alignment, string.Join(",", counts));
    }

    [Fact]
    public void ShardedAdamW_UpdatesEachSliceBitForBitLikeTheWholeOptimizer_AndHoldsOnlyItsMoments()
    {
        var model = new TokenFormerModel(Fixtures.TinyConfig());
        model.InitializeRandom(7);
        int n = model.Parameters.Length;
        var rng = new Random(3);
        float[][] grads = [.. Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray())];
        float[] whole = (float[])model.Parameters.Clone(), sharded = (float[])model.Parameters.Clone();
        var full = new AdamW(model.Layout) { WeightDecay = 0.1f };
        var plan = new ShardPlan(n, 3);
        AdamW[] shards = [.. Enumerable.Range(0, 3).Select(r => new AdamW(model.Layout, plan.Offset(r), plan.Count(r)) { WeightDecay = 0.1f })];
        Assert.Equal(n, shards.Sum(s => s.FirstMoment.Length));
        foreach (float[] g in grads)
        {
            full.Update(whole, g, 1e-3f);
            for (int r = 0; r < 3; r++)
            {
                // shard 1 takes only its slice of the gradients (as after a reduce-scatter), the others the whole arena
                float[] gr = r == 1 ? g.AsSpan(plan.Offset(r), plan.Count(r)).ToArray() : g;
                shards[r].Update(sharded, gr, 1e-3f);
            }
        }
        Assert.Equal(whole, sharded);
        for (int r = 0; r < 3; r++)
            Assert.Equal(full.FirstMoment.AsSpan(plan.Offset(r), plan.Count(r)).ToArray(), shards[r].FirstMoment);
    }

    [Fact]
    public void Launcher_IsDetectedFromTheVariablesLaunchersSet_AndNothingOtherwise()
    {
        static string? Detect(params (string, string)[] vars) => MpiLaunch.DetectLauncher(k => vars.FirstOrDefault(v => v.Item1 == k).Item2);
        Assert.Null(Detect());
        Assert.Null(Detect(("SLURM_PROCID", "0"), ("SLURM_STEP_NUM_TASKS", "1")));   // one task of a Slurm step: no MPI
        Assert.Equal("mpirun (OMPI_COMM_WORLD_SIZE=2)", Detect(("OMPI_COMM_WORLD_SIZE", "2")));
        Assert.Equal("a PMIx launcher (PMIX_RANK=3)", Detect(("PMIX_RANK", "3")));
        Assert.Equal("a PMI launcher (PMI_SIZE=4)", Detect(("PMI_SIZE", "4")));
        Assert.Equal("srun (SLURM_STEP_NUM_TASKS=8)", Detect(("SLURM_PROCID", "5"), ("SLURM_STEP_NUM_TASKS", "8")));
        Assert.Null(Detect(("OMPI_COMM_WORLD_SIZE", "2"), (MpiLaunch.DisableVariable, "0")));
    }

    [Fact]
    public void Buckets_CoverTheLayersFromTheLastToTheFirst_InRunsOfWholeLayers()
    {
        var cfg = Fixtures.TinyConfig();
        cfg.NumLayers = 4;
        var model = new TokenFormerModel(cfg);
        int layerFloats = model.Layout.Tensors.Where(t => t.Layer == 1).Sum(t => t.Length);
        var buckets = DataParallel.PlanBuckets(model.Layout, 4, layerFloats + 1);
        Assert.Equal((int)model.Layout.Count, buckets[0].To);
        for (int i = 1; i < buckets.Length; i++) Assert.Equal(buckets[i - 1].From, buckets[i].To);
        Assert.Equal(model.Layout.Tensors.Where(t => t.Layer == 0).Min(t => t.Offset), buckets[^1].From);
        Assert.Equal(0, buckets[^1].ReadyAfterLayer);
        Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First.ReadyAfterLayer > p.Second.ReadyAfterLayer));
        Assert.All(buckets[..^1], b => Assert.True(b.To - b.From >= layerFloats + 1));
        Assert.Equal(3, buckets.Length); // final norm + layer 3 (ready after 3), layers 2–1 (after 1), layer 0 (after 0)
        Assert.Single(DataParallel.PlanBuckets(model.Layout, 4, int.MaxValue));
    }

    [Fact]
    public void ShardedOptimizer_InOneProcess_TrainsLikeTheWholeOptimizer()
    {
        int[] ids = Fixtures.Tokenizer.Encode(Fixtures.Text + Fixtures.Text).Append(0).ToArray();
        var options = new TrainingOptions { Steps = 6, Batch = 2, Sequence = 16, GradAccum = 2, LearningRate = 3e-3, MinLearningRate = 3e-4, Warmup = 2, EvalEvery = 0, LogEvery = 1 };
        double[] Run(bool shard, out float[] weights)
        {
            using Trainer t = Trainer.Start(Fixtures.TinyConfig(), options, new ArraySource(ids), null, null, new TrainerContext { ShardOptimizer = shard });
            t.Run();
            weights = t.Model.Parameters;
            Assert.Equal(shard, t.DataParallel?.Sharded ?? false);
            return [.. t.StepRecords.Select(s => s.Loss)];
        }
        double[] a = Run(false, out float[] wa), b = Run(true, out float[] wb);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6 * Math.Abs(a[i]), $"step {i + 1}: {a[i]} vs {b[i]}");
        double d = 0, n = 0;
        for (int i = 0; i < wa.Length; i++) { d += ((double)wa[i] - wb[i]) * (wa[i] - wb[i]); n += (double)wa[i] * wa[i]; }
        Assert.True(Math.Sqrt(d / n) <= 1e-6);
    }

    [Fact]
    public void StartupSummaries_KeepShortValues_AndHashLongOnesWithinTheSlot()
    {
        Assert.Equal("version=1.0.0", RunAgreement.Summary("version", "1.0.0"));
        string longValue = new('x', 5000);
        string s = RunAgreement.Summary("options", longValue);
        Assert.StartsWith("options=sha256 ", s);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(s) <= RunAgreement.SlotBytes);
        Assert.NotEqual(s, RunAgreement.Summary("options", longValue + "y"));
        // one process: nothing to compare
        RunAgreement.Check(SingleProcessCommunicator.Instance, [("a", "b")]);
    }

    private sealed class ArraySource(int[] ids) : ITokenSource
    {
        public long Count => ids.Length;
        public void CopyTo(long start, Span<int> destination) => ids.AsSpan((int)start, destination.Length).CopyTo(destination);
    }
}

/// <summary>The α–β cost model's arithmetic.</summary>
public class ScalingModelTests
{
    [Fact]
    public void RingAllreduce_IsTwoNMinusOneLatenciesPlusTwoNMinusOneOverNTimesTheBytes()
    {
        Assert.Equal(0, ScalingModel.RingAllreduce(1e6, 1, 1e-5, 1e9));
        Assert.Equal(2 * 3 * 1e-5 + 2.0 * 3 / 4 * 1e6 / 1e9, ScalingModel.RingAllreduce(1e6, 4, 1e-5, 1e9), 15);
    }

    [Fact]
    public void Efficiency_RisesWithBandwidthAndOverlap_AndComputeIsTheFlopCount()
    {
        TokenFormerConfig c = TokenFormerPresets.Get("150m");
        var slow = ScalingModel.Predict(c, 2048, 65536, 1e14, 64, 2e-5, 25e9 / 8, overlap: true);
        var fast = ScalingModel.Predict(c, 2048, 65536, 1e14, 64, 2e-5, 400e9 / 8, overlap: true);
        var none = ScalingModel.Predict(c, 2048, 65536, 1e14, 64, 2e-5, 25e9 / 8, overlap: false);
        Assert.Equal(TrainingFlops.PerToken(c, 2048) * 65536 / 1e14, slow.ComputeSeconds, 12);
        Assert.True(fast.Efficiency > slow.Efficiency && slow.Efficiency > none.Efficiency);
        Assert.Equal(none.AllreduceSeconds, none.ExposedSeconds);
        Assert.InRange(slow.Efficiency, 0, 1);
    }
}
