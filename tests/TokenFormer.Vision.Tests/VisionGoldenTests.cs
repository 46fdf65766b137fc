using TokenFormer.Core.SafeTensors;
using TokenFormer.TestSupport;
using Xunit.Abstractions;

namespace TokenFormer.Vision.Tests;

/// <summary>
/// The vision model against the PyTorch reference of tools/reference/make_vision_goldens.py (fixtures in
/// tests/fixtures/vision): logits max|Δ| ≤ 1e-4·max|logit|, loss |Δ| ≤ 1e-5·max(1, loss), every parameter gradient
/// ‖Δ‖/‖ref‖ ≤ 1e-3.
/// </summary>
public sealed class VisionGoldenTests(ITestOutputHelper output)
{
    public static TheoryData<string> Names => new() { "l2gelu_s8_p4", "gelul2_rgb_s12_p4", "l2gelu_s14_p7_init" };

    [Theory]
    [MemberData(nameof(Names))]
    public void LogitsLossAndGradientsMatchPyTorch(string name)
    {
        string dir = RepositoryPaths.Require(Path.Combine("tests", "fixtures", "vision", name));
        VisionModel model = VisionModel.Load(dir);
        using SafeTensorsFile golden = SafeTensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        float[] images = golden.ReadFloat32("images");
        int[] labels = golden.ReadInt64("labels").Select(v => (int)v).ToArray();
        var net = new VisionNetwork(model, labels.Length);
        var coreGrad = new float[model.Core.Parameters.Length];
        var stemGrad = new float[model.Stem.Length];
        float loss = net.ForwardBackward(images, labels, coreGrad, stemGrad);

        float[] refLogits = golden.ReadFloat32("logits");
        float maxRef = refLogits.Max(MathF.Abs), maxDiff = 0;
        for (int i = 0; i < refLogits.Length; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(net.Logits[i] - refLogits[i]));
        output.WriteLine($"{name}: logits max|Δ|/max|ref| = {maxDiff / maxRef:E2}");
        Assert.True(maxDiff <= 1e-4f * maxRef, $"{name}: logits max|Δ| {maxDiff:E3} > 1e-4·{maxRef:E3}");
        float refLoss = golden.ReadFloat32("loss")[0];
        Assert.True(MathF.Abs(loss - refLoss) <= 1e-5f * MathF.Max(1, refLoss), $"{name}: loss {loss} vs {refLoss}");

        int checkedTensors = 0;
        foreach (var (key, t, arena) in model.AllTensors())
        {
            float[] refGrad = golden.ReadFloat32("grad." + key);
            float[] grad = arena == model.Stem ? stemGrad : coreGrad;
            double num = 0, den = 0;
            for (int i = 0; i < t.Length; i++)
            {
                double diff = grad[t.Offset + i] - refGrad[i];
                num += diff * diff; den += (double)refGrad[i] * refGrad[i];
            }
            double rel = Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
            output.WriteLine($"  grad {key}: rel {rel:E2}");
            Assert.True(den > 0, $"{name}: the reference gradient of {key} is zero, so the check would be empty");
            Assert.True(rel <= 1e-3, $"{name}: gradient of {key} relative error {rel:E3} > 1e-3 (‖ref‖ = {Math.Sqrt(den):E3})");
            checkedTensors++;
        }
        Assert.Equal(model.Core.Layout.Tensors.Count + model.StemLayout.Tensors.Count, checkedTensors);
    }
}
