using System.Runtime.InteropServices;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Inference;
using TokenFormer.TestSupport;

namespace TokenFormer.Model.Tests.Architecture;

/// <summary>
/// bf16 / int8 / int4 models through the one model definition: the quantized model computes what the float32 model of its
/// widened weights computes (training forward, prefill and 1–4-row decode), stays close to the original, survives a
/// save/load round trip, refuses training, and bad files fail naming the tensor.
/// </summary>
public class ReducedPrecisionModelTests
{
    // widths that are not multiples of 32 (d = 48, n = 40 / 24 / 72), so partial blocks take part
    private static TokenFormerConfig SmallConfig() => new()
    {
        NumLayers = 2, HiddenSize = 48, NumAttentionHeads = 3, QkvSlotNum = 40, ProjSlotNum = 24, FfnSlotNum = 72,
        MaxPositionEmbeddings = 64, VocabSize = 97,
    };

    private static TokenFormerModel Float32Model(int seed = 1)
    {
        var m = new TokenFormerModel(SmallConfig());
        m.InitializeRandom(seed);
        return m;
    }

    /// <summary>The float32 model holding exactly the widened values of <paramref name="q"/>.</summary>
    private static TokenFormerModel Widened(TokenFormerModel q)
    {
        var m = new TokenFormerModel(SmallConfig());
        foreach (ParameterTensor t in m.Layout.Tensors) q.ReducedWeights!.ReadFloat32(t).CopyTo(m.Parameters, t.Offset);
        return m;
    }

    private static float[] Logits(TokenFormerModel m, int[] tokens)
    {
        var runner = new ModelRunner(m, 1, tokens.Length, training: false);
        runner.Forward(tokens);
        return runner.Logits.ToArray();
    }

    public static IEnumerable<object[]> Formats() => [[WeightFormat.BFloat16], [WeightFormat.Int8], [WeightFormat.Int4]];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Forward_EqualsTheFloat32ModelOfTheWidenedWeights_AndIsCloseToTheOriginal(WeightFormat format)
    {
        TokenFormerModel fp32 = Float32Model();
        var q = new TokenFormerModel(SmallConfig(), ReducedPrecisionWeights.From(fp32, format));
        int[] tokens = Enumerable.Range(0, 20).Select(i => (i * 37 + 5) % 97).ToArray();
        float[] lq = Logits(q, tokens), lw = Logits(Widened(q), tokens), l32 = Logits(fp32, tokens);
        for (int i = 0; i < lq.Length; i++)
            Assert.True(Math.Abs(lq[i] - lw[i]) <= 1e-4 * (1 + Math.Abs(lw[i])), $"{format} logit {i}: {lq[i]} vs widened float32 {lw[i]}");
        // relative RMS error of the logits against the original float32 model (measured: 0.4 % bf16, 1.3 % int8, 30 % int4
        // on this tiny random model; a wrong orientation or block would be of the order of 100 %)
        double err = Math.Sqrt(lq.Zip(l32, (a, b) => (double)(a - b) * (a - b)).Sum() / l32.Sum(b => (double)b * b));
        Assert.True(err < format switch { WeightFormat.BFloat16 => 0.02, WeightFormat.Int8 => 0.05, _ => 0.5 }, $"{format}: relative RMS logit error {err:P3}");
        Assert.True(err > 0, "quantisation changed nothing: the test does not reach the reduced weights");
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Decode_OneAndFourRows_EqualsTheWidenedFloat32Model(WeightFormat format)
    {
        TokenFormerModel fp32 = Float32Model(2);
        var q = new TokenFormerModel(SmallConfig(), ReducedPrecisionWeights.From(fp32, format));
        TokenFormerModel w = Widened(q);
        foreach (int batch in new[] { 1, 4 })
        {
            var rq = new IncrementalRunner(q, batch, 32);
            var rw = new IncrementalRunner(w, batch, 32);
            // prefill 12 tokens per sequence (the GEMM path), then 6 decode steps of `batch` rows (the streaming path)
            for (int step = 0; step < 7; step++)
            {
                int rowsPer = step == 0 ? 12 : 1;
                int n = rowsPer * batch;
                int[] tokens = new int[n], slots = new int[n], positions = new int[n], logitRows = new int[batch];
                for (int s = 0; s < batch; s++)
                {
                    for (int r = 0; r < rowsPer; r++)
                    {
                        int i = s * rowsPer + r;
                        tokens[i] = (s * 31 + step * 7 + r * 3 + 1) % 97; slots[i] = s; positions[i] = step == 0 ? r : 11 + step;
                    }
                    logitRows[s] = s * rowsPer + rowsPer - 1;
                }
                rq.Forward(tokens, slots, positions, logitRows);
                rw.Forward(tokens, slots, positions, logitRows);
                for (int s = 0; s < batch; s++)
                {
                    Span<float> a = rq.Logits(s), b = rw.Logits(s);
                    for (int v = 0; v < a.Length; v++)
                        Assert.True(Math.Abs(a[v] - b[v]) <= 1e-4 * (1 + Math.Abs(b[v])), $"{format} batch {batch} step {step} sequence {s} logit {v}: {a[v]} vs {b[v]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void SaveAndLoad_KeepsEveryStoredBit_AndRecordsTheFormat(WeightFormat format)
    {
        string dir = TempFolders.Create("reduced");
        var q = new TokenFormerModel(SmallConfig(), ReducedPrecisionWeights.From(Float32Model(), format));
        ModelDirectory.Save(q, dir);
        Assert.Contains($"\"weight_format\": \"{WeightFormats.Name(format)}\"", File.ReadAllText(Path.Combine(dir, "config.json")));
        TokenFormerModel back = ModelDirectory.Load(dir);
        Assert.Equal(format, back.ReducedWeights!.Format);
        Assert.Empty(back.Parameters);
        if (format == WeightFormat.BFloat16)
        {
            Assert.Equal(q.ReducedWeights!.BFloat16Values, back.ReducedWeights.BFloat16Values);
            // a bf16 file is a plain bfloat16 checkpoint: the official keys and shapes, readable as float32
            using var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
            ParameterTensor v = q.Layout.Tensors.First(t => t.Role == ParameterRole.PattentionValues);
            Assert.Equal(SafeTensorDType.BF16, file.Get(v.Name).DType);
            Assert.Equal(q.ReducedWeights.ReadFloat32(v), file.ReadFloat32(v.Name));
        }
        else
        {
            Assert.Equal(q.ReducedWeights!.Int8Values, back.ReducedWeights.Int8Values);
            Assert.Equal(q.ReducedWeights.Int4Values, back.ReducedWeights.Int4Values);
            Assert.Equal(q.ReducedWeights.BlockScales, back.ReducedWeights.BlockScales);
        }
        int[] tokens = [1, 2, 3, 4, 5];
        Assert.Equal(Logits(q, tokens), Logits(back, tokens));
    }

    [Fact]
    public void Training_IsRefusedWithAMessage()
    {
        var q = new TokenFormerModel(SmallConfig(), ReducedPrecisionWeights.From(Float32Model(), WeightFormat.Int8));
        var e = Assert.Throws<NotSupportedException>(() => new ModelRunner(q, 1, 8, training: true));
        Assert.Contains("int8", e.Message);
        Assert.Contains("float32", e.Message);
    }

    [Theory]
    [InlineData(WeightFormat.Int8)]
    [InlineData(WeightFormat.Int4)]
    public void RandomModel_DrawsTheSameWeightsAsTheFloat32Initialisation(WeightFormat format)
    {
        var fp32 = new TokenFormerModel(SmallConfig());
        fp32.InitializeRandom(9);
        TokenFormerModel direct = ReducedPrecisionWeights.RandomModel(SmallConfig(), format, 9);
        ReducedPrecisionWeights converted = ReducedPrecisionWeights.From(fp32, format);
        Assert.Equal(converted.Int8Values, direct.ReducedWeights!.Int8Values);
        Assert.Equal(converted.Int4Values, direct.ReducedWeights.Int4Values);
        Assert.Equal(converted.BlockScales, direct.ReducedWeights.BlockScales);
    }

    [Fact]
    public void Quantize_RefusesNonFiniteWeights_NamingTheTensor()
    {
        TokenFormerModel fp32 = Float32Model();
        ParameterTensor t = fp32.Layout.Tensors.First(x => x.Role == ParameterRole.PattentionKeys);
        fp32.Parameters[t.Offset + 3] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => ReducedPrecisionWeights.From(fp32, WeightFormat.Int8));
        Assert.Contains(t.Name, e.Message);
    }

    [Theory]
    [InlineData("fp32", WeightFormat.BFloat16)]
    [InlineData("fp32", WeightFormat.Int8)]
    [InlineData("bf16", WeightFormat.Int8)]
    [InlineData("fp32", WeightFormat.Int4)]
    public void ImportWithADtype_WritesWhatQuantizingTheFloat32ImportGives(string fixture, WeightFormat format)
    {
        string dir = Path.Combine(Fixtures.Root, "torch", fixture);
        TokenFormerConfig config = TokenFormer.Model.Import.OfficialConfigReader.Load(Path.Combine(dir, "config.json"));
        using Core.PyTorch.TorchCheckpoint ckpt = Core.PyTorch.TorchCheckpoint.Open(Path.Combine(dir, "pytorch_model.bin"));
        TokenFormer.Model.Import.OfficialCheckpointImporter.Plan plan = TokenFormer.Model.Import.OfficialCheckpointImporter.Check(ckpt, config);
        string outDir = TempFolders.Create("import-" + fixture);
        TokenFormer.Model.Import.ReducedPrecisionImport.Write(ckpt, plan, format, outDir);
        TokenFormerModel imported = ModelDirectory.Load(outDir);
        ReducedPrecisionWeights expected = ReducedPrecisionWeights.From(TokenFormer.Model.Import.OfficialCheckpointImporter.Load(ckpt, plan), format);
        Assert.Equal(format, imported.ReducedWeights!.Format);
        if (format == WeightFormat.BFloat16) Assert.Equal(expected.BFloat16Values, imported.ReducedWeights.BFloat16Values);
        else
        {
            Assert.Equal(expected.Int8Values, imported.ReducedWeights.Int8Values);
            Assert.Equal(expected.Int4Values, imported.ReducedWeights.Int4Values);
            Assert.Equal(expected.BlockScales, imported.ReducedWeights.BlockScales);
        }
        Assert.DoesNotContain(Directory.GetFiles(outDir), f => f.Contains(".tmp"));
    }

    // ---------------------------------------------------------------- bad files

    private static (string Dir, string Weights, ParameterTensor Tensor) SavedInt8(WeightFormat format = WeightFormat.Int8)
    {
        string dir = TempFolders.Create("bad-" + WeightFormats.Name(format));
        var q = new TokenFormerModel(SmallConfig(), ReducedPrecisionWeights.From(Float32Model(), format));
        ModelDirectory.Save(q, dir);
        return (dir, Path.Combine(dir, "model.safetensors"), q.Layout.Tensors.First(t => t.Role == ParameterRole.PattentionValues));
    }

    /// <summary>Rewrites the file with tensor <paramref name="name"/> replaced (or dropped when <paramref name="replace"/> returns null).</summary>
    private static void Rewrite(string path, string name, Func<SafeTensorInfo, byte[], (byte[] Bytes, long[] Shape)?> replace, SafeTensorDType? dtype = null)
    {
        var writer = new SafeTensorsWriter();
        using (var file = SafeTensorsFile.Open(path))
            foreach (SafeTensorInfo t in file.Tensors)
            {
                byte[] bytes = file.GetBytes(t).ToArray();
                if (t.Name != name) { writer.AddBytes(t.Name, t.DType, bytes, t.Shape); continue; }
                if (replace(t, bytes) is { } r) writer.AddBytes(t.Name, dtype ?? t.DType, r.Bytes, r.Shape);
            }
        writer.Save(path);
    }

    private static string ScalesName(ParameterTensor t, WeightFormat format) =>
        t.Name + (format == WeightFormat.Int4 ? ReducedPrecisionDirectory.Int4ScalesSuffix : ReducedPrecisionDirectory.ScalesSuffix);

    [Theory]
    [InlineData(WeightFormat.Int8)]
    [InlineData(WeightFormat.Int4)]
    public void ScaleTensorOfTheWrongShape_FailsNamingTheTensor(WeightFormat format)
    {
        (string dir, string weights, ParameterTensor t) = SavedInt8(format);
        string scales = ScalesName(t, format);
        // the scales of the official orientation ([n, ⌈d/32⌉]) instead of the stored one ([d, ⌈n/32⌉])
        Rewrite(weights, scales, (_, _) => (new byte[t.Shape[0] * Int8Blocks.BlocksPerRow(t.Shape[1]) * 4], [t.Shape[0], Int8Blocks.BlocksPerRow(t.Shape[1])]));
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains($"'{scales}'", e.Message);
        Assert.Contains("shape", e.Message);
        Assert.Contains(weights, e.Message);
    }

    [Theory]
    [InlineData(float.NaN, WeightFormat.Int8)]
    [InlineData(float.PositiveInfinity, WeightFormat.Int8)]
    [InlineData(float.NaN, WeightFormat.Int4)]
    public void NonFiniteScale_FailsNamingTheTensorRowAndBlock(float bad, WeightFormat format)
    {
        (string dir, string weights, ParameterTensor t) = SavedInt8(format);
        string scales = ScalesName(t, format);
        Rewrite(weights, scales, (info, bytes) =>
        {
            MemoryMarshal.Cast<byte, float>(bytes.AsSpan())[(int)info.Shape[1] * 2 + 1] = bad;
            return (bytes, info.Shape);
        });
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains($"'{scales}'", e.Message);
        Assert.Contains("non-finite", e.Message);
        Assert.Contains("row 2, block 1", e.Message);
    }

    [Fact]
    public void MissingScales_OrAFloat32TensorInAnInt8File_FailNamingTheTensor()
    {
        (string dir, string weights, ParameterTensor t) = SavedInt8();
        string scales = t.Name + ReducedPrecisionDirectory.ScalesSuffix;
        Rewrite(weights, scales, (_, _) => null);
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains($"'{scales}' is missing", e.Message);

        (dir, weights, t) = SavedInt8();
        Rewrite(weights, t.Name + ReducedPrecisionDirectory.Int8Suffix, (info, bytes) => (new byte[bytes.Length * 4], info.Shape), SafeTensorDType.F32);
        var e2 = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains($"'{t.Name}{ReducedPrecisionDirectory.Int8Suffix}' has dtype F32", e2.Message);
    }

    [Fact]
    public void Int4ValuesOfTheUnpackedWidth_OrAsInt8_FailNamingTheTensor()
    {
        (string dir, string weights, ParameterTensor t) = SavedInt8(WeightFormat.Int4);
        string values = t.Name + ReducedPrecisionDirectory.Int4Suffix;
        // one byte per value (the int8 width) instead of two values a byte
        Rewrite(weights, values, (info, bytes) => (new byte[info.Shape[0] * t.Shape[0]], [info.Shape[0], t.Shape[0]]));
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains($"'{values}' has shape", e.Message);
        Assert.Contains(weights, e.Message);

        (dir, weights, t) = SavedInt8(WeightFormat.Int4);
        Rewrite(weights, values, (info, bytes) => (bytes, info.Shape), SafeTensorDType.I8);
        var e2 = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains($"'{values}' has dtype I8, the int4 format expects U8", e2.Message);
    }

    [Theory]
    [InlineData("\"int3\"", "int3")]
    [InlineData("8", "8")]
    public void UnknownFormatName_FailsNamingTheField(string value, string shown)
    {
        (string dir, _, _) = SavedInt8();
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"int8\"", value));
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains("weight_format", e.Message);
        Assert.Contains(shown, e.Message);
        Assert.Contains("bf16", e.Message);
        Assert.Contains(config, e.Message);
    }

    [Fact]
    public void Float32FileUnderAnInt8Config_FailsNamingTheMissingTensor()
    {
        string dir = TempFolders.Create("fp32-as-int8");
        TokenFormerModel fp32 = Float32Model();
        ModelDirectory.Save(fp32, dir);
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).TrimEnd().TrimEnd('}') + ",\n  \"weight_format\": \"int8\"\n}\n");
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(dir));
        Assert.Contains("sequential.0.word_embeddings.weight.int8", e.Message);
    }
}
