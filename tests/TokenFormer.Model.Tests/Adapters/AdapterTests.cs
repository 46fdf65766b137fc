using TokenFormer.Model.Adapters;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Inference;
using TokenFormer.Model.Training;
using Xunit.Abstractions;

namespace TokenFormer.Model.Tests.Adapters;

// After the namespace line, so that Fixtures means the shared training data rather than this project's Fixtures class.
using Fixtures = TokenFormer.TestSupport.TrainingFixtures;
using static TokenFormer.Model.Tests.Training.GrowthTrainingData;

/// <summary>
/// Adapters made of parameter tokens (docs/adapters.md): the start is exactly the base for both L2 normalisers, training
/// moves only the adapter rows (the base stays bit-identical, also across a resume, and a resumed run equals an
/// uninterrupted one), the adapter rows' gradients match finite differences, applying an adapter on the shared base
/// (<see cref="AdapterBank"/>) equals the merged model, mixed batches of several adapters answer as each model alone,
/// the files round-trip and another base is refused with both hashes.
/// </summary>
public class AdapterTests(ITestOutputHelper output)
{
    private static TokenFormerModel Base(string activation, int seed = 7)
    {
        TokenFormerConfig c = Fixtures.TinyConfig();
        c.NumLayers = 2;
        c.NormActivationType = activation;
        var m = new TokenFormerModel(c);
        m.InitializeRandom(seed);
        // larger keys than the init's 0.02 give O(1) scores, so the normaliser's row norm matters in these checks
        foreach (ParameterTensor t in m.Layout.Tensors)
            if (t.Role == ParameterRole.PattentionKeys)
                foreach (ref float v in m.Parameters.AsSpan(t.Offset, t.Length)) v *= 25;
        return m;
    }

    private static float[] Logits(TokenFormerModel model, int[] ids, int batch, int seq)
    {
        var runner = new ModelRunner(model, batch, seq, training: false);
        runner.Forward(ids);
        return runner.Logits.ToArray();
    }

    private static double RelativeDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double diff = 0, scale = 0;
        for (int i = 0; i < a.Length; i++) { diff = Math.Max(diff, Math.Abs(a[i] - b[i])); scale = Math.Max(scale, Math.Abs(a[i])); }
        Assert.True(scale > 0.1, "the logits should not be trivially small");
        return diff / scale;
    }

    private static int[] Ids(int vocab, int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>An adapter whose keys are drawn too (as after training), so that it changes the function.</summary>
    private static Adapter Perturbed(TokenFormerModel baseModel, TokenCounts tokens, int seed)
    {
        AdapterConfig config = Adapter.Describe(baseModel, tokens, seed, 1);
        TokenFormerModel merged = Adapter.StartMerged(baseModel, config);
        var rng = new Random(seed);
        foreach (ParameterTensor t in baseModel.Layout.Tensors)
        {
            if (!t.Grows) continue;
            ParameterTensor m = merged.Layout.Find(t.Name)!;
            Span<float> rows = merged.Parameters.AsSpan(m.Offset + t.Length, m.Length - t.Length);
            double std = t.Role == ParameterRole.PattentionKeys ? 0.5 : 0.3;
            foreach (ref float v in rows) v = (float)(std * (rng.NextDouble() * 2 - 1));
        }
        return Adapter.Extract(merged, config, 0);
    }

    [Theory]
    [InlineData("l2_norm_gelu")]
    [InlineData("gelu_l2_norm")]
    public void AtStepZero_TheMergedModelAndTheAppliedAdapterGiveTheBaseLogits(string activation)
    {
        TokenFormerModel baseModel = Base(activation);
        AdapterConfig config = Adapter.Describe(baseModel, new TokenCounts(16, 16, 16), 3, 1);
        TokenFormerModel merged = Adapter.StartMerged(baseModel, config);
        Assert.Equal(baseModel.Config.ScaleFfn, merged.Config.ScaleFfn);
        int[] ids = Ids(baseModel.Vocab, 2 * 24, 5);
        double rel = RelativeDiff(Logits(baseModel, ids, 2, 24), Logits(merged, ids, 2, 24));
        output.WriteLine($"{activation}: merged at step 0 vs base, max|Δ|/max|logit| = {rel:E2}");
        Assert.True(rel <= 1e-6, $"{activation}: step-0 logits differ from the base by {rel:E3} relative");

        // the same through the shared-base path: the fresh adapter (zero keys) on the base's runner
        Adapter fresh = Adapter.Extract(merged, config, 0);
        float[] viaBank = DecodeLogits(baseModel, fresh, ids[..24]), plain = DecodeLogits(baseModel, null, ids[..24]);
        double relBank = RelativeDiff(plain, viaBank);
        output.WriteLine($"{activation}: applied adapter at step 0 vs base (cached decode), {relBank:E2}");
        Assert.True(relBank <= 1e-6, $"{activation}: the applied step-0 adapter differs from the base by {relBank:E3} relative");
    }

    [Fact]
    public void SharedPrefix_BetweenSlotsOfDifferentAdapters_IsRefused_AndOfTheSameAdapterMatchesItsOwnRun()
    {
        TokenFormerModel baseModel = Base("l2_norm_gelu");
        Adapter adapter = Perturbed(baseModel, new TokenCounts(8, 0, 12), 5);
        var runner = new IncrementalRunner(baseModel, 3, 12, maxLogitRows: 3);
        var bank = new AdapterBank(baseModel);
        bank.Add(adapter, "a", "base");
        bank.SetSlot(0, 0); bank.SetSlot(1, 0);   // slot 2 stays on the base
        runner.Adapters = bank;
        int[] ids = Ids(baseModel.Vocab, 6, 9);
        // the prefix in slot 0, its continuation in slot 1 in the same call
        runner.Forward([.. ids[..5], ids[5]], [0, 0, 0, 0, 0, 1], [0, 1, 2, 3, 4, 5], [5], [new SharedPrefix(0, 1, 5)]);
        float[] shared = runner.Logits(0).ToArray();
        var alone = new IncrementalRunner(baseModel, 1, 12);
        var own = new AdapterBank(baseModel);
        own.Add(adapter, "a", "base");
        own.SetAll(1, 0);
        alone.Adapters = own;
        alone.Forward(ids, [0, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5], [5]);
        Assert.True(RelativeDiff(alone.Logits(0).ToArray(), shared) <= 1e-5);
        var e = Assert.Throws<ArgumentException>(() => runner.Forward([ids[5]], [2], [5], [0], [new SharedPrefix(0, 2, 5)]));
        Assert.Contains("different adapters", e.Message);
    }

    /// <summary>Logits of every position of <paramref name="ids"/> through a KV-cached runner (prefill then decode rows).</summary>
    private static float[] DecodeLogits(TokenFormerModel model, Adapter? adapter, int[] ids)
    {
        var runner = new IncrementalRunner(model, 1, ids.Length);
        if (adapter != null)
        {
            var bank = new AdapterBank(model);
            bank.Add(adapter, "a", "base");
            bank.SetAll(1, 0);
            runner.Adapters = bank;
        }
        var result = new List<float>();
        // a prefill of the first half (logits of its last row only), then one row per step
        int half = ids.Length / 2;
        runner.Forward(ids.AsSpan(0, half), new int[half], Enumerable.Range(0, half).ToArray(), [half - 1]);
        result.AddRange(runner.Logits(0).ToArray());
        for (int p = half; p < ids.Length; p++)
        {
            runner.Forward(ids.AsSpan(p, 1), [0], [p], [0]);
            result.AddRange(runner.Logits(0).ToArray());
        }
        return result.ToArray();
    }

    [Theory]
    [InlineData("l2_norm_gelu")]
    [InlineData("gelu_l2_norm")]
    public void AppliedAdapter_EqualsTheMergedModel_LogitsAndGreedyTokens(string activation)
    {
        TokenFormerModel baseModel = Base(activation);
        Adapter adapter = Perturbed(baseModel, new TokenCounts(8, 0, 12), 11);
        TokenFormerModel merged = adapter.Merge(baseModel, "base");
        int[] ids = Ids(baseModel.Vocab, 20, 9);
        float[] applied = DecodeLogits(baseModel, adapter, ids), ofMerged = DecodeLogits(merged, null, ids), ofBase = DecodeLogits(baseModel, null, ids);
        double rel = RelativeDiff(ofMerged, applied), moved = RelativeDiff(ofBase, ofMerged);
        output.WriteLine($"{activation}: applied vs merged {rel:E2}; the adapter moves the logits by {moved:E2}");
        Assert.True(moved > 1e-3, "the perturbed adapter should change the function");
        Assert.True(rel <= 1e-5, $"{activation}: the applied adapter differs from the merged model by {rel:E3} relative");

        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0 };
        int[][] prompts = [ids[..5], ids[3..12]];
        var onMerged = new Generator(merged, 2, 32).Generate(prompts, options);
        var g = new Generator(baseModel, 2, 32);
        var bank = new AdapterBank(baseModel);
        bank.Add(adapter, "a", "base");
        bank.SetAll(2, 0);
        g.Runner.Adapters = bank;
        var onApplied = g.Generate(prompts, options);
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(onMerged[i], onApplied[i]);
    }

    [Fact]
    public void MixedBatch_OfThreeAdaptersAndTheBase_AnswersAsEachModelAlone()
    {
        TokenFormerModel baseModel = Base("l2_norm_gelu");
        Adapter[] adapters = [Perturbed(baseModel, new TokenCounts(8, 8, 8), 1), Perturbed(baseModel, new TokenCounts(0, 0, 16), 2), Perturbed(baseModel, new TokenCounts(4, 0, 0), 3)];
        var bank = new AdapterBank(baseModel);
        for (int i = 0; i < adapters.Length; i++) bank.Add(adapters[i], $"a{i}", "base");
        var g = new Generator(baseModel, 8, 40);
        g.Runner.Adapters = bank;
        int[] ids = Ids(baseModel.Vocab, 64, 4);
        // 8 prompts of different lengths; slot i uses adapter (i mod 4) − 1 (−1 = the bare base)
        int[][] prompts = Enumerable.Range(0, 8).Select(i => ids[(i * 5)..(i * 5 + 3 + i)]).ToArray();
        for (int i = 0; i < 8; i++) bank.SetSlot(i, i % 4 - 1);
        var options = new SamplingOptions { MaxNewTokens = 10, Temperature = 0 };
        int[][] mixed = g.Generate(prompts, options);
        for (int i = 0; i < 8; i++)
        {
            int a = i % 4 - 1;
            TokenFormerModel alone = a < 0 ? baseModel : adapters[a].Merge(baseModel, "base");
            int[] expected = new Generator(alone, 1, 40).Generate([prompts[i]], options)[0];
            Assert.Equal(expected, mixed[i]);
        }
    }

    [Fact]
    public void Training_MovesOnlyTheAdapterRows_BaseBitIdentical_ResumeExact()
    {
        TokenFormerModel baseModel = Base("l2_norm_gelu");
        float[] baseCopy = (float[])baseModel.Parameters.Clone();
        AdapterConfig config = Adapter.Describe(baseModel, new TokenCounts(8, 0, 8), 5, 1);
        TrainingOptions o = Options(6) with { FreezeOld = true };

        TokenFormerModel straight = Adapter.StartMerged(baseModel, config);
        using (Trainer t = Trainer.StartFrom(straight, o, TrainSource, ValSource, Fixtures.TempDir("adapter-straight"), new TrainerContext())) t.Run();

        string run = Fixtures.TempDir("adapter-resumed");
        TokenFormerModel first = Adapter.StartMerged(baseModel, config);
        using (Trainer t = Trainer.StartFrom(first, o with { StopAt = 3 }, TrainSource, ValSource, run, new TrainerContext())) t.Run();
        TokenFormerModel resumed;
        using (Trainer t = Trainer.Resume(run, Options(6), null, TrainSource, ValSource, new TrainerContext()))
        {
            t.Run();
            resumed = t.Model;
        }
        Assert.Equal(straight.Parameters, resumed.Parameters);

        // the base rows, embedding and final norm are bit for bit the base's; the adapter rows moved
        Adapter trained = Adapter.Extract(straight, config, 6);
        Assert.Equal(6, trained.Config.Steps);
        Assert.Equal(baseCopy, baseModel.Parameters);
        foreach (ParameterTensor t in baseModel.Layout.Tensors)
        {
            ParameterTensor m = straight.Layout.Find(t.Name)!;
            for (int i = 0; i < t.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(baseCopy[t.Offset + i]), BitConverter.SingleToInt32Bits(straight.Parameters[m.Offset + i]));
        }
        Adapter fresh = Adapter.Extract(Adapter.StartMerged(baseModel, config), config, 0);
        string key = ParameterLayout.LayerKey(1, "mlp.key_param_tokens");
        Assert.False(trained.Rows(key).SequenceEqual(fresh.Rows(key)), "training should move the adapter's FFN keys off zero");
        Assert.True(fresh.Rows(key).ToArray().All(v => v == 0), "a fresh adapter's keys are zero");
        Assert.Equal(2 * 2 * 8 * 32 * 3 + 2 * 2 * 8 * 32, trained.ParameterCount);
    }

    [Fact]
    public void AdapterRowGradients_MatchFiniteDifferences()
    {
        TokenFormerModel baseModel = Base("gelu_l2_norm");
        Adapter adapter = Perturbed(baseModel, new TokenCounts(4, 4, 4), 8);
        TokenFormerModel merged = adapter.Merge(baseModel, "base");
        int[] ids = Ids(baseModel.Vocab, 2 * 9, 2);
        int[] tokens = [.. ids[..8], .. ids[9..17]], targets = [.. ids[1..9], .. ids[10..18]];
        var runner = new ModelRunner(merged, 2, 8, training: true);
        runner.Forward(tokens, targets, default, computeGradient: true);
        runner.Backward();
        float[] grad = (float[])runner.Gradients!.Clone();
        var eval = new ModelRunner(merged, 2, 8, training: false);
        double Loss() => eval.Forward(tokens, targets);
        var rng = new Random(1);
        int checkedCount = 0, large = 0;
        foreach (string name in new[] { "attention.query.key_param_tokens", "attention.value.value_param_tokens", "attention.proj.key_param_tokens", "mlp.key_param_tokens", "mlp.value_param_tokens" })
        {
            ParameterTensor t = merged.Layout.Find(ParameterLayout.LayerKey(rng.Next(2), name))!;
            int baseRows = Adapter.TokensOf(new TokenCounts(baseModel.Config.QkvSlotNum, baseModel.Config.ProjSlotNum, baseModel.Config.FfnSlotNum), t.Site);
            int d = t.Shape[1];
            for (int probe = 0; probe < 4; probe++)
            {
                int at = t.Offset + (baseRows + rng.Next(4)) * d + rng.Next(d);
                float keep = merged.Parameters[at];
                // float32 losses are quantised at ~5e-7, so a step of 1e-2 keeps that error near 2.5e-5 of the derivative
                const float h = 1e-2f;
                merged.Parameters[at] = keep + h; double up = Loss();
                merged.Parameters[at] = keep - h; double down = Loss();
                merged.Parameters[at] = keep;
                double fd = (up - down) / (2 * h);
                output.WriteLine($"{t.Name}[{at - t.Offset}]: analytic {grad[at]:E4}, central difference {fd:E4}");
                Assert.True(Math.Abs(fd - grad[at]) <= 6e-5 + 0.03 * Math.Abs(fd), $"{t.Name}: gradient {grad[at]:E4} against finite difference {fd:E4}");
                checkedCount++;
                if (Math.Abs(fd) > 1e-3) large++;
            }
        }
        Assert.Equal(20, checkedCount);
        Assert.True(large >= 5, $"only {large} of the probed gradients are well above the tolerance; the check would be weak");
    }

    /// <summary>An adapter of 4 proj and 8 ffn tokens on an l2_norm_gelu base, saved into a fresh folder named after <paramref name="name"/>.</summary>
    private static string SavedAdapter(string name, out TokenFormerModel baseModel, out Adapter adapter)
    {
        baseModel = Base("l2_norm_gelu");
        adapter = Perturbed(baseModel, new TokenCounts(0, 4, 8), 6);
        string dir = Fixtures.TempDir(name);
        adapter.Save(dir);
        return dir;
    }

    [Fact]
    public void SaveLoad_RoundTrips_AndAnotherBaseIsRefusedWithBothHashes()
    {
        string dir = SavedAdapter("adapter-files", out TokenFormerModel baseModel, out Adapter adapter);
        Assert.Equal(new[] { Adapter.WeightsFile, AdapterConfig.FileName }.Order(), Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        Adapter back = Adapter.Load(dir);
        Assert.Equal(adapter.Config.BaseSha256, back.Config.BaseSha256);
        Assert.Equal(new[] { "proj", "ffn" }, back.Config.Projections);
        string key = ParameterLayout.LayerKey(0, "attention.proj.value_param_tokens");
        Assert.Equal(adapter.Rows(key).ToArray(), back.Rows(key).ToArray());
        Assert.Equal("sequential.2.attention.proj.adapter_value_param_tokens", Adapter.FileKey(key));
        Assert.Equal(adapter.Merge(baseModel, "base").Parameters, back.Merge(baseModel, "base").Parameters);

        TokenFormerModel other = Base("l2_norm_gelu", seed: 8);
        var e = Assert.Throws<AdapterFormatException>(() => back.Merge(other, "other-base"));
        Assert.Contains(adapter.Config.BaseSha256, e.Message);
        Assert.Contains(Adapter.BaseHash(other), e.Message);
        Assert.Contains("other-base", e.Message);
        Assert.Throws<AdapterFormatException>(() => new AdapterBank(other).Add(back, "a", "other-base"));

        // bad files: errors name the file and the field or key
        string configPath = Path.Combine(dir, AdapterConfig.FileName), weightsPath = Path.Combine(dir, Adapter.WeightsFile);
        string json = File.ReadAllText(configPath);
        File.WriteAllText(configPath, json.Replace(adapter.Config.BaseSha256, "abc"));
        var bad = Assert.Throws<AdapterFormatException>(() => Adapter.Load(dir));
        Assert.Contains(configPath, bad.Message);
        Assert.Contains("base_sha256", bad.Message);
        File.WriteAllText(configPath, json);
        var writer = new TokenFormer.Core.SafeTensors.SafeTensorsWriter();
        writer.AddFloat32(Adapter.FileKey(key), new float[4 * 32], 4, 32);
        writer.Save(weightsPath);
        bad = Assert.Throws<AdapterFormatException>(() => Adapter.Load(dir));
        Assert.Contains(weightsPath, bad.Message);
        Assert.Contains("sequential.2.attention.proj.adapter_key_param_tokens", bad.Message);
        Assert.Contains("missing", bad.Message);
        File.Delete(weightsPath);
        Assert.Contains("not found", Assert.Throws<AdapterFormatException>(() => Adapter.Load(dir)).Message);
    }

    [Fact]
    public void AdapterConfigs_WithABaseConfigWithoutVocabulary_OrALoneSurrogateEscape_AreFormatErrors()
    {
        // found by the adapter-dir fuzz target: both ended in exceptions other than AdapterFormatException
        string dir = SavedAdapter("adapter-bad-config", out _, out _);
        string configPath = Path.Combine(dir, AdapterConfig.FileName);
        string json = File.ReadAllText(configPath);
        Assert.Contains("\"vocab_size\"", json);

        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        Assert.True(node["base_config"]!.AsObject().Remove("vocab_size"));
        File.WriteAllText(configPath, node.ToJsonString());
        var e = Assert.Throws<AdapterFormatException>(() => Adapter.Load(dir));
        Assert.StartsWith(configPath, e.Message);
        Assert.Contains("base_config", e.Message);
        Assert.True(e.Message.Contains("vocab_size"), e.Message);

        File.WriteAllText(configPath, json.Replace("\"norm_activation_type\"", "\"norm\\ud800activation_type\""));
        e = Assert.Throws<AdapterFormatException>(() => Adapter.Load(dir));
        Assert.StartsWith(configPath, e.Message);
        Assert.Contains("not valid UTF-16", e.Message);
    }

    [Fact]
    public void SoftmaxBase_IsRefused()
    {
        TokenFormerModel softmax = Base("softmax");
        var e = Assert.Throws<AdapterFormatException>(() => Adapter.Describe(softmax, new TokenCounts(4, 0, 0), 1, 1));
        Assert.Contains("softmax", e.Message);
    }
}
