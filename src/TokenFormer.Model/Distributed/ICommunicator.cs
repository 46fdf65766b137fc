namespace TokenFormer.Model.Distributed;

/// <summary>
/// The collectives data-parallel training needs (docs/distributed.md): a group of <see cref="Size"/> processes, this
/// one being <see cref="Rank"/>. <see cref="SingleProcessCommunicator"/> is the group of one (every call a no-op);
/// <see cref="MpiCommunicator"/> runs them on the MPI library's own collectives. Every rank must make the same calls in
/// the same order with the same sizes.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0 … <see cref="Size"/> − 1.</summary>
    int Rank { get; }
    /// <summary>Number of processes.</summary>
    int Size { get; }
    /// <summary>What runs the collectives (e.g. the MPI library's version string).</summary>
    string Description { get; }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every rank's <paramref name="data"/>.</summary>
    void Broadcast(Span<float> data, int root);
    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every rank's <paramref name="data"/>.</summary>
    void Broadcast(Span<byte> data, int root);
    /// <summary>In place: every rank ends with the element-wise sum over ranks.</summary>
    void AllReduceSum(Span<float> data);
    /// <summary>In place: every rank ends with the element-wise sum over ranks.</summary>
    void AllReduceSum(Span<double> data);
    /// <summary>
    /// Sums <paramref name="send"/> (the whole arena) over ranks and leaves on each rank only its own range of
    /// <paramref name="plan"/> in <paramref name="mine"/> (length <see cref="ShardPlan.Count"/> of this rank).
    /// </summary>
    void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> mine, ShardPlan plan);
    /// <summary>In place: each rank's range of <paramref name="plan"/> in <paramref name="data"/> is copied to every rank.</summary>
    void AllGather(Span<float> data, ShardPlan plan);
    /// <summary>Rank <paramref name="root"/> receives every rank's <paramref name="mine"/> at its range of <paramref name="plan"/> in <paramref name="all"/> (ignored elsewhere).</summary>
    void Gather(ReadOnlySpan<float> mine, Span<float> all, ShardPlan plan, int root);
    /// <summary>Every rank's <paramref name="mine"/> (all the same length), concatenated in rank order into <paramref name="all"/>.</summary>
    void AllGather(ReadOnlySpan<byte> mine, Span<byte> all);
    /// <summary>
    /// Starts an in-place sum over ranks of <paramref name="array"/>[<paramref name="offset"/>, +<paramref name="count"/>)
    /// that runs while the caller computes; the array stays pinned until the returned reduction completes.
    /// </summary>
    IPendingReduction StartAllReduceSum(float[] array, int offset, int count);
    /// <summary>Waits for every rank.</summary>
    void Barrier();
    /// <summary>Ends every rank of the job with <paramref name="code"/> (does not return under MPI).</summary>
    void Abort(int code);
}

/// <summary>A reduction started by <see cref="ICommunicator.StartAllReduceSum"/>.</summary>
public interface IPendingReduction
{
    /// <summary>Lets the library make progress; true once the reduction is complete.</summary>
    bool Test();
    /// <summary>Blocks until the reduction is complete.</summary>
    void Wait();
}

/// <summary>The group of one process: every collective leaves the data as it is.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance.</summary>
    public static readonly SingleProcessCommunicator Instance = new();
    /// <inheritdoc/>
    public int Rank => 0;
    /// <inheritdoc/>
    public int Size => 1;
    /// <inheritdoc/>
    public string Description => "one process (no MPI)";
    /// <inheritdoc/>
    public void Broadcast(Span<float> data, int root) { }
    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root) { }
    /// <inheritdoc/>
    public void AllReduceSum(Span<float> data) { }
    /// <inheritdoc/>
    public void AllReduceSum(Span<double> data) { }
    /// <inheritdoc/>
    public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> mine, ShardPlan plan) => send.Slice(plan.Offset(0), plan.Count(0)).CopyTo(mine);
    /// <inheritdoc/>
    public void AllGather(Span<float> data, ShardPlan plan) { }
    /// <inheritdoc/>
    public void Gather(ReadOnlySpan<float> mine, Span<float> all, ShardPlan plan, int root) => mine.CopyTo(all.Slice(plan.Offset(0), plan.Count(0)));
    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<byte> mine, Span<byte> all) => mine.CopyTo(all);
    /// <inheritdoc/>
    public IPendingReduction StartAllReduceSum(float[] array, int offset, int count) => Done.Instance;
    /// <inheritdoc/>
    public void Barrier() { }
    /// <inheritdoc/>
    public void Abort(int code) => Environment.Exit(code);
    /// <inheritdoc/>
    public void Dispose() { }

    private sealed class Done : IPendingReduction
    {
        public static readonly Done Instance = new();
        public bool Test() => true;
        public void Wait() { }
    }
}
