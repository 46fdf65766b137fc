using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Tests.Architecture;

/// <summary>
/// The bidirectional mode of <see cref="SelfAttention"/> (the encoder's attention context): every row sees the
/// whole sequence. Checked against the causal mode, whose last row sees the whole sequence too, and its backward
/// against finite differences.
/// </summary>
public class BidirectionalAttentionTests
{
    private const int Heads = 2, HeadDim = 8, D = Heads * HeadDim;

    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    [Theory]
    [InlineData(5)]
    [InlineData(70)]   // crosses the 64-row block boundary
    public void EachRowEqualsTheCausalLastRowAskingTheSameQuery(int t)
    {
        var rng = new Random(5);
        float[] q = Random(rng, t * D), k = Random(rng, t * D), v = Random(rng, t * D);
        float[] o = new float[t * D], lse = new float[Heads * t];
        new SelfAttention(causal: false).Forward(q, k, v, o, lse, 1, t, Heads, HeadDim);
        var causal = new SelfAttention(causal: true);
        float[] oc = new float[t * D], lsec = new float[Heads * t];
        foreach (int i in new[] { 0, t / 2, t - 1 })
        {
            float[] qi = (float[])q.Clone();
            q.AsSpan(i * D, D).CopyTo(qi.AsSpan((t - 1) * D, D));
            causal.Forward(qi, k, v, oc, lsec, 1, t, Heads, HeadDim);
            for (int c = 0; c < D; c++) Assert.Equal(oc[(t - 1) * D + c], o[i * D + c], 5);
        }
        // and it differs from causal attention where the causal mask hides positions
        causal.Forward(q, k, v, oc, lsec, 1, t, Heads, HeadDim);
        Assert.NotEqual(oc[0], o[0]);
    }

    [Fact]
    public void BackwardMatchesFiniteDifferences()
    {
        const int t = 70, batch = 2, n = batch * t * D;   // two row blocks per sequence
        var rng = new Random(8);
        float[] q = Random(rng, n), k = Random(rng, n), v = Random(rng, n), w = Random(rng, n);
        var attention = new SelfAttention(causal: false);
        float[] o = new float[n], lse = new float[batch * Heads * t], dq = new float[n], dk = new float[n], dv = new float[n];
        attention.Forward(q, k, v, o, lse, batch, t, Heads, HeadDim);
        attention.Backward(q, k, v, o, lse, w, dq, dk, dv, batch, t, Heads, HeadDim);
        double Loss()
        {
            attention.Forward(q, k, v, o, lse, batch, t, Heads, HeadDim);
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)o[i] * w[i];
            return s;
        }
        foreach (var (x, dx) in new[] { (q, dq), (k, dk), (v, dv) })
            for (int i = 3; i < n; i += 97)
            {
                const float h = 1e-2f;
                float keep = x[i];
                x[i] = keep + h; double up = Loss();
                x[i] = keep - h; double down = Loss();
                x[i] = keep;
                double fd = (up - down) / (2 * h);
                Assert.True(Math.Abs(fd - dx[i]) <= 2e-3 + 2e-2 * Math.Abs(fd), $"index {i}: finite difference {fd:G6}, backward {dx[i]:G6}");
            }
    }
}
