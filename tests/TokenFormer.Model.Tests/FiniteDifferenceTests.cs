using TokenFormer.Core.Kernels;
using TokenFormer.TestSupport.Reference;

namespace TokenFormer.Model.Tests;

/// <summary>
/// The double-precision reference backward passes against central finite differences of the reference forwards
/// (ℒ = Σ w ⊙ output with random w): Pattention under all three normalisations, causal attention with partial and
/// full rotary, non-parametric and affine LayerNorm, and masked cross-entropy.
/// </summary>
public class FiniteDifferenceTests
{
    private const double Tolerance = 1e-6;

    public static IEnumerable<object[]> Activations =>
        [[NormActivation.L2NormGelu], [NormActivation.GeluL2Norm], [NormActivation.Softmax]];

    [Theory]
    [MemberData(nameof(Activations))]
    public void PattentionBackwardMatchesFiniteDifferences(NormActivation act)
    {
        var rng = new Random(1);
        int rows = 3, dIn = 5, n = 7, dOut = 4;
        double tau = Math.Sqrt(n) * 1.3, mult = n;
        double[] x = TestData.Normal(rng, rows * dIn), k = TestData.Normal(rng, n * dIn, 0.7), v = TestData.Normal(rng, n * dOut);
        double[] w = TestData.Normal(rng, rows * dOut);
        double Loss(double[] xx, double[] kk, double[] vv) =>
            TestData.Dot(w, PattentionReference.Forward(act, tau, mult, xx, kk, vv, rows, dIn, n, dOut));
        var (dx, dk, dv) = PattentionReference.Backward(act, tau, mult, x, k, v, w, rows, dIn, n, dOut);
        Assert.True(TestData.RelativeError(dx, TestData.NumericGradient(xx => Loss(xx, k, v), x)) < Tolerance, "dx");
        Assert.True(TestData.RelativeError(dk, TestData.NumericGradient(kk => Loss(x, kk, v), k)) < Tolerance, "dK");
        Assert.True(TestData.RelativeError(dv, TestData.NumericGradient(vv => Loss(x, k, vv), v)) < Tolerance, "dV");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void AttentionWithRotaryBackwardMatchesFiniteDifferences(int rotaryDim)
    {
        var rng = new Random(2);
        int t = 6, heads = 2, h = 8, d = heads * h;
        double theBase = 500;
        double[] q = TestData.Normal(rng, t * d), k = TestData.Normal(rng, t * d), v = TestData.Normal(rng, t * d);
        double[] w = TestData.Normal(rng, t * d);
        double Loss(double[] qq, double[] kk, double[] vv) =>
            TestData.Dot(w, AttentionReference.Forward(qq, kk, vv, t, heads, h, rotaryDim, theBase));
        var (dq, dk, dv) = AttentionReference.Backward(q, k, v, w, t, heads, h, rotaryDim, theBase);
        Assert.True(TestData.RelativeError(dq, TestData.NumericGradient(qq => Loss(qq, k, v), q)) < Tolerance, "dq");
        Assert.True(TestData.RelativeError(dk, TestData.NumericGradient(kk => Loss(q, kk, v), k)) < Tolerance, "dk");
        Assert.True(TestData.RelativeError(dv, TestData.NumericGradient(vv => Loss(q, k, vv), v)) < Tolerance, "dv");
    }

    [Fact]
    public void RotaryIsARotationAndItsInverseUndoesIt()
    {
        var rng = new Random(3);
        double[] x = TestData.Normal(rng, 5 * 16);
        double[] y = AttentionReference.Rotate(x, 5, 2, 8, 4, 10000);
        double[] back = AttentionReference.Rotate(y, 5, 2, 8, 4, 10000, -1);
        Assert.True(TestData.RelativeError(back, x) < 1e-14);
        Assert.Equal(TestData.Dot(x, x), TestData.Dot(y, y), 10);
        // position 0 is the identity; channel 4…7 of every head (beyond r = 4) pass through
        for (int i = 0; i < 16; i++) Assert.Equal(x[i], y[i], 14);
        for (int p = 0; p < 5; p++) for (int hd = 0; hd < 2; hd++) for (int c = 4; c < 8; c++) Assert.Equal(x[p * 16 + hd * 8 + c], y[p * 16 + hd * 8 + c]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LayerNormBackwardMatchesFiniteDifferences(bool affine)
    {
        var rng = new Random(4);
        int rows = 3, d = 9;
        double eps = 1e-5;
        double[] x = TestData.Normal(rng, rows * d, 0.5), w = TestData.Normal(rng, rows * d);
        double[]? gamma = affine ? TestData.Normal(rng, d) : null, beta = affine ? TestData.Normal(rng, d) : null;
        double Loss(double[] xx, double[]? gg, double[]? bb) => TestData.Dot(w, LayerNormReference.Forward(xx, rows, d, eps, gg, bb));
        var (dx, dw, db) = LayerNormReference.Backward(x, w, rows, d, eps, gamma);
        Assert.True(TestData.RelativeError(dx, TestData.NumericGradient(xx => Loss(xx, gamma, beta), x)) < Tolerance, "dx");
        if (affine)
        {
            Assert.True(TestData.RelativeError(dw!, TestData.NumericGradient(gg => Loss(x, gg, beta), gamma!)) < Tolerance, "dw");
            Assert.True(TestData.RelativeError(db!, TestData.NumericGradient(bb => Loss(x, gamma, bb), beta!)) < Tolerance, "db");
        }
    }

    [Fact]
    public void CrossEntropyGradientMatchesFiniteDifferences()
    {
        var rng = new Random(5);
        int rows = 4, vocab = 11;
        double[] logits = TestData.Normal(rng, rows * vocab, 2);
        int[] targets = [3, 0, 10, 7];
        float[] mask = [1, 0, 1, 0.5f];
        var g = new double[rows * vocab];
        CrossEntropyReference.ForwardBackward(logits, rows, vocab, targets, mask, default, g);
        double[] num = TestData.NumericGradient(
            l => CrossEntropyReference.ForwardBackward(l, rows, vocab, targets, mask, default, default), logits);
        Assert.True(TestData.RelativeError(g, num) < Tolerance);
        Assert.All(Enumerable.Range(vocab, vocab), i => Assert.Equal(0, g[i])); // masked row has no gradient
    }
}
