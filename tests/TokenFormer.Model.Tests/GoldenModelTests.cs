using Xunit.Abstractions;
using TokenFormer.Core.SafeTensors;

namespace TokenFormer.Model.Tests;

/// <summary>
/// Golden tests against the PyTorch float64 reference (tools/reference/make_model_goldens.py): logits
/// max|Δ| ≤ 1e-4·max|logit|, loss |Δ| ≤ 1e-5, every parameter gradient ‖Δ‖/‖ref‖ ≤ 1e-3.
/// </summary>
public class GoldenModelTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Names => Fixtures.ModelNames();

    [Fact]
    public void FixturesArePresent() => Assert.True(Fixtures.ModelNames().Count() >= 7, "expected the committed model fixtures");

    [Theory]
    [MemberData(nameof(Names))]
    public void LogitsLossAndGradientsMatchReference(string name)
    {
        string dir = Path.Combine(Fixtures.ModelRoot, name);
        TokenFormerModel model = ModelDirectory.Load(dir);
        using SafeTensorsFile golden = SafeTensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        long[] shape = golden.Get("input_ids").Shape;
        int batch = (int)shape[0], seq = (int)shape[1];
        int[] ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        int[] targets = golden.ReadInt64("targets").Select(x => (int)x).ToArray();
        float[] mask = golden.ReadFloat32("loss_mask");
        float[] refLogits = golden.ReadFloat32("logits");
        float refLoss = golden.ReadFloat32("loss")[0];

        var runner = new ModelRunner(model, batch, seq, training: true);
        // forward without loss: logits
        runner.Forward(ids);
        float[] logits = runner.Logits.ToArray();
        Assert.Equal(refLogits.Length, logits.Length);
        float maxRef = refLogits.Max(MathF.Abs);
        float maxDiff = 0;
        for (int i = 0; i < logits.Length; i++) maxDiff = MathF.Max(maxDiff, MathF.Abs(logits[i] - refLogits[i]));
        Assert.True(maxDiff <= 1e-4f * maxRef, $"{name}: logits max|Δ| {maxDiff:E3} > 1e-4·{maxRef:E3}");

        output.WriteLine($"{name}: logits max|Δ|/max|ref| = {maxDiff / maxRef:E2}");
        float loss = runner.Forward(ids, targets, mask, computeGradient: true);
        Assert.True(MathF.Abs(loss - refLoss) <= 1e-5f, $"{name}: loss {loss} vs reference {refLoss}");
        output.WriteLine($"{name}: loss {loss} vs {refLoss} (|Δ| = {MathF.Abs(loss - refLoss):E2})");
        runner.Backward();
        double worst = 0;
        float[] grad = runner.Gradients!;
        foreach (ParameterTensor t in model.Layout.Tensors)
        {
            float[] reference = golden.ReadFloat32("grad." + t.Name);
            double num = 0, den = 0;
            for (int i = 0; i < t.Length; i++)
            {
                double diff = grad[t.Offset + i] - reference[i];
                num += diff * diff;
                den += (double)reference[i] * reference[i];
            }
            double rel = Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
            worst = Math.Max(worst, rel);
            Assert.True(rel <= 1e-3, $"{name}: gradient of {t.Name} relative error {rel:E3} > 1e-3 (‖ref‖ = {Math.Sqrt(den):E3})");
        }
        output.WriteLine($"{name}: worst gradient ‖Δ‖/‖ref‖ = {worst:E2}");
    }
}
