using TokenFormer.Core.Threading;
using TokenFormer.Core.Kernels;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model;

/// <summary>
/// Forward and hand-written backward of a <see cref="TokenFormerModel"/> for batches of B sequences of T tokens,
/// with every activation buffer pre-allocated for (B, T) so a steady-state step allocates nothing, and the parameter
/// gradients in one arena (<see cref="Gradients"/>, same layout as the parameters).
/// Saved per layer (N = B·T): a₁, a₂ = LN outputs [N,d] and their rstd [N]; for each Pattention the pre-activations
/// (z for l2_norm_gelu, else the scores) and S [N,n] plus one statistic per row; rotated q, k and v [N,d]; the
/// attention output [N,d] and its log-sum-exp [B,H,T]. No T×T matrix is saved (see <see cref="CausalAttention"/>).
/// </summary>
public sealed class ModelRunner
{
    private sealed class RowJob(Action<int, int> body) : IRowWork
    {
        public void Rows(int start, int end) => body(start, end);
    }

    private sealed class LayerBuffers
    {
        public required float[] A1, Rstd1, PreQkv, SQkv, StatQkv, Q, K, V, Lse, Att, PreProj, SProj, StatProj, A2, Rstd2, PreFfn, SFfn, StatFfn;
    }

    private readonly TokenFormerModel _model;
    private readonly TokenFormerConfig _cfg;
    private readonly int _d, _h, _heads, _nq, _np, _nf, _vocab;
    private readonly float _eps;
    private readonly NormActivation _act;
    private readonly float _tauQkv, _tauProj, _tauFfn, _multQkv, _multProj, _multFfn;
    private readonly LayerBuffers[] _layers;
    private readonly float[] _x, _xhatF, _rstdF, _zF, _logits, _rowLoss, _dx, _dTmp, _dq, _dk, _dv, _g;
    private readonly int[] _tokens, _targets;
    private readonly float[] _mask;
    private readonly CausalAttention _attention = new();
    private readonly RotaryEmbedding _rotary;
    private readonly RowJob _lnJob, _normFwdJob, _normBwdJob, _rotaryJob, _lnBwdJob, _finalFwdJob, _finalBwdJob;

    // Current operands of the reusable row jobs.
    private float[] _jIn = null!, _jOut = null!, _jStat = null!, _jPre = null!, _jS = null!;
    private int _jWidth, _jSegments;
    private float _jTau, _jMult;
    private bool _jInverse, _jAccumulate;

    /// <summary>Sequences per batch.</summary>
    public int Batch { get; }
    /// <summary>Tokens per sequence.</summary>
    public int Sequence { get; }
    /// <summary>Rows N = B·T.</summary>
    public int Rows => Batch * Sequence;
    /// <summary>The model.</summary>
    public TokenFormerModel Model => _model;
    /// <summary>Parameter gradients (same layout as <see cref="TokenFormerModel.Parameters"/>); null when built without.</summary>
    public float[]? Gradients { get; }
    /// <summary>Logits [B·T, V] of the last forward (replaced by ∂ℒ/∂logits once a loss was computed).</summary>
    public ReadOnlySpan<float> Logits => _logits.AsSpan(0, Rows * _vocab);
    /// <summary>True when the last forward computed a loss (so <see cref="Logits"/> holds gradients).</summary>
    public bool LogitsHoldGradient { get; private set; }
    /// <summary>Per-row cross-entropy of the last forward with targets [B·T] (unweighted by the mask).</summary>
    public ReadOnlySpan<float> RowLoss => _rowLoss.AsSpan(0, Rows);

    /// <summary>Allocates every buffer for batches of <paramref name="batch"/> × <paramref name="sequence"/> tokens.</summary>
    public ModelRunner(TokenFormerModel model, int batch, int sequence, bool training)
    {
        _model = model;
        _cfg = model.Config;
        if (batch <= 0 || sequence <= 0) throw new ArgumentException($"batch ({batch}) and sequence ({sequence}) must be positive");
        if (sequence > _cfg.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence length {sequence} exceeds max_position_embeddings {_cfg.MaxPositionEmbeddings}");
        Batch = batch;
        Sequence = sequence;
        _d = _cfg.HiddenSize; _heads = _cfg.NumAttentionHeads; _h = _cfg.HeadDim;
        _nq = _cfg.QkvSlotNum; _np = _cfg.ProjSlotNum; _nf = _cfg.FfnSlotNum; _vocab = model.Vocab;
        _eps = (float)_cfg.LayerNormEpsilon;
        _act = _cfg.Activation;
        _tauQkv = (float)_cfg.ScaleQkv; _tauProj = (float)_cfg.ScaleProj; _tauFfn = (float)_cfg.ScaleFfn;
        _multQkv = _cfg.PattentionScaleQkv is double a ? (float)(a * a) : _nq;
        _multProj = _cfg.PattentionScaleProj is double b ? (float)(b * b) : _np;
        _multFfn = _cfg.PattentionScaleFfn is double c ? (float)(c * c) : _nf;
        _rotary = new RotaryEmbedding(_h, _cfg.RotaryDim, _cfg.RotaryEmbBase, sequence);
        int n = Rows, d = _d;
        _layers = new LayerBuffers[_cfg.NumLayers];
        for (int l = 0; l < _layers.Length; l++)
            _layers[l] = new LayerBuffers
            {
                A1 = new float[n * d], Rstd1 = new float[n], PreQkv = new float[n * 3 * _nq], SQkv = new float[n * 3 * _nq],
                StatQkv = new float[n * 3], Q = new float[n * d], K = new float[n * d], V = new float[n * d],
                Lse = new float[batch * _heads * sequence], Att = new float[n * d],
                PreProj = new float[n * _np], SProj = new float[n * _np], StatProj = new float[n],
                A2 = new float[n * d], Rstd2 = new float[n], PreFfn = new float[n * _nf], SFfn = new float[n * _nf], StatFfn = new float[n],
            };
        _x = new float[n * d]; _xhatF = new float[n * d]; _rstdF = new float[n]; _zF = new float[n * d];
        _logits = new float[(long)n * _vocab <= Array.MaxLength ? n * _vocab : throw new ArgumentException($"logits [{n}, {_vocab}] are too large for one array")];
        _rowLoss = new float[n];
        _tokens = new int[n]; _targets = new int[n]; _mask = new float[n];
        if (training)
        {
            Gradients = new float[model.Parameters.Length];
            _dx = new float[n * d]; _dTmp = new float[n * d]; _dq = new float[n * d]; _dk = new float[n * d]; _dv = new float[n * d];
            _g = new float[n * Math.Max(3 * _nq, Math.Max(_np, _nf))];
        }
        else
        {
            _dx = _dTmp = _dq = _dk = _dv = _g = [];
        }

        _lnJob = new RowJob((s, e) =>
        {
            for (int r = s; r < e; r++)
                _jStat[r] = LayerNormKernels.ForwardNonParam(_jIn.AsSpan(r * _d, _d), _jOut.AsSpan(r * _d, _d), _eps);
        });
        _normFwdJob = new RowJob((s, e) =>
        {
            int w = _jWidth, n1 = w / _jSegments;
            for (int r = s; r < e; r++)
                for (int g = 0; g < _jSegments; g++)
                    _jStat[r * _jSegments + g] = PattentionNormalizer.Forward(_act, _jTau, _jMult,
                        _jPre.AsSpan(r * w + g * n1, n1), _jS.AsSpan(r * w + g * n1, n1));
        });
        _normBwdJob = new RowJob((s, e) =>
        {
            int w = _jWidth, n1 = w / _jSegments;
            for (int r = s; r < e; r++)
                for (int g = 0; g < _jSegments; g++)
                    PattentionNormalizer.Backward(_act, _jTau, _jMult, _jPre.AsSpan(r * w + g * n1, n1),
                        _jS.AsSpan(r * w + g * n1, n1), _jStat[r * _jSegments + g], _g.AsSpan(r * w + g * n1, n1));
        });
        _rotaryJob = new RowJob((s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                int pos = r % Sequence;
                _rotary.Apply(_jIn.AsSpan(r * _d, _d), _heads, pos, _jInverse);
                _rotary.Apply(_jOut.AsSpan(r * _d, _d), _heads, pos, _jInverse);
            }
        });
        _lnBwdJob = new RowJob((s, e) =>
        {
            for (int r = s; r < e; r++)
                LayerNormKernels.BackwardNonParam(_jIn.AsSpan(r * _d, _d), _dTmp.AsSpan(r * _d, _d), _jStat[r], _dx.AsSpan(r * _d, _d), _jAccumulate);
        });
        _finalFwdJob = new RowJob((s, e) =>
        {
            ReadOnlySpan<float> p = _model.Parameters;
            var w = p.Slice(_model.Layout.FinalNormWeight, _d);
            var b = p.Slice(_model.Layout.FinalNormBias, _d);
            for (int r = s; r < e; r++)
                _rstdF[r] = LayerNormKernels.ForwardAffine(_x.AsSpan(r * _d, _d), w, b, _xhatF.AsSpan(r * _d, _d), _zF.AsSpan(r * _d, _d), _eps);
        });
        _finalBwdJob = new RowJob((s, e) =>
        {
            // dx = LN-backward of dz ⊙ w (parameter gradients are reduced serially afterwards)
            var w = _model.Parameters.AsSpan(_model.Layout.FinalNormWeight, _d);
            for (int r = s; r < e; r++)
            {
                Span<float> tmp = _dq.AsSpan(r * _d, _d);
                ReadOnlySpan<float> dz = _dTmp.AsSpan(r * _d, _d);
                for (int i = 0; i < _d; i++) tmp[i] = dz[i] * w[i];
                LayerNormKernels.BackwardNonParam(_xhatF.AsSpan(r * _d, _d), tmp, _rstdF[r], _dx.AsSpan(r * _d, _d), false);
            }
        });
    }

    private LayerBuffers L(int l) => _layers[l];

    /// <summary>
    /// Forward over <paramref name="tokens"/> [B·T] (row-major [B, T]). With <paramref name="targets"/> [B·T] it also
    /// computes the loss sum(mask·ce)/sum(mask) (mask: [B·T], default all ones) and returns it; otherwise returns NaN.
    /// With <paramref name="computeGradient"/> the logits buffer is replaced by ∂ℒ/∂logits, ready for <see cref="Backward"/>.
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets = default, ReadOnlySpan<float> mask = default, bool computeGradient = false)
    {
        int n = Rows, d = _d;
        if (tokens.Length != n) throw new ArgumentException($"tokens: expected {n} ids (batch {Batch} × sequence {Sequence}), got {tokens.Length}");
        for (int i = 0; i < n; i++)
            if ((uint)tokens[i] >= (uint)_vocab)
                throw new ArgumentException($"token id {tokens[i]} at position {i} is outside the vocabulary [0, {_vocab})");
        tokens.CopyTo(_tokens);
        float[] p = _model.Parameters;
        var lay = _model.Layout;
        for (int i = 0; i < n; i++) p.AsSpan(lay.Embedding + _tokens[i] * d, d).CopyTo(_x.AsSpan(i * d, d));

        for (int l = 0; l < _layers.Length; l++)
        {
            LayerBuffers b = L(l);
            var o = lay.Layers[l];
            // attention block
            RunLn(_x, b.A1, b.Rstd1);
            Gemm.NT(b.A1, p.AsSpan(o.QueryKey, 3 * _nq * d), b.PreQkv, n, d, 3 * _nq);
            RunNormForward(b.PreQkv, b.SQkv, b.StatQkv, 3 * _nq, 3, _tauQkv, _multQkv);
            Gemm.Compute(GemmForm.NN, n, _nq, d, b.SQkv, 3 * _nq, p.AsSpan(o.QueryValue, _nq * d), d, b.Q, d);
            Gemm.Compute(GemmForm.NN, n, _nq, d, b.SQkv.AsSpan(_nq), 3 * _nq, p.AsSpan(o.KeyValue, _nq * d), d, b.K, d);
            Gemm.Compute(GemmForm.NN, n, _nq, d, b.SQkv.AsSpan(2 * _nq), 3 * _nq, p.AsSpan(o.ValueValue, _nq * d), d, b.V, d);
            RunRotary(b.Q, b.K, inverse: false);
            _attention.Forward(b.Q, b.K, b.V, b.Att, b.Lse, Batch, Sequence, _heads, _h);
            Gemm.NT(b.Att, p.AsSpan(o.ProjKey, _np * d), b.PreProj, n, d, _np);
            RunNormForward(b.PreProj, b.SProj, b.StatProj, _np, 1, _tauProj, _multProj);
            Gemm.NN(b.SProj, p.AsSpan(o.ProjValue, _np * d), _x, n, _np, d, 1f, accumulate: true);
            // FFN block
            RunLn(_x, b.A2, b.Rstd2);
            Gemm.NT(b.A2, p.AsSpan(o.FfnKey, _nf * d), b.PreFfn, n, d, _nf);
            RunNormForward(b.PreFfn, b.SFfn, b.StatFfn, _nf, 1, _tauFfn, _multFfn);
            Gemm.NN(b.SFfn, p.AsSpan(o.FfnValue, _nf * d), _x, n, _nf, d, 1f, accumulate: true);
        }
        RowRanges.Run(n, _finalFwdJob);
        Gemm.NT(_zF, p.AsSpan(lay.Embedding, _vocab * d), _logits, n, d, _vocab);
        LogitsHoldGradient = false;
        if (targets.IsEmpty) return float.NaN;

        if (targets.Length != n) throw new ArgumentException($"targets: expected {n} ids, got {targets.Length}");
        if (!mask.IsEmpty && mask.Length != n) throw new ArgumentException($"loss mask: expected {n} values, got {mask.Length}");
        bool anyPosition = false;
        for (int i = 0; i < n; i++)
        {
            float m = mask.IsEmpty ? 1f : mask[i];
            if (!(m >= 0)) throw new ArgumentException($"loss mask value {m} at position {i} must be a non-negative number");
            _mask[i] = m;
            anyPosition |= m > 0;
            _targets[i] = m != 0 ? targets[i] : 0;
            if (m != 0 && (uint)targets[i] >= (uint)_vocab)
                throw new ArgumentException($"target id {targets[i]} at position {i} is outside the vocabulary [0, {_vocab})");
        }
        if (!anyPosition) throw new ArgumentException("loss mask sums to zero: no position contributes to the loss");
        Span<float> logits = _logits.AsSpan(0, n * _vocab);
        float loss = CrossEntropy.ForwardBackward(logits, n, _vocab, _targets.AsSpan(0, n), _mask.AsSpan(0, n),
            _rowLoss.AsSpan(0, n), computeGradient ? logits : default);
        LogitsHoldGradient = computeGradient;
        return loss;
    }

    /// <summary>
    /// Backward of the last <see cref="Forward"/> (which must have been called with targets and computeGradient).
    /// Adds ∂ℒ/∂θ into <see cref="Gradients"/>; clears them first unless <paramref name="accumulate"/>.
    /// </summary>
    public void Backward(bool accumulate = false)
    {
        float[] grad = Gradients ?? throw new InvalidOperationException("this runner was built without gradients (training: false)");
        if (!LogitsHoldGradient) throw new InvalidOperationException("Backward needs a Forward with targets and computeGradient: true first");
        if (!accumulate) Array.Clear(grad);
        int n = Rows, d = _d;
        float[] p = _model.Parameters;
        var lay = _model.Layout;

        // tied head: logits = z·Eᵀ
        Gemm.TN(_logits, _zF, grad.AsSpan(lay.Embedding, _vocab * d), _vocab, n, d, 1f, accumulate: true);
        Gemm.NN(_logits, p.AsSpan(lay.Embedding, _vocab * d), _dTmp, n, _vocab, d);
        // final LayerNorm (affine): parameter gradients serially, dx in parallel
        Span<float> dw = grad.AsSpan(lay.FinalNormWeight, d), db = grad.AsSpan(lay.FinalNormBias, d);
        for (int r = 0; r < n; r++)
        {
            ReadOnlySpan<float> dz = _dTmp.AsSpan(r * d, d), xh = _xhatF.AsSpan(r * d, d);
            for (int i = 0; i < d; i++) { dw[i] += dz[i] * xh[i]; db[i] += dz[i]; }
        }
        RowRanges.Run(n, _finalBwdJob);

        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            LayerBuffers b = L(l);
            var o = lay.Layers[l];
            // FFN: x' = y + S_f·V_f, S_f = Θ(a₂·K_fᵀ), a₂ = LN(y)
            Gemm.NT(_dx, p.AsSpan(o.FfnValue, _nf * d), _g, n, d, _nf);
            WeightGradient(b.SFfn, _nf, _dx, grad.AsSpan(o.FfnValue, _nf * d));
            RunNormBackward(b.PreFfn, b.SFfn, b.StatFfn, _nf, 1, _tauFfn, _multFfn);
            WeightGradient(_g, _nf, b.A2, grad.AsSpan(o.FfnKey, _nf * d));
            Gemm.NN(_g, p.AsSpan(o.FfnKey, _nf * d), _dTmp, n, _nf, d);
            RunLnBackward(b.A2, b.Rstd2);
            // output projection: y = x + S_p·V_p, S_p = Θ(att·K_pᵀ)
            Gemm.NT(_dx, p.AsSpan(o.ProjValue, _np * d), _g, n, d, _np);
            WeightGradient(b.SProj, _np, _dx, grad.AsSpan(o.ProjValue, _np * d));
            RunNormBackward(b.PreProj, b.SProj, b.StatProj, _np, 1, _tauProj, _multProj);
            WeightGradient(_g, _np, b.Att, grad.AsSpan(o.ProjKey, _np * d));
            Gemm.NN(_g, p.AsSpan(o.ProjKey, _np * d), _dTmp, n, _np, d);
            // attention (dTmp = ∂ℒ/∂att) → dq, dk, dv (of the rotated q, k), then undo the rotation
            _attention.Backward(b.Q, b.K, b.V, b.Att, b.Lse, _dTmp, _dq, _dk, _dv, Batch, Sequence, _heads, _h);
            RunRotary(_dq, _dk, inverse: true);
            // Q/K/V Pattentions sharing a₁
            int w = 3 * _nq;
            Gemm.Compute(GemmForm.NT, n, d, _nq, _dq, d, p.AsSpan(o.QueryValue, _nq * d), d, _g, w);
            Gemm.Compute(GemmForm.NT, n, d, _nq, _dk, d, p.AsSpan(o.KeyValue, _nq * d), d, _g.AsSpan(_nq), w);
            Gemm.Compute(GemmForm.NT, n, d, _nq, _dv, d, p.AsSpan(o.ValueValue, _nq * d), d, _g.AsSpan(2 * _nq), w);
            // dV_{q,k,v} += S_{q,k,v}ᵀ·d{q,k,v} on the column blocks of S_qkv [N, 3n]
            Gemm.Compute(GemmForm.TN, _nq, n, d, b.SQkv, w, _dq, d, grad.AsSpan(o.QueryValue, _nq * d), d, 1f, true);
            Gemm.Compute(GemmForm.TN, _nq, n, d, b.SQkv.AsSpan(_nq), w, _dk, d, grad.AsSpan(o.KeyValue, _nq * d), d, 1f, true);
            Gemm.Compute(GemmForm.TN, _nq, n, d, b.SQkv.AsSpan(2 * _nq), w, _dv, d, grad.AsSpan(o.ValueValue, _nq * d), d, 1f, true);
            RunNormBackward(b.PreQkv, b.SQkv, b.StatQkv, w, 3, _tauQkv, _multQkv);
            WeightGradient(_g, w, b.A1, grad.AsSpan(o.QueryKey, w * d));
            Gemm.NN(_g, p.AsSpan(o.QueryKey, w * d), _dTmp, n, w, d);
            RunLnBackward(b.A1, b.Rstd1);
        }
        // embedding rows
        Span<float> dE = grad.AsSpan(lay.Embedding, _vocab * d);
        for (int i = 0; i < n; i++)
        {
            Span<float> row = dE.Slice(_tokens[i] * d, d);
            ReadOnlySpan<float> g = _dx.AsSpan(i * d, d);
            for (int j = 0; j < d; j++) row[j] += g[j];
        }
    }

    /// <summary>Weight gradient dW [width, d] += aᵀ·b for a: [N, width], b: [N, d] (a TN GEMM).</summary>
    private void WeightGradient(float[] a, int width, float[] b, Span<float> dW) =>
        Gemm.TN(a, b, dW, width, Rows, _d, 1f, accumulate: true);

    private void RunLn(float[] input, float[] output, float[] rstd)
    {
        _jIn = input; _jOut = output; _jStat = rstd;
        RowRanges.Run(Rows, _lnJob);
    }

    private void RunLnBackward(float[] xhat, float[] rstd)
    {
        // dx += LN-backward(dTmp)
        _jIn = xhat; _jStat = rstd; _jAccumulate = true;
        RowRanges.Run(Rows, _lnBwdJob);
    }

    private void RunNormForward(float[] pre, float[] s, float[] stat, int width, int segments, float tau, float mult)
    {
        _jPre = pre; _jS = s; _jStat = stat; _jWidth = width; _jSegments = segments; _jTau = tau; _jMult = mult;
        RowRanges.Run(Rows, _normFwdJob);
    }

    private void RunNormBackward(float[] pre, float[] s, float[] stat, int width, int segments, float tau, float mult)
    {
        _jPre = pre; _jS = s; _jStat = stat; _jWidth = width; _jSegments = segments; _jTau = tau; _jMult = mult;
        RowRanges.Run(Rows, _normBwdJob);
    }

    private void RunRotary(float[] q, float[] k, bool inverse)
    {
        if (_cfg.RotaryDim == 0) return;
        _jIn = q; _jOut = k; _jInverse = inverse;
        RowRanges.Run(Rows, _rotaryJob);
    }
}
