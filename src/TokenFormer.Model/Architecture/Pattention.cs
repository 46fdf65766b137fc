using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Architecture;

/// <summary>
/// Pattention, the layer that replaces every linear projection: input rows attend to learnable parameter tokens.
/// For x: [rows, d_in] and G Pattentions that share x (G = 3 for the query/key/value projections, so their three score
/// products run as one GEMM; G = 1 for the output projection and the FFN), with n tokens each:
/// <code>
///   A   = x·K_Pᵀ            [rows, G·n]   K_P: [G·n, d_in], the G key-token tensors stacked (adjacent in the arena)
///   S_g = Θ(A_g)            per group g, A_g = columns g·n … (g+1)·n − 1 (see <see cref="PattentionNormalizer"/>)
///   O_g = S_g·V_P,g         [rows, d_out] V_P,g: [n, d_out]
/// </code>
/// Θ is the configured normaliser (l2_norm_gelu: GeLU(τ·A/‖A‖); gelu_l2_norm: τ·GeLU(A)/‖GeLU(A)‖; softmax:
/// m·softmax(A)) with τ = <see cref="Tau"/> and m = <see cref="Multiplier"/>. The weights are read only through
/// <see cref="IWeightMatrix"/>; the backward writes parameter gradients into a float32 arena laid out like the
/// parameters. Parallel row work runs through reusable jobs, so steady-state calls allocate nothing. Not thread-safe.
/// </summary>
public sealed class Pattention
{
    private readonly NormalizerJob _forwardJob, _backwardJob;

    /// <summary>Parameter tokens n per group.</summary>
    public int Tokens { get; }
    /// <summary>Groups G sharing the input.</summary>
    public int Groups { get; }
    /// <summary>Score columns G·n.</summary>
    public int Width => Groups * Tokens;
    /// <summary>Input width d_in.</summary>
    public int InputWidth { get; }
    /// <summary>Output width d_out.</summary>
    public int OutputWidth { get; }
    /// <summary>The normaliser Θ.</summary>
    public NormActivation Activation { get; }
    /// <summary>τ of the L2 normalisers.</summary>
    public float Tau { get; }
    /// <summary>Multiplier m of the softmax normaliser.</summary>
    public float Multiplier { get; }
    /// <summary>K_P [G·n, d_in].</summary>
    public IWeightMatrix Keys { get; }
    /// <summary>V_P,g [n, d_out] per group.</summary>
    public IReadOnlyList<IWeightMatrix> Values { get; }
    /// <summary>Arena offset of K_P (for its gradient).</summary>
    public int KeyOffset { get; }
    private readonly int[] _valueOffsets;
    private int _firstTrainable;

    /// <summary>
    /// Tokens 0 … <c>FirstTrainableToken</c> − 1 of every group get no weight gradients in the backward (their rows of
    /// the gradient are left as they are): training that holds them fixed (<c>train --freeze-old</c>, adapter
    /// fine-tuning) skips that share of the gradient products. 0, the default: every token is trained.
    /// </summary>
    public int FirstTrainableToken
    {
        get => _firstTrainable;
        set
        {
            if (value < 0 || value > Tokens) throw new ArgumentOutOfRangeException(nameof(value), value, $"must be within [0, {Tokens}]");
            _firstTrainable = value;
        }
    }

    /// <summary>
    /// Extra tokens some rows see besides the layer's own (adapters; null: none). Inference only: set, it takes over the
    /// normalisation of <see cref="Scores"/> and adds its share in <see cref="Output"/>, and the backward is refused.
    /// </summary>
    public IPattentionExtension? Extension { get; set; }

    /// <summary>
    /// The Pattention group of <paramref name="layer"/> made of the given sites (Query, Key, Value together, or
    /// Projection, or Ffn), with its normaliser settings from <paramref name="config"/>.
    /// </summary>
    public Pattention(TokenFormerConfig config, ParameterLayout layout, IWeightSource weights, int layer, params PattentionSite[] sites)
    {
        if (sites.Length == 0) throw new ArgumentException("a Pattention needs at least one site");
        ParameterTensor[] keys = sites.Select(s => layout.Tensor(layer, s, ParameterRole.PattentionKeys)).ToArray();
        ParameterTensor[] values = sites.Select(s => layout.Tensor(layer, s, ParameterRole.PattentionValues)).ToArray();
        Tokens = keys[0].Shape[0];
        Groups = sites.Length;
        InputWidth = keys[0].Shape[1];
        OutputWidth = values[0].Shape[1];
        for (int g = 1; g < Groups; g++)
            if (keys[g].Offset != keys[g - 1].Offset + keys[g - 1].Length || keys[g].Shape[0] != Tokens)
                throw new ArgumentException($"the key tokens of a Pattention group must be adjacent and equally long ('{keys[g].Name}')");
        // the group's key tokens are read as one matrix [G·n, d_in] from the first site's tensor on (the layout keeps
        // them adjacent, checked above), so the G score products are one
        var stacked = new ParameterTensor(keys[0].Name, [Width, InputWidth], keys[0].Offset, true, ParameterRole.PattentionKeys, layer, sites[0]);
        Keys = weights.Matrix(stacked);
        Values = values.Select(weights.Matrix).ToArray();
        KeyOffset = keys[0].Offset;
        _valueOffsets = values.Select(v => v.Offset).ToArray();
        Activation = config.Activation;
        (Tau, Multiplier) = Settings(config, sites[0]);
        _forwardJob = new NormalizerJob(this, backward: false);
        _backwardJob = new NormalizerJob(this, backward: true);
    }

    /// <summary>
    /// τ and the softmax multiplier of a site: τ = pattention_scale (default √n); m = pattention_scale² when set,
    /// else n (so that an unset scale means "the number of tokens" for both normalisers).
    /// </summary>
    public static (float Tau, float Multiplier) Settings(TokenFormerConfig config, PattentionSite site) => site switch
    {
        PattentionSite.Query or PattentionSite.Key or PattentionSite.Value =>
            ((float)config.ScaleQkv, config.PattentionScaleQkv is double a ? (float)(a * a) : config.QkvSlotNum),
        PattentionSite.Projection =>
            ((float)config.ScaleProj, config.PattentionScaleProj is double b ? (float)(b * b) : config.ProjSlotNum),
        PattentionSite.Ffn =>
            ((float)config.ScaleFfn, config.PattentionScaleFfn is double c ? (float)(c * c) : config.FfnSlotNum),
        _ => throw new ArgumentOutOfRangeException(nameof(site)),
    };

    /// <summary>Scores of all groups: act.Pre = x·K_Pᵀ, act.S = Θ(act.Pre) per group. x: [rows, d_in].</summary>
    public void Scores(int rows, float[] x, PattentionActivations act)
    {
        Keys.MultiplyTransposed(rows, x, 0, InputWidth, act.Pre, 0, Width, accumulate: false);
        if (Extension is { } extension) extension.Normalize(this, rows, x, act);
        else _forwardJob.Run(rows, act, null);
    }

    /// <summary>y (+)= S_g·V_P,g for group <paramref name="group"/>; y: [rows, d_out].</summary>
    public void Output(int group, int rows, PattentionActivations act, float[] y, bool accumulate)
    {
        Values[group].Multiply(rows, act.S, group * Tokens, Width, y, 0, OutputWidth, accumulate);
        Extension?.AddOutput(this, group, rows, y);
    }

    /// <summary>Forward of a one-group Pattention: y (+)= Θ(x·K_Pᵀ)·V_P.</summary>
    public void Forward(int rows, float[] x, PattentionActivations act, float[] y, bool accumulate)
    {
        Scores(rows, x, act);
        Output(0, rows, act, y, accumulate);
    }

    /// <summary>
    /// Backward through the value product of group g: g_S[:, group] = dy·V_P,gᵀ (into <paramref name="g"/> [rows, G·n])
    /// and ∂ℒ/∂V_P,g += S_gᵀ·dy (into <paramref name="grad"/> at the tensor's offset). dy: [rows, d_out].
    /// </summary>
    public void BackwardOutput(int group, int rows, PattentionActivations act, float[] dy, float[] g, float[] grad)
    {
        if (Extension != null) throw new InvalidOperationException("a Pattention with extra tokens (an adapter extension) runs forward only; train adapters on the merged model");
        Values[group].MultiplyTransposed(rows, dy, 0, OutputWidth, g, group * Tokens, Width, accumulate: false);
        int t0 = _firstTrainable, trained = Tokens - t0;
        if (trained > 0)
            Gemm.Compute(GemmForm.TN, trained, rows, OutputWidth, act.S.AsSpan(group * Tokens + t0), Width, dy, OutputWidth,
                grad.AsSpan(_valueOffsets[group] + t0 * OutputWidth, trained * OutputWidth), OutputWidth, 1f, accumulate: true);
    }

    /// <summary>
    /// Backward through Θ and the score product, after <see cref="BackwardOutput"/> ran for every group:
    /// <paramref name="g"/> (∂ℒ/∂S) becomes ∂ℒ/∂A in place; ∂ℒ/∂K_P += gᵀ·x; <paramref name="dx"/> = g·K_P [rows, d_in].
    /// </summary>
    public void BackwardScores(int rows, float[] x, PattentionActivations act, float[] g, float[] grad, float[] dx)
    {
        _backwardJob.Run(rows, act, g);
        int t0 = _firstTrainable, trained = Tokens - t0;
        if (t0 == 0) Gemm.TN(g, x, grad.AsSpan(KeyOffset, Width * InputWidth), Width, rows, InputWidth, 1f, accumulate: true);
        else if (trained > 0)
            for (int grp = 0; grp < Groups; grp++)
            {
                int first = grp * Tokens + t0;   // the group's first trained key row
                Gemm.Compute(GemmForm.TN, trained, rows, InputWidth, g.AsSpan(first), Width, x, InputWidth,
                    grad.AsSpan(KeyOffset + first * InputWidth, trained * InputWidth), InputWidth, 1f, accumulate: true);
            }
        Keys.Multiply(rows, g, 0, Width, dx, 0, InputWidth, accumulate: false);
    }

    /// <summary>Backward of a one-group Pattention: from dy = ∂ℒ/∂y, gradients into <paramref name="grad"/>, dx = ∂ℒ/∂x.</summary>
    public void Backward(int rows, float[] x, PattentionActivations act, float[] dy, float[] g, float[] grad, float[] dx)
    {
        BackwardOutput(0, rows, act, dy, g, grad);
        BackwardScores(rows, x, act, g, grad, dx);
    }

    /// <summary>Θ forward or backward over rows × groups, in parallel row ranges.</summary>
    private sealed class NormalizerJob(Pattention p, bool backward) : IRowWork
    {
        private PattentionActivations _act = null!;
        private float[]? _g;

        public void Run(int rows, PattentionActivations act, float[]? g)
        {
            _act = act; _g = g;
            RowRanges.Run(rows, this);
            _act = null!; _g = null;
        }

        public void Rows(int start, int end)
        {
            int w = p.Width, n = p.Tokens, groups = p.Groups;
            float[] pre = _act.Pre, s = _act.S, stat = _act.Stat;
            for (int r = start; r < end; r++)
                for (int grp = 0; grp < groups; grp++)
                {
                    int at = r * w + grp * n;
                    if (backward)
                        PattentionNormalizer.Backward(p.Activation, p.Tau, p.Multiplier, pre.AsSpan(at, n), s.AsSpan(at, n),
                            stat[r * groups + grp], _g!.AsSpan(at, n));
                    else
                        stat[r * groups + grp] = PattentionNormalizer.Forward(p.Activation, p.Tau, p.Multiplier, pre.AsSpan(at, n), s.AsSpan(at, n));
                }
        }
    }
}
