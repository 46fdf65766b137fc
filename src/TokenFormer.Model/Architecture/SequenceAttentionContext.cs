using TokenFormer.Core.Threading;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Architecture;

/// <summary>
/// Attention over whole sequences at once: the rows are B sequences of T positions (row r is position r mod T of
/// sequence ⌊r/T⌋); every row attends within its own sequence, causally (the language model's training and
/// scoring) or bidirectionally (an encoder). The rotary embedding is applied to q and k in place, and each layer's
/// per-row log-sum-exp is kept, so <see cref="Backward"/> can recompute the probabilities (see <see cref="SelfAttention"/>).
/// </summary>
public sealed class SequenceAttentionContext : IAttentionContext
{
    private readonly SelfAttention _attention;
    private readonly RotaryEmbedding _rotary;
    private readonly float[][] _lse;
    private readonly RotaryJob _rotaryJob;
    private readonly int _heads, _headDim;

    /// <summary>Sequences per call.</summary>
    public int Batch { get; }
    /// <summary>Positions per sequence.</summary>
    public int Sequence { get; }

    /// <summary>For batches of <paramref name="batch"/> × <paramref name="sequence"/> rows of a model with <paramref name="config"/>.</summary>
    public SequenceAttentionContext(TokenFormerConfig config, int batch, int sequence, bool causal = true)
    {
        Batch = batch; Sequence = sequence;
        _heads = config.NumAttentionHeads; _headDim = config.HeadDim;
        _attention = new SelfAttention(causal);
        _rotary = new RotaryEmbedding(_headDim, config.RotaryDim, config.RotaryEmbBase, sequence);
        _lse = new float[config.NumLayers][];
        for (int l = 0; l < _lse.Length; l++) _lse[l] = new float[batch * _heads * sequence];
        _rotaryJob = new RotaryJob(this);
    }

    /// <inheritdoc/>
    public int AcceptKeysAndValues(int layer, int rows, BlockActivations a, float[] x)
    {
        _rotaryJob.Run(rows, a.K, inverse: false);
        return rows;
    }

    /// <inheritdoc/>
    public void Attend(int layer, int rows, BlockActivations a)
    {
        _rotaryJob.Run(rows, a.Q, inverse: false);
        _attention.Forward(a.Q, a.K, a.V, a.Att, _lse[layer], Batch, Sequence, _heads, _headDim);
    }

    /// <summary>
    /// From dAtt = ∂ℒ/∂att [rows, d], writes ∂ℒ/∂q, ∂ℒ/∂k (of the unrotated q and k) and ∂ℒ/∂v [rows, d].
    /// </summary>
    public void Backward(int layer, BlockActivations a, float[] dAtt, float[] dq, float[] dk, float[] dv)
    {
        _attention.Backward(a.Q, a.K, a.V, a.Att, _lse[layer], dAtt, dq, dk, dv, Batch, Sequence, _heads, _headDim);
        // the rotation is orthogonal: its backward is the inverse rotation
        _rotaryJob.Run(Batch * Sequence, dq, inverse: true);
        _rotaryJob.Run(Batch * Sequence, dk, inverse: true);
    }

    private sealed class RotaryJob(SequenceAttentionContext c) : IRowWork
    {
        private float[] _rows = null!;
        private bool _inverse;

        public void Run(int rows, float[] data, bool inverse)
        {
            if (c._rotary.RotaryDim == 0) return;
            _rows = data; _inverse = inverse;
            RowRanges.Run(rows, this);
            _rows = null!;
        }

        public void Rows(int start, int end)
        {
            int d = c._heads * c._headDim;
            for (int r = start; r < end; r++)
                c._rotary.Apply(_rows.AsSpan(r * d, d), c._heads, r % c.Sequence, _inverse);
        }
    }
}
