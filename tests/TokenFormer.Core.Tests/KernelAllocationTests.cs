using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class KernelAllocationTests
{
    [Fact]
    public void SteadyStateKernelCalls_AllocateNothing()
    {
        // Shapes on both sides of the threading threshold, so the parallel paths are covered too.
        var rng = new Random(51);
        foreach ((int rows, int cols) in new[] { (17, 63), (130, 1000) })
        {
            float[] x = KernelTestData.Uniform(rng, rows * cols, -3f, 3f);
            var y = new float[rows * cols];
            var r1 = new float[rows];
            var targets = new int[rows];
            var mask = new float[rows];
            for (int r = 0; r < rows; r++) { targets[r] = rng.Next(cols); mask[r] = r % 3 == 0 ? 0f : 1f; }

            void Calls()
            {
                CrossEntropy.ForwardBackward(x, rows, cols, targets, mask, r1, y, 2f);
                CrossEntropy.ForwardBackward(x, rows, cols, targets, default, default, default);
                Activations.Gelu(x, y);
                Activations.GeluBackward(x, y, y);
                Activations.Erf(x, y);
                Elementwise.Scale(y, 0.5f);
                float m = SpanMath.Max(x.AsSpan(0, cols));
                SpanMath.ExpShifted(x.AsSpan(0, cols), m, y.AsSpan(0, cols));
                SpanMath.Dot(x, y);
                Activations.ScaleThenGelu(y.AsSpan(0, cols), 0.5f, y.AsSpan(cols, cols));
                Activations.GeluBackwardDot(x.AsSpan(0, cols), y.AsSpan(0, cols), x.AsSpan(0, cols));
            }

            for (int i = 0; i < 60; i++) Calls();   // warm-up: tiered JIT, thread-static jobs, the worker pool
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) Calls();
            long after = GC.GetAllocatedBytesForCurrentThread();
            Assert.True(after == before, $"[{rows}, {cols}]: {after - before} bytes allocated in 20 steady-state rounds");
        }
    }
}
