using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

public unsafe class HeadRowsTests
{
    public static IEnumerable<object[]> Paths() => SimdPaths.Supported().Select(p => new object[] { p });

    [Theory]
    [MemberData(nameof(Paths))]
    public void ScoresAndWeightedValues_MatchTheReference_ForEveryHeadSize(SimdPath path)
    {
        var rng = new Random(7);
        foreach ((int heads, int headDim) in new[] { (12, 64), (4, 16), (6, 8), (3, 24), (5, 10), (1, 1), (2, 48) })
        {
            int width = heads * headDim;
            const long Stride = 5;   // one score per head, Stride apart, as the scores of one position in [heads, positions]
            float[] q = Random(rng, width), k = Random(rng, width), v = Random(rng, width), y = Random(rng, width);
            float[] expectedY = (float[])y.Clone(), scores = new float[heads * Stride], expected = new float[heads * Stride];
            fixed (float* pq = q, pk = k, pv = v, py = y, pe = expectedY, ps = scores, pr = expected)
            {
                HeadRows.Scores(pq, pk, heads, headDim, 0.125f, ps, Stride, path);
                HeadRowsReference.Scores(pq, pk, heads, headDim, 0.125f, pr, Stride);
                HeadRows.AddWeighted(pr, Stride, pv, heads, headDim, py, path);
                HeadRowsReference.AddWeighted(pr, Stride, pv, heads, headDim, pe);
            }
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - scores[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"{path} H={heads} h={headDim} score {i}: {scores[i]} vs {expected[i]}");
            for (int i = 0; i < width; i++)
                Assert.True(Math.Abs(expectedY[i] - y[i]) <= 1e-5f * (1 + Math.Abs(expectedY[i])), $"{path} H={heads} h={headDim} output {i}: {y[i]} vs {expectedY[i]}");
        }
    }

    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
