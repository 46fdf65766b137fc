using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Architecture;

/// <summary>
/// The whole TokenFormer language model, written once for every path that runs it (training, scoring, KV-cached
/// decoding):
/// <code>
///   x = E[tokens]                     tied embedding E: [V, d]
///   x = block_l(x)  for l = 0 … L−1   see <see cref="TokenFormerBlock"/>
///   z = LN(x)·w + b                   final LayerNorm with affine parameters
///   logits = z·Eᵀ                     [rows, V]
/// </code>
/// What differs between paths is passed in: the attention context (<see cref="IAttentionContext"/>), the activation
/// buffers (one <see cref="BlockActivations"/> per layer for training, one shared set for decoding) and where the
/// weights come from (<see cref="IWeightSource"/>). Not thread-safe: each runner builds its own stack.
/// </summary>
public sealed class TokenFormerStack
{
    private readonly int _d, _vocab;
    private readonly ReadOnlyMemory<float> _normWeight, _normBias;
    private readonly ParameterTensor _embeddingTensor, _normWeightTensor, _normBiasTensor;
    private readonly FinalNormJob _finalForward, _finalBackward;

    /// <summary>The model.</summary>
    public TokenFormerModel Model { get; }
    /// <summary>The layers.</summary>
    public IReadOnlyList<TokenFormerBlock> Blocks { get; }

    /// <summary>
    /// False when training holds the tied embedding fixed (<c>train --freeze-old</c>, adapter fine-tuning): the backward
    /// then skips its gradient (the head's dLogitsᵀ·z product and the lookup's rows) and leaves it as it is.
    /// </summary>
    public bool EmbeddingTrainable { get; set; } = true;
    /// <summary>The tied embedding E [V, d].</summary>
    public IWeightMatrix Embedding { get; }

    /// <summary>The stack of <paramref name="model"/>, weights read from <paramref name="weights"/> (default: its float32 arena).</summary>
    public TokenFormerStack(TokenFormerModel model, IWeightSource? weights = null)
    {
        Model = model;
        weights ??= (IWeightSource?)model.ReducedWeights ?? new Float32Weights(model);
        TokenFormerConfig cfg = model.Config;
        ParameterLayout layout = model.Layout;
        _d = cfg.HiddenSize; _vocab = model.Vocab;
        Blocks = Enumerable.Range(0, cfg.NumLayers).Select(l => new TokenFormerBlock(cfg, layout, weights, l)).ToArray();
        _embeddingTensor = layout.Tensor(ParameterRole.Embedding);
        _normWeightTensor = layout.Tensor(ParameterRole.FinalNormWeight);
        _normBiasTensor = layout.Tensor(ParameterRole.FinalNormBias);
        Embedding = weights.Matrix(_embeddingTensor);
        _normWeight = weights.Vector(_normWeightTensor);
        _normBias = weights.Vector(_normBiasTensor);
        _finalForward = new FinalNormJob(this, backward: false, (float)cfg.LayerNormEpsilon);
        _finalBackward = new FinalNormJob(this, backward: true, (float)cfg.LayerNormEpsilon);
    }

    /// <summary>
    /// Forward of <c>tokens.Length</c> rows: embedding into <paramref name="x"/> [rows, d], every block with
    /// <paramref name="activations"/>[l] and <paramref name="attention"/>, then the final LayerNorm (x̂, rstd and z kept in
    /// <paramref name="final"/>) and logits = z·Eᵀ [rows, V] (<see cref="Head"/>; skipped when <paramref name="logits"/> is
    /// null: the caller takes the head in vocabulary slices). Returns the rows that reached the output (fewer when the
    /// context dropped rows; 0 skips the output). Token ids must already be checked against the vocabulary.
    /// </summary>
    public int Forward(ReadOnlySpan<int> tokens, float[] x, IReadOnlyList<BlockActivations> activations,
        IAttentionContext attention, FinalActivations final, float[]? logits)
    {
        int rows = tokens.Length;
        for (int i = 0; i < rows; i++) Embedding.ReadRow(tokens[i], x.AsSpan(i * _d, _d));
        for (int l = 0; l < Blocks.Count && rows > 0; l++)
            rows = Blocks[l].Forward(rows, x, activations[l], attention);
        if (rows == 0) return 0;
        _finalForward.Run(rows, x, final);
        if (logits != null) Head(rows, final, Embedding, logits);
        return rows;
    }

    /// <summary>
    /// The tied head over <paramref name="head"/> = E or a slice of its rows (<see cref="IWeightMatrix.RowRange"/>):
    /// logits[rows, head.Rows] = z·headᵀ, z the first <paramref name="rows"/> rows of <paramref name="final"/>.Z.
    /// </summary>
    public void Head(int rows, FinalActivations final, IWeightMatrix head, float[] logits) =>
        head.MultiplyTransposed(rows, final.Z, 0, _d, logits, 0, head.Rows, accumulate: false);

    /// <summary>
    /// Backward of the last <see cref="Forward"/> over all of its rows, from dLogits = ∂ℒ/∂logits [rows, V]; adds the
    /// parameter gradients into <paramref name="grad"/> (laid out like the parameters). Needs float32 weights.
    /// <paramref name="layerDone"/> (optional) is called with l once block l's gradients are final, and first with
    /// the layer count once the final norm's are (the tied embedding's are final only at the end).
    /// </summary>
    public void Backward(ReadOnlySpan<int> tokens, float[] dLogits, IReadOnlyList<BlockActivations> activations,
        SequenceAttentionContext attention, FinalActivations final, BackwardScratch s, float[] grad, Action<int>? layerDone = null)
    {
        int rows = tokens.Length, d = _d;
        // tied head: logits = z·Eᵀ → ∂E += dLogitsᵀ·z, ∂z = dLogits·E
        if (EmbeddingTrainable)
            Gemm.TN(dLogits, final.Z, grad.AsSpan(_embeddingTensor.Offset, _vocab * d), _vocab, rows, d, 1f, accumulate: true);
        Embedding.Multiply(rows, dLogits, 0, _vocab, s.DTmp, 0, d, accumulate: false);
        // final LayerNorm: parameter gradients serially (a fixed order), ∂x in parallel rows
        Span<float> dw = grad.AsSpan(_normWeightTensor.Offset, d), db = grad.AsSpan(_normBiasTensor.Offset, d);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> dz = s.DTmp.AsSpan(r * d, d), xh = final.Xhat.AsSpan(r * d, d);
            for (int i = 0; i < d; i++) { dw[i] += dz[i] * xh[i]; db[i] += dz[i]; }
        }
        _finalBackward.Run(rows, s.DTmp, final, s);
        layerDone?.Invoke(Blocks.Count);
        for (int l = Blocks.Count - 1; l >= 0; l--)
        {
            Blocks[l].Backward(rows, activations[l], attention, s, grad);
            layerDone?.Invoke(l);
        }
        // embedding rows
        if (!EmbeddingTrainable) return;
        Span<float> dE = grad.AsSpan(_embeddingTensor.Offset, _vocab * d);
        for (int i = 0; i < rows; i++)
        {
            Span<float> row = dE.Slice(tokens[i] * d, d);
            ReadOnlySpan<float> g = s.Dx.AsSpan(i * d, d);
            for (int j = 0; j < d; j++) row[j] += g[j];
        }
    }

    /// <summary>Final affine LayerNorm rows: forward z = x̂ ⊙ w + b; backward ∂x = LN′(∂z ⊙ w) (∂z ⊙ w staged in DQ).</summary>
    private sealed class FinalNormJob(TokenFormerStack stack, bool backward, float eps) : IRowWork
    {
        private float[] _x = null!;
        private FinalActivations _f = null!;
        private BackwardScratch? _s;

        public void Run(int rows, float[] x, FinalActivations f, BackwardScratch? s = null)
        {
            _x = x; _f = f; _s = s;
            RowRanges.Run(rows, this);
            _x = null!; _f = null!; _s = null;
        }

        public void Rows(int start, int end)
        {
            int d = stack._d;
            ReadOnlySpan<float> w = stack._normWeight.Span;
            if (!backward)
            {
                ReadOnlySpan<float> b = stack._normBias.Span;
                for (int r = start; r < end; r++)
                    _f.Rstd[r] = LayerNormKernels.ForwardAffine(_x.AsSpan(r * d, d), w, b, _f.Xhat.AsSpan(r * d, d), _f.Z.AsSpan(r * d, d), eps);
                return;
            }
            BackwardScratch s = _s!;
            for (int r = start; r < end; r++)
            {
                Span<float> tmp = s.DQ.AsSpan(r * d, d);
                ReadOnlySpan<float> dz = _x.AsSpan(r * d, d);
                for (int i = 0; i < d; i++) tmp[i] = dz[i] * w[i];
                LayerNormKernels.BackwardNonParam(_f.Xhat.AsSpan(r * d, d), tmp, _f.Rstd[r], s.Dx.AsSpan(r * d, d), false);
            }
        }
    }
}
