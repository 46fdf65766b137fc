using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

/// <summary>
/// A steady-state GEMM call allocates nothing on the managed heap. Measured on the calling thread, which runs
/// work items of threaded calls itself (the same code as the workers); process-wide counters are not used
/// because the test runner allocates concurrently.
/// </summary>
public class GemmAllocationTests
{
    [Fact]
    public void SteadyStateCall_AllocatesNothing()
    {
        var rng = new Random(8);
        foreach ((int m, int k, int n) in new[] { (256, 300, 200), (1, 768, 768), (20, 40, 30) })
        foreach (GemmForm form in Enum.GetValues<GemmForm>())
        {
            float[] a = GemmTests.RandomArray(rng, m * k), b = GemmTests.RandomArray(rng, k * n), c = new float[m * n];
            int lda = form == GemmForm.TN ? m : k, ldb = form == GemmForm.NT ? k : n;
            // Warm-up: JIT tiers, pack buffers, worker threads. The runtime's tier-up bookkeeping can allocate a few
            // KB once on the calling thread, so three rounds are measured: a per-call allocation shows in every one.
            for (int i = 0; i < 40; i++) Gemm.Compute(form, m, k, n, a, lda, b, ldb, c, n);
            long fewest = long.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 5; i++) Gemm.Compute(form, m, k, n, a, lda, b, ldb, c, n);
                fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.True(fewest == 0, $"{form} {m}x{k}x{n} allocated {fewest} bytes on the calling thread in every round");
        }
    }
}
