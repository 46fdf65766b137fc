using TokenFormer.Core.Kernels;
using TokenFormer.TestSupport.Reference;

namespace TokenFormer.Core.Tests;

public class CrossEntropyTests
{
    private static (float[] Logits, int[] Targets, float[] Mask) Problem(Random rng, int rows, int vocab, bool withMask)
    {
        float[] logits = KernelTestData.Uniform(rng, rows * vocab, -6f, 6f);
        var targets = new int[rows];
        var mask = new float[withMask ? rows : 0];
        for (int r = 0; r < rows; r++)
        {
            targets[r] = rng.Next(vocab);
            if (withMask) mask[r] = rng.Next(4) switch { 0 => 0f, 1 => 0.5f, _ => 1f };
        }
        if (withMask && rows > 0) mask[0] = 1f;
        return (logits, targets, mask);
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void ForwardBackward_MatchesReference(SimdPath path)
    {
        var rng = new Random(31);
        foreach ((int rows, int vocab) in KernelTestData.RowShapes())
        foreach (bool withMask in new[] { false, true })
        {
            var (logits, targets, mask) = Problem(rng, rows, vocab, withMask);
            const float scale = 256f;
            var rowLoss = new float[rows];
            var grad = new float[rows * vocab];
            float loss = CrossEntropy.ForwardBackward(logits, rows, vocab, targets, mask, rowLoss, grad, scale, path);

            var eRow = new double[rows];
            var eGrad = new double[rows * vocab];
            double eLoss = CrossEntropyReference.ForwardBackward(logits, rows, vocab, targets, mask, eRow, eGrad, scale);
            string what = $"[{rows},{vocab}] mask={withMask} {path}";
            Assert.True(Math.Abs(loss - eLoss) <= 1e-5 * eLoss, $"{what}: loss {loss:R}, expected {eLoss:R}");
            KernelTestData.AssertClose($"rowLoss {what}", rowLoss, eRow, i => 1e-5 * Math.Max(1, eRow[i]));
            double maskSum = withMask ? mask.Sum() : rows;
            KernelTestData.AssertClose($"dLogits {what}", grad, eGrad, i =>
            {
                double w = scale * (withMask ? mask[i / vocab] : 1f) / maskSum;
                return 1e-5 * Math.Abs(eGrad[i]) + 2e-7 * w;   // p − 1 at the target keeps p's absolute error
            });

            // In place (dLogits = logits) and without outputs give the same loss and gradient.
            float[] inPlace = (float[])logits.Clone();
            Assert.Equal(loss, CrossEntropy.ForwardBackward(inPlace, rows, vocab, targets, mask, default, inPlace, scale, path));
            Assert.Equal(grad, inPlace);
            Assert.Equal(loss, CrossEntropy.ForwardBackward(logits, rows, vocab, targets, mask, default, default, 1f, path));
        }
    }

    [Fact]
    public void Gradient_MatchesFiniteDifferences_InDouble()
    {
        // d(mean loss)/d logits of the double reference against central differences of an independent double loss,
        // then the float kernel against the reference.
        var rng = new Random(32);
        int rows = 5, vocab = 17;
        var (logits, targets, mask) = Problem(rng, rows, vocab, withMask: true);
        var eGrad = new double[rows * vocab];
        CrossEntropyReference.ForwardBackward(logits, rows, vocab, targets, mask, default, eGrad);
        double[] z = logits.Select(v => (double)v).ToArray();
        const double h = 1e-6;
        for (int i = 0; i < z.Length; i++)
        {
            double keep = z[i];
            z[i] = keep + h; double up = MeanLoss(z, rows, vocab, targets, mask);
            z[i] = keep - h; double down = MeanLoss(z, rows, vocab, targets, mask);
            z[i] = keep;
            double fd = (up - down) / (2 * h);
            Assert.True(Math.Abs(fd - eGrad[i]) <= 1e-8, $"logit {i}: finite difference {fd:R}, analytic {eGrad[i]:R}");
        }
        var grad = new float[rows * vocab];
        CrossEntropy.ForwardBackward(logits, rows, vocab, targets, mask, default, grad);
        KernelTestData.AssertClose("float gradient", grad, eGrad, i => 1e-5 * Math.Abs(eGrad[i]) + 1e-8);
    }

    private static double MeanLoss(double[] z, int rows, int vocab, int[] targets, float[] mask)
    {
        double total = 0, weight = 0;
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < vocab; j++) s += Math.Exp(z[r * vocab + j]);
            total += mask[r] * (Math.Log(s) - z[r * vocab + targets[r]]);
            weight += mask[r];
        }
        return total / weight;
    }

    [Fact]
    public void KnownValue_UniformLogits()
    {
        // Uniform logits over V classes: loss = log V, gradient = (1/V − onehot)/rows.
        int rows = 3, vocab = 1000;
        var logits = new float[rows * vocab];
        int[] targets = [0, 999, 500];
        var grad = new float[rows * vocab];
        float loss = CrossEntropy.ForwardBackward(logits, rows, vocab, targets, default, default, grad);
        Assert.Equal(Math.Log(1000), loss, 5);
        Assert.Equal((1.0 / 1000 - 1) / 3, grad[999 + vocab], 7);
        Assert.Equal(1.0 / 1000 / 3, grad[1], 7);
    }

    [Fact]
    public void FullyMaskedBatch_GivesZeroLossAndGradient()
    {
        var logits = new float[] { 1, 2, 3, 4, 5, 6 };
        var grad = new float[6];
        grad.AsSpan().Fill(7f);
        var rowLoss = new float[2];
        float loss = CrossEntropy.ForwardBackward(logits, 2, 3, [0, 2], [0f, 0f], rowLoss, grad);
        Assert.Equal(0f, loss);
        Assert.All(grad, g => Assert.Equal(0f, g));
        Assert.True(rowLoss[0] > rowLoss[1] && rowLoss[1] > 0);   // per-row losses are still reported
    }

    [Fact]
    public void BadInputs_ThrowNamingTheProblem()
    {
        var logits = new float[12];
        var ex = Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, 4, 1], default, default, default));
        Assert.Contains("targets[1] = 4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, -1, 1], default, default, default));
        Assert.Contains("targets[1] = -1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 5, [0, 1, 1], default, default, default));
        Assert.Contains("[3, 5]", ex.Message);
        Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, 1], default, default, default));
        Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, 1, 1], [1f, -1f, 1f], default, default));
        Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, 1, 1], [1f, 1f], default, default));
        Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, 1, 1], default, new float[2], default));
        Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, 3, 4, [0, 1, 1], default, default, new float[11]));
        Assert.Throws<ArgumentException>(() => CrossEntropy.ForwardBackward(logits, -3, 4, [0, 1, 1], default, default, default));
        // Nothing was written before the throw.
        Assert.All(logits, v => Assert.Equal(0f, v));
    }
}
