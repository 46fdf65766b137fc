using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;
using TokenFormer.TestSupport.Reference;
using Xunit.Abstractions;

namespace TokenFormer.Model.Tests.Growth;

/// <summary>
/// Growth (docs/architecture.md, Growth): <c>preserve</c> keeps the function for the L2 normalisations (logits max|Δ| ≤ 1e-5, validation loss
/// equal), <c>official</c> changes it as docs/architecture.md, Growth, predicts, the lineage is recorded, and bad requests are refused.
/// </summary>
public class GrowthTests(ITestOutputHelper output)
{
    /// <summary>Fixture models (random weights with O(1) scores, see tools/reference/make_model_goldens.py) of the L2 normalisations.</summary>
    public static IEnumerable<object[]> L2Fixtures =>
    [
        ["l2gelu_d72_h3"], ["l2gelu_deep5"], ["growth_small"], ["gelul2_h4_odd_n"], ["gelul2_rot100_mask"],
    ];

    private static TokenFormerModel Fixture(string name) => ModelDirectory.Load(Path.Combine(Fixtures.ModelRoot, name));

    private static int[] GoldenIds(string name, out int batch, out int seq)
    {
        using SafeTensorsFile golden = SafeTensorsFile.Open(Path.Combine(Fixtures.ModelRoot, name, "golden.safetensors"));
        long[] shape = golden.Get("input_ids").Shape;
        batch = (int)shape[0];
        seq = (int)shape[1];
        return golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
    }

    private static float[] Logits(TokenFormerModel model, int[] ids, int batch, int seq)
    {
        var runner = new ModelRunner(model, batch, seq, training: false);
        runner.Forward(ids);
        return runner.Logits.ToArray();
    }

    private static float MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = MathF.Max(m, MathF.Abs(a[i] - b[i]));
        return m;
    }

    /// <summary>A deterministic pseudo-text of <paramref name="count"/> ids below <paramref name="vocab"/>.</summary>
    private static int[] Stream(int vocab, int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    private static double ValidationLoss(TokenFormerModel model, ITokenSource val, int seq)
    {
        var runner = new ModelRunner(model, 3, seq, training: false);
        return new Evaluator(runner).Run(val, Evaluator.EvenlySpaced(val.Count, seq, 7)).Loss;
    }

    private static TokenCounts Bigger(TokenFormerConfig c) => new(c.QkvSlotNum * 2 + 3, c.ProjSlotNum + 7, c.FfnSlotNum * 3);

    [Theory]
    [MemberData(nameof(L2Fixtures))]
    public void Preserve_KeepsLogitsAndValidationLoss_ForTheL2Normalisations(string name)
    {
        TokenFormerModel small = Fixture(name);
        Assert.NotEqual(NormActivation.Softmax, small.Config.Activation);
        TokenFormerModel grown = ModelGrower.Grow(small, new GrowthOptions(Bigger(small.Config), GrowthMode.Preserve, Seed: 5));
        Assert.Equal(Bigger(small.Config), TokenCounts.Of(grown.Config));
        Assert.True(grown.Parameters.Length > small.Parameters.Length);

        int[] ids = GoldenIds(name, out int batch, out int seq);
        float[] before = Logits(small, ids, batch, seq), after = Logits(grown, ids, batch, seq);
        float diff = MaxAbsDiff(before, after), scale = before.Max(MathF.Abs);
        output.WriteLine($"{name} ({small.Config.NormActivationType}): logits max|Δ| {diff:E2} (max|logit| {scale:F2})");
        Assert.True(diff <= 1e-5f, $"{name}: preserve growth changed the logits by {diff:E3}");
        Assert.True(scale > 0.5f, "the fixture's logits should not be trivially small");

        var val = new ArrayTokenSource(Stream(small.Vocab, 400, 11));
        double l0 = ValidationLoss(small, val, seq), l1 = ValidationLoss(grown, val, seq);
        output.WriteLine($"{name}: validation loss {l0:F7} → {l1:F7}");
        Assert.True(Math.Abs(l0 - l1) <= 1e-5, $"{name}: validation loss {l0} became {l1}");

        // the same weights with the official τ = √(new n) compute something else (docs/architecture.md, Growth)
        TokenFormerModel unfrozen = WithConfig(grown, c => { c.PattentionScaleQkv = c.PattentionScaleProj = c.PattentionScaleFfn = null; });
        Assert.True(MaxAbsDiff(before, Logits(unfrozen, ids, batch, seq)) > 1e-3f);
    }

    [Fact]
    public void Preserve_NewRowsAreZeroKeysAndValueInitValues_OldRowsFirst()
    {
        TokenFormerModel small = Fixture("l2gelu_deep5");
        TokenCounts target = Bigger(small.Config);
        TokenFormerModel grown = ModelGrower.Grow(small, new GrowthOptions(target, GrowthMode.Preserve, Seed: 9));
        double valueStd = ParameterTensor.ValueStd(grown.Config);
        int d = grown.Config.HiddenSize;
        var newValues = new List<float>();
        foreach (ParameterTensor t in grown.Layout.Tensors)
        {
            ReadOnlySpan<float> g = grown.Tensor(t.Name), s = small.Tensor(t.Name);
            Assert.True(g[..s.Length].SequenceEqual(s), $"{t.Name}: the old values are not the first rows");
            ReadOnlySpan<float> fresh = g[s.Length..];
            if (t.Name.EndsWith("key_param_tokens")) Assert.True(fresh.IndexOfAnyExcept(0f) < 0, $"{t.Name}: new key rows are not zero");
            else newValues.AddRange(fresh.ToArray());
        }
        Assert.True(newValues.Count > 1000);
        double mean = newValues.Average(v => (double)v), std = Math.Sqrt(newValues.Average(v => (double)v * v) - mean * mean);
        output.WriteLine($"new value rows: n = {newValues.Count}, mean {mean:E2}, std {std:E4} (value init σ = 2/(L·√d) = {valueStd:E4})");
        Assert.InRange(std, valueStd * 0.95, valueStd * 1.05);
        Assert.InRange(mean, -valueStd * 0.1, valueStd * 0.1);
        Assert.Equal(small.Config.ScaleQkv, grown.Config.ScaleQkv);
        Assert.Equal(small.Config.ScaleFfn, grown.Config.ScaleFfn);
        Assert.Equal(Math.Sqrt(small.Config.ProjSlotNum), grown.Config.PattentionScaleProj);
        Assert.Equal(d, grown.Config.HiddenSize);
    }

    [Fact]
    public void Preserve_IsTheSameFunctionAsThePythonGrownFixture()
    {
        // growth_grown was grown from growth_small by the PyTorch reference with other random new values: our grown
        // model, growth_small and growth_grown must all give the same logits
        TokenFormerModel small = Fixture("growth_small"), reference = Fixture("growth_grown");
        TokenFormerModel grown = ModelGrower.Grow(small, new GrowthOptions(TokenCounts.Of(reference.Config), GrowthMode.Preserve));
        Assert.Equal(reference.Config.PattentionScaleQkv!.Value, grown.Config.PattentionScaleQkv!.Value, 12);
        Assert.Equal(reference.Config.PattentionScaleFfn!.Value, grown.Config.PattentionScaleFfn!.Value, 12);
        int[] ids = GoldenIds("growth_small", out int batch, out int seq);
        float[] a = Logits(grown, ids, batch, seq), b = Logits(reference, ids, batch, seq);
        Assert.True(MaxAbsDiff(a, b) <= 1e-5f, $"max|Δ| {MaxAbsDiff(a, b):E3}");
    }

    [Fact]
    public void Official_ShiftsTheFunction_RandomNewRows_AndTauRecomputed()
    {
        foreach (string name in new[] { "l2gelu_d72_h3", "gelul2_h4_odd_n" })
        {
            TokenFormerModel small = Fixture(name);
            TokenCounts target = Bigger(small.Config);
            TokenFormerModel grown = ModelGrower.Grow(small, new GrowthOptions(target, GrowthMode.Official, Seed: 3));
            Assert.Null(grown.Config.PattentionScaleQkv);
            Assert.Equal(Math.Sqrt(target.Ffn), grown.Config.ScaleFfn, 12);
            string key = ParameterLayout.LayerKey(0, "mlp.key_param_tokens");
            ReadOnlySpan<float> newKeys = grown.Tensor(key)[small.Tensor(key).Length..];
            double keyStd = Math.Sqrt(newKeys.ToArray().Average(v => (double)v * v));
            Assert.InRange(keyStd, ParameterTensor.KeyStd * 0.9, ParameterTensor.KeyStd * 1.1);

            int[] ids = GoldenIds(name, out int batch, out int seq);
            float diff = MaxAbsDiff(Logits(small, ids, batch, seq), Logits(grown, ids, batch, seq));
            var val = new ArrayTokenSource(Stream(small.Vocab, 400, 11));
            double l0 = ValidationLoss(small, val, seq), l1 = ValidationLoss(grown, val, seq);
            output.WriteLine($"{name} official: logits max|Δ| {diff:E2}, validation loss {l0:F5} → {l1:F5}");
            Assert.True(diff > 1e-2f, $"{name}: official growth should change the logits (max|Δ| {diff:E3})");
            Assert.True(Math.Abs(l1 - l0) > 1e-4, $"{name}: official growth should change the validation loss");
        }
    }

    /// <summary>
    /// Growth of one Pattention (docs/architecture.md, Growth) (double-precision reference), zero new keys: with τ frozen at √n_old both L2
    /// variants are unchanged; with the code's τ = √(n_old + m), gelu_l2_norm's output is multiplied by exactly
    /// √((n_old + m)/n_old) and l2_norm_gelu's changes non-uniformly; random new keys (official) change both.
    /// </summary>
    [Theory]
    [InlineData("gelul2_h4_odd_n")]
    [InlineData("l2gelu_d72_h3")]
    public void PattentionOutputs_ShiftAsSpec53Predicts(string name)
    {
        TokenFormerModel small = Fixture(name);
        TokenCounts target = Bigger(small.Config);
        TokenFormerModel preserved = ModelGrower.Grow(small, new GrowthOptions(target, GrowthMode.Preserve, Seed: 2));
        TokenFormerModel official = ModelGrower.Grow(small, new GrowthOptions(target, GrowthMode.Official, Seed: 2));
        NormActivation act = small.Config.Activation;
        int d = small.Config.HiddenSize, rows = 6, nOld = small.Config.FfnSlotNum, nNew = target.Ffn;
        string keyName = ParameterLayout.LayerKey(1, "mlp.key_param_tokens"), valueName = ParameterLayout.LayerKey(1, "mlp.value_param_tokens");
        double[] D(TokenFormerModel m, string t) => m.Tensor(t).ToArray().Select(v => (double)v).ToArray();
        double[] x = TestData.Normal(new Random(4), rows * d);
        double[] Out(TokenFormerModel m, int n, double tau) => PattentionReference.Forward(act, tau, n, x, D(m, keyName), D(m, valueName), rows, d, n, d);

        double[] reference = Out(small, nOld, Math.Sqrt(nOld));
        double[] frozen = Out(preserved, nNew, Math.Sqrt(nOld));
        double[] codeTau = Out(preserved, nNew, Math.Sqrt(nNew));
        double[] randomKeys = Out(official, nNew, Math.Sqrt(nNew));
        Assert.True(TestData.RelativeError(frozen, reference) < 1e-12, "τ frozen + zero keys must preserve the output");
        double predicted = Math.Sqrt((double)nNew / nOld);
        double[] ratios = Enumerable.Range(0, reference.Length).Where(i => Math.Abs(reference[i]) > 1e-6).Select(i => codeTau[i] / reference[i]).ToArray();
        output.WriteLine($"{name} ({NormActivations.Name(act)}): code τ output/reference ratio in [{ratios.Min():F6}, {ratios.Max():F6}], " +
            $"√((n+m)/n) = {predicted:F6}; random new keys: relative change {TestData.RelativeError(randomKeys, reference):F3}");
        if (act == NormActivation.GeluL2Norm)
            Assert.All(ratios, r => Assert.Equal(predicted, r, 9));
        else
            Assert.True(ratios.Max() - ratios.Min() > 1e-3, "l2_norm_gelu with the code's τ is not a uniform rescaling");
        Assert.True(TestData.RelativeError(codeTau, reference) > 1e-3);
        Assert.True(TestData.RelativeError(randomKeys, reference) > 1e-2);
    }

    [Fact]
    public void ValueScale_ShrinksOnlyTheNewValueRows_AndIsRecorded()
    {
        TokenFormerModel small = Fixture("l2gelu_d72_h3");
        TokenCounts target = Bigger(small.Config);
        TokenFormerModel plain = ModelGrower.Grow(small, new GrowthOptions(target, GrowthMode.Preserve, Seed: 6));
        TokenFormerModel scaled = ModelGrower.Grow(small, new GrowthOptions(target, GrowthMode.Preserve, Seed: 6, ValueScale: 0.05));
        int nOld = small.Config.FfnSlotNum, d = small.Config.HiddenSize;
        string valueName = ParameterLayout.LayerKey(0, "mlp.value_param_tokens"), keyName = ParameterLayout.LayerKey(0, "mlp.key_param_tokens");
        float[] a = plain.Tensor(valueName).ToArray(), b = scaled.Tensor(valueName).ToArray();
        // old rows untouched, new rows the same draws times the scale
        Assert.True(a.AsSpan(0, nOld * d).SequenceEqual(b.AsSpan(0, nOld * d)));
        for (int i = nOld * d; i < a.Length; i++) Assert.Equal(a[i] * 0.05, b[i], 1e-6);
        Assert.Contains(b.Skip(nOld * d), v => v != 0);
        Assert.True(plain.Tensor(keyName).ToArray().AsSpan().SequenceEqual(scaled.Tensor(keyName).ToArray()));
        Assert.Equal(0.05, GrowthLineage.Last(scaled.Config)!.ValueScale);
        // zero (no gradient would ever reach a zero key with a zero value) and non-numbers are refused, naming the setting
        foreach (double bad in new[] { 0, -1, double.NaN })
            Assert.Equal("value-scale", Assert.Throws<GrowthException>(() => ModelGrower.Grow(small, new GrowthOptions(target, ValueScale: bad))).Field);
    }

    [Fact]
    public void Softmax_PreserveIsNotFunctionPreserving()
    {
        TokenFormerModel small = Fixture("softmax_small");
        TokenFormerModel grown = ModelGrower.Grow(small, new GrowthOptions(Bigger(small.Config), GrowthMode.Preserve));
        int[] ids = GoldenIds("softmax_small", out int batch, out int seq);
        float diff = MaxAbsDiff(Logits(small, ids, batch, seq), Logits(grown, ids, batch, seq));
        output.WriteLine($"softmax preserve: logits max|Δ| {diff:E2} (zero keys still receive softmax mass)");
        Assert.True(diff > 1e-3f);
    }

    [Fact]
    public void Lineage_IsRecorded_SurvivesSaveAndLoad_AndAccumulates()
    {
        TokenFormerModel small = Fixture("growth_small");
        Assert.Empty(GrowthLineage.Read(small.Config));
        TokenFormerModel g1 = ModelGrower.Grow(small, new GrowthOptions(new TokenCounts(50, 30, 60), GrowthMode.Preserve, 17, "runs/s/step-9"));
        string dir = Path.Combine(Path.GetTempPath(), "tf-growth-test-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            ModelDirectory.Save(g1, dir);
            string json = File.ReadAllText(Path.Combine(dir, ModelDirectory.ConfigFile));
            Assert.Contains("\"growth\"", json);
            TokenFormerModel loaded = ModelDirectory.Load(dir);
            Assert.Equal(g1.Parameters, loaded.Parameters);
            GrowthStage stage = Assert.Single(GrowthLineage.Read(loaded.Config));
            Assert.Equal("runs/s/step-9", stage.Source);
            Assert.Equal("preserve", stage.Mode);
            Assert.Equal(17, stage.Seed);
            Assert.Equal(new TokenCounts(40, 24, 48), stage.OldTokens);
            Assert.Equal(new TokenCounts(50, 30, 60), stage.NewTokens);
            Assert.Equal(Math.Sqrt(48), stage.OldScale.Ffn, 12);
            Assert.Equal(Math.Sqrt(48), stage.NewScale.Ffn, 12);
            Assert.Equal(small.Parameters.LongLength, stage.OldParameters);
            Assert.Equal(g1.Parameters.LongLength, stage.NewParameters);

            // a second preserve growth keeps τ at the original √n and appends a stage; official recomputes τ
            TokenFormerModel g2 = ModelGrower.Grow(loaded, new GrowthOptions(new TokenCounts(60, 30, 90), GrowthMode.Preserve));
            Assert.Equal(Math.Sqrt(48), g2.Config.ScaleFfn, 12);
            Assert.Equal(2, GrowthLineage.Read(g2.Config).Count);
            TokenFormerModel g3 = ModelGrower.Grow(g2, new GrowthOptions(new TokenCounts(60, 31, 90), GrowthMode.Official));
            IReadOnlyList<GrowthStage> all = GrowthLineage.Read(g3.Config);
            Assert.Equal(["preserve", "preserve", "official"], all.Select(s => s.Mode));
            Assert.Equal(Math.Sqrt(48), all[2].OldScale.Ffn, 12);
            Assert.Equal(Math.Sqrt(90), all[2].NewScale.Ffn, 12);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void OldParameters_CoverEmbeddingNormAndOldRows()
    {
        TokenFormerModel small = Fixture("l2gelu_deep5");
        TokenFormerModel grown = ModelGrower.Grow(small, new GrowthOptions(Bigger(small.Config)));
        List<ParameterRange> ranges = OldParameters.Ranges(grown);
        Assert.Equal(small.Parameters.LongLength, ranges.Sum(r => (long)r.Length));
        // the old values, range by range in arena order, are the source's parameters in its arena order
        float[] gathered = ranges.SelectMany(r => grown.Parameters.AsSpan(r.Offset, r.Length).ToArray()).ToArray();
        Assert.Equal(small.Parameters, gathered);
        var ex = Assert.Throws<GrowthException>(() => OldParameters.Ranges(small));
        Assert.Contains("no growth lineage", ex.Message);
    }

    [Fact]
    public void BadRequests_GiveClearErrors()
    {
        TokenFormerModel small = Fixture("growth_small"); // 40 / 24 / 48
        var e1 = Assert.Throws<GrowthException>(() => ModelGrower.Grow(small, new GrowthOptions(new TokenCounts(30, 24, 48))));
        Assert.Contains("qkv token count 30 is smaller than the source's 40", e1.Message);
        Assert.Equal("qkv", e1.Field);
        var e2 = Assert.Throws<GrowthException>(() => ModelGrower.Grow(small, new GrowthOptions(new TokenCounts(40, 24, 48))));
        Assert.Contains("nothing to grow", e2.Message);
        var e3 = Assert.Throws<GrowthException>(() => GrowthModes.Parse("random"));
        Assert.Contains("not one of preserve, official", e3.Message);
        Assert.Equal(GrowthMode.Official, GrowthModes.Parse("Official"));
        Assert.Equal(new TokenCounts(60, 36, 72), new TokenCounts(40, 24, 48).Scale(1.5));
    }

    private static TokenFormerModel WithConfig(TokenFormerModel m, Action<TokenFormerConfig> edit)
    {
        TokenFormerConfig c = m.Config.Clone();
        c.VocabSize = m.Vocab;
        edit(c);
        var copy = new TokenFormerModel(c);
        m.Parameters.CopyTo(copy.Parameters, 0);
        return copy;
    }
}
