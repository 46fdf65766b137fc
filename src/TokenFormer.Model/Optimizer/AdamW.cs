using TokenFormer.Core.Threading;
using System.Runtime.Intrinsics;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Optimizer;

/// <summary>
/// AdamW with decoupled weight decay and bias correction (docs/architecture.md, Training; the same update as torch.optim.AdamW):
/// θ ← θ − lr·λ·θ (decayed tensors only); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// θ ← θ − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε). Moments live in two arenas with the parameter layout.
/// Defaults: β = (0.9, 0.95), ε = 1e-8, λ = 0.1 on every tensor whose <see cref="ParameterTensor.Decay"/> is set
/// (all but the final LayerNorm).
/// </summary>
public sealed class AdamW
{
    private readonly ParameterLayout _layout;
    private readonly float[] _m, _v;
    private readonly StepJob _job;

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

    /// <summary>Creates zeroed moment arenas for <paramref name="layout"/>.</summary>
    public AdamW(ParameterLayout layout)
    {
        _layout = layout;
        _m = new float[layout.Count];
        _v = new float[layout.Count];
        _job = new StepJob(this);
    }

    /// <summary>One update of <paramref name="parameters"/> from <paramref name="gradients"/> at learning rate <paramref name="lr"/>.</summary>
    public void Update(float[] parameters, float[] gradients, float lr)
    {
        if (parameters.Length != _m.Length || gradients.Length != _m.Length)
            throw new ArgumentException($"AdamW: parameters ({parameters.Length}) and gradients ({gradients.Length}) must both have {_m.Length} floats");
        Step++;
        _job.P = parameters;
        _job.G = gradients;
        _job.Lr = lr;
        _job.Bc1 = (float)(1 - Math.Pow(Beta1, Step));
        _job.Bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(Beta2, Step));
        foreach (ParameterTensor t in _layout.Tensors)
        {
            _job.Offset = t.Offset;
            _job.Length = t.Length;
            _job.Decay = t.Decay ? WeightDecay : 0f;
            RowRanges.Run((t.Length + StepJob.Chunk - 1) / StepJob.Chunk, _job, 1);
        }
        _job.P = _job.G = null!;
    }

    private sealed class StepJob(AdamW owner) : IRowWork
    {
        public const int Chunk = 1 << 14;
        public float[] P = null!, G = null!;
        public float Lr, Bc1, Bc2Sqrt, Decay;
        public int Offset, Length;

        /// <summary>Rows are chunks of <see cref="Chunk"/> floats of the current tensor.</summary>
        public void Rows(int start, int end) =>
            Apply(Offset + start * Chunk, Offset + Math.Min(Length, end * Chunk));

        private void Apply(int from, int to)
        {
            float b1 = owner.Beta1, b2 = owner.Beta2, eps = owner.Epsilon;
            float decayFactor = 1f - Lr * Decay, stepSize = Lr / Bc1, invBc2 = 1f / Bc2Sqrt;
            Span<float> p = P.AsSpan(from, to - from), g = G.AsSpan(from, to - from);
            Span<float> m = owner._m.AsSpan(from, to - from), v = owner._v.AsSpan(from, to - from);
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
