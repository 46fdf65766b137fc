using TokenFormer.Model;

namespace TokenFormer.Vision.Tests;

/// <summary>
/// Central finite differences of the loss against the hand-written gradients of every operation the vision model adds
/// (patch embedding weight and bias, position table, mean pooling and the pooled affine LayerNorm, head weight and
/// bias), and of one parameter-token tensor of each block kind reached through them (bidirectional attention).
/// </summary>
public sealed class VisionFiniteDifferenceTests
{
    internal static VisionModel SmallModel(int seed, int imageSize = 8, int channels = 1, int patch = 4, int layers = 2)
    {
        var config = VisionConfig.Create(imageSize, channels, patch, 4, layers, 16, 2, 12, 8, 24,
            Enumerable.Repeat(0.5, channels).ToArray(), Enumerable.Repeat(0.5, channels).ToArray());
        var model = new VisionModel(config);
        model.InitializeRandom(seed);
        // larger than the official init so that every term moves the loss measurably
        var rng = new Random(seed + 1);
        for (int i = 0; i < model.Core.Parameters.Length; i++) model.Core.Parameters[i] += (float)(rng.NextDouble() - 0.5) * 0.4f;
        for (int i = 0; i < model.Stem.Length; i++) model.Stem[i] += (float)(rng.NextDouble() - 0.5) * 0.4f;
        return model;
    }

    internal static float[] RandomImages(VisionConfig c, int batch, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, batch * c.Channels * c.ImageSize * c.ImageSize).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory]
    [InlineData(1, 8, 4)]
    [InlineData(3, 12, 4)]
    [InlineData(1, 14, 7)]
    public void GradientsMatchFiniteDifferences(int channels, int imageSize, int patch)
    {
        VisionModel model = SmallModel(11 + channels, imageSize, channels, patch);
        const int batch = 3;
        float[] images = RandomImages(model.Config, batch, 5);
        int[] labels = [0, 3, 1];
        var net = new VisionNetwork(model, batch);
        var coreGrad = new float[model.Core.Parameters.Length];
        var stemGrad = new float[model.Stem.Length];
        net.ForwardBackward(images, labels, coreGrad, stemGrad);

        double Loss()
        {
            net.Forward(images);
            return net.Loss(labels);
        }
        var rng = new Random(3);
        var targets = new List<(string Name, float[] Arena, float[] Grad, ParameterTensor T)>();
        foreach (ParameterTensor t in model.StemLayout.Tensors) targets.Add((t.Name, model.Stem, stemGrad, t));
        foreach (ParameterTensor t in model.Core.Layout.Tensors)
            if (t.Role is ParameterRole.Embedding or ParameterRole.FinalNormWeight or ParameterRole.FinalNormBias
                || (t.Layer == 0 && t.Site is PattentionSite.Query or PattentionSite.Key or PattentionSite.Ffn))
                targets.Add((VisionModel.CoreKey(t), model.Core.Parameters, coreGrad, t));
        foreach (var (name, arena, grad, t) in targets)
        {
            for (int probe = 0; probe < 6; probe++)
            {
                int i = t.Offset + rng.Next(t.Length);
                float keep = arena[i];
                const float h = 1e-2f;
                arena[i] = keep + h; double up = Loss();
                arena[i] = keep - h; double down = Loss();
                arena[i] = keep;
                double fd = (up - down) / (2 * h), an = grad[i];
                Assert.True(Math.Abs(fd - an) <= 2e-4 + 3e-2 * Math.Max(Math.Abs(fd), Math.Abs(an)),
                    $"{name}[{i - t.Offset}]: finite difference {fd:E4}, backward {an:E4}");
            }
        }
    }

    [Fact]
    public void PatchifyOrdersChannelRowColumnWithinRowMajorPatches()
    {
        var c = VisionConfig.Create(4, 3, 2, 2, 1, 8, 1, 4, 4, 4, [0, 0, 0], [1, 1, 1]);
        float[] image = Enumerable.Range(0, 3 * 4 * 4).Select(i => (float)i).ToArray(); // value = (c·4 + y)·4 + x
        var patches = new float[4 * 12];
        VisionNetwork.Patchify(c, image, 1, patches);
        // patch 1 = grid row 0, column 1: channel 0 rows 0–1 columns 2–3, then channels 1 and 2
        Assert.Equal(new float[] { 2, 3, 6, 7, 18, 19, 22, 23, 34, 35, 38, 39 }, patches.AsSpan(12, 12).ToArray());
        // patch 2 = grid row 1, column 0
        Assert.Equal(new float[] { 8, 9, 12, 13, 24, 25, 28, 29, 40, 41, 44, 45 }, patches.AsSpan(24, 12).ToArray());
    }
}
