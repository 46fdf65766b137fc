using System.Runtime.InteropServices;

namespace TokenFormer.Bench;

/// <summary>
/// OpenBLAS loaded at run time (Debian's libopenblas0-pthread) as a benchmark yardstick only;
/// the library never depends on it. <see cref="TryLoad"/> returns null when it is not installed.
/// </summary>
public sealed unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
        "libopenblas.so.0",
        "libopenblas.so",
    ];

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private readonly delegate* unmanaged<int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemv;
    private readonly delegate* unmanaged<int, void> _setThreads;

    /// <summary>Path of the loaded library.</summary>
    public string Path { get; }

    private OpenBlas(string path, nint handle)
    {
        Path = path;
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            NativeLibrary.GetExport(handle, "cblas_sgemm");
        _sgemv = (delegate* unmanaged<int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            NativeLibrary.GetExport(handle, "cblas_sgemv");
        _setThreads = NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out nint st)
            ? (delegate* unmanaged<int, void>)st : null;
    }

    /// <summary>The kernel family OpenBLAS chose for this CPU (openblas_get_corename), or null if unknown.</summary>
    public string? CoreName { get; private set; }

    /// <summary>Set when this process chose OPENBLAS_CORETYPE because the user had not: says why.</summary>
    public string? CoreTypeNote { get; private set; }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Loads OpenBLAS if present; null otherwise. OpenBLAS 0.3.21 (Debian 12) does not recognise recent Intel
    /// server CPUs (e.g. Emerald Rapids, family 6 model 207) and falls back to its generic "Prescott" kernels,
    /// about 8× slower than its AVX-512 ones — a comparison against that would flatter us. So, unless the user
    /// set OPENBLAS_CORETYPE, an AVX-512 CPU gets OpenBLAS's SkylakeX kernels (what it picks on Zen 4 is the
    /// same sgemm code), set in the native environment before the library initialises.
    /// </summary>
    public static OpenBlas? TryLoad()
    {
        string? note = null;
        if (Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") is null &&
            System.Runtime.Intrinsics.X86.Avx512F.IsSupported && OperatingSystem.IsLinux())
        {
            SetEnv("OPENBLAS_CORETYPE", "SkylakeX", 0);
            note = "OPENBLAS_CORETYPE=SkylakeX set by the benchmark (AVX-512 CPU; set OPENBLAS_CORETYPE yourself to override)";
        }
        foreach (string c in Candidates)
        {
            if (NativeLibrary.TryLoad(c, out nint h) && NativeLibrary.TryGetExport(h, "cblas_sgemm", out _))
            {
                var blas = new OpenBlas(c, h) { CoreTypeNote = note };
                if (NativeLibrary.TryGetExport(h, "openblas_get_corename", out nint cn))
                    blas.CoreName = Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)cn)());
                return blas;
            }
        }
        return null;
    }

    public void SetThreads(int n)
    {
        if (_setThreads != null) _setThreads(n);
    }

    /// <summary>Row-major sgemm in our forms: NN A[M,K]B[K,N], NT A[M,K]B[N,K]ᵀ, TN A[K,M]ᵀB[K,N].</summary>
    public void Sgemm(string form, int m, int k, int n, float* a, float* b, float* c)
    {
        int ta = form == "tn" ? Trans : NoTrans;
        int tb = form == "nt" ? Trans : NoTrans;
        int lda = form == "tn" ? m : k;
        int ldb = form == "nt" ? k : n;
        _sgemm(RowMajor, ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
    }

    /// <summary>The M = 1 product as sgemv: y[N] = x·op(B). NT: B [N,K] → y = B·x; NN/TN: B [K,N] → y = Bᵀ·x.</summary>
    public void Sgemv(string form, int k, int n, float* x, float* b, float* y)
    {
        if (form == "nt") _sgemv(RowMajor, NoTrans, n, k, 1f, b, k, x, 1, 0f, y, 1);
        else _sgemv(RowMajor, Trans, k, n, 1f, b, n, x, 1, 0f, y, 1);
    }
}
