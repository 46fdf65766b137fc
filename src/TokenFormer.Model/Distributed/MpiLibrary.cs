using System.Runtime.InteropServices;

namespace TokenFormer.Model.Distributed;

/// <summary>
/// A thin binding of the few Open MPI calls data-parallel training uses, resolved at run time from libmpi with
/// <see cref="NativeLibrary"/> (nothing is loaded unless a launcher started the process). Open MPI's handles are the
/// addresses of exported globals (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c>
/// <c>&amp;ompi_mpi_float</c>, <c>MPI_SUM</c> <c>&amp;ompi_mpi_op_sum</c>), so they come from
/// <see cref="NativeLibrary.GetExport"/>; <c>MPI_IN_PLACE</c> is the address 1 and <c>MPI_STATUS_IGNORE</c> null.
/// MPICH's ABI (integer handles) is different, so only Open MPI (4.x, 5.x: libmpi.so.40) is supported
/// (docs/distributed.md, "Which MPI").
/// </summary>
internal sealed unsafe class MpiLibrary
{
    /// <summary>Environment variable naming the libmpi to load instead of the default names.</summary>
    public const string LibraryVariable = "TOKENFORMER_MPI_LIBRARY";
    /// <summary>Library names tried in order when <see cref="LibraryVariable"/> is not set.</summary>
    public static readonly string[] DefaultNames = ["libmpi.so.40", "libmpi.so"];

    public readonly nint Handle, CommWorld, Float, Double, Byte, Sum;
    public static readonly nint InPlace = 1;
    public readonly delegate* unmanaged<int*, nint*, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> CommRank, CommSize;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public readonly delegate* unmanaged<void*, void*, int*, nint, nint, nint, int> ReduceScatter;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
    public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, int, nint, int> Gatherv;
    public readonly delegate* unmanaged<nint*, void*, int> Wait;
    public readonly delegate* unmanaged<nint*, int*, void*, int> Test;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    public readonly delegate* unmanaged<byte*, int*, int> GetLibraryVersion;

    /// <summary>The path or name the library was loaded from.</summary>
    public string LoadedFrom { get; }

    private MpiLibrary(nint handle, string from)
    {
        Handle = handle;
        LoadedFrom = from;
        nint Get(string name) => NativeLibrary.TryGetExport(handle, name, out nint p) ? p
            : throw new MpiUnavailableException($"{from} has no symbol {name}; it is not an Open MPI library (only Open MPI 4.x/5.x is supported: apt-get install openmpi-bin)");
        CommWorld = Get("ompi_mpi_comm_world");
        Float = Get("ompi_mpi_float");
        Double = Get("ompi_mpi_double");
        Byte = Get("ompi_mpi_byte");
        Sum = Get("ompi_mpi_op_sum");
        InitThread = (delegate* unmanaged<int*, nint*, int, int*, int>)Get("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Get("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_size");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Get("MPI_Bcast");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Get("MPI_Allreduce");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Get("MPI_Iallreduce");
        ReduceScatter = (delegate* unmanaged<void*, void*, int*, nint, nint, nint, int>)Get("MPI_Reduce_scatter");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Get("MPI_Allgather");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Get("MPI_Allgatherv");
        Gatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, int, nint, int>)Get("MPI_Gatherv");
        Wait = (delegate* unmanaged<nint*, void*, int>)Get("MPI_Wait");
        Test = (delegate* unmanaged<nint*, int*, void*, int>)Get("MPI_Test");
        Barrier = (delegate* unmanaged<nint, int>)Get("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Get("MPI_Abort");
        GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Get("MPI_Get_library_version");
    }

    /// <summary>Loads libmpi (<see cref="LibraryVariable"/>, else <see cref="DefaultNames"/>); throws <see cref="MpiUnavailableException"/> saying what to install.</summary>
    public static MpiLibrary Load(string launcher)
    {
        string? given = Environment.GetEnvironmentVariable(LibraryVariable);
        string[] names = string.IsNullOrEmpty(given) ? DefaultNames : [given];
        foreach (string name in names)
        {
            // RTLD_GLOBAL matters: Open MPI dlopens its components (mca_*.so), which resolve symbols of libmpi itself
            nint handle = OpenGlobal(name);
            if (handle != 0 || NativeLibrary.TryLoad(name, out handle)) return new MpiLibrary(handle, name);
        }
        throw new MpiUnavailableException(
            $"started by {launcher}, but no MPI library could be loaded (tried {string.Join(", ", names)}{(string.IsNullOrEmpty(given) ? "" : $" from {LibraryVariable}")}). " +
            "Install Open MPI on every node (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; RHEL/Fedora: dnf install openmpi), " +
            $"or set {LibraryVariable} to the path of its libmpi.so.40; without a launcher, tokenformer runs in one process and needs no MPI");
    }

    [DllImport("libdl.so.2", EntryPoint = "dlopen")]
    private static extern nint DlOpenDl(string file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpenC(string file, int mode);

    /// <summary>dlopen with RTLD_NOW | RTLD_GLOBAL (0 when the library is not there).</summary>
    private static nint OpenGlobal(string name)
    {
        const int RtldNow = 2, RtldGlobal = 0x100;
        try { return DlOpenDl(name, RtldNow | RtldGlobal); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            try { return DlOpenC(name, RtldNow | RtldGlobal); }
            catch (Exception e2) when (e2 is DllNotFoundException or EntryPointNotFoundException) { return 0; }
        }
    }

    /// <summary>The library's version string (MPI_Get_library_version), first line.</summary>
    public string Version()
    {
        byte* buffer = stackalloc byte[8192];
        int length = 0;
        if (GetLibraryVersion(buffer, &length) != 0) return "unknown MPI";
        string text = System.Text.Encoding.ASCII.GetString(buffer, Math.Clamp(length, 0, 8192)).TrimEnd('\0');
        int nl = text.IndexOfAny(['\n', ',']);
        return (nl > 0 ? text[..nl] : text).Trim();
    }
}

/// <summary>The process was started by an MPI launcher but no usable MPI library is present.</summary>
public sealed class MpiUnavailableException(string message) : Exception(message);

/// <summary>An MPI call returned an error code.</summary>
public sealed class MpiException(string message) : Exception(message);
