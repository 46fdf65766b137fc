using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Export.Onnx;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Inference;

namespace TokenFormer.Onnx.Tests;

/// <summary>
/// The exported decoder graph run in ONNX Runtime against our own KV-cached runner on small random models: logits of a
/// batched prefill, of a prefill continued in a second chunk over the cache, and of decode steps agree within 1e-4
/// of the row's largest logit; 32 greedy tokens are identical; for the three normalisers, partial, full and no rotary,
/// and a model grown in preserve mode (which also still computes its source's function for the L2 normalisers).
/// </summary>
public sealed class OnnxExportTests
{
    private const double Tolerance = 1e-4;

    private static TokenFormerConfig Config(string activation, double rotaryPct) => new()
    {
        NumLayers = 2, HiddenSize = 32, NumAttentionHeads = 2, QkvSlotNum = 24, ProjSlotNum = 20, FfnSlotNum = 48,
        MaxPositionEmbeddings = 96, VocabSize = 101, NormActivationType = activation, RotaryPct = rotaryPct,
    };

    /// <summary>Random weights larger than the init's, so logits are spread out and greedy picks are not near-ties.</summary>
    private static TokenFormerModel RandomModel(TokenFormerConfig config, int seed)
    {
        var model = new TokenFormerModel(config);
        var rng = new Random(seed);
        foreach (ParameterTensor t in model.Layout.Tensors)
        {
            Span<float> s = model.Parameters.AsSpan(t.Offset, t.Length);
            double std = t.Role switch
            {
                ParameterRole.FinalNormWeight or ParameterRole.FinalNormBias => 0.1,
                ParameterRole.Embedding => 0.1,
                ParameterRole.PattentionKeys => 0.25,
                _ => 0.5,
            };
            for (int i = 0; i < s.Length; i++) // Box–Muller
                s[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            if (t.Role == ParameterRole.FinalNormWeight) for (int i = 0; i < s.Length; i++) s[i] += 1;
        }
        return model;
    }

    public static TheoryData<string, double> Variants => new()
    {
        { "l2_norm_gelu", 0.25 }, { "gelu_l2_norm", 0.25 }, { "softmax", 0.25 }, { "l2_norm_gelu", 1.0 }, { "gelu_l2_norm", 0.0 },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Logits_and_greedy_tokens_equal_ours(string activation, double rotaryPct)
    {
        TokenFormerModel model = RandomModel(Config(activation, rotaryPct), seed: 7);
        CheckAgainst(model, model);
    }

    [Theory]
    [InlineData("l2_norm_gelu")]
    [InlineData("gelu_l2_norm")]
    [InlineData("softmax")]
    public void A_grown_model_equals_ours(string activation)
    {
        TokenFormerModel source = RandomModel(Config(activation, 0.25), seed: 11);
        TokenFormerModel grown = ModelGrower.Grow(source, new GrowthOptions(new TokenCounts(48, 40, 96), GrowthMode.Preserve, Seed: 5));
        Assert.Equal(48, grown.Config.QkvSlotNum);
        CheckAgainst(grown, grown);
        // preserve growth keeps the function for the L2 normalisers (docs/growth.md): the grown graph computes the source's logits
        if (activation != "softmax") CheckAgainst(grown, source);
    }

    [Fact]
    public void External_data_and_last_position_logits_give_the_same_numbers()
    {
        TokenFormerModel model = RandomModel(Config("l2_norm_gelu", 0.25), seed: 3);
        string dir = Directory.CreateTempSubdirectory("tokenformer-onnx-export-").FullName;
        try
        {
            string path = Path.Combine(dir, "m.onnx");
            OnnxExporter.Export(model, path, new OnnxExportOptions { ExternalData = "m.onnx.data", LastPositionLogitsOnly = true });
            Assert.Equal(["m.onnx", "m.onnx.data"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
            // the weights are in the data file: the graph file is small
            Assert.True(new FileInfo(path).Length < 64 * 1024, $"graph file {new FileInfo(path).Length} bytes");
            using var ort = new OrtDecoder(new InferenceSession(path), model.Config);
            long[][] prompts = [[5, 9, 17, 3, 44], [8, 1, 60, 2, 99]];
            float[] last = ort.Step(prompts, out int[] shape);
            Assert.Equal([2, 1, model.Vocab], shape);
            float[] ours = OursPrefill(model, prompts);
            int v = model.Vocab, t = prompts[0].Length;
            for (int b = 0; b < 2; b++) AssertRowClose(ours.AsSpan(((b * t) + t - 1) * v, v), last.AsSpan(b * v, v), $"sequence {b}, last position");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_reduced_precision_model_is_refused_with_its_format()
    {
        TokenFormerModel q = ReducedPrecisionWeights.RandomModel(Config("l2_norm_gelu", 0.25), WeightFormat.BFloat16, 1);
        var e = Assert.Throws<OnnxExportException>(() => OnnxExporter.Build(q));
        Assert.Contains("bf16", e.Message);
        Assert.Contains("float32", e.Message);
    }

    /// <summary>The exported <paramref name="exported"/> in ONNX Runtime against our runner on <paramref name="reference"/>.</summary>
    private static void CheckAgainst(TokenFormerModel exported, TokenFormerModel reference)
    {
        int v = reference.Vocab;
        using var ort = new OrtDecoder(new InferenceSession(OnnxExporter.Build(exported).ToBytes()), exported.Config);

        // batched prefill (2 sequences × 7 tokens, every position's logits), in ONNX Runtime as two chunks (4 + 3) over the cache
        long[][] prompts = [[5, 9, 17, 3, 44, 70, 12], [8, 1, 60, 2, 99, 31, 0]];
        const int t = 7, first = 4;
        float[] ours = OursPrefill(reference, prompts, out IncrementalRunner runner);
        float[] chunk1 = ort.Step(prompts.Select(p => p[..first]).ToArray(), out int[] shape);
        Assert.Equal([2, first, v], shape);
        float[] chunk2 = ort.Step(prompts.Select(p => p[first..]).ToArray(), out shape);
        Assert.Equal([2, t - first, v], shape);
        Assert.Equal(t, ort.Past);
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < t; i++)
            {
                ReadOnlySpan<float> theirs = i < first ? chunk1.AsSpan((b * first + i) * v, v) : chunk2.AsSpan((b * (t - first) + i - first) * v, v);
                AssertRowClose(ours.AsSpan((b * t + i) * v, v), theirs, $"prefill sequence {b} position {i}");
            }

        // decode steps with the cache: both sequences one token per step
        long[][] next = [[21, 33], [4, 4], [90, 7], [0, 56], [13, 88]];
        for (int step = 0; step < next.Length; step++)
        {
            int position = t + step;
            runner.Forward([(int)next[step][0], (int)next[step][1]], [0, 1], [position, position], [0, 1]);
            float[] step1 = ort.Step([[next[step][0]], [next[step][1]]], out shape);
            Assert.Equal([2, 1, v], shape);
            for (int b = 0; b < 2; b++) AssertRowClose(runner.Logits(b), step1.AsSpan(b * v, v), $"decode step {step} sequence {b}");
        }

        // greedy: 32 new tokens from our generator and from an argmax loop over the graph
        int[] prompt = [5, 9, 17, 3];
        int[] greedy = new Generator(reference, 1, 64).Generate([prompt], new SamplingOptions { MaxNewTokens = 32, Temperature = 0 })[0];
        Assert.Equal(32, greedy.Length);
        using var loop = new OrtDecoder(new InferenceSession(OnnxExporter.Build(exported).ToBytes()), exported.Config);
        var tokens = new List<int>();
        float[] logits = loop.Step([prompt.Select(x => (long)x).ToArray()], out shape);
        int rows = shape[1];
        int nextToken = ArgMax(logits.AsSpan((rows - 1) * v, v));
        while (true)
        {
            tokens.Add(nextToken);
            if (tokens.Count == 32) break;
            logits = loop.Step([[nextToken]], out _);
            nextToken = ArgMax(logits.AsSpan(0, v));
        }
        // (random models settle into repeating a token after a few steps; each step still runs at a new cache length, and
        // the logits of varied tokens over the cache are compared above)
        Assert.Equal(greedy, tokens);
    }

    private static float[] OursPrefill(TokenFormerModel model, long[][] prompts) => OursPrefill(model, prompts, out _);

    /// <summary>Our runner over the prompts as slots 0, 1, …, every row's logits, [sequences·t, V].</summary>
    private static float[] OursPrefill(TokenFormerModel model, long[][] prompts, out IncrementalRunner runner)
    {
        int t = prompts[0].Length, rows = prompts.Length * t, v = model.Vocab;
        runner = new IncrementalRunner(model, prompts.Length, 64, maxRows: 64, maxLogitRows: 64);
        int[] tokens = prompts.SelectMany(p => p.Select(x => (int)x)).ToArray();
        int[] slots = Enumerable.Range(0, rows).Select(r => r / t).ToArray();
        int[] positions = Enumerable.Range(0, rows).Select(r => r % t).ToArray();
        runner.Forward(tokens, slots, positions, Enumerable.Range(0, rows).ToArray());
        var logits = new float[rows * v];
        for (int r = 0; r < rows; r++) runner.Logits(r).CopyTo(logits.AsSpan(r * v, v));
        return logits;
    }

    /// <summary>|ours − theirs| ≤ 1e-4 · max |ours| over the row (1e-4 relative to the row's scale).</summary>
    private static void AssertRowClose(ReadOnlySpan<float> ours, ReadOnlySpan<float> theirs, string where)
    {
        Assert.Equal(ours.Length, theirs.Length);
        float scale = 0;
        foreach (float x in ours) scale = Math.Max(scale, Math.Abs(x));
        Assert.True(scale > 0.05f, $"{where}: logits all near 0 (max {scale})");
        double worst = 0;
        int at = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.True(float.IsFinite(theirs[i]), $"{where}: ONNX Runtime logit {i} is {theirs[i]}");
            double diff = Math.Abs(ours[i] - theirs[i]);
            if (diff > worst) { worst = diff; at = i; }
        }
        Assert.True(worst <= Tolerance * scale, $"{where}: logit {at} ours {ours[at]} ONNX Runtime {theirs[at]} (|diff| {worst:E2} > 1e-4 × {scale})");
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}

/// <summary>Runs the exported graph step by step, keeping the present key/value outputs as the next step's past.</summary>
internal sealed class OrtDecoder(InferenceSession session, TokenFormerConfig config) : IDisposable
{
    private readonly int _layers = config.NumLayers, _heads = config.NumAttentionHeads, _h = config.HeadDim;
    private float[][]? _keys, _values;

    /// <summary>Positions in the cache.</summary>
    public int Past { get; private set; }

    /// <summary>One call: the sequences' next tokens (equal lengths) at positions Past…; returns the logits and their shape.</summary>
    public float[] Step(long[][] ids, out int[] shape)
    {
        int batch = ids.Length, t = ids[0].Length;
        _keys ??= Enumerable.Range(0, _layers).Select(_ => Array.Empty<float>()).ToArray();
        _values ??= Enumerable.Range(0, _layers).Select(_ => Array.Empty<float>()).ToArray();
        var positions = new long[batch * t];
        for (int b = 0; b < batch; b++) for (int i = 0; i < t; i++) positions[b * t + i] = Past + i;
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids.SelectMany(x => x).ToArray(), [batch, t])),
            NamedOnnxValue.CreateFromTensor("position_ids", new DenseTensor<long>(positions, [batch, t])),
        };
        for (int l = 0; l < _layers; l++)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor(OnnxExporter.PastKey(l), new DenseTensor<float>(_keys[l], [batch, _heads, Past, _h])));
            inputs.Add(NamedOnnxValue.CreateFromTensor(OnnxExporter.PastValue(l), new DenseTensor<float>(_values[l], [batch, _heads, Past, _h])));
        }
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(inputs);
        var byName = results.ToDictionary(r => r.Name);
        for (int l = 0; l < _layers; l++)
        {
            Tensor<float> k = byName[OnnxExporter.PresentKey(l)].AsTensor<float>();
            Assert.Equal([batch, _heads, Past + t, _h], k.Dimensions.ToArray());
            _keys[l] = k.ToArray();
            _values[l] = byName[OnnxExporter.PresentValue(l)].AsTensor<float>().ToArray();
        }
        Past += t;
        Tensor<float> logits = byName["logits"].AsTensor<float>();
        shape = logits.Dimensions.ToArray();
        return logits.ToArray();
    }

    public void Dispose() => session.Dispose();
}
