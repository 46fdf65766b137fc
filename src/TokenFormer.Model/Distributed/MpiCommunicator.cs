using System.Runtime.InteropServices;

namespace TokenFormer.Model.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> on the MPI library's own collectives over MPI_COMM_WORLD (Open MPI, through
/// <see cref="MpiLibrary"/>). Made by <see cref="MpiLaunch.Connect"/> when a launcher started the process; calls
/// MPI_Init_thread (serialized: only the training thread calls MPI) and, on <see cref="Dispose"/>, MPI_Finalize.
/// Every call is made from one thread at a time.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly MpiLibrary _mpi;
    private bool _finalized;

    /// <inheritdoc/>
    public int Rank { get; }
    /// <inheritdoc/>
    public int Size { get; }
    /// <inheritdoc/>
    public string Description { get; }

    internal MpiCommunicator(MpiLibrary mpi)
    {
        _mpi = mpi;
        int provided = 0;
        const int ThreadSerialized = 2; // Open MPI's MPI_THREAD_SERIALIZED
        Check(mpi.InitThread(null, null, ThreadSerialized, &provided), "MPI_Init_thread");
        int rank = 0, size = 0;
        Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        Description = $"{mpi.Version()} ({mpi.LoadedFrom})";
    }

    private static void Check(int code, string call)
    {
        if (code != 0) throw new MpiException($"{call} failed with MPI error {code}");
    }

    /// <inheritdoc/>
    public void Broadcast(Span<float> data, int root)
    {
        fixed (float* p = data) Check(_mpi.Bcast(p, data.Length, _mpi.Float, root, _mpi.CommWorld), "MPI_Bcast");
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root)
    {
        fixed (byte* p = data) Check(_mpi.Bcast(p, data.Length, _mpi.Byte, root, _mpi.CommWorld), "MPI_Bcast");
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> data)
    {
        fixed (float* p = data) Check(_mpi.Allreduce((void*)MpiLibrary.InPlace, p, data.Length, _mpi.Float, _mpi.Sum, _mpi.CommWorld), "MPI_Allreduce");
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> data)
    {
        fixed (double* p = data) Check(_mpi.Allreduce((void*)MpiLibrary.InPlace, p, data.Length, _mpi.Double, _mpi.Sum, _mpi.CommWorld), "MPI_Allreduce");
    }

    /// <inheritdoc/>
    public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> mine, ShardPlan plan)
    {
        if (plan.Ranks != Size || send.Length != plan.Total || mine.Length != plan.Count(Rank))
            throw new ArgumentException($"reduce-scatter: {send.Length} floats into {mine.Length} does not match the plan ({plan.Total} over {plan.Ranks} ranks)");
        fixed (float* s = send) fixed (float* r = mine) fixed (int* counts = plan.Counts)
            Check(_mpi.ReduceScatter(s, r, counts, _mpi.Float, _mpi.Sum, _mpi.CommWorld), "MPI_Reduce_scatter");
    }

    /// <inheritdoc/>
    public void AllGather(Span<float> data, ShardPlan plan)
    {
        if (plan.Ranks != Size || data.Length != plan.Total) throw new ArgumentException("all-gather: the buffer does not match the plan");
        fixed (float* p = data) fixed (int* counts = plan.Counts) fixed (int* offsets = plan.Offsets)
            Check(_mpi.Allgatherv((void*)MpiLibrary.InPlace, 0, _mpi.Float, p, counts, offsets, _mpi.Float, _mpi.CommWorld), "MPI_Allgatherv");
    }

    /// <inheritdoc/>
    public void Gather(ReadOnlySpan<float> mine, Span<float> all, ShardPlan plan, int root)
    {
        if (plan.Ranks != Size || mine.Length != plan.Count(Rank)) throw new ArgumentException("gather: the buffer does not match the plan");
        fixed (float* s = mine) fixed (float* r = all) fixed (int* counts = plan.Counts) fixed (int* offsets = plan.Offsets)
            Check(_mpi.Gatherv(s, mine.Length, _mpi.Float, r, counts, offsets, _mpi.Float, root, _mpi.CommWorld), "MPI_Gatherv");
    }

    /// <inheritdoc/>
    public void AllGather(ReadOnlySpan<byte> mine, Span<byte> all)
    {
        if (all.Length != mine.Length * Size) throw new ArgumentException("all-gather: the receive buffer must hold Size × the send buffer");
        fixed (byte* s = mine) fixed (byte* r = all)
            Check(_mpi.Allgather(s, mine.Length, _mpi.Byte, r, mine.Length, _mpi.Byte, _mpi.CommWorld), "MPI_Allgather");
    }

    /// <inheritdoc/>
    public IPendingReduction StartAllReduceSum(float[] array, int offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)offset + count, array.Length);
        var pending = new Pending(this, GCHandle.Alloc(array, GCHandleType.Pinned));
        float* p = (float*)pending.Pin.AddrOfPinnedObject() + offset;
        nint request = 0;
        int code = _mpi.Iallreduce((void*)MpiLibrary.InPlace, p, count, _mpi.Float, _mpi.Sum, _mpi.CommWorld, &request);
        if (code != 0) { pending.Pin.Free(); Check(code, "MPI_Iallreduce"); }
        pending.Request = request;
        return pending;
    }

    private sealed class Pending(MpiCommunicator owner, GCHandle pin) : IPendingReduction
    {
        public GCHandle Pin = pin;
        public nint Request;
        private bool _done;

        public bool Test()
        {
            if (_done) return true;
            int flag = 0;
            nint r = Request;
            Check(owner._mpi.Test(&r, &flag, null), "MPI_Test");
            Request = r;
            if (flag != 0) Complete();
            return _done;
        }

        public void Wait()
        {
            if (_done) return;
            nint r = Request;
            Check(owner._mpi.Wait(&r, null), "MPI_Wait");
            Request = r;
            Complete();
        }

        private void Complete() { _done = true; Pin.Free(); }
    }

    /// <inheritdoc/>
    public void Barrier() => Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");

    /// <inheritdoc/>
    public void Abort(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        _mpi.Abort(_mpi.CommWorld, code);
        Environment.Exit(code);
    }

    /// <summary>MPI_Finalize (once).</summary>
    public void Dispose()
    {
        if (_finalized) return;
        _finalized = true;
        int done = 0;
        _mpi.Finalized(&done);
        if (done == 0) _mpi.Finalize();
    }
}
