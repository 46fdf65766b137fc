using TokenFormer.Core.Kernels;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Growth;

namespace TokenFormer.Model;

/// <summary>
/// Forward and hand-written backward of a <see cref="TokenFormerModel"/> for batches of B sequences of T tokens: the
/// model's one definition (<see cref="TokenFormerStack"/>) run with causal <see cref="SequenceAttentionContext"/>
/// attention, every activation buffer pre-allocated for (B, T) so a steady-state step allocates nothing, and the
/// parameter gradients in one arena (<see cref="Gradients"/>, same layout as the parameters), plus the cross-entropy
/// loss. Saved per layer (N = B·T): a₁, a₂ and their rstd; each Pattention's pre-activations, S and statistics; rotated
/// q, k and v; the attention output and its log-sum-exp [B,H,T]. No T×T matrix is saved.
/// </summary>
public sealed class ModelRunner
{
    private readonly TokenFormerStack _stack;
    private readonly SequenceAttentionContext _attention;
    private readonly BlockActivations[] _layers;
    private readonly FinalActivations _final;
    private readonly BackwardScratch? _scratch;
    private readonly int _vocab;
    private readonly float[] _x, _logits, _rowLoss;
    private readonly int[] _tokens, _targets;
    private readonly float[] _mask;

    /// <summary>Sequences per batch.</summary>
    public int Batch { get; }
    /// <summary>Tokens per sequence.</summary>
    public int Sequence { get; }
    /// <summary>Rows N = B·T.</summary>
    public int Rows => Batch * Sequence;
    /// <summary>The model.</summary>
    public TokenFormerModel Model { get; }
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
        TokenFormerConfig cfg = model.Config;
        if (batch <= 0 || sequence <= 0) throw new ArgumentException($"batch ({batch}) and sequence ({sequence}) must be positive");
        if (sequence > cfg.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence length {sequence} exceeds max_position_embeddings {cfg.MaxPositionEmbeddings}");
        if (training && model.ReducedWeights != null)
            throw new NotSupportedException(
                $"the model is stored in {Architecture.WeightFormats.Name(model.ReducedWeights.Format)} (config.json weight_format); training needs float32 weights: " +
                "train the float32 model and quantize it afterwards (tokenformer quantize)");
        Model = model;
        Batch = batch;
        Sequence = sequence;
        _vocab = model.Vocab;
        int n = Rows, d = cfg.HiddenSize;
        if ((long)n * _vocab > Array.MaxLength) throw new ArgumentException($"logits [{n}, {_vocab}] are too large for one array");
        _stack = new TokenFormerStack(model);
        _attention = new SequenceAttentionContext(cfg, batch, sequence, causal: true);
        _layers = new BlockActivations[cfg.NumLayers];
        for (int l = 0; l < _layers.Length; l++) _layers[l] = new BlockActivations(cfg, n, shareScores: false);
        _final = new FinalActivations(n, d);
        _x = new float[n * d];
        _logits = new float[n * _vocab];
        _rowLoss = new float[n];
        _tokens = new int[n]; _targets = new int[n]; _mask = new float[n];
        if (training)
        {
            Gradients = new float[model.Parameters.Length];
            _scratch = new BackwardScratch(cfg, n);
        }
    }

    /// <summary>
    /// Forward over <paramref name="tokens"/> [B·T] (row-major [B, T]). With <paramref name="targets"/> [B·T] it also
    /// computes the loss sum(mask·ce)/sum(mask) (mask: [B·T], default all ones) and returns it; otherwise returns NaN.
    /// With <paramref name="computeGradient"/> the logits buffer is replaced by ∂ℒ/∂logits, ready for <see cref="Backward"/>.
    /// </summary>
    public float Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets = default, ReadOnlySpan<float> mask = default, bool computeGradient = false)
    {
        int n = Rows;
        if (tokens.Length != n) throw new ArgumentException($"tokens: expected {n} ids (batch {Batch} × sequence {Sequence}), got {tokens.Length}");
        for (int i = 0; i < n; i++)
            if ((uint)tokens[i] >= (uint)_vocab)
                throw new ArgumentException($"token id {tokens[i]} at position {i} is outside the vocabulary [0, {_vocab})");
        tokens.CopyTo(_tokens);
        _stack.Forward(_tokens, _x, _layers, _attention, _final, _logits);
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
    /// Leaves out of every following <see cref="Backward"/> the gradients training holds fixed anyway: parameter tokens
    /// 0 … n_old − 1 of each Pattention (<paramref name="oldTokens"/>, the counts before the newest growth step) and the
    /// tied embedding. Their entries of <see cref="Gradients"/> stay zero; the other gradients are the same as without
    /// (the products skipped are those whose outputs are the frozen rows). <c>train --freeze-old</c> and adapter
    /// fine-tuning use it: the backward no longer costs what full fine-tuning costs.
    /// </summary>
    public void SkipFrozenGradients(TokenCounts oldTokens)
    {
        if (Gradients == null) throw new InvalidOperationException("this runner was built without gradients (training: false)");
        foreach (TokenFormerBlock block in _stack.Blocks)
        {
            block.Qkv.FirstTrainableToken = Math.Min(oldTokens.Qkv, block.Qkv.Tokens);
            block.Projection.FirstTrainableToken = Math.Min(oldTokens.Proj, block.Projection.Tokens);
            block.Ffn.FirstTrainableToken = Math.Min(oldTokens.Ffn, block.Ffn.Tokens);
        }
        _stack.EmbeddingTrainable = false;
    }

    /// <summary>
    /// Backward of the last <see cref="Forward"/> (which must have been called with targets and computeGradient).
    /// Adds ∂ℒ/∂θ into <see cref="Gradients"/>; clears them first unless <paramref name="accumulate"/>.
    /// <paramref name="layerDone"/> (optional) is called with l after block l's parameter gradients are final (and with
    /// the layer count after the head's, i.e. the final norm's): data-parallel training starts reducing them there.
    /// </summary>
    public void Backward(bool accumulate = false, Action<int>? layerDone = null)
    {
        float[] grad = Gradients ?? throw new InvalidOperationException("this runner was built without gradients (training: false)");
        if (!LogitsHoldGradient) throw new InvalidOperationException("Backward needs a Forward with targets and computeGradient: true first");
        if (!accumulate) Array.Clear(grad);
        _stack.Backward(_tokens, _logits, _layers, _attention, _final, _scratch!, grad, layerDone);
    }
}
