using System.Runtime.InteropServices;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Model;

/// <summary>
/// model.safetensors of a bf16, int8 or int4 model directory (config.json <c>weight_format</c>; docs/quantization.md):
/// <list type="bullet">
/// <item>bf16: every matrix under its official key, dtype BF16, official shape (a plain bfloat16 checkpoint).</item>
/// <item>int8: for a matrix with official key K, <c>K.int8</c> (I8) and <c>K.int8_scales</c> (F32 [rows, ⌈columns/32⌉]),
/// in the orientation the forward product reads: the embedding and key tokens as official ([V, d], [n, d_in]), value
/// tokens transposed ([d_out, n]).</item>
/// <item>int4: likewise <c>K.int4</c> (U8 [rows, ⌈columns/32⌉·16]: each block of 32 values in 16 bytes, value i in
/// the low nibble of byte i and value i + 16 in its high nibble, each stored as q + 8; <see cref="Int4Blocks"/>) and
/// <c>K.int4_scales</c> (F32 [rows, ⌈columns/32⌉]).</item>
/// <item>all: the final LayerNorm weight and bias in F32 under their official keys.</item>
/// </list>
/// Loading is strict like <see cref="ModelDirectory"/>: every tensor present with the expected dtype and shape, no
/// other tensor, every scale finite; errors name the file and the tensor.
/// </summary>
public static class ReducedPrecisionDirectory
{
    /// <summary>Suffix of the int8 values of a matrix.</summary>
    public const string Int8Suffix = ".int8";
    /// <summary>Suffix of the int8 block scales of a matrix.</summary>
    public const string ScalesSuffix = ".int8_scales";
    /// <summary>Suffix of the 4-bit values of a matrix.</summary>
    public const string Int4Suffix = ".int4";
    /// <summary>Suffix of the 4-bit block scales of a matrix.</summary>
    public const string Int4ScalesSuffix = ".int4_scales";

    /// <summary>The suffixes of a blocked format's values and scales (int8, int4).</summary>
    private static (string Values, string Scales) Suffixes(WeightFormat format) =>
        format == WeightFormat.Int4 ? (Int4Suffix, Int4ScalesSuffix) : (Int8Suffix, ScalesSuffix);

    /// <summary>The tensor names and shapes a file of <paramref name="format"/> holds for <paramref name="layout"/>.</summary>
    public static IEnumerable<(string Name, SafeTensorDType DType, long[] Shape)> Expected(ParameterLayout layout, WeightFormat format)
    {
        foreach (ParameterTensor t in layout.Tensors)
        {
            if (t.Shape.Length == 1) { yield return (t.Name, SafeTensorDType.F32, [t.Shape[0]]); continue; }
            if (format == WeightFormat.BFloat16) { yield return (t.Name, SafeTensorDType.BF16, [t.Shape[0], t.Shape[1]]); continue; }
            (int rows, int cols) = ReducedPrecisionWeights.StoredShape(t);
            (string values, string scales) = Suffixes(format);
            if (format == WeightFormat.Int4) yield return (t.Name + values, SafeTensorDType.U8, [rows, Int4Blocks.BytesPerRow(cols)]);
            else yield return (t.Name + values, SafeTensorDType.I8, [rows, cols]);
            yield return (t.Name + scales, SafeTensorDType.F32, [rows, Int8Blocks.BlocksPerRow(cols)]);
        }
    }

    /// <summary>Writes config.json (with weight_format) and model.safetensors of a reduced-precision model (temporary file, then rename).</summary>
    public static void Save(TokenFormerModel model, string directory, Action? beforeCommit = null)
    {
        ReducedPrecisionWeights w = model.ReducedWeights ?? throw new ArgumentException("the model is float32; use ModelDirectory.Save");
        Directory.CreateDirectory(directory);
        var writer = new SafeTensorsWriter();
        writer.Metadata["format"] = "pt";
        writer.Metadata[WeightFormats.ConfigField] = WeightFormats.Name(w.Format);
        foreach (ParameterTensor t in w.Layout.Tensors)
        {
            if (t.Shape.Length == 1) { writer.AddFloat32(t.Name, w.VectorStorage(t), t.Shape[0]); continue; }
            (int rows, int cols) = ReducedPrecisionWeights.StoredShape(t);
            if (w.Format == WeightFormat.BFloat16)
            {
                var bits = new ushort[t.Length];
                ushort[] src = w.BFloat16Values!;
                if (ReducedPrecisionWeights.IsStoredTransposed(t))
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++) bits[c * rows + r] = src[t.Offset + r * cols + c];
                else Array.Copy(src, t.Offset, bits, 0, t.Length);
                writer.AddBytes(t.Name, SafeTensorDType.BF16, MemoryMarshal.AsBytes(bits.AsSpan()).ToArray(), t.Shape[0], t.Shape[1]);
            }
            else
            {
                int blocks = Int8Blocks.BlocksPerRow(cols);
                (string values, string scales) = Suffixes(w.Format);
                if (w.Format == WeightFormat.Int4)
                {
                    int rowBytes = Int4Blocks.BytesPerRow(cols);
                    writer.AddBytes(t.Name + values, SafeTensorDType.U8, w.Int4Values.AsSpan(checked((int)w.Int4Offset(t)), rows * rowBytes).ToArray(), rows, rowBytes);
                }
                else
                    writer.AddBytes(t.Name + values, SafeTensorDType.I8, MemoryMarshal.AsBytes(w.Int8Values.AsSpan(t.Offset, t.Length)).ToArray(), rows, cols);
                writer.AddFloat32(t.Name + scales, w.BlockScales.AsMemory(checked((int)w.ScaleOffset(t)), rows * blocks), rows, blocks);
            }
        }
        writer.Save(Path.Combine(directory, ModelDirectory.WeightsFile), beforeCommit);
        model.Config.Save(Path.Combine(directory, ModelDirectory.ConfigFile));
    }

    /// <summary>
    /// Loads model.safetensors of <paramref name="format"/> for <paramref name="config"/> (vocab_size is taken from the
    /// embedding; <paramref name="configPath"/> names the config in errors about its sizes).
    /// </summary>
    public static TokenFormerModel Load(string weightsPath, TokenFormerConfig config, WeightFormat format, string configPath)
    {
        SafeTensorsFile file;
        try { file = SafeTensorsFile.Open(weightsPath); }
        catch (SafeTensorsFormatException e) { throw new ModelFormatException(e.Message); }
        using (file)
        {
            string embKey = "sequential.0.word_embeddings.weight" + (format == WeightFormat.BFloat16 ? "" : Suffixes(format).Values);
            if (!file.Contains(embKey))
                throw new ModelFormatException($"{weightsPath}: tensor '{embKey}' is missing (config.json says weight_format {WeightFormats.Name(format)})");
            SafeTensorInfo emb = file.Get(embKey);
            // a 4-bit row of d values is ⌈d/32⌉ blocks of 16 bytes
            int width = format == WeightFormat.Int4 ? Int4Blocks.BytesPerRow(config.HiddenSize) : config.HiddenSize;
            if (emb.Shape.Length != 2 || emb.Shape[1] != width)
                throw new ModelFormatException($"{weightsPath}: tensor '{embKey}' has shape {emb.ShapeText} but the config expects [vocab, {width}]");
            if (config.VocabSize is int v && v != emb.Shape[0])
                throw new ModelFormatException($"{weightsPath}: tensor '{embKey}' has shape {emb.ShapeText} but config.json vocab_size {v} expects [{v}, {width}]");
            config.VocabSize = checked((int)emb.Shape[0]);
            ParameterLayout layout = ModelDirectory.Layout(config, configPath);
            var expected = Expected(layout, format).ToList();
            var names = expected.Select(e => e.Name).ToHashSet();
            foreach (SafeTensorInfo t in file.Tensors)
                if (!names.Contains(t.Name))
                    throw new ModelFormatException($"{weightsPath}: tensor '{t.Name}' is not part of a {WeightFormats.Name(format)} TokenFormer of this config " +
                        (format != WeightFormat.BFloat16 && layout.Find(t.Name) != null
                            ? $"(an {WeightFormats.Name(format)} file holds '{t.Name}{Suffixes(format).Values}' and '{t.Name}{Suffixes(format).Scales}' instead)" : "(unexpected tensor)"));
            foreach ((string name, SafeTensorDType dtype, long[] shape) in expected)
            {
                if (!file.Contains(name)) throw new ModelFormatException($"{weightsPath}: tensor '{name}' is missing");
                SafeTensorInfo t = file.Get(name);
                bool vector = shape.Length == 1;
                if (!vector && t.DType != dtype || vector && t.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16))
                    throw new ModelFormatException($"{weightsPath}: tensor '{name}' has dtype {t.DType}, the {WeightFormats.Name(format)} format expects {dtype}");
                if (!t.Shape.SequenceEqual(shape))
                    throw new ModelFormatException($"{weightsPath}: tensor '{name}' has shape {t.ShapeText}, the {WeightFormats.Name(format)} format expects {SafeTensorInfo.FormatShape(shape)}");
            }
            var w = new ReducedPrecisionWeights(layout, format);
            // tensors are read straight from the file into their final arrays (SafeTensorsFile.ReadBytes), so the
            // process never holds the file's pages beside the weights; value tokens of bf16 go through one buffer to
            // be transposed
            ushort[] transposeBuffer = format == WeightFormat.BFloat16
                ? new ushort[layout.Tensors.Where(ReducedPrecisionWeights.IsStoredTransposed).Select(t => t.Length).DefaultIfEmpty(0).Max()] : [];
            try { ReadTensors(file, weightsPath, format, layout, w, transposeBuffer); }
            catch (SafeTensorsFormatException e) { throw new ModelFormatException(e.Message); }
            return new TokenFormerModel(config, w);
        }
    }

    private static void ReadTensors(SafeTensorsFile file, string weightsPath, WeightFormat format, ParameterLayout layout, ReducedPrecisionWeights w, ushort[] transposeBuffer)
    {
        foreach (ParameterTensor t in layout.Tensors)
        {
            if (t.Shape.Length == 1)
            {
                file.ReadFloat32(t.Name, w.VectorStorage(t));
                continue;
            }
            (int rows, int cols) = ReducedPrecisionWeights.StoredShape(t);
            if (format == WeightFormat.BFloat16)
            {
                Span<ushort> dst = w.BFloat16Values.AsSpan(t.Offset, t.Length);
                if (ReducedPrecisionWeights.IsStoredTransposed(t))
                {
                    Span<ushort> bits = transposeBuffer.AsSpan(0, t.Length);
                    file.ReadBytes(file.Get(t.Name), 0, MemoryMarshal.AsBytes(bits));
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++) dst[r * cols + c] = bits[c * rows + r];
                }
                else file.ReadBytes(file.Get(t.Name), 0, MemoryMarshal.AsBytes(dst));
            }
            else
            {
                (string valuesSuffix, string scalesSuffix) = Suffixes(format);
                if (format == WeightFormat.Int4)
                    file.ReadBytes(file.Get(t.Name + valuesSuffix), 0, w.Int4Values.AsSpan(checked((int)w.Int4Offset(t)), rows * Int4Blocks.BytesPerRow(cols)));
                else
                    file.ReadBytes(file.Get(t.Name + valuesSuffix), 0, MemoryMarshal.AsBytes(w.Int8Values.AsSpan(t.Offset, t.Length)));
                int blocks = Int8Blocks.BlocksPerRow(cols);
                Span<float> scales = w.BlockScales.AsSpan(checked((int)w.ScaleOffset(t)), rows * blocks);
                file.ReadBytes(file.Get(t.Name + scalesSuffix), 0, MemoryMarshal.AsBytes(scales));
                for (int i = 0; i < scales.Length; i++)
                    if (!float.IsFinite(scales[i]))
                        throw new ModelFormatException($"{weightsPath}: tensor '{t.Name}{scalesSuffix}' holds a non-finite scale ({scales[i]}) at row {i / blocks}, block {i % blocks}; every scale must be a finite float");
            }
        }
    }
}
