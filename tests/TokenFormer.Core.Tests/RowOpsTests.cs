using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public class RowOpsTests
{
    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void L2Norms_MatchReference(SimdPath path)
    {
        var rng = new Random(21);
        foreach ((int rows, int cols) in KernelTestData.RowShapes())
        {
            float[] x = KernelTestData.Uniform(rng, rows * cols, -3f, 3f);
            var norms = new float[rows];
            var expected = new double[rows];
            RowOps.L2Norms(x, rows, cols, norms, path);
            RowOpsReference.L2Norms(x, rows, cols, expected);
            KernelTestData.AssertClose($"L2Norms [{rows},{cols}] {path}", norms, expected, i => 1e-5 * expected[i]);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void MeanVariance_MatchReference(SimdPath path)
    {
        var rng = new Random(22);
        foreach ((int rows, int cols) in KernelTestData.RowShapes())
        {
            // An offset mean makes the two-pass variance matter.
            float[] x = KernelTestData.Uniform(rng, rows * cols, 2f, 5f);
            var mean = new float[rows];
            var variance = new float[rows];
            var em = new double[rows];
            var ev = new double[rows];
            RowOps.MeanVariance(x, rows, cols, mean, variance, path);
            RowOpsReference.MeanVariance(x, rows, cols, em, ev);
            KernelTestData.AssertClose($"mean [{rows},{cols}] {path}", mean, em, i => 1e-5 * Math.Abs(em[i]));
            // cols = 1 gives variance exactly 0; otherwise relative.
            KernelTestData.AssertClose($"variance [{rows},{cols}] {path}", variance, ev, i => 1e-5 * ev[i]);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void Softmax_MatchesReference_InPlaceToo(SimdPath path)
    {
        var rng = new Random(23);
        foreach ((int rows, int cols) in KernelTestData.RowShapes())
        {
            float[] x = KernelTestData.Uniform(rng, rows * cols, -8f, 8f);
            var y = new float[rows * cols];
            var expected = new double[rows * cols];
            RowOps.Softmax(x, y, rows, cols, path);
            RowOpsReference.Softmax(x, rows, cols, expected);
            KernelTestData.AssertClose($"Softmax [{rows},{cols}] {path}", y, expected, i => 1e-5 * expected[i]);
            float[] z = (float[])x.Clone();
            RowOps.Softmax(z, z, rows, cols, path);
            Assert.Equal(y, z);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void LogSoftmax_MatchesReference_InPlaceToo(SimdPath path)
    {
        var rng = new Random(24);
        foreach ((int rows, int cols) in KernelTestData.RowShapes())
        {
            float[] x = KernelTestData.Uniform(rng, rows * cols, -8f, 8f);
            var y = new float[rows * cols];
            var expected = new double[rows * cols];
            RowOps.LogSoftmax(x, y, rows, cols, path);
            RowOpsReference.LogSoftmax(x, rows, cols, expected);
            // Relative to max(|y|, 1): log-probabilities near 0 carry the absolute error of log Σ exp.
            KernelTestData.AssertClose($"LogSoftmax [{rows},{cols}] {path}", y, expected, i => 1e-5 * Math.Max(1, Math.Abs(expected[i])));
            float[] z = (float[])x.Clone();
            RowOps.LogSoftmax(z, z, rows, cols, path);
            Assert.Equal(y, z);
        }
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void SoftmaxBackward_MatchesReference_InPlaceToo(SimdPath path)
    {
        var rng = new Random(26);
        foreach ((int rows, int cols) in KernelTestData.RowShapes())
        {
            float[] x = KernelTestData.Uniform(rng, rows * cols, -3f, 3f);
            var y = new float[rows * cols];
            RowOps.Softmax(x, y, rows, cols, path);
            float[] dy = KernelTestData.Uniform(rng, rows * cols, -1f, 1f);
            var dx = new float[rows * cols];
            var expected = new double[rows * cols];
            RowOps.SoftmaxBackward(y, dy, dx, rows, cols, path);
            RowOpsReference.SoftmaxBackward(y, dy, rows, cols, expected);
            // dy − Σ y·dy can cancel; measure against y·(|dy| + |Σ y·dy|) ≤ 2·y.
            KernelTestData.AssertClose($"SoftmaxBackward [{rows},{cols}] {path}", dx, expected, i => 2e-5 * y[i] + 1e-30);
            float[] inPlace = (float[])dy.Clone();
            RowOps.SoftmaxBackward(y, inPlace, inPlace, rows, cols, path);
            Assert.Equal(dx, inPlace);
        }
    }

    [Fact]
    public void SoftmaxBackwardReference_MatchesFiniteDifferences()
    {
        // L(x) = Σ dy ⊙ softmax(x) in double; dL/dx must equal the reference backward.
        var rng = new Random(27);
        int cols = 13;
        float[] x = KernelTestData.Uniform(rng, cols, -2f, 2f);
        float[] dy = KernelTestData.Uniform(rng, cols, -1f, 1f);
        var y = new double[cols];
        RowOpsReference.Softmax(x, 1, cols, y);
        var yf = y.Select(v => (float)v).ToArray();
        var expected = new double[cols];
        RowOpsReference.SoftmaxBackward(yf, dy, 1, cols, expected);
        double[] z = x.Select(v => (double)v).ToArray();
        double L(double[] v)
        {
            double max = v.Max(), s = v.Sum(t => Math.Exp(t - max)), l = 0;
            for (int j = 0; j < cols; j++) l += dy[j] * Math.Exp(v[j] - max) / s;
            return l;
        }
        const double h = 1e-6;
        for (int j = 0; j < cols; j++)
        {
            double keep = z[j];
            z[j] = keep + h; double up = L(z);
            z[j] = keep - h; double down = L(z);
            z[j] = keep;
            // The reference is fed y rounded to float, hence 1e-7 rather than 1e-9.
            Assert.True(Math.Abs((up - down) / (2 * h) - expected[j]) <= 1e-7, $"column {j}");
        }
    }

    [Fact]
    public void Softmax_HandlesLargeLogits_WithoutOverflow()
    {
        float[] x = [1000f, 999f, -1000f, 80f];
        var y = new float[4];
        RowOps.Softmax(x, y, 1, 4);
        Assert.Equal(1 / (1 + Math.Exp(-1)), y[0], 6);
        Assert.Equal(Math.Exp(-1) / (1 + Math.Exp(-1)), y[1], 6);
        Assert.Equal(0f, y[2]);
        RowOps.LogSoftmax(x, y, 1, 4);
        Assert.Equal(-Math.Log(1 + Math.Exp(-1)), y[0], 5);
        Assert.Equal(-2000 - Math.Log(1 + Math.Exp(-1)), y[2], 3);
    }

    [Theory]
    [MemberData(nameof(KernelTestData.Paths), MemberType = typeof(KernelTestData))]
    public void NaN_Propagates(SimdPath path)
    {
        foreach (int cols in new[] { 1, 5, 16, 40 })
        foreach (int at in new[] { 0, cols - 1 })
        {
            var x = new float[cols];
            for (int j = 0; j < cols; j++) x[j] = j * 0.25f;
            x[at] = float.NaN;
            var y = new float[cols];
            RowOps.Softmax(x, y, 1, cols, path);
            Assert.All(y, v => Assert.True(float.IsNaN(v)));
            RowOps.LogSoftmax(x, y, 1, cols, path);
            Assert.All(y, v => Assert.True(float.IsNaN(v)));
            var norm = new float[1];
            RowOps.L2Norms(x, 1, cols, norm, path);
            Assert.True(float.IsNaN(norm[0]));
            Assert.True(float.IsNaN(CrossEntropy.ForwardBackward(x, 1, cols, [0], default, default, default, 1f, path)));
            Activations.Gelu(x, y, path);
            Assert.True(float.IsNaN(y[at]));
        }
    }

    [Fact]
    public void Results_DoNotDependOnThreadSplitting()
    {
        var rng = new Random(25);
        int rows = 300, cols = 777;
        float[] x = KernelTestData.Uniform(rng, rows * cols, -4f, 4f);
        var all = new float[rows * cols];
        RowOps.Softmax(x, all, rows, cols);
        for (int r = 0; r < rows; r += 37)
        {
            var one = new float[cols];
            RowOps.Softmax(x.AsSpan(r * cols, cols), one, 1, cols);
            Assert.Equal(all.AsSpan(r * cols, cols).ToArray(), one);
        }
    }

    [Fact]
    public void BadShapes_ThrowWithShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => RowOps.Softmax(new float[10], new float[12], 3, 4));
        Assert.Contains("[3, 4]", ex.Message);
        Assert.Contains("10", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => RowOps.L2Norms(new float[12], 3, 4, new float[2]));
        Assert.Contains("norms", ex.Message);
        Assert.Throws<ArgumentException>(() => RowOps.LogSoftmax(new float[12], new float[12], -1, 4));
        Assert.Throws<ArgumentException>(() => RowOps.MeanVariance(new float[12], 3, 0, new float[3], new float[3]));
        var buffer = new float[20];
        Assert.Throws<ArgumentException>(() => RowOps.Softmax(buffer.AsSpan(0, 12), buffer.AsSpan(4, 12), 3, 4));
        RowOps.Softmax(ReadOnlySpan<float>.Empty, Span<float>.Empty, 0, 5);   // empty is fine
    }
}
