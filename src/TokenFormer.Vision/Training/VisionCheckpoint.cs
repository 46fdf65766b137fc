using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TokenFormer.Core.IO;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Vision.Training;

/// <summary>What trainer_state.json of a vision checkpoint records.</summary>
public sealed record VisionTrainerState
{
    /// <summary>Completed optimiser steps.</summary>
    [JsonPropertyName("step")] public long Step { get; init; }
    /// <summary>The run's options.</summary>
    [JsonPropertyName("options")] public VisionTrainingOptions Options { get; init; } = new();
    /// <summary>Bytes of metrics.jsonl written up to this step (cut back to this on resume).</summary>
    [JsonPropertyName("metrics_bytes")] public long MetricsBytes { get; init; }
    /// <summary>Wall time spent training up to this step.</summary>
    [JsonPropertyName("elapsed_s")] public double ElapsedSeconds { get; init; }
    /// <summary>What the run trained on (fashion-mnist or a folder).</summary>
    [JsonPropertyName("data")] public string Data { get; init; } = "";
}

/// <summary>
/// RUN/checkpoints/step-N/ of a vision run: the model directory (config.json, model.safetensors),
/// optimizer.safetensors (AdamW moments <c>exp_avg.KEY</c> / <c>exp_avg_sq.KEY</c> under the model's keys, the step in
/// the metadata) and trainer_state.json. Written into a temporary folder and renamed, as the language model's
/// checkpoints (src/TokenFormer.Model/Training/CheckpointStore.cs), so every step-N folder is complete.
/// </summary>
public sealed class VisionCheckpoint(string runDirectory)
{
    /// <summary>Optimiser file name.</summary>
    public const string OptimizerFile = "optimizer.safetensors";
    /// <summary>Trainer state file name.</summary>
    public const string StateFile = "trainer_state.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>RUN/checkpoints.</summary>
    public string Directory { get; } = Path.Combine(runDirectory, "checkpoints");

    /// <summary>Complete checkpoints, oldest first.</summary>
    public List<(string Path, long Step)> List()
    {
        var list = new List<(string, long)>();
        if (!System.IO.Directory.Exists(Directory)) return list;
        foreach (string d in System.IO.Directory.GetDirectories(Directory, "step-*"))
            if (long.TryParse(Path.GetFileName(d)["step-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long s) && IsComplete(d))
                list.Add((d, s));
        return list.OrderBy(x => x.Item2).ToList();
    }

    /// <summary>Whether a folder holds every checkpoint file.</summary>
    public static bool IsComplete(string dir) => new[] { VisionModel.ConfigFile, VisionModel.WeightsFile, OptimizerFile, StateFile }
        .All(f => File.Exists(Path.Combine(dir, f)));

    /// <summary>Writes the checkpoint of <paramref name="state"/>.Step and returns its folder; prunes to <paramref name="keep"/> (0 = all).</summary>
    public string Save(VisionModel model, AdamW core, AdamW stem, VisionTrainerState state, int keep)
    {
        System.IO.Directory.CreateDirectory(Directory);
        foreach (string t in System.IO.Directory.GetDirectories(Directory, ".tmp-step-*")) System.IO.Directory.Delete(t, true);
        string final = Path.Combine(Directory, "step-" + state.Step.ToString(CultureInfo.InvariantCulture));
        string temp = Path.Combine(Directory, $".tmp-step-{state.Step}-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(temp);
        model.Save(temp);
        var w = new SafeTensorsWriter(keepInsertionOrder: true);
        w.Metadata["step"] = core.Step.ToString(CultureInfo.InvariantCulture);
        foreach (var (key, t, arena) in model.AllTensors())
        {
            AdamW a = arena == model.Stem ? stem : core;
            long[] shape = t.Shape.Select(s => (long)s).ToArray();
            w.AddFloat32("exp_avg." + key, a.FirstMoment.AsMemory(t.Offset, t.Length), shape);
            w.AddFloat32("exp_avg_sq." + key, a.SecondMoment.AsMemory(t.Offset, t.Length), shape);
        }
        w.Save(Path.Combine(temp, OptimizerFile));
        AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, Json) + "\n");
        if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, true);
        System.IO.Directory.Move(temp, final);
        if (keep > 0)
            foreach (var (path, _) in List().SkipLast(keep)) System.IO.Directory.Delete(path, true);
        return final;
    }

    /// <summary>Reads trainer_state.json; errors name the file.</summary>
    public static VisionTrainerState ReadState(string dir)
    {
        string path = Path.Combine(dir, StateFile);
        try { return JsonSerializer.Deserialize<VisionTrainerState>(File.ReadAllText(path)) ?? throw new VisionFormatException($"{path}: empty"); }
        catch (JsonException e) { throw new VisionFormatException($"{path}: not a valid trainer state ({e.Message})"); }
    }

    /// <summary>Reads the AdamW moments and step into <paramref name="core"/> and <paramref name="stem"/>; errors name the file and key.</summary>
    public static void LoadOptimizer(string dir, VisionModel model, AdamW core, AdamW stem)
    {
        string path = Path.Combine(dir, OptimizerFile);
        try
        {
            using SafeTensorsFile f = SafeTensorsFile.Open(path);
            foreach (var (key, t, arena) in model.AllTensors())
            {
                AdamW a = arena == model.Stem ? stem : core;
                foreach (var (prefix, target) in new[] { ("exp_avg.", a.FirstMoment), ("exp_avg_sq.", a.SecondMoment) })
                {
                    if (!f.Contains(prefix + key)) throw new VisionFormatException($"{path}: tensor '{prefix + key}' is missing");
                    if (f.Get(prefix + key).Shape.Aggregate(1L, (x, y) => x * y) != t.Length)
                        throw new VisionFormatException($"{path}: tensor '{prefix + key}' does not have {t.Length} values (shape {SafeTensorInfo.FormatShape(t.Shape)})");
                    f.ReadFloat32(prefix + key, target.AsSpan(t.Offset, t.Length));
                }
            }
            if (!f.Metadata.TryGetValue("step", out string? s) || !long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long step))
                throw new VisionFormatException($"{path}: metadata 'step' is missing or not a number");
            core.Step = stem.Step = step;
        }
        catch (SafeTensorsFormatException e) { throw new VisionFormatException($"{path}: {e.Message}"); }
    }
}
