using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Model.Distributed;

/// <summary>
/// The data-parallel side of a training step (docs/distributed.md): weights broadcast from rank 0 at the start;
/// gradients summed over ranks with allreduce — in buckets started during the backward pass, or, with the sharded
/// optimiser (ZeRO stage 1), reduce-scattered so that each rank updates only its slice of the AdamW moments and
/// weights, which are then all-gathered; the global gradient norm; the step's loss and stop flag agreed by all ranks;
/// rank 0's gathered optimiser state for checkpoints; a cross-rank weight checksum. It keeps the time spent in each
/// part (<see cref="Times"/>).
/// </summary>
public sealed class DataParallel
{
    private readonly ICommunicator _comm;
    private readonly ShardPlan? _plan;
    private readonly float[]? _shardGrad;
    private readonly (int From, int To, int ReadyAfterLayer)[] _buckets;
    private readonly List<IPendingReduction> _pending = [];
    private float[]? _overlapGrad;
    private int _nextBucket;
    private readonly double[] _small = new double[3];

    /// <summary>
    /// Test hook: the rank named in this environment variable changes one of its weights just before the checksum at
    /// each checkpoint, so that a test sees the mismatch stop the job.
    /// </summary>
    public const string PerturbEnvironmentVariable = "TOKENFORMER_TEST_PERTURB_WEIGHTS_RANK";

    /// <summary>This process's rank.</summary>
    public int Rank => _comm.Rank;
    /// <summary>Number of ranks.</summary>
    public int Size => _comm.Size;
    /// <summary>Whether this rank writes files (rank 0).</summary>
    public bool IsWriter => _comm.Rank == 0;
    /// <summary>Whether the optimiser state is sharded over the ranks.</summary>
    public bool Sharded => _plan != null;
    /// <summary>The communicator.</summary>
    public ICommunicator Communicator => _comm;
    /// <summary>Buckets the gradient arena is reduced in during the backward pass (0: one allreduce after it).</summary>
    public int BucketCount => _buckets.Length;
    /// <summary>Accumulated timings.</summary>
    public StepTimes Times { get; } = new();

    /// <summary>
    /// For <paramref name="model"/> on <paramref name="comm"/>. <paramref name="shardOptimizer"/>: ZeRO stage 1.
    /// <paramref name="bucketFloats"/> &gt; 0 (and not sharded, more than one rank): reduce the layers' gradients in buckets of
    /// about that many floats while the backward pass runs on earlier layers.
    /// </summary>
    public DataParallel(ICommunicator comm, TokenFormerModel model, bool shardOptimizer, int bucketFloats)
    {
        _comm = comm;
        int total = model.Parameters.Length;
        if (shardOptimizer)
        {
            _plan = new ShardPlan(total, comm.Size);
            _shardGrad = new float[_plan.Count(comm.Rank)];
        }
        _buckets = !shardOptimizer && bucketFloats > 0 && comm.Size > 1 ? PlanBuckets(model.Layout, model.Config.NumLayers, bucketFloats) : [];
    }

    /// <summary>
    /// Buckets over the layers' part of the arena, in the order the backward pass finishes them: the final norm and
    /// layer L−1 first, layer 0 last; each is a run of whole layers of at least <paramref name="bucketFloats"/> floats
    /// (the last may be smaller). The embedding (tied, final only at the end) is reduced after the pass.
    /// </summary>
    internal static (int From, int To, int ReadyAfterLayer)[] PlanBuckets(ParameterLayout layout, int layers, int bucketFloats)
    {
        var starts = new int[layers + 1];
        for (int l = 0; l < layers; l++) starts[l] = layout.Tensors.Where(t => t.Layer == l).Min(t => t.Offset);
        starts[layers] = layout.Tensors.Where(t => t.Role is ParameterRole.FinalNormWeight or ParameterRole.FinalNormBias).Min(t => t.Offset);
        int end = checked((int)layout.Count);
        var list = new List<(int, int, int)>();
        int to = end;
        for (int l = layers; l >= 0; l--)
        {
            if (to - starts[l] >= bucketFloats || l == 0)
            {
                list.Add((starts[l], to, l));
                to = starts[l];
            }
        }
        return [.. list];
    }

    /// <summary>Rank 0's parameters copied to every rank.</summary>
    public void BroadcastWeights(float[] parameters) => _comm.Broadcast(parameters, 0);

    /// <summary>
    /// The optimiser this rank steps with: <paramref name="full"/> itself, or with the sharded optimiser a new one holding
    /// only this rank's slice of its moments (and its step and weight decay).
    /// </summary>
    public AdamW LocalOptimizer(TokenFormerModel model, AdamW full)
    {
        if (_plan == null) return full;
        int offset = _plan.Offset(Rank), count = _plan.Count(Rank);
        var shard = new AdamW(model.Layout, offset, count) { WeightDecay = full.WeightDecay, Beta1 = full.Beta1, Beta2 = full.Beta2, Epsilon = full.Epsilon, Step = full.Step };
        full.FirstMoment.AsSpan(offset, count).CopyTo(shard.FirstMoment);
        full.SecondMoment.AsSpan(offset, count).CopyTo(shard.SecondMoment);
        return shard;
    }

    /// <summary>
    /// The backward pass of the step's last micro-batch: with buckets, each bucket's allreduce starts as soon as the
    /// backward has finished its layers, and the library is polled after every layer so it progresses meanwhile.
    /// </summary>
    public void Backward(ModelRunner runner, bool accumulate)
    {
        if (_buckets.Length == 0) { runner.Backward(accumulate); return; }
        _overlapGrad = runner.Gradients!;
        _nextBucket = 0;
        runner.Backward(accumulate, OnLayerDone);
    }

    private void OnLayerDone(int layer)
    {
        while (_nextBucket < _buckets.Length && layer <= _buckets[_nextBucket].ReadyAfterLayer)
        {
            var (from, to, _) = _buckets[_nextBucket++];
            _pending.Add(_comm.StartAllReduceSum(_overlapGrad!, from, to - from));
        }
        foreach (IPendingReduction p in _pending) p.Test();
    }

    /// <summary>
    /// Sums the gradients over ranks and scales them by <paramref name="scale"/> (1 / (micro-batches × ranks): the mean);
    /// agrees the loss sum and the stop flag; returns the global loss sum, whether any rank asked to stop, and the
    /// global gradient norm (over the whole averaged arena). With the sharded optimiser only this rank's slice of the
    /// mean gradient is kept (in the shard buffer).
    /// </summary>
    public (double LossSum, bool Stop, double Norm) Reduce(float[] grad, double lossSum, bool stop, float scale)
    {
        long t0 = Stopwatch.GetTimestamp();
        double norm;
        if (_plan != null)
        {
            _comm.ReduceScatterSum(grad, _shardGrad!, _plan);
            System.Numerics.Tensors.TensorPrimitives.Multiply(_shardGrad!, scale, _shardGrad!);
            double sq = 0;
            foreach (float g in _shardGrad!) sq += (double)g * g;
            _small[0] = lossSum; _small[1] = stop ? 1 : 0; _small[2] = sq;
            _comm.AllReduceSum(_small);
            norm = Math.Sqrt(_small[2]);
        }
        else
        {
            if (_buckets.Length > 0)
            {
                foreach (IPendingReduction p in _pending) p.Wait();
                _pending.Clear();
                _comm.AllReduceSum(grad.AsSpan(0, _buckets[^1].From));
            }
            else _comm.AllReduceSum(grad);
            _small[0] = lossSum; _small[1] = stop ? 1 : 0; _small[2] = 0;
            _comm.AllReduceSum(_small.AsSpan(0, 2));
            System.Numerics.Tensors.TensorPrimitives.Multiply(grad, scale, grad);
            norm = double.NaN;
        }
        Times.ExposedCommunication += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (_small[0], _small[1] > 0, norm);
    }

    /// <summary>Scales the gradients this rank updates with (the shard's, or the whole arena) by <paramref name="factor"/>.</summary>
    public void Clip(float[] grad, float factor)
    {
        float[] g = _shardGrad ?? grad;
        System.Numerics.Tensors.TensorPrimitives.Multiply(g, factor, g);
    }

    /// <summary>The AdamW update of this rank's parameters; with the sharded optimiser followed by the all-gather of the weights.</summary>
    public void Update(AdamW adam, float[] parameters, float[] grad, float lr)
    {
        long t0 = Stopwatch.GetTimestamp();
        adam.Update(parameters, _shardGrad ?? grad, lr);
        Times.Optimizer += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        if (_plan != null)
        {
            t0 = Stopwatch.GetTimestamp();
            _comm.AllGather(parameters, _plan);
            Times.ExposedCommunication += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Times.Steps++;
    }

    /// <summary>
    /// The whole optimiser state for a checkpoint: <paramref name="local"/> when not sharded; else gathered to rank 0
    /// (a temporary full optimiser there, null on the other ranks). Every rank must call it.
    /// </summary>
    public AdamW? GatherOptimizer(TokenFormerModel model, AdamW local)
    {
        if (_plan == null) return local;
        AdamW? full = IsWriter ? new AdamW(model.Layout) { WeightDecay = local.WeightDecay, Beta1 = local.Beta1, Beta2 = local.Beta2, Epsilon = local.Epsilon, Step = local.Step } : null;
        _comm.Gather(local.FirstMoment, full != null ? full.FirstMoment : Span<float>.Empty, _plan, 0);
        _comm.Gather(local.SecondMoment, full != null ? full.SecondMoment : Span<float>.Empty, _plan, 0);
        return full;
    }

    /// <summary>Floats of AdamW moments (both arenas) held by each rank, gathered from their allocations.</summary>
    public long[] OptimizerFloatsPerRank(AdamW local)
    {
        Span<byte> mine = stackalloc byte[8];
        BitConverter.TryWriteBytes(mine, (long)local.FirstMoment.Length + local.SecondMoment.Length);
        var all = new byte[8 * Size];
        _comm.AllGather(mine, all);
        return [.. Enumerable.Range(0, Size).Select(r => BitConverter.ToInt64(all, 8 * r))];
    }

    /// <summary>
    /// Compares a checksum (SHA-256, first 8 bytes) of <paramref name="parameters"/> across ranks; throws
    /// <see cref="RankMismatchException"/> naming the ranks whose weights differ from rank 0's.
    /// </summary>
    public void CheckWeights(float[] parameters, long step)
    {
        if (Environment.GetEnvironmentVariable(PerturbEnvironmentVariable) is string r && r == Rank.ToString(CultureInfo.InvariantCulture))
            parameters[0] += 1e-3f; // test hook: make this rank's weights diverge

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(MemoryMarshal.AsBytes(parameters.AsSpan()), hash);
        var all = new byte[8 * Size];
        _comm.AllGather(hash[..8], all);
        var differing = Enumerable.Range(1, Size - 1).Where(r => !all.AsSpan(8 * r, 8).SequenceEqual(all.AsSpan(0, 8))).ToArray();
        if (differing.Length > 0)
            throw new RankMismatchException(string.Create(CultureInfo.InvariantCulture,
                $"step {step}: the weights differ across ranks at the checkpoint: rank{(differing.Length > 1 ? "s" : "")} {string.Join(", ", differing)} " +
                $"(checksum {string.Join(", ", differing.Select(r => Convert.ToHexString(all, 8 * r, 8)))}) differ{(differing.Length > 1 ? "" : "s")} from rank 0 " +
                $"(checksum {Convert.ToHexString(all, 0, 8)}); stopping without saving this step"));
    }
}

/// <summary>Accumulated time of the data-parallel parts of the training steps.</summary>
public sealed class StepTimes
{
    /// <summary>Optimiser steps counted.</summary>
    public long Steps { get; set; }
    /// <summary>Seconds spent waiting for communication the computation did not hide (allreduce waits, reduce-scatter, all-gather, the loss agreement).</summary>
    public double ExposedCommunication { get; set; }
    /// <summary>Seconds in the AdamW update.</summary>
    public double Optimizer { get; set; }
    /// <summary>Seconds of forward and backward passes (with the polling of overlapped reductions).</summary>
    public double Compute { get; set; }
}

/// <summary>Ranks disagree: different weights at a checkpoint, or different settings, data or versions at the start.</summary>
public sealed class RankMismatchException(string message) : Exception(message);
