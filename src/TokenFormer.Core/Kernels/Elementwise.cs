using System.Numerics.Tensors;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Element-wise float span operations, vectorised by System.Numerics.Tensors <see cref="TensorPrimitives"/> and
/// split over threads for long spans. No allocation.
/// </summary>
public static unsafe class Elementwise
{
    /// <summary>x *= alpha in place. x: [n].</summary>
    public static void Scale(Span<float> x, float alpha)
    {
        int n = x.Length;
        if (n >= VectorLoops.ParallelThreshold && Parallelism.ThreadCount > 1)
        {
            fixed (float* px = x)
            {
                var job = ScaleJob.ForCurrentThread;
                job.Set(px, alpha, n);
                Parallelism.For((n + VectorLoops.Chunk - 1) / VectorLoops.Chunk, job);
            }
            return;
        }
        TensorPrimitives.Multiply(x, alpha, x);
    }

    private sealed class ScaleJob : IParallelWork
    {
        [ThreadStatic] private static ScaleJob? _current;
        public static ScaleJob ForCurrentThread => _current ??= new ScaleJob();

        private float* _x;
        private float _alpha;
        private int _n;

        public void Set(float* x, float alpha, int n)
        {
            _x = x; _alpha = alpha; _n = n;
        }

        public void Execute(int index)
        {
            int start = index * VectorLoops.Chunk;
            var chunk = new Span<float>(_x + start, Math.Min(VectorLoops.Chunk, _n - start));
            TensorPrimitives.Multiply(chunk, _alpha, chunk);
        }
    }
}
