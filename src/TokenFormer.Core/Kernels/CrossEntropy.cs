using System.Runtime.Intrinsics;
using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// Softmax cross-entropy over logits: [rows, vocab] with integer targets: [rows] and a per-row loss weight
/// (mask): [rows], fused with its gradient as a training step uses it. Per row r:
/// ce[r] = log Σⱼ exp(logits[r, j]) − logits[r, targets[r]] (max-subtracted), mean loss = Σ mask·ce / Σ mask, and
/// d(mean loss)/d logits[r, :] = (softmax(logits[r, :]) − onehot(targets[r]))·mask[r]/Σ mask.
/// Vector512/Vector256/scalar by CPU, split over threads by rows; the mean is summed in double over row chunks
/// fixed by the shape, so it does not depend on the thread count. No allocation in steady state.
/// </summary>
public static unsafe class CrossEntropy
{
    /// <summary>
    /// Computes the masked mean cross-entropy and, optionally, per-row losses and the gradient.
    /// </summary>
    /// <param name="logits">[rows, vocab], row-major.</param>
    /// <param name="rows">Number of rows (tokens).</param>
    /// <param name="vocab">Number of classes (≥ 1 when rows ≥ 1).</param>
    /// <param name="targets">[rows], each in [0, vocab).</param>
    /// <param name="mask">[rows] loss weights ≥ 0 (0 excludes a row), or empty for all ones.</param>
    /// <param name="rowLoss">[rows] receives ce[r] for every row (masked rows too), or empty to skip.</param>
    /// <param name="dLogits">[rows, vocab] receives lossScale·d(mean loss)/d logits, or empty to skip; may be the
    /// same span as <paramref name="logits"/> (overwrites them).</param>
    /// <param name="lossScale">Factor applied to the gradient only (loss scaling); the returned loss is unscaled.</param>
    /// <returns>Σ mask·ce / Σ mask, or 0 when Σ mask = 0 (then the gradient is all zeros).</returns>
    public static float ForwardBackward(ReadOnlySpan<float> logits, int rows, int vocab, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> mask, Span<float> rowLoss, Span<float> dLogits, float lossScale = 1f) =>
        ForwardBackward(logits, rows, vocab, targets, mask, rowLoss, dLogits, lossScale, SimdPaths.Current);

    /// <summary>Mean cross-entropy over all rows (no mask, no gradient). logits: [rows, vocab], targets: [rows].</summary>
    public static float Forward(ReadOnlySpan<float> logits, int rows, int vocab, ReadOnlySpan<int> targets) =>
        ForwardBackward(logits, rows, vocab, targets, default, default, default, 1f, SimdPaths.Current);

    internal static float ForwardBackward(ReadOnlySpan<float> logits, int rows, int vocab, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> mask, Span<float> rowLoss, Span<float> dLogits, float lossScale, SimdPath path)
    {
        const string K = "CrossEntropy";
        int n = KernelArguments.Matrix(K, rows, vocab);
        if (rows > 0 && vocab == 0) throw new ArgumentException($"{K}: logits [{rows}, {vocab}] have no classes");
        KernelArguments.AtLeast(K, "logits", logits.Length, n, rows, vocab);
        KernelArguments.AtLeast(K, "targets", targets.Length, rows, rows);
        if (!mask.IsEmpty) KernelArguments.AtLeast(K, "mask", mask.Length, rows, rows, optional: true);
        if (!rowLoss.IsEmpty) KernelArguments.AtLeast(K, "rowLoss", rowLoss.Length, rows, rows, optional: true);
        if (!dLogits.IsEmpty)
        {
            KernelArguments.AtLeast(K, "dLogits", dLogits.Length, n, rows, vocab, optional: true);
            KernelArguments.NoPartialOverlap(K, logits[..n], "logits", dLogits[..n], "dLogits");
        }
        if (!rowLoss.IsEmpty && rows > 0)
        {
            if (rowLoss[..rows].Overlaps(logits[..n]))
                throw new ArgumentException($"{K}: rowLoss [{rows}] overlaps logits [{rows}, {vocab}]");
            if (!dLogits.IsEmpty && rowLoss[..rows].Overlaps(dLogits[..n]))
                throw new ArgumentException($"{K}: rowLoss [{rows}] overlaps dLogits [{rows}, {vocab}]");
        }
        if (!float.IsFinite(lossScale)) throw new ArgumentException($"{K}: lossScale must be finite (got {lossScale})");
        double maskSum = 0;
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if ((uint)t >= (uint)vocab)
                throw new ArgumentException($"{K}: targets[{r}] = {t} is outside [0, {vocab}) for logits [{rows}, {vocab}]");
            float m = mask.IsEmpty ? 1f : mask[r];
            if (!(m >= 0f) || float.IsInfinity(m))
                throw new ArgumentException($"{K}: mask[{r}] = {m} must be finite and ≥ 0");
            maskSum += m;
        }
        if (rows == 0) return 0f;

        fixed (float* px = logits, pm = mask, pl = rowLoss, pd = dLogits)
        fixed (int* pt = targets)
        {
            var job = Job.ForCurrentThread;
            float gradScale = maskSum > 0 ? (float)(lossScale / maskSum) : 0f;
            int chunks = job.Set(path, px, pt, pm, pl, pd, rows, vocab, gradScale);
            if (RowParallel.ShouldSplit(rows, vocab)) Parallelism.For(chunks, job);
            else for (int c = 0; c < chunks; c++) job.Execute(c);
            double total = job.Total();
            job.Clear();
            return maskSum > 0 ? (float)(total / maskSum) : 0f;
        }
    }

    private static double Rows(SimdPath path, in RowArgs a, int r0, int r1) => path switch
    {
        SimdPath.Vector512 => Rows<Vector512<float>, Float512>(in a, r0, r1),
        SimdPath.Vector256 => Rows<Vector256<float>, Float256>(in a, r0, r1),
        _ => Rows<float, Float1>(in a, r0, r1),
    };

    /// <summary>Processes rows [r0, r1) and returns Σ mask·ce over them.</summary>
    private static double Rows<TV, TW>(in RowArgs a, int r0, int r1) where TV : struct where TW : IFloatVector<TV>
    {
        int v = a.Vocab;
        double weighted = 0;
        for (int r = r0; r < r1; r++)
        {
            float* x = a.Logits + (long)r * v;
            float* d = a.DLogits == null ? null : a.DLogits + (long)r * v;
            float m = a.Mask == null ? 1f : a.Mask[r];
            if (m == 0f && a.RowLoss == null)
            {
                if (d != null) new Span<float>(d, v).Clear();
                continue;
            }
            int t = a.Targets[r];
            float xt = x[t];                       // read before d (which may alias x) is written
            float max = RowKernels.Max<TV, TW>(x, v);
            float w = m * a.GradScale;
            float* store = d != null && w != 0f ? d : null;
            float sum = RowKernels.SumExp<TV, TW>(x, store, v, max);
            float ce = MathF.Log(sum) - (xt - max);
            if (a.RowLoss != null) a.RowLoss[r] = ce;
            if (m != 0f) weighted += (double)m * ce;
            if (d == null) continue;
            if (store == null) { new Span<float>(d, v).Clear(); continue; }
            RowKernels.Scale<TV, TW>(d, d, v, w / sum);
            d[t] -= w;
        }
        return weighted;
    }

    private readonly struct RowArgs(float* logits, int* targets, float* mask, float* rowLoss, float* dLogits, int vocab, float gradScale)
    {
        public readonly float* Logits = logits;
        public readonly int* Targets = targets;
        public readonly float* Mask = mask;
        public readonly float* RowLoss = rowLoss;
        public readonly float* DLogits = dLogits;
        public readonly int Vocab = vocab;
        public readonly float GradScale = gradScale;
    }

    private sealed class Job : IParallelWork
    {
        [ThreadStatic] private static Job? _current;
        public static Job ForCurrentThread => _current ??= new Job();

        private RowArgs _args;
        private SimdPath _path;
        private int _rows, _perChunk, _chunks;
        private double[] _partials = new double[16];

        /// <summary>Stores the arguments; returns the number of row chunks.</summary>
        public int Set(SimdPath path, float* logits, int* targets, float* mask, float* rowLoss, float* dLogits,
            int rows, int vocab, float gradScale)
        {
            _args = new RowArgs(logits, targets, mask, rowLoss, dLogits, vocab, gradScale);
            _path = path;
            _rows = rows;
            _perChunk = RowParallel.RowsPerChunk(vocab);
            _chunks = RowParallel.ChunkCount(rows, vocab);
            if (_partials.Length < _chunks) _partials = new double[Math.Max(_chunks, 2 * _partials.Length)];
            return _chunks;
        }

        public void Execute(int index)
        {
            int r0 = index * _perChunk;
            _partials[index] = Rows(_path, in _args, r0, Math.Min(_rows, r0 + _perChunk));
        }

        /// <summary>Σ of the chunk partial sums, in chunk order.</summary>
        public double Total()
        {
            double s = 0;
            for (int c = 0; c < _chunks; c++) s += _partials[c];
            return s;
        }

        public void Clear() => _args = default;
    }
}
