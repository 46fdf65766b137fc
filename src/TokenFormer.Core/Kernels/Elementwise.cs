using System.Numerics.Tensors;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Element-wise float span operations, vectorised by System.Numerics.Tensors <see cref="TensorPrimitives"/> (exp by
/// this library's own vector exp) and
/// split over threads for long spans. All spans of one call have the same length n; an output may be the same span
/// as an input (in place) but must not partly overlap one. No allocation.
/// </summary>
public static unsafe class Elementwise
{
    /// <summary>result = x + y. x, y, result: [n].</summary>
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> result)
    {
        CheckBinary("Add", x, y, result);
        fixed (float* px = x, py = y, pr = result) Run(Op.Add, px, py, pr, 0f, x.Length);
    }

    /// <summary>result = x ⊙ y. x, y, result: [n].</summary>
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> result)
    {
        CheckBinary("Multiply", x, y, result);
        fixed (float* px = x, py = y, pr = result) Run(Op.Multiply, px, py, pr, 0f, x.Length);
    }

    /// <summary>y += alpha·x (axpy). x, y: [n].</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        CheckUnary("AddScaled", x, y);
        fixed (float* px = x, py = y) Run(Op.AddScaled, px, py, py, alpha, x.Length);
    }

    /// <summary>x *= alpha in place. x: [n].</summary>
    public static void Scale(Span<float> x, float alpha) => Scale(x, alpha, x);

    /// <summary>y = alpha·x. x, y: [n].</summary>
    public static void Scale(ReadOnlySpan<float> x, float alpha, Span<float> y)
    {
        CheckUnary("Scale", x, y);
        fixed (float* px = x, py = y) Run(Op.Scale, px, null, py, alpha, x.Length);
    }

    /// <summary>
    /// y = exp(x). x, y: [n]. Uses this library's vectorised exp (relative error ≤ about 2e-7, subnormal results
    /// included, NaN propagates), which measured about 2× faster than <see cref="TensorPrimitives.Exp(ReadOnlySpan{float}, Span{float})"/> here.
    /// </summary>
    public static void Exp(ReadOnlySpan<float> x, Span<float> y) => Exp(x, y, SimdPaths.Current);

    internal static void Exp(ReadOnlySpan<float> x, Span<float> y, SimdPath path)
    {
        CheckUnary("Exp", x, y);
        fixed (float* px = x, py = y) VectorLoops.Unary<ExpOp>(px, py, x.Length, path);
    }

    private readonly struct ExpOp : IUnaryOp
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TV, TW>(TV x) where TV : struct where TW : IFloatVector<TV> => FloatMath.Exp<TV, TW>(x);
    }

    private static void CheckUnary(string kernel, ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        KernelArguments.SameLength(kernel, "x", x.Length, "y", y.Length);
        KernelArguments.NoPartialOverlap(kernel, x, "x", y, "y");
    }

    private static void CheckBinary(string kernel, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> result)
    {
        KernelArguments.SameLength(kernel, "x", x.Length, "y", y.Length);
        KernelArguments.SameLength(kernel, "x", x.Length, "result", result.Length);
        KernelArguments.NoPartialOverlap(kernel, x, "x", result, "result");
        KernelArguments.NoPartialOverlap(kernel, y, "y", result, "result");
    }

    private enum Op { Add, Multiply, AddScaled, Scale }

    private static void Run(Op op, float* a, float* b, float* y, float alpha, int n)
    {
        if (n >= VectorLoops.ParallelThreshold && Parallelism.ThreadCount > 1)
        {
            var job = Job.ForCurrentThread;
            job.Set(op, a, b, y, alpha, n);
            Parallelism.For((n + VectorLoops.Chunk - 1) / VectorLoops.Chunk, job);
            return;
        }
        Apply(op, a, b, y, alpha, n);
    }

    private static void Apply(Op op, float* a, float* b, float* y, float alpha, int n)
    {
        var x = new ReadOnlySpan<float>(a, n);
        var dst = new Span<float>(y, n);
        switch (op)
        {
            case Op.Add: TensorPrimitives.Add(x, new ReadOnlySpan<float>(b, n), dst); break;
            case Op.Multiply: TensorPrimitives.Multiply(x, new ReadOnlySpan<float>(b, n), dst); break;
            case Op.AddScaled: TensorPrimitives.MultiplyAdd(x, alpha, dst, dst); break;
            case Op.Scale: TensorPrimitives.Multiply(x, alpha, dst); break;
        }
    }

    private sealed class Job : IParallelWork
    {
        [ThreadStatic] private static Job? _current;
        public static Job ForCurrentThread => _current ??= new Job();

        private Op _op;
        private float* _a, _b, _y;
        private float _alpha;
        private int _n;

        public void Set(Op op, float* a, float* b, float* y, float alpha, int n)
        {
            _op = op; _a = a; _b = b; _y = y; _alpha = alpha; _n = n;
        }

        public void Execute(int index)
        {
            int start = index * VectorLoops.Chunk;
            int count = Math.Min(VectorLoops.Chunk, _n - start);
            Apply(_op, _a + start, _b == null ? null : _b + start, _y + start, _alpha, count);
        }
    }
}
