using TokenFormer.Core.Threading;
using System.Runtime.Intrinsics;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Optimizer;

/// <summary>
/// AdamW with decoupled weight decay and bias correction (docs/architecture.md, Training; the same update as torch.optim.AdamW):
/// θ ← θ − lr·λ·θ (decayed tensors only); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// θ ← θ − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε). Moments live in two arenas with the parameter layout.
/// Defaults: β = (0.9, 0.95), ε = 1e-8, λ = 0.1 on every tensor whose <see cref="ParameterTensor.Decay"/> is set
/// (all but the final LayerNorm). <see cref="ScaleLearningRate"/> gives chosen ranges (the old parameters of a grown
/// model) their own multiple of the learning rate; the arena is then updated as segments that each carry one multiple.
/// </summary>
public sealed class AdamW
{
    private readonly ParameterLayout _layout;
    private readonly float[] _m, _v;
    private readonly int _total;
    private readonly StepJob _job;
    private Segment[] _segments;

    /// <summary>A run of the arena updated with one weight decay and one learning-rate multiple.</summary>
    private readonly record struct Segment(int Offset, int Length, bool Decay, float LrScale);

    /// <summary>β₁.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>β₂.</summary>
    public float Beta2 { get; init; } = 0.95f;
    /// <summary>ε (added outside the square root).</summary>
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Decoupled weight decay λ.</summary>
    public float WeightDecay { get; init; } = 0.1f;
    /// <summary>Completed steps t.</summary>
    public long Step { get; set; }
    /// <summary>First moments (parameter layout).</summary>
    public float[] FirstMoment => _m;
    /// <summary>Second moments (parameter layout).</summary>
    public float[] SecondMoment => _v;

    /// <summary>First float of the arena whose moments this optimiser holds (0 unless sharded).</summary>
    public int ShardOffset { get; }
    /// <summary>Floats whose moments this optimiser holds (the whole arena unless sharded).</summary>
    public int ShardLength => _m.Length;

    /// <summary>Creates zeroed moment arenas for <paramref name="layout"/>.</summary>
    public AdamW(ParameterLayout layout) : this(layout, 0, checked((int)layout.Count)) { }

    /// <summary>
    /// A sharded optimiser (ZeRO stage 1, docs/distributed.md): moments only for the arena's floats
    /// [<paramref name="shardOffset"/>, +<paramref name="shardLength"/>), and <see cref="Update"/> changes only those
    /// parameters. The update of each float is the same arithmetic as the whole optimiser's.
    /// </summary>
    public AdamW(ParameterLayout layout, int shardOffset, int shardLength)
    {
        if (shardOffset < 0 || shardLength < 0 || (long)shardOffset + shardLength > layout.Count)
            throw new ArgumentOutOfRangeException(nameof(shardOffset), $"the shard [{shardOffset}, +{shardLength}) is outside the {layout.Count}-float arena");
        _layout = layout;
        _total = checked((int)layout.Count);
        ShardOffset = shardOffset;
        _m = new float[shardLength];
        _v = new float[shardLength];
        _job = new StepJob(this);
        _segments = layout.Tensors.Select(t => new Segment(t.Offset, t.Length, t.Decay, 1f)).ToArray();
    }

    /// <summary>
    /// From now on the floats in <paramref name="ranges"/> are updated at <paramref name="scale"/> × the learning rate
    /// (weight decay included, since it is applied as lr·λ); the others at 1 ×. A scale of 0 leaves them bit-identical
    /// (their moments still follow their gradients). Replaces an earlier call's ranges.
    /// </summary>
    public void ScaleLearningRate(IReadOnlyList<ParameterRange> ranges, float scale)
    {
        if (!(scale >= 0) || !float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "must be a finite number at least 0");
        var sorted = ranges.Where(r => r.Length > 0).OrderBy(r => r.Offset).ToArray();
        var segments = new List<Segment>();
        foreach (ParameterTensor t in _layout.Tensors)
        {
            int at = t.Offset, end = t.Offset + t.Length;
            foreach (ParameterRange r in sorted)
            {
                int from = Math.Max(at, r.Offset), to = Math.Min(end, r.Offset + r.Length);
                if (from >= to) continue;
                if (from > at) segments.Add(new Segment(at, from - at, t.Decay, 1f));
                segments.Add(new Segment(from, to - from, t.Decay, scale));
                at = to;
            }
            if (at < end) segments.Add(new Segment(at, end - at, t.Decay, 1f));
        }
        _segments = [.. segments];
    }

    /// <summary>
    /// One update of <paramref name="parameters"/> from <paramref name="gradients"/> at learning rate <paramref name="lr"/>.
    /// A sharded optimiser updates only its shard and takes either the whole gradient arena or only its shard's gradients.
    /// </summary>
    public void Update(float[] parameters, float[] gradients, float lr)
    {
        if (parameters.Length != _total || (gradients.Length != _total && gradients.Length != _m.Length))
            throw new ArgumentException($"AdamW: parameters ({parameters.Length}) must have {_total} floats and gradients ({gradients.Length}) {_total} or the shard's {_m.Length}");
        Step++;
        _job.P = parameters;
        _job.G = gradients;
        _job.GradBase = gradients.Length == _total ? 0 : ShardOffset;
        _job.Bc1 = (float)(1 - Math.Pow(Beta1, Step));
        _job.Bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(Beta2, Step));
        int shardEnd = ShardOffset + _m.Length;
        foreach (Segment s in _segments)
        {
            int from = Math.Max(s.Offset, ShardOffset), to = Math.Min(s.Offset + s.Length, shardEnd);
            if (from >= to) continue;
            _job.Offset = from;
            _job.Length = to - from;
            _job.Lr = lr * s.LrScale;
            _job.Decay = s.Decay ? WeightDecay : 0f;
            RowRanges.Run((_job.Length + StepJob.Chunk - 1) / StepJob.Chunk, _job, 1);
        }
        _job.P = _job.G = null!;
    }

    private sealed class StepJob(AdamW owner) : IRowWork
    {
        public const int Chunk = 1 << 14;
        public float[] P = null!, G = null!;
        public float Lr, Bc1, Bc2Sqrt, Decay;
        public int Offset, Length, GradBase;

        /// <summary>Rows are chunks of <see cref="Chunk"/> floats of the current segment.</summary>
        public void Rows(int start, int end) =>
            Apply(Offset + start * Chunk, Offset + Math.Min(Length, end * Chunk));

        private void Apply(int from, int to)
        {
            float b1 = owner.Beta1, b2 = owner.Beta2, eps = owner.Epsilon;
            float decayFactor = 1f - Lr * Decay, stepSize = Lr / Bc1, invBc2 = 1f / Bc2Sqrt;
            Span<float> p = P.AsSpan(from, to - from), g = G.AsSpan(from - GradBase, to - from);
            int mb = owner.ShardOffset;
            Span<float> m = owner._m.AsSpan(from - mb, to - from), v = owner._v.AsSpan(from - mb, to - from);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var vb1 = Vector512.Create(b1); var vb1c = Vector512.Create(1 - b1);
                var vb2 = Vector512.Create(b2); var vb2c = Vector512.Create(1 - b2);
                var vdec = Vector512.Create(decayFactor); var vstep = Vector512.Create(stepSize);
                var vinv = Vector512.Create(invBc2); var veps = Vector512.Create(eps);
                for (; i <= p.Length - 16; i += 16)
                {
                    var gg = Vector512.Create(g.Slice(i, 16));
                    var mm = vb1 * Vector512.Create(m.Slice(i, 16)) + vb1c * gg;
                    var vv = vb2 * Vector512.Create(v.Slice(i, 16)) + vb2c * gg * gg;
                    var pp = Vector512.Create(p.Slice(i, 16)) * vdec - vstep * mm / (Vector512.Sqrt(vv) * vinv + veps);
                    mm.CopyTo(m.Slice(i, 16)); vv.CopyTo(v.Slice(i, 16)); pp.CopyTo(p.Slice(i, 16));
                }
            }
            for (; i < p.Length; i++)
            {
                float gi = g[i];
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                p[i] = p[i] * decayFactor - stepSize * m[i] / (MathF.Sqrt(v[i]) * invBc2 + eps);
            }
        }
    }
}
