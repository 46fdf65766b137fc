using TokenFormer.Core.PyTorch;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Model.Import;

/// <summary>
/// <c>import --dtype bf16|int8|int4</c>: an official checkpoint converted straight into a reduced-precision model directory
/// (docs/quantization.md). The tensors are read one at a time, in the order they lie in the archive, into one float32
/// buffer the size of the largest tensor (the embedding) and stored from there; no float32 copy of the whole model is
/// ever in memory: peak memory is the reduced-precision model plus that buffer.
/// </summary>
public static class ReducedPrecisionImport
{
    /// <summary>
    /// Writes <paramref name="directory"/> (config.json with weight_format, model.safetensors) from a checked
    /// <paramref name="plan"/>. Throws <see cref="ArgumentException"/> naming the tensor when a weight is not finite.
    /// </summary>
    public static ImportedModelWriter.Result Write(TorchCheckpoint checkpoint, OfficialCheckpointImporter.Plan plan, WeightFormat format,
        string directory, Action? beforeCommit = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var weights = new ReducedPrecisionWeights(new ParameterLayout(plan.Config, plan.Config.Vocab), format);
        float[] buffer = new float[plan.Tensors.Max(p => p.Target.Length)];
        long parameters = 0;
        foreach (var (target, source) in plan.Tensors.OrderBy(p => checkpoint.FilePosition(p.Source)))
        {
            Span<float> values = buffer.AsSpan(0, target.Length);
            checkpoint.ReadFloat32(source, values);
            weights.Store(weights.Layout.Find(target.Name)!, values);
            parameters += target.Length;
        }
        buffer = [];
        var model = new TokenFormerModel(plan.Config, weights);
        ReducedPrecisionDirectory.Save(model, directory, beforeCommit);
        return new ImportedModelWriter.Result(parameters, watch.Elapsed.TotalSeconds);
    }
}
