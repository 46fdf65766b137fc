using TokenFormer.Core.PyTorch;
using TokenFormer.Core.SafeTensors;

namespace TokenFormer.Model.Import;

/// <summary>
/// Writes a checked import plan as a model directory (config.json + model.safetensors, loadable by
/// <see cref="ModelDirectory.Load"/>) straight from the checkpoint file: each tensor's bytes go from the archive into
/// model.safetensors (<see cref="TorchCheckpoint.WriteFloat32"/>: a kernel file-to-file copy for contiguous float32
/// tensors, widening through a small buffer for float16/bfloat16), in the order they lie in the archive so that the
/// checkpoint is read front to back. No model is built in memory: peak memory is small buffers, whatever the size.
/// </summary>
public static class ImportedModelWriter
{
    /// <summary>What one <see cref="Write"/> call did.</summary>
    public sealed record Result(long ParameterCount, double Seconds);

    /// <summary>
    /// Writes <paramref name="directory"/> from <paramref name="checkpoint"/>. <paramref name="beforeCommit"/> runs
    /// after the weights are written and before anything is renamed into place (e.g. to finish validating a
    /// tokenizer); if it or any read fails, nothing is committed and no temporary file is left.
    /// </summary>
    public static Result Write(TorchCheckpoint checkpoint, OfficialCheckpointImporter.Plan plan, string directory, Action? beforeCommit = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var writer = new SafeTensorsWriter(keepInsertionOrder: true);
        long parameters = 0;
        foreach (var (target, source) in plan.Tensors.OrderBy(p => checkpoint.FilePosition(p.Source)).ThenBy(p => p.Target.Name, StringComparer.Ordinal))
        {
            writer.AddStreamed(target.Name, SafeTensorDType.F32, target.Shape.Select(x => (long)x).ToArray(), target.Length * 4L,
                (file, offset) => checkpoint.WriteFloat32(source, file, offset));
            parameters += target.Length;
        }
        Directory.CreateDirectory(directory);
        writer.Save(Path.Combine(directory, ModelDirectory.WeightsFile), beforeCommit);
        plan.Config.Save(Path.Combine(directory, ModelDirectory.ConfigFile));
        return new Result(parameters, watch.Elapsed.TotalSeconds);
    }
}
