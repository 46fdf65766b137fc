using TokenFormer.Model.Inference;

namespace TokenFormer.Model.Tests.Inference;

/// <summary>The sampler's filters against plain reference implementations written from docs/architecture.md, Generation.</summary>
public class SamplerTests
{
    private static float[] RandomLogits(int n, int seed, bool withTies = false)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = withTies ? rng.Next(-4, 5) : (float)(rng.NextDouble() * 8 - 4);
        return x;
    }

    private static float[] ReferenceTopK(float[] logits, int k)
    {
        float kth = logits.OrderByDescending(v => v).ElementAt(k - 1);
        return logits.Select(v => v < kth ? float.NegativeInfinity : v).ToArray();
    }

    private static float[] ReferenceTopP(float[] logits, float p)
    {
        int[] order = Enumerable.Range(0, logits.Length).Where(i => !float.IsNegativeInfinity(logits[i]))
            .OrderByDescending(i => logits[i]).ThenBy(i => i).ToArray();
        double max = logits[order[0]];
        double total = order.Sum(i => Math.Exp(logits[i] - max));
        var result = (float[])logits.Clone();
        double before = 0;
        foreach (int i in order)
        {
            if (before / total > p) result[i] = float.NegativeInfinity;   // shifted mask: the first token crossing p is kept
            before += Math.Exp(logits[i] - max);
        }
        return result;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(5, false)]
    [InlineData(40, false)]
    [InlineData(3, true)]
    [InlineData(10, true)]
    public void TopK_MatchesReference_KeepingTies(int k, bool ties)
    {
        for (int seed = 0; seed < 5; seed++)
        {
            float[] logits = RandomLogits(97, seed, ties);
            float[] expected = ReferenceTopK(logits, k);
            var sampler = new Sampler(logits.Length);
            float[] actual = (float[])logits.Clone();
            sampler.ApplyTopK(actual, k);
            Assert.Equal(expected, actual);
            Assert.True(actual.Count(float.IsFinite) >= k);
        }
    }

    [Theory]
    [InlineData(0.05f, false)]
    [InlineData(0.5f, false)]
    [InlineData(0.9f, false)]
    [InlineData(0.99f, false)]
    [InlineData(0.6f, true)]
    public void TopP_MatchesReference(float p, bool ties)
    {
        for (int seed = 0; seed < 5; seed++)
        {
            float[] logits = RandomLogits(131, seed + 10, ties);
            var sampler = new Sampler(logits.Length);
            float[] actual = (float[])logits.Clone();
            sampler.ApplyTopP(actual, p);
            Assert.Equal(ReferenceTopP(logits, p), actual);
            Assert.True(float.IsFinite(actual[Sampler.Argmax(logits)]), "the most likely token is always kept");
        }
    }

    [Fact]
    public void TopP_AfterTopK_OnlyConsidersTheSurvivors()
    {
        float[] logits = RandomLogits(64, 3);
        var sampler = new Sampler(64);
        float[] actual = (float[])logits.Clone();
        sampler.ApplyTopK(actual, 8);
        sampler.ApplyTopP(actual, 0.7f);
        Assert.Equal(ReferenceTopP(ReferenceTopK(logits, 8), 0.7f), actual);
    }

    [Fact]
    public void RepetitionPenalty_DividesPositive_MultipliesNegative_OncePerDistinctToken()
    {
        float[] logits = [2f, -1f, 0.5f, -3f, 4f];
        var sampler = new Sampler(5);
        sampler.ApplyRepetitionPenalty(logits, [0, 1, 1, 3, 0], 2f);
        Assert.Equal([1f, -2f, 0.5f, -6f, 4f], logits);
        // a second call (new step) penalises again from the new values
        sampler.ApplyRepetitionPenalty(logits, [4], 2f);
        Assert.Equal([1f, -2f, 0.5f, -6f, 2f], logits);
    }

    [Fact]
    public void TemperatureZero_IsArgmax_WithPenaltyApplied()
    {
        var sampler = new Sampler(4);
        Assert.Equal(2, sampler.Sample(new float[] { 1f, 3f, 3.5f, 0f }, [], new SamplingOptions { Temperature = 0 }));
        Assert.Equal(1, sampler.Sample(new float[] { 1f, 3f, 3.5f, 0f }, [2], new SamplingOptions { Temperature = 0, RepetitionPenalty = 2f }));
        Assert.Equal(1, Sampler.Argmax([0f, 5f, 5f]));   // ties: lowest index
    }

    [Fact]
    public void Draw_FollowsTheCumulativeDistribution()
    {
        // softmax of ln(1), ln(2), ln(3), −∞ → 1/6, 2/6, 3/6, 0
        float[] logits = [0f, MathF.Log(2), MathF.Log(3), float.NegativeInfinity];
        Assert.Equal(0, Sampler.Draw(logits, 0.10));
        Assert.Equal(1, Sampler.Draw(logits, 0.20));
        Assert.Equal(1, Sampler.Draw(logits, 0.49));
        Assert.Equal(2, Sampler.Draw(logits, 0.51));
        Assert.Equal(2, Sampler.Draw(logits, 0.999999));
    }

    [Fact]
    public void Sampling_IsDeterministicForASeed_AndMatchesTheDistribution()
    {
        float[] baseLogits = [0f, MathF.Log(2), MathF.Log(3), float.NegativeInfinity];
        var options = new SamplingOptions { Temperature = 1f };
        int[] Run(int seed)
        {
            var s = new Sampler(4);
            s.Reset(seed);
            return Enumerable.Range(0, 6000).Select(_ => s.Sample((float[])baseLogits.Clone(), [], options)).ToArray();
        }
        int[] a = Run(5), b = Run(5), c = Run(6);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.DoesNotContain(3, a);
        double[] freq = Enumerable.Range(0, 3).Select(k => a.Count(t => t == k) / 6000.0).ToArray();
        Assert.InRange(freq[0], 1 / 6.0 - 0.03, 1 / 6.0 + 0.03);
        Assert.InRange(freq[1], 2 / 6.0 - 0.03, 2 / 6.0 + 0.03);
        Assert.InRange(freq[2], 3 / 6.0 - 0.03, 3 / 6.0 + 0.03);
    }
}
