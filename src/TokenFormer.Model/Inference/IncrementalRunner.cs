using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Inference;

/// <summary>
/// Inference forward pass with a <see cref="KvCache"/>: takes up to <see cref="MaxRows"/> new tokens, each tagged with
/// a cache slot (sequence) and a position, runs them through the model as one batch of rows (every Pattention is one
/// GEMM over all rows; a single row goes through Core's GEMV), appends their keys and values to the cache, and
/// computes logits only for the rows asked for. Prefill of prompts and the decode step of all live sequences are the
/// same call. Rows of one slot must be consecutive, at consecutive increasing positions, with every earlier position
/// of that slot already in the cache. All buffers are allocated in the constructor; a call allocates nothing.
/// Not thread-safe.
/// </summary>
public sealed class IncrementalRunner
{
    private sealed class RowJob(Action<int, int> body) : IRowWork
    {
        public void Rows(int start, int end) => body(start, end);
    }

    private readonly TokenFormerModel _model;
    private readonly int _d, _heads, _nq, _np, _nf, _vocab, _layers;
    private readonly float _eps;
    private readonly NormActivation _act;
    private readonly float _tauQkv, _tauProj, _tauFfn, _multQkv, _multProj, _multFfn;
    private readonly RotaryEmbedding _rotary;
    private readonly CachedAttention _attention;
    private readonly SmallBatchProduct _small;
    private readonly float[] _x, _a, _pre, _s, _q, _k, _v, _att, _z, _xhat, _logits;
    private readonly int[] _slots, _positions, _logitRows, _compactPositions;
    private readonly int[] _segStart, _segLength, _segSlot, _segPosition;
    private readonly RowJob _lnJob, _normJob, _kvJob, _qRotaryJob, _finalJob;
    private int[] _qPositions;
    private int _rows, _logitCount, _layer;
    private int _jWidth, _jSegments;
    private float _jTau, _jMult;

    /// <summary>The model.</summary>
    public TokenFormerModel Model => _model;
    /// <summary>The key/value cache.</summary>
    public KvCache Cache { get; }
    /// <summary>Most rows one <see cref="Forward"/> takes.</summary>
    public int MaxRows { get; }
    /// <summary>Most logit rows one <see cref="Forward"/> returns (= the cache's MaxBatch).</summary>
    public int MaxLogitRows { get; }

    /// <summary>
    /// Allocates a cache for <paramref name="maxBatch"/> sequences × <paramref name="maxLength"/> positions and row
    /// buffers for <paramref name="maxRows"/> rows per call (at least <paramref name="maxBatch"/>).
    /// </summary>
    public IncrementalRunner(TokenFormerModel model, int maxBatch, int maxLength, int maxRows = 512)
    {
        TokenFormerConfig cfg = model.Config;
        if (maxBatch < 1) throw new ArgumentException($"maxBatch must be at least 1 (got {maxBatch})");
        if (maxLength < 1 || maxLength > cfg.MaxPositionEmbeddings)
            throw new ArgumentException($"maxLength must be in [1, max_position_embeddings {cfg.MaxPositionEmbeddings}] (got {maxLength})");
        _model = model;
        _d = cfg.HiddenSize; _heads = cfg.NumAttentionHeads; _layers = cfg.NumLayers;
        _nq = cfg.QkvSlotNum; _np = cfg.ProjSlotNum; _nf = cfg.FfnSlotNum; _vocab = model.Vocab;
        _eps = (float)cfg.LayerNormEpsilon;
        _act = cfg.Activation;
        _tauQkv = (float)cfg.ScaleQkv; _tauProj = (float)cfg.ScaleProj; _tauFfn = (float)cfg.ScaleFfn;
        _multQkv = cfg.PattentionScaleQkv is double a ? (float)(a * a) : _nq;
        _multProj = cfg.PattentionScaleProj is double b ? (float)(b * b) : _np;
        _multFfn = cfg.PattentionScaleFfn is double c ? (float)(c * c) : _nf;
        MaxRows = Math.Max(maxBatch, Math.Min(maxRows, maxBatch * maxLength));
        MaxLogitRows = maxBatch;
        Cache = new KvCache(_layers, maxBatch, maxLength, _d);
        _rotary = new RotaryEmbedding(cfg.HeadDim, cfg.RotaryDim, cfg.RotaryEmbBase, maxLength);
        _attention = new CachedAttention(_heads, cfg.HeadDim);
        _small = new SmallBatchProduct(Math.Max(_vocab, Math.Max(_d, Math.Max(3 * _nq, Math.Max(_np, _nf)))));
        int r = MaxRows, d = _d, wide = Math.Max(3 * _nq, Math.Max(_np, _nf));
        _x = new float[r * d]; _a = new float[r * d]; _q = new float[r * d]; _k = new float[r * d]; _v = new float[r * d]; _att = new float[r * d];
        _pre = new float[r * wide]; _s = new float[r * wide];
        _z = new float[maxBatch * d]; _xhat = new float[maxBatch * d];
        _logits = new float[(long)maxBatch * _vocab <= Array.MaxLength ? maxBatch * _vocab : throw new ArgumentException($"logits [{maxBatch}, {_vocab}] are too large")];
        _slots = new int[r]; _positions = new int[r]; _logitRows = new int[maxBatch]; _compactPositions = new int[maxBatch];
        _qPositions = _positions;
        _segStart = new int[r]; _segLength = new int[r]; _segSlot = new int[r]; _segPosition = new int[r];

        _lnJob = new RowJob((s, e) =>
        {
            for (int i = s; i < e; i++) LayerNormKernels.ForwardNonParam(_x.AsSpan(i * _d, _d), _a.AsSpan(i * _d, _d), _eps);
        });
        _normJob = new RowJob((s, e) =>
        {
            int w = _jWidth, n1 = w / _jSegments;
            for (int i = s; i < e; i++)
                for (int g = 0; g < _jSegments; g++)
                    PattentionNormalizer.Forward(_act, _jTau, _jMult, _pre.AsSpan(i * w + g * n1, n1), _s.AsSpan(i * w + g * n1, n1));
        });
        _kvJob = new RowJob((s, e) =>
        {
            // rotate k, then append k and v to the cache at (slot, position)
            float[] keys = Cache.Keys(_layer), values = Cache.Values(_layer);
            for (int i = s; i < e; i++)
            {
                _rotary.Apply(_k.AsSpan(i * _d, _d), _heads, _positions[i], inverse: false);
                int off = Cache.Offset(_slots[i], _positions[i]);
                _k.AsSpan(i * _d, _d).CopyTo(keys.AsSpan(off, _d));
                _v.AsSpan(i * _d, _d).CopyTo(values.AsSpan(off, _d));
            }
        });
        _qRotaryJob = new RowJob((s, e) =>
        {
            for (int i = s; i < e; i++) _rotary.Apply(_q.AsSpan(i * _d, _d), _heads, _qPositions[i], inverse: false);
        });
        _finalJob = new RowJob((s, e) =>
        {
            ReadOnlySpan<float> p = _model.Parameters;
            var w = p.Slice(_model.Layout.FinalNormWeight, _d);
            var bias = p.Slice(_model.Layout.FinalNormBias, _d);
            for (int i = s; i < e; i++)
                LayerNormKernels.ForwardAffine(_x.AsSpan(i * _d, _d), w, bias, _xhat.AsSpan(i * _d, _d), _z.AsSpan(i * _d, _d), _eps);
        });
    }

    /// <summary>Logits [V] of the <paramref name="index"/>-th logit row of the last <see cref="Forward"/>.</summary>
    public Span<float> Logits(int index)
    {
        if ((uint)index >= (uint)_logitCount) throw new ArgumentOutOfRangeException(nameof(index), $"the last forward computed {_logitCount} logit rows");
        return _logits.AsSpan(index * _vocab, _vocab);
    }

    /// <summary>
    /// Runs rows r = 0…n−1 (token <paramref name="tokens"/>[r] of slot <paramref name="slots"/>[r] at position
    /// <paramref name="positions"/>[r]) through the model, writing their keys and values into the cache, and computes
    /// the logits of the rows listed in <paramref name="logitRows"/> (at most MaxBatch; read them with
    /// <see cref="Logits"/> in that order; strictly increasing). In the last layer only the logit rows go on past
    /// the key/value products: the other rows' keys and values are all the cache needs.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions, ReadOnlySpan<int> logitRows)
    {
        int n = tokens.Length, d = _d;
        if (n == 0 || n > MaxRows) throw new ArgumentException($"rows: expected 1 to {MaxRows}, got {n}");
        if (slots.Length != n || positions.Length != n) throw new ArgumentException($"slots ({slots.Length}) and positions ({positions.Length}) must match the {n} tokens");
        if (logitRows.Length > MaxLogitRows) throw new ArgumentException($"at most {MaxLogitRows} logit rows per call (got {logitRows.Length})");
        int segments = 0;
        for (int i = 0; i < n; i++)
        {
            if ((uint)tokens[i] >= (uint)_vocab) throw new ArgumentException($"token id {tokens[i]} at row {i} is outside the vocabulary [0, {_vocab})");
            if ((uint)slots[i] >= (uint)Cache.MaxBatch) throw new ArgumentException($"slot {slots[i]} at row {i} is outside [0, {Cache.MaxBatch})");
            if ((uint)positions[i] >= (uint)Cache.MaxLength) throw new ArgumentException($"position {positions[i]} at row {i} is outside [0, {Cache.MaxLength})");
            if (i > 0 && slots[i] == slots[i - 1] && positions[i] == positions[i - 1] + 1) { _segLength[segments - 1]++; continue; }
            _segStart[segments] = i; _segLength[segments] = 1; _segSlot[segments] = slots[i]; _segPosition[segments] = positions[i];
            segments++;
        }
        for (int i = 0; i < logitRows.Length; i++)
        {
            if ((uint)logitRows[i] >= (uint)n) throw new ArgumentException($"logit row {logitRows[i]} is outside the {n} rows");
            if (i > 0 && logitRows[i] <= logitRows[i - 1]) throw new ArgumentException("logit rows must be strictly increasing");
        }
        slots.CopyTo(_slots);
        positions.CopyTo(_positions);
        logitRows.CopyTo(_logitRows);
        _rows = n;
        _logitCount = logitRows.Length;

        float[] p = _model.Parameters;
        ParameterLayout lay = _model.Layout;
        for (int i = 0; i < n; i++) p.AsSpan(lay.Embedding + tokens[i] * d, d).CopyTo(_x.AsSpan(i * d, d));
        int w = 3 * _nq, m = _logitCount;
        _qPositions = _positions;
        for (int l = 0; l < _layers; l++)
        {
            var o = lay.Layers[l];
            _layer = l;
            // attention block: a = LN(x); [sq|sk|sv] = Θ(a·[Kq|Kk|Kv]ᵀ); q, k, v = s·V; x += Θ(att·Kpᵀ)·Vp
            RowRanges.Run(n, _lnJob);
            Product(GemmForm.NT, n, d, w, _a, 0, d, o.QueryKey, _pre, 0, w, false);
            RunNorm(w, 3, _tauQkv, _multQkv);
            Product(GemmForm.NN, n, _nq, d, _s, _nq, w, o.KeyValue, _k, 0, d, false);
            Product(GemmForm.NN, n, _nq, d, _s, 2 * _nq, w, o.ValueValue, _v, 0, d, false);
            RowRanges.Run(n, _kvJob);
            if (l == _layers - 1 && m < n)
            {
                // last layer: past this point only the logit rows matter; move them to the front
                if (m == 0) return;
                for (int i = 0; i < m; i++)
                {
                    int r = _logitRows[i];
                    _compactPositions[i] = _positions[r];
                    _segStart[i] = i; _segLength[i] = 1; _segSlot[i] = _slots[r]; _segPosition[i] = _positions[r];
                    if (r == i) continue;
                    _s.AsSpan(r * w, w).CopyTo(_s.AsSpan(i * w, w));
                    _x.AsSpan(r * d, d).CopyTo(_x.AsSpan(i * d, d));
                }
                _qPositions = _compactPositions;
                segments = m;
                n = m;
                _rows = m;
            }
            Product(GemmForm.NN, n, _nq, d, _s, 0, w, o.QueryValue, _q, 0, d, false);
            RowRanges.Run(n, _qRotaryJob);
            _attention.Run(_q, _att, Cache, l, segments, _segStart, _segLength, _segSlot, _segPosition);
            Product(GemmForm.NT, n, d, _np, _att, 0, d, o.ProjKey, _pre, 0, _np, false);
            RunNorm(_np, 1, _tauProj, _multProj);
            Product(GemmForm.NN, n, _np, d, _s, 0, _np, o.ProjValue, _x, 0, d, true);
            // FFN block: x += Θ(LN(x)·Kfᵀ)·Vf
            RowRanges.Run(n, _lnJob);
            Product(GemmForm.NT, n, d, _nf, _a, 0, d, o.FfnKey, _pre, 0, _nf, false);
            RunNorm(_nf, 1, _tauFfn, _multFfn);
            Product(GemmForm.NN, n, _nf, d, _s, 0, _nf, o.FfnValue, _x, 0, d, true);
        }
        // after the last layer, rows 0…m−1 of x are the logit rows (all rows when m = n, which needs them in order)
        if (m == 0) return;
        RowRanges.Run(m, _finalJob);
        Product(GemmForm.NT, m, d, _vocab, _z, 0, d, lay.Embedding, _logits, 0, _vocab, false);
    }

    /// <summary>
    /// C[m, n] (+)= A[m, k]·op(B) with B the parameter tensor at <paramref name="bOffset"/> ([n, k] for NT, [k, n] for NN):
    /// 2–8 rows go through <see cref="SmallBatchProduct"/> (B read once), others through Core's GEMM (GEMV for one row).
    /// </summary>
    private void Product(GemmForm form, int m, int k, int n, float[] a, int aOffset, int lda, int bOffset,
        float[] c, int cOffset, int ldc, bool accumulate)
    {
        float[] p = _model.Parameters;
        if (m >= 2 && m <= SmallBatchProduct.MaxRows && SmallBatchProduct.IsSupported)
            _small.Run(form == GemmForm.NT, m, k, n, a, aOffset, lda, p, bOffset, c, cOffset, ldc, accumulate);
        else
            Gemm.Compute(form, m, k, n, a.AsSpan(aOffset), lda, p.AsSpan(bOffset, k * n), form == GemmForm.NT ? k : n,
                c.AsSpan(cOffset), ldc, 1f, accumulate);
    }

    private void RunNorm(int width, int segments, float tau, float mult)
    {
        _jWidth = width; _jSegments = segments; _jTau = tau; _jMult = mult;
        RowRanges.Run(_rows, _normJob);
    }
}
