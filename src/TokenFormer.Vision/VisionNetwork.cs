using TokenFormer.Core.Kernels;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Vision;

/// <summary>
/// Forward and backward of a <see cref="VisionModel"/> over batches of B images (docs/vision.md, The model), with
/// every buffer allocated once. Rows are B images × T patches (row r = patch r mod T of image ⌊r/T⌋):
/// <code>
///   p[r]   = patch r as C·P² pixels (channel, row, column order), pixels already normalised
///   x[r]   = p[r]·W_pᵀ + b_p + pos[r mod T]       linear patch embedding + learned position table
///   x      = block_l(x)  for l = 0 … L−1           TokenFormerBlock, SequenceAttentionContext(causal: false)
///   m[b]   = mean over t of x[b·T + t]             mean pooling
///   z[b]   = LN(m[b])·w + β                        affine LayerNorm (the core's "final norm")
///   logits = z·Eᵀ + b_h                            E: [classes, d] (the core's "embedding" slot), b_h: head.bias
/// </code>
/// The blocks are the language model's single definition (src/TokenFormer.Model/Architecture); what is new here is the
/// patch embedding, the position table, the pooling and the biased head, each with its hand-written backward.
/// Not thread-safe.
/// </summary>
public sealed class VisionNetwork
{
    private readonly VisionModel _model;
    private readonly TokenFormerBlock[] _blocks;
    private readonly BlockActivations[] _acts;
    private readonly BackwardScratch _scratch;
    private readonly SequenceAttentionContext _context;
    private readonly float[] _patches, _x, _pooled, _xhat, _rstd, _z, _dz, _tmp, _dm;
    private readonly ParameterTensor _head, _normW, _normB;
    private readonly float _eps;

    /// <summary>Images per batch B.</summary>
    public int Batch { get; }
    /// <summary>Patches per image T.</summary>
    public int Tokens { get; }
    /// <summary>Logits of the last forward [B, classes].</summary>
    public float[] Logits { get; }
    /// <summary>∂ℒ/∂logits of the last loss [B, classes].</summary>
    public float[] DLogits { get; }
    /// <summary>The model.</summary>
    public VisionModel Model => _model;

    /// <summary>Buffers for batches of <paramref name="batch"/> images of <paramref name="model"/>.</summary>
    public VisionNetwork(VisionModel model, int batch)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "must be positive");
        _model = model;
        VisionConfig c = model.Config;
        TokenFormerConfig cfg = model.Core.Config;
        Batch = batch; Tokens = c.Patches;
        int rows = batch * Tokens, d = c.Hidden, k = c.NumClasses;
        var weights = new Float32Weights(model.Core);
        _blocks = Enumerable.Range(0, cfg.NumLayers).Select(l => new TokenFormerBlock(cfg, model.Core.Layout, weights, l)).ToArray();
        _acts = Enumerable.Range(0, cfg.NumLayers).Select(_ => new BlockActivations(cfg, rows, shareScores: false)).ToArray();
        _scratch = new BackwardScratch(cfg, rows);
        _context = new SequenceAttentionContext(cfg, batch, Tokens, causal: false);
        _patches = new float[rows * c.PatchDim];
        _x = new float[rows * d];
        _pooled = new float[batch * d]; _xhat = new float[batch * d]; _rstd = new float[batch]; _z = new float[batch * d];
        _dz = new float[batch * d]; _tmp = new float[d]; _dm = new float[batch * d];
        Logits = new float[batch * k]; DLogits = new float[batch * k];
        _head = model.Core.Layout.Tensor(ParameterRole.Embedding);
        _normW = model.Core.Layout.Tensor(ParameterRole.FinalNormWeight);
        _normB = model.Core.Layout.Tensor(ParameterRole.FinalNormBias);
        _eps = (float)cfg.LayerNormEpsilon;
    }

    /// <summary>
    /// Cuts normalised images [B, C, S, S] into patch rows [B·T, C·P²] (patch t = row-major over the patch grid, each
    /// patch's floats in channel, row, column order, as a PyTorch Conv2d weight [d, C, P, P] flattens).
    /// </summary>
    public static void Patchify(VisionConfig c, ReadOnlySpan<float> images, int batch, Span<float> patches)
    {
        int s = c.ImageSize, p = c.PatchSize, g = c.PatchesPerSide, ch = c.Channels, pd = c.PatchDim;
        for (int b = 0; b < batch; b++)
            for (int py = 0; py < g; py++)
                for (int px = 0; px < g; px++)
                {
                    Span<float> row = patches.Slice(((b * g + py) * g + px) * pd, pd);
                    int at = 0;
                    for (int cc = 0; cc < ch; cc++)
                        for (int i = 0; i < p; i++)
                        {
                            images.Slice(((b * ch + cc) * s + py * p + i) * s + px * p, p).CopyTo(row.Slice(at, p));
                            at += p;
                        }
                }
    }

    /// <summary>Forward of B normalised images [B, C, S, S] into <see cref="Logits"/>.</summary>
    public void Forward(ReadOnlySpan<float> images)
    {
        VisionConfig c = _model.Config;
        int rows = Batch * Tokens, d = c.Hidden, k = c.NumClasses, T = Tokens;
        if (images.Length != Batch * c.Channels * c.ImageSize * c.ImageSize)
            throw new ArgumentException($"expected {Batch} images of {c.Channels}×{c.ImageSize}×{c.ImageSize} floats, got {images.Length} floats");
        Patchify(c, images, Batch, _patches);
        // patch embedding: x = p·W_pᵀ + b_p + pos
        float[] stem = _model.Stem;
        Gemm.NT(_patches, stem.AsSpan(_model.PatchWeight.Offset, _model.PatchWeight.Length), _x, rows, c.PatchDim, d);
        ReadOnlySpan<float> bias = stem.AsSpan(_model.PatchBias.Offset, d), pos = stem.AsSpan(_model.Positions.Offset, T * d);
        for (int r = 0; r < rows; r++)
        {
            Span<float> xr = _x.AsSpan(r * d, d);
            ReadOnlySpan<float> pr = pos.Slice(r % T * d, d);
            for (int i = 0; i < d; i++) xr[i] += bias[i] + pr[i];
        }
        foreach (TokenFormerBlock block in _blocks) block.Forward(rows, _x, _acts[block.Layer], _context);
        // mean pooling
        float inv = 1f / T;
        for (int b = 0; b < Batch; b++)
        {
            Span<float> m = _pooled.AsSpan(b * d, d);
            m.Clear();
            for (int t = 0; t < T; t++)
            {
                ReadOnlySpan<float> xr = _x.AsSpan((b * T + t) * d, d);
                for (int i = 0; i < d; i++) m[i] += xr[i];
            }
            for (int i = 0; i < d; i++) m[i] *= inv;
        }
        // pooled LayerNorm and head
        float[] core = _model.Core.Parameters;
        ReadOnlySpan<float> w = core.AsSpan(_normW.Offset, d), beta = core.AsSpan(_normB.Offset, d);
        for (int b = 0; b < Batch; b++)
            _rstd[b] = LayerNormKernels.ForwardAffine(_pooled.AsSpan(b * d, d), w, beta, _xhat.AsSpan(b * d, d), _z.AsSpan(b * d, d), _eps);
        Gemm.NT(_z, core.AsSpan(_head.Offset, _head.Length), Logits, Batch, d, k);
        ReadOnlySpan<float> hb = stem.AsSpan(_model.HeadBias.Offset, k);
        for (int b = 0; b < Batch; b++)
        {
            Span<float> l = Logits.AsSpan(b * k, k);
            for (int j = 0; j < k; j++) l[j] += hb[j];
        }
    }

    /// <summary>
    /// Mean cross-entropy of <see cref="Logits"/> against <paramref name="labels"/> over the rows whose
    /// <paramref name="mask"/> is 1 (empty: all), and its gradient into <see cref="DLogits"/>.
    /// </summary>
    public float Loss(ReadOnlySpan<int> labels, ReadOnlySpan<float> mask = default) =>
        CrossEntropy.ForwardBackward(Logits, Batch, _model.Config.NumClasses, labels, mask, default, DLogits);

    /// <summary>
    /// Forward, loss and backward of one batch; parameter gradients are added into <paramref name="coreGrad"/> (laid out
    /// like <c>Core.Parameters</c>) and <paramref name="stemGrad"/> (like <c>Stem</c>). Returns the mean loss.
    /// </summary>
    public float ForwardBackward(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, float[] coreGrad, float[] stemGrad, ReadOnlySpan<float> mask = default)
    {
        Forward(images);
        float loss = Loss(labels, mask);
        Backward(DLogits, coreGrad, stemGrad);
        return loss;
    }

    /// <summary>Backward of the last <see cref="Forward"/> from <paramref name="dLogits"/> [B, classes].</summary>
    public void Backward(float[] dLogits, float[] coreGrad, float[] stemGrad)
    {
        VisionConfig c = _model.Config;
        int rows = Batch * Tokens, d = c.Hidden, k = c.NumClasses, T = Tokens;
        float[] core = _model.Core.Parameters;
        // head: logits = z·Eᵀ + b_h
        Gemm.TN(dLogits, _z, coreGrad.AsSpan(_head.Offset, _head.Length), k, Batch, d, 1f, accumulate: true);
        Span<float> dhb = stemGrad.AsSpan(_model.HeadBias.Offset, k);
        for (int b = 0; b < Batch; b++)
        {
            ReadOnlySpan<float> g = dLogits.AsSpan(b * k, k);
            for (int j = 0; j < k; j++) dhb[j] += g[j];
        }
        Gemm.NN(dLogits, core.AsSpan(_head.Offset, _head.Length), _dz, Batch, k, d);
        // pooled LayerNorm: ∂w += ∂z ⊙ x̂, ∂β += ∂z, ∂m = LN′(∂z ⊙ w)
        ReadOnlySpan<float> w = core.AsSpan(_normW.Offset, d);
        Span<float> dw = coreGrad.AsSpan(_normW.Offset, d), dbeta = coreGrad.AsSpan(_normB.Offset, d);
        for (int b = 0; b < Batch; b++)
        {
            ReadOnlySpan<float> dz = _dz.AsSpan(b * d, d), xh = _xhat.AsSpan(b * d, d);
            for (int i = 0; i < d; i++) { dw[i] += dz[i] * xh[i]; dbeta[i] += dz[i]; _tmp[i] = dz[i] * w[i]; }
            LayerNormKernels.BackwardNonParam(xh, _tmp, _rstd[b], _dm.AsSpan(b * d, d), accumulate: false);
        }
        // mean pooling: every patch row of image b gets ∂m[b]/T
        float inv = 1f / T;
        float[] dx = _scratch.Dx;
        for (int b = 0; b < Batch; b++)
        {
            ReadOnlySpan<float> dm = _dm.AsSpan(b * d, d);
            for (int t = 0; t < T; t++)
            {
                Span<float> row = dx.AsSpan((b * T + t) * d, d);
                for (int i = 0; i < d; i++) row[i] = dm[i] * inv;
            }
        }
        for (int l = _blocks.Length - 1; l >= 0; l--) _blocks[l].Backward(rows, _acts[l], _context, _scratch, coreGrad);
        // patch embedding and positions
        Span<float> dpos = stemGrad.AsSpan(_model.Positions.Offset, T * d), dbias = stemGrad.AsSpan(_model.PatchBias.Offset, d);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> g = dx.AsSpan(r * d, d);
            Span<float> pr = dpos.Slice(r % T * d, d);
            for (int i = 0; i < d; i++) { pr[i] += g[i]; dbias[i] += g[i]; }
        }
        Gemm.TN(dx, _patches, stemGrad.AsSpan(_model.PatchWeight.Offset, _model.PatchWeight.Length), d, rows, c.PatchDim, 1f, accumulate: true);
    }
}
