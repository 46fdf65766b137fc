using System.Globalization;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Model.Training;

/// <summary>
/// RUN/checkpoints/step-N/: a model directory (config.json, model.safetensors, tokenizer.json when given),
/// optimizer.safetensors (AdamW moments <c>exp_avg.KEY</c> / <c>exp_avg_sq.KEY</c> per parameter key, the step in the
/// metadata) and trainer_state.json. A checkpoint is written into <c>.tmp-step-N-PID</c>, every file flushed to
/// disk, and the folder then renamed to <c>step-N</c>, so a process killed mid-write leaves only a temporary folder
/// (removed on the next save or resume) and every <c>step-N</c> folder is complete.
/// </summary>
public sealed class CheckpointStore(string runDirectory)
{
    /// <summary>Optimiser state file name.</summary>
    public const string OptimizerFile = "optimizer.safetensors";
    /// <summary>
    /// Test hook: when this environment variable holds a step number, the writer of that step's checkpoint stops
    /// half-way (weights and optimiser written, trainer_state.json not yet, folder not renamed), creates
    /// <c>checkpoints/.paused-step-N</c> and sleeps, so a test can kill the process at that point.
    /// </summary>
    public const string PauseEnvironmentVariable = "TOKENFORMER_TEST_PAUSE_CHECKPOINT";

    /// <summary>RUN/checkpoints.</summary>
    public string Directory { get; } = Path.Combine(runDirectory, "checkpoints");

    /// <summary>Folder of the checkpoint of <paramref name="step"/>.</summary>
    public string PathOf(long step) => Path.Combine(Directory, "step-" + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>Complete checkpoints (folder, step), oldest first.</summary>
    public List<(string Path, long Step)> List()
    {
        var list = new List<(string, long)>();
        if (!System.IO.Directory.Exists(Directory)) return list;
        foreach (string dir in System.IO.Directory.GetDirectories(Directory))
        {
            string name = Path.GetFileName(dir);
            if (!name.StartsWith("step-", StringComparison.Ordinal)) continue;
            if (!long.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out long step)) continue;
            if (IsComplete(dir)) list.Add((dir, step));
        }
        list.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        return list;
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public (string Path, long Step)? Latest()
    {
        List<(string Path, long Step)> all = List();
        return all.Count == 0 ? null : all[^1];
    }

    /// <summary>Whether a folder holds every checkpoint file.</summary>
    public static bool IsComplete(string dir) =>
        File.Exists(Path.Combine(dir, TrainerState.FileName)) && File.Exists(Path.Combine(dir, ModelDirectory.ConfigFile))
        && File.Exists(Path.Combine(dir, ModelDirectory.WeightsFile)) && File.Exists(Path.Combine(dir, OptimizerFile));

    /// <summary>Removes temporary folders left by an interrupted save.</summary>
    public void RemoveTemporary()
    {
        if (!System.IO.Directory.Exists(Directory)) return;
        foreach (string dir in System.IO.Directory.GetDirectories(Directory, ".tmp-*")) System.IO.Directory.Delete(dir, recursive: true);
        foreach (string file in System.IO.Directory.GetFiles(Directory, ".paused-*")) File.Delete(file);
    }

    /// <summary>Writes the checkpoint of <paramref name="state"/>.Step atomically and returns its folder.</summary>
    public string Save(TokenFormerModel model, AdamW adam, TrainerState state, IEnumerable<string> extraFiles)
    {
        System.IO.Directory.CreateDirectory(Directory);
        RemoveTemporary();
        string final = PathOf(state.Step);
        string temp = Path.Combine(Directory, $".tmp-step-{state.Step}-{Environment.ProcessId}");
        try
        {
            System.IO.Directory.CreateDirectory(temp);
            ModelDirectory.Save(model, temp);
            foreach (string file in extraFiles) File.Copy(file, Path.Combine(temp, Path.GetFileName(file)), overwrite: true);
            SaveOptimizer(model, adam, Path.Combine(temp, OptimizerFile));
            PauseForTests(state.Step);
            File.WriteAllText(Path.Combine(temp, TrainerState.FileName), state.ToJson() + "\n");
            foreach (string file in System.IO.Directory.GetFiles(temp))
            {
                using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
                fs.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a full disk or a read-only folder: drop the partial copy (it would only take space) and say which
            // complete checkpoint is still there, so the user knows what --resume will continue from
            try { if (System.IO.Directory.Exists(temp)) System.IO.Directory.Delete(temp, recursive: true); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { /* reported below as the write failure */ }
            (string Path, long Step)? kept = Latest();
            string intact = kept is { } k ? $"the newest complete checkpoint, {k.Path}, is intact" : "no earlier checkpoint exists";
            throw new CheckpointWriteException(
                $"could not write the checkpoint of step {state.Step} in {Directory}: {e.Message}; {intact}. Free space (or make the folder writable) and continue with --resume", e);
        }
        if (System.IO.Directory.Exists(final))
        {
            // an older run's folder of the same step (resumed from an earlier checkpoint): move it aside, then delete
            string old = Path.Combine(Directory, $".tmp-old-step-{state.Step}-{Environment.ProcessId}");
            System.IO.Directory.Move(final, old);
            System.IO.Directory.Move(temp, final);
            System.IO.Directory.Delete(old, recursive: true);
        }
        else System.IO.Directory.Move(temp, final);
        return final;
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> complete checkpoints (0 = keep all).</summary>
    public void Prune(int keep)
    {
        if (keep <= 0) return;
        List<(string Path, long Step)> all = List();
        for (int i = 0; i < all.Count - keep; i++) System.IO.Directory.Delete(all[i].Path, recursive: true);
    }

    private void PauseForTests(long step)
    {
        string? value = Environment.GetEnvironmentVariable(PauseEnvironmentVariable);
        if (value == null || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long at) || at != step) return;
        File.WriteAllText(Path.Combine(Directory, $".paused-step-{step}"), "");
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>Writes AdamW's moments and step, plus <paramref name="metadata"/> (null: none) in the file's metadata.</summary>
    public static void SaveOptimizer(TokenFormerModel model, AdamW adam, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var writer = new SafeTensorsWriter();
        if (metadata != null) foreach (var (key, value) in metadata) writer.Metadata[key] = value;
        writer.Metadata["step"] = adam.Step.ToString(CultureInfo.InvariantCulture);
        writer.Metadata["format"] = "tokenformer-adamw-1";
        foreach (ParameterTensor t in model.Layout.Tensors)
        {
            long[] shape = t.Shape.Select(x => (long)x).ToArray();
            writer.AddFloat32("exp_avg." + t.Name, adam.FirstMoment.AsMemory(t.Offset, t.Length), shape);
            writer.AddFloat32("exp_avg_sq." + t.Name, adam.SecondMoment.AsMemory(t.Offset, t.Length), shape);
        }
        writer.Save(path);
    }

    /// <summary>Reads AdamW's moments and step from <paramref name="path"/> into <paramref name="adam"/>; errors name file and key.</summary>
    public static void LoadOptimizer(TokenFormerModel model, AdamW adam, string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("step", out string? stepText) || !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            throw new InvalidDataException($"{path}: metadata 'step' is missing or not a number");
        foreach (ParameterTensor t in model.Layout.Tensors)
            foreach (var (prefix, target) in new[] { ("exp_avg.", adam.FirstMoment), ("exp_avg_sq.", adam.SecondMoment) })
            {
                string key = prefix + t.Name;
                if (!file.Contains(key)) throw new InvalidDataException($"{path}: tensor '{key}' is missing");
                SafeTensorInfo info = file.Get(key);
                if (!info.Shape.SequenceEqual(t.Shape.Select(x => (long)x)))
                    throw new InvalidDataException($"{path}: tensor '{key}' has shape {info.ShapeText} but the model expects {SafeTensorInfo.FormatShape(t.Shape)}");
                file.ReadFloat32(key, target.AsSpan(t.Offset, t.Length));
            }
        adam.Step = step;
    }
}
