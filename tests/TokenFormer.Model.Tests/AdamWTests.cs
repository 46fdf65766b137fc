using TokenFormer.Model.Optimizer;

namespace TokenFormer.Model.Tests;

/// <summary>AdamW against a plain double-precision transcription of the torch.optim.AdamW update.</summary>
public class AdamWTests
{
    [Fact]
    public void MatchesTheReferenceUpdateAndSkipsDecayOnTheFinalNorm()
    {
        var c = TokenFormerPresets.Get("micro");
        c.NumLayers = 1; c.HiddenSize = 16; c.NumAttentionHeads = 2; c.QkvSlotNum = 6; c.ProjSlotNum = 5; c.FfnSlotNum = 9; c.VocabSize = 1000;
        var model = new TokenFormerModel(c);
        model.InitializeRandom(3);
        var adam = new AdamW(model.Layout);
        int n = model.Parameters.Length;
        double[] p = model.Parameters.Select(v => (double)v).ToArray(), m = new double[n], v2 = new double[n];
        bool[] decay = new bool[n];
        foreach (ParameterTensor t in model.Layout.Tensors) for (int i = 0; i < t.Length; i++) decay[t.Offset + i] = t.Decay;
        var rng = new Random(4);
        for (int step = 1; step <= 3; step++)
        {
            float[] g = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            float lr = 1e-2f * step;
            adam.Update(model.Parameters, g, lr);
            double bc1 = 1 - Math.Pow(0.9, step), bc2 = 1 - Math.Pow(0.95, step);
            for (int i = 0; i < n; i++)
            {
                if (decay[i]) p[i] *= 1 - lr * 0.1;
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v2[i] = 0.95 * v2[i] + 0.05 * g[i] * (double)g[i];
                p[i] -= lr / bc1 * m[i] / (Math.Sqrt(v2[i]) / Math.Sqrt(bc2) + 1e-8);
            }
        }
        double maxErr = 0;
        for (int i = 0; i < n; i++) maxErr = Math.Max(maxErr, Math.Abs(model.Parameters[i] - p[i]));
        Assert.True(maxErr < 1e-6, $"max |Δθ| {maxErr:E2}");
        Assert.False(model.Layout.Find("sequential.4.norm.weight")!.Decay);
        Assert.True(model.Layout.Find("sequential.0.word_embeddings.weight")!.Decay);
    }

    [Fact]
    public void TrainingStepsReduceTheLossOnARepeatedBatch()
    {
        var c = TokenFormerPresets.Get("micro");
        var model = new TokenFormerModel(c);
        model.InitializeRandom(5);
        var runner = new ModelRunner(model, 2, 16, training: true);
        var adam = new AdamW(model.Layout);
        var rng = new Random(6);
        int[] tokens = Enumerable.Range(0, 32).Select(_ => rng.Next(c.Vocab)).ToArray();
        int[] targets = tokens.Skip(1).Append(0).ToArray();
        float first = 0, last = 0;
        for (int s = 0; s < 15; s++)
        {
            last = runner.Forward(tokens, targets, default, computeGradient: true);
            if (s == 0) first = last;
            runner.Backward();
            adam.Update(model.Parameters, runner.Gradients!, 3e-3f);
        }
        Assert.True(last < first - 1, $"loss {first} → {last}");
    }

    [Fact]
    public void AccumulatedGradientsOfTwoHalvesEqualTheWholeBatch()
    {
        var c = TokenFormerPresets.Get("micro");
        var model = new TokenFormerModel(c);
        model.InitializeRandom(8);
        var rng = new Random(9);
        int[] tokens = Enumerable.Range(0, 24).Select(_ => rng.Next(c.Vocab)).ToArray();
        int[] targets = Enumerable.Range(0, 24).Select(_ => rng.Next(c.Vocab)).ToArray();
        var whole = new ModelRunner(model, 2, 12, training: true);
        whole.Forward(tokens, targets, default, computeGradient: true);
        whole.Backward();
        var half = new ModelRunner(model, 1, 12, training: true);
        half.Forward(tokens.AsSpan(0, 12), targets.AsSpan(0, 12), default, computeGradient: true);
        half.Backward();
        half.Forward(tokens.AsSpan(12, 12), targets.AsSpan(12, 12), default, computeGradient: true);
        half.Backward(accumulate: true);
        // each half's loss is a mean over 12 positions, the whole batch's over 24: whole = ½·(half₁ + half₂)
        double rel = TestData.RelativeError(half.Gradients!.Select(v => v * 0.5).ToArray(), whole.Gradients!.Select(v => (double)v).ToArray());
        Assert.True(rel < 1e-5, $"relative difference {rel:E2}");
    }
}
