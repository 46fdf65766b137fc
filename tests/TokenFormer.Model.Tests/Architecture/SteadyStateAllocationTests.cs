using TokenFormer.Core.Threading;
using TokenFormer.Model.Inference;

namespace TokenFormer.Model.Tests.Architecture;

/// <summary>
/// The one model definition keeps the zero-allocation steady state of both paths: once warmed up, a training step
/// (forward with loss, backward) and a decode step (1 row, and 4 rows through the small-batch product) allocate
/// nothing. Read on the calling thread, which sets up every parallel job (the workers only run their bodies); a
/// process-wide reading would also count the test runner's own threads.
/// </summary>
public class SteadyStateAllocationTests
{
    private static TokenFormerModel Model()
    {
        var cfg = new TokenFormerConfig
        {
            NumLayers = 2, HiddenSize = 32, NumAttentionHeads = 2, QkvSlotNum = 24, ProjSlotNum = 16, FfnSlotNum = 40,
            VocabSize = 50, MaxPositionEmbeddings = 64,
        };
        var model = new TokenFormerModel(cfg);
        model.InitializeRandom(3);
        return model;
    }

    private static long Allocated(Action step, int repeats)
    {
        // Warm-up. Work items create their thread's scratch and job objects the first time they run on a thread, and
        // which thread runs which item is up to timing: while another test holds the worker pool, a step runs all its
        // items on this thread, which may then meet an item it never ran (CI saw 7,928 bytes once). So one warm-up
        // step runs with the pool held, every item on this thread; then two with the pool free (JIT tiers).
        using (PoolHold.Acquire()) step();
        step(); step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < repeats; i++) step();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void TrainingStepAllocatesNothing()
    {
        TokenFormerModel model = Model();
        var runner = new ModelRunner(model, batch: 2, sequence: 16, training: true);
        var rng = new Random(1);
        int[] tokens = Enumerable.Range(0, runner.Rows).Select(_ => rng.Next(50)).ToArray();
        int[] targets = Enumerable.Range(0, runner.Rows).Select(_ => rng.Next(50)).ToArray();
        long bytes = Allocated(() =>
        {
            runner.Forward(tokens, targets, computeGradient: true);
            runner.Backward();
        }, 3);
        Assert.Equal(0, bytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void DecodeStepAllocatesNothing(int live)
    {
        TokenFormerModel model = Model();
        var runner = new IncrementalRunner(model, maxBatch: 4, maxLength: 32);
        int[] tokens = new int[live], slots = new int[live], positions = new int[live], logitRows = new int[live];
        for (int i = 0; i < live; i++) { tokens[i] = 7 + i; slots[i] = i; logitRows[i] = i; }
        int step = 0;
        long bytes = Allocated(() =>
        {
            for (int i = 0; i < live; i++) positions[i] = step;
            runner.Forward(tokens, slots, positions, logitRows);
            step++;
        }, 5);
        Assert.Equal(0, bytes);
    }
}

/// <summary>
/// Holds the worker pool with a job of its own (one blocked item on a background thread, one on a worker) so that
/// parallel loops called meanwhile run every item on their calling thread. When the pool cannot be taken within a few
/// seconds (another test holds it for long), the hold does nothing.
/// </summary>
internal sealed class PoolHold : IDisposable, IParallelWork
{
    private readonly ManualResetEventSlim _release = new(false);
    private readonly CountdownEvent _started;
    private readonly Thread? _holder;

    private PoolHold()
    {
        int items = Parallelism.ThreadCount;
        _started = new CountdownEvent(items);
        if (items < 2) return;
        _holder = new Thread(() => Parallelism.For(items, this)) { IsBackground = true };
        _holder.Start();
        // every item running at once means the pool took the job (run serially, the first item would block the rest)
        if (!_started.Wait(TimeSpan.FromSeconds(5))) _release.Set();
    }

    public static PoolHold Acquire() => new();

    public void Execute(int index)
    {
        _started.Signal();
        _release.Wait(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        _release.Set();
        _holder?.Join();
        _release.Dispose();
        _started.Dispose();
    }
}
