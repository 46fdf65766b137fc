using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;

namespace TokenFormer.Model.Kernels;

/// <summary>
/// Multi-head softmax attention, softmax(q kᵀ/√h (+ causal mask))·v per (sequence, head), float32: causal (row i sees
/// positions 0…i; the decoder's training) or bidirectional (every row sees the whole sequence; an encoder), with a
/// recompute backward: the forward keeps only the per-row log-sum-exp (lse: [B, H, T]); the backward recomputes the
/// probabilities block by block. Score blocks live in per-thread scratch of [64, T] floats, so saved activation memory
/// grows linearly in T (no T×T matrix is kept per layer and head).
/// Layouts: q, k, v, out and their gradients are [B, T, H·h] with head j in channels [j·h, (j+1)·h).
/// </summary>
public sealed class SelfAttention
{
    private const int BlockRows = 64;

    [ThreadStatic] private static float[]? _scratchP, _scratchDp;

    private readonly ForwardJob _forward;
    private readonly BackwardJob _backward;

    /// <summary>Causal (<paramref name="causal"/> true) or bidirectional attention.</summary>
    public SelfAttention(bool causal = true)
    {
        Causal = causal;
        _forward = new ForwardJob { Causal = causal };
        _backward = new BackwardJob { Causal = causal };
    }

    /// <summary>True when row i attends only to positions 0…i.</summary>
    public bool Causal { get; }

    /// <summary>Forward: out[B,T,d] and lse[B,H,T] from (rotated) q, k and v [B,T,d].</summary>
    public void Forward(float[] q, float[] k, float[] v, float[] output, float[] lse, int batch, int seq, int heads, int headDim)
    {
        _forward.Set(q, k, v, output, lse, null, null, null, null, batch, seq, heads, headDim);
        Parallelism.For(batch * heads, _forward);
        _forward.Clear();
    }

    /// <summary>
    /// Backward: from dOut [B,T,d] and the forward's q, k, v, out and lse, writes dq, dk, dv [B,T,d] (overwritten).
    /// </summary>
    public void Backward(float[] q, float[] k, float[] v, float[] output, float[] lse, float[] dOut,
        float[] dq, float[] dk, float[] dv, int batch, int seq, int heads, int headDim)
    {
        int n = batch * seq * heads * headDim;
        dk.AsSpan(0, n).Clear();
        dv.AsSpan(0, n).Clear();
        _backward.Set(q, k, v, output, lse, dOut, dq, dk, dv, batch, seq, heads, headDim);
        Parallelism.For(batch * heads, _backward);
        _backward.Clear();
    }

    private static float[] Scratch(ref float[]? buffer, int size)
    {
        if (buffer == null || buffer.Length < size) buffer = new float[size];
        return buffer;
    }

    private abstract class JobBase : IParallelWork
    {
        protected float[] Q = null!, K = null!, V = null!, O = null!, Lse = null!;
        protected float[]? DOut, DQ, DK, DV;
        protected int Batch, Seq, Heads, HeadDim, D;
        protected float Scale;
        public bool Causal;

        /// <summary>Keys a block of rows ending at row i1 sees: i1 (causal) or the whole sequence.</summary>
        protected int Keys(int i1) => Causal ? i1 : Seq;

        /// <summary>Last key (exclusive) row i sees.</summary>
        protected int Seen(int i) => Causal ? i + 1 : Seq;

        public void Set(float[] q, float[] k, float[] v, float[] o, float[] lse, float[]? dOut, float[]? dq, float[]? dk, float[]? dv,
            int batch, int seq, int heads, int headDim)
        {
            Q = q; K = k; V = v; O = o; Lse = lse; DOut = dOut; DQ = dq; DK = dk; DV = dv;
            Batch = batch; Seq = seq; Heads = heads; HeadDim = headDim; D = heads * headDim;
            Scale = 1f / MathF.Sqrt(headDim);
        }

        public void Clear()
        {
            Q = K = V = O = Lse = null!;
            DOut = DQ = DK = DV = null;
        }

        public abstract void Execute(int index);

        /// <summary>
        /// The attention probabilities P [rows, keys] (row stride Seq) of the block of rows [i0, i0 + rows) of work item
        /// <paramref name="index"/> (sequence, head); positions a row does not see are zero. The forward normalises the
        /// scores and stores each row's log-sum-exp; the backward (<paramref name="fromLse"/>) recomputes P from it.
        /// Returns the number of keys the block sees.
        /// </summary>
        protected int Probabilities(int index, int baseOffset, int i0, int rows, float[] p, bool fromLse)
        {
            int keys = Keys(i0 + rows);
            Scores(baseOffset, i0, rows, keys, p);
            Span<float> lse = Lse.AsSpan(index * Seq, Seq);
            for (int r = 0; r < rows; r++)
            {
                int i = i0 + r;
                Span<float> row = p.AsSpan(r * Seq, keys);
                Span<float> valid = row[..Seen(i)];
                if (fromLse) SpanMath.ExpShifted(valid, lse[i], valid);
                else
                {
                    float max = SpanMath.Max(valid);
                    float sum = SpanMath.ExpShifted(valid, max, valid);
                    Elementwise.Scale(valid, 1f / sum);
                    lse[i] = max + MathF.Log(sum);
                }
                row[Seen(i)..].Clear();
            }
            return keys;
        }

        /// <summary>P[r, 0..keys) ← Q_blk K[0..keys)ᵀ·scale for the block rows [i0, i0 + rows).</summary>
        private void Scores(int baseOffset, int i0, int rows, int keys, float[] p)
        {
            Gemm.Compute(GemmForm.NT, rows, HeadDim, keys,
                Q.AsSpan(baseOffset + i0 * D), D, K.AsSpan(baseOffset), D, p.AsSpan(), Seq, Scale);
        }
    }

    private sealed class ForwardJob : JobBase
    {
        public override void Execute(int index)
        {
            int b = index / Heads, hd = index % Heads;
            int baseOffset = b * Seq * D + hd * HeadDim;
            float[] p = Scratch(ref _scratchP, BlockRows * Seq);
            for (int i0 = 0; i0 < Seq; i0 += BlockRows)
            {
                int rows = Math.Min(BlockRows, Seq - i0), keys = Probabilities(index, baseOffset, i0, rows, p, fromLse: false);
                Gemm.Compute(GemmForm.NN, rows, keys, HeadDim, p.AsSpan(), Seq, V.AsSpan(baseOffset), D,
                    O.AsSpan(baseOffset + i0 * D), D);
            }
        }
    }

    private sealed class BackwardJob : JobBase
    {
        public override void Execute(int index)
        {
            int b = index / Heads, hd = index % Heads;
            int baseOffset = b * Seq * D + hd * HeadDim;
            float[] p = Scratch(ref _scratchP, BlockRows * Seq);
            float[] dp = Scratch(ref _scratchDp, BlockRows * Seq);
            for (int i0 = 0; i0 < Seq; i0 += BlockRows)
            {
                int rows = Math.Min(BlockRows, Seq - i0), i1 = Probabilities(index, baseOffset, i0, rows, p, fromLse: true);
                // dV[0..i1) += Pᵀ·dO_blk
                Gemm.Compute(GemmForm.TN, i1, rows, HeadDim, p.AsSpan(), Seq, DOut.AsSpan(baseOffset + i0 * D), D,
                    DV.AsSpan(baseOffset), D, 1f, accumulate: true);
                // dP = dO_blk·V[0..i1)ᵀ
                Gemm.Compute(GemmForm.NT, rows, HeadDim, i1, DOut.AsSpan(baseOffset + i0 * D), D, V.AsSpan(baseOffset), D,
                    dp.AsSpan(), Seq);
                for (int r = 0; r < rows; r++)
                {
                    int i = i0 + r;
                    int off = baseOffset + i * D;
                    float dot = SpanMath.Dot(DOut.AsSpan(off, HeadDim), O.AsSpan(off, HeadDim));
                    // dS = P ⊙ (dP − D_i)·scale, written into dp
                    Span<float> dpr = dp.AsSpan(r * Seq, i1);
                    VectorMath.MulAddScalar(dpr, -dot, p.AsSpan(r * Seq, i1));
                    Elementwise.Scale(dpr, Scale);
                }
                // dQ_blk = dS·K[0..i1);  dK[0..i1) += dSᵀ·Q_blk
                Gemm.Compute(GemmForm.NN, rows, i1, HeadDim, dp.AsSpan(), Seq, K.AsSpan(baseOffset), D,
                    DQ.AsSpan(baseOffset + i0 * D), D);
                Gemm.Compute(GemmForm.TN, i1, rows, HeadDim, dp.AsSpan(), Seq, Q.AsSpan(baseOffset + i0 * D), D,
                    DK.AsSpan(baseOffset), D, 1f, accumulate: true);
            }
        }
    }
}
