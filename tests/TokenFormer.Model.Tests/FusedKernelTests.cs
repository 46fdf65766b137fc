using TokenFormer.Core.Kernels;
using TokenFormer.Model.Kernels;
using TokenFormer.TestSupport.Reference;

namespace TokenFormer.Model.Tests;

/// <summary>The optimised float32 kernels against the double-precision references, on float-representable inputs.</summary>
public class FusedKernelTests
{
    public static IEnumerable<object[]> Activations =>
        [[NormActivation.L2NormGelu], [NormActivation.GeluL2Norm], [NormActivation.Softmax]];

    [Theory]
    [MemberData(nameof(Activations))]
    public void PattentionNormalizerMatchesReference(NormActivation act)
    {
        var rng = new Random(11);
        foreach (int n in new[] { 1, 5, 16, 33, 130, 3072 })
        {
            double tau = Math.Sqrt(n), mult = n;
            double[] a = TestData.AsFloatValues(TestData.Normal(rng, n, 3));
            double[] g = TestData.AsFloatValues(TestData.Normal(rng, n));
            double[] sRef = PattentionReference.Normalize(act, tau, mult, a);
            double[] gaRef = PattentionReference.NormalizeBackward(act, tau, mult, a, g);
            float[] pre = TestData.ToFloat(a), s = new float[n], gf = TestData.ToFloat(g);
            float stat = PattentionNormalizer.Forward(act, (float)tau, (float)mult, pre, s);
            PattentionNormalizer.Backward(act, (float)tau, (float)mult, pre, s, stat, gf);
            Assert.True(TestData.RelativeError(s, sRef) < 2e-6, $"{act} n={n}: forward error {TestData.RelativeError(s, sRef):E2}");
            if (n > 1 || act == NormActivation.Softmax)
                Assert.True(TestData.RelativeError(gf, gaRef) < 2e-5, $"{act} n={n}: backward error {TestData.RelativeError(gf, gaRef):E2}");
        }
    }

    [Fact]
    public void LayerNormKernelsMatchReference()
    {
        var rng = new Random(12);
        foreach (int d in new[] { 7, 16, 72, 768 })
        {
            double[] x = TestData.AsFloatValues(TestData.Normal(rng, d, 2)).Select(v => v + 3).ToArray();
            double[] dy = TestData.AsFloatValues(TestData.Normal(rng, d));
            double[] w = TestData.AsFloatValues(TestData.Normal(rng, d)), b = TestData.AsFloatValues(TestData.Normal(rng, d));
            float[] y = new float[d], dx = new float[d];
            float rstd = LayerNormKernels.ForwardNonParam(TestData.ToFloat(x), y, 1e-5f);
            LayerNormKernels.BackwardNonParam(y, TestData.ToFloat(dy), rstd, dx, accumulate: false);
            Assert.True(TestData.RelativeError(y, LayerNormReference.Forward(x, 1, d, 1e-5)) < 1e-6);
            Assert.True(TestData.RelativeError(dx, LayerNormReference.Backward(x, dy, 1, d, 1e-5).dx) < 1e-5);

            // the final (affine) LayerNorm's backward as the stack runs it: dw = dy ⊙ x̂, db = dy, dx = LN′(dy ⊙ w)
            float[] xhat = new float[d], z = new float[d], dxa = new float[d], dw = new float[d], db = new float[d], dyw = new float[d];
            float[] wf = TestData.ToFloat(w), dyf = TestData.ToFloat(dy);
            float rstd2 = LayerNormKernels.ForwardAffine(TestData.ToFloat(x), wf, TestData.ToFloat(b), xhat, z, 1e-5f);
            for (int i = 0; i < d; i++) { dw[i] = dyf[i] * xhat[i]; db[i] = dyf[i]; dyw[i] = dyf[i] * wf[i]; }
            LayerNormKernels.BackwardNonParam(xhat, dyw, rstd2, dxa, accumulate: false);
            var (rdx, rdw, rdb) = LayerNormReference.Backward(x, dy, 1, d, 1e-5, w);
            Assert.True(TestData.RelativeError(z, LayerNormReference.Forward(x, 1, d, 1e-5, w, b)) < 1e-6);
            Assert.True(TestData.RelativeError(dxa, rdx) < 1e-5);
            Assert.True(TestData.RelativeError(dw, rdw!) < 1e-6);
            Assert.True(TestData.RelativeError(db, rdb!) < 1e-6);
        }
    }

    [Theory]
    [InlineData(1, 5, 2, 8, 2, 10000.0)]
    [InlineData(2, 70, 3, 16, 4, 10000.0)]   // crosses the 64-row block boundary
    [InlineData(2, 130, 2, 8, 8, 500.0)]     // full rotary, two block boundaries
    public void CausalAttentionWithRotaryMatchesReference(int batch, int t, int heads, int h, int r, double theBase)
    {
        var rng = new Random(13);
        int d = heads * h, n = batch * t * d;
        double[] q = TestData.AsFloatValues(TestData.Normal(rng, n)), k = TestData.AsFloatValues(TestData.Normal(rng, n));
        double[] v = TestData.AsFloatValues(TestData.Normal(rng, n)), dOut = TestData.AsFloatValues(TestData.Normal(rng, n));
        float[] qf = TestData.ToFloat(q), kf = TestData.ToFloat(k), vf = TestData.ToFloat(v), df = TestData.ToFloat(dOut);
        var rotary = new RotaryEmbedding(h, r, theBase, t);
        for (int row = 0; row < batch * t; row++)
        {
            rotary.Apply(qf.AsSpan(row * d, d), heads, row % t, inverse: false);
            rotary.Apply(kf.AsSpan(row * d, d), heads, row % t, inverse: false);
        }
        float[] o = new float[n], lse = new float[batch * heads * t], dq = new float[n], dk = new float[n], dv = new float[n];
        var attention = new SelfAttention();
        attention.Forward(qf, kf, vf, o, lse, batch, t, heads, h);
        attention.Backward(qf, kf, vf, o, lse, df, dq, dk, dv, batch, t, heads, h);
        for (int row = 0; row < batch * t; row++)
        {
            rotary.Apply(dq.AsSpan(row * d, d), heads, row % t, inverse: true);
            rotary.Apply(dk.AsSpan(row * d, d), heads, row % t, inverse: true);
        }
        for (int b = 0; b < batch; b++)
        {
            double[] Slice(double[] x) => x.AsSpan(b * t * d, t * d).ToArray();
            float[] SliceF(float[] x) => x.AsSpan(b * t * d, t * d).ToArray();
            double[] oRef = AttentionReference.Forward(Slice(q), Slice(k), Slice(v), t, heads, h, r, theBase);
            var (dqRef, dkRef, dvRef) = AttentionReference.Backward(Slice(q), Slice(k), Slice(v), Slice(dOut), t, heads, h, r, theBase);
            Assert.True(TestData.RelativeError(SliceF(o), oRef) < 1e-5, $"out {TestData.RelativeError(SliceF(o), oRef):E2}");
            Assert.True(TestData.RelativeError(SliceF(dq), dqRef) < 1e-4, $"dq {TestData.RelativeError(SliceF(dq), dqRef):E2}");
            Assert.True(TestData.RelativeError(SliceF(dk), dkRef) < 1e-4, $"dk {TestData.RelativeError(SliceF(dk), dkRef):E2}");
            Assert.True(TestData.RelativeError(SliceF(dv), dvRef) < 1e-5, $"dv {TestData.RelativeError(SliceF(dv), dvRef):E2}");
        }
    }
}
