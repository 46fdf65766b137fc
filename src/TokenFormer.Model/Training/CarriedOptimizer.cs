using System.Globalization;
using System.Text.Json;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Model.Training;

/// <summary>
/// The AdamW state a model directory can hold beside its weights, for a run that starts from the model and carries the
/// optimiser on (<see cref="Trainer.StartFrom"/> with an optimizer): <c>optimizer.safetensors</c> in the checkpoint
/// format (<see cref="CheckpointStore.SaveOptimizer"/>). A training checkpoint has it already; <c>tokenformer grow</c>
/// writes a grown copy (<see cref="Growth.ModelGrower.GrowOptimizer"/>) with the source run's schedule in the metadata
/// (<see cref="ScheduleKey"/>), since a grown directory has no trainer_state.json (docs/growth.md).
/// </summary>
public static class CarriedOptimizer
{
    /// <summary>The file name, the same as in a checkpoint.</summary>
    public const string FileName = CheckpointStore.OptimizerFile;
    /// <summary>Metadata key holding the source run's <see cref="SourceSchedule"/> as JSON.</summary>
    public const string ScheduleKey = "source_schedule";

    /// <summary>Whether <paramref name="modelDirectory"/> holds an optimizer state file.</summary>
    public static bool Exists(string modelDirectory) => File.Exists(Path.Combine(modelDirectory, FileName));

    /// <summary>
    /// AdamW with the moments and step stored in <paramref name="modelDirectory"/> for <paramref name="model"/>;
    /// errors name the file and what is missing or mismatched.
    /// </summary>
    public static AdamW Load(TokenFormerModel model, string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no optimizer state (written into training checkpoints, and by grow when its source is a checkpoint)", path);
        var adam = new AdamW(model.Layout);
        CheckpointStore.LoadOptimizer(model, adam, path);
        return adam;
    }

    /// <summary>
    /// The schedule of the run the state in <paramref name="modelDirectory"/> came from: the optimizer file's
    /// <see cref="ScheduleKey"/> metadata, else the trainer_state.json of a checkpoint; null when neither is there.
    /// </summary>
    public static SourceSchedule? ReadSchedule(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, FileName);
        if (File.Exists(path))
        {
            using SafeTensorsFile file = SafeTensorsFile.Open(path);
            if (file.Metadata.TryGetValue(ScheduleKey, out string? json))
            {
                try
                {
                    return JsonSerializer.Deserialize<SourceSchedule>(json)
                        ?? throw new InvalidDataException($"{path}: metadata '{ScheduleKey}' is null (expected the source run's schedule)");
                }
                catch (JsonException e) { throw new InvalidDataException($"{path}: metadata '{ScheduleKey}' is not a schedule: {e.Message}"); }
            }
        }
        string statePath = Path.Combine(modelDirectory, TrainerState.FileName);
        if (!File.Exists(statePath)) return null;
        TrainerState state = TrainerState.Load(statePath);
        return SourceSchedule.Of(state.ToOptions(new TrainingOptions()), state.Step);
    }

    /// <summary>Writes <paramref name="adam"/> for <paramref name="model"/> into <paramref name="modelDirectory"/>, with <paramref name="schedule"/> when given.</summary>
    public static void Save(TokenFormerModel model, AdamW adam, SourceSchedule? schedule, string modelDirectory)
    {
        var metadata = new Dictionary<string, string>();
        if (schedule != null) metadata[ScheduleKey] = JsonSerializer.Serialize(schedule);
        string path = Path.Combine(modelDirectory, FileName);
        string temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        CheckpointStore.SaveOptimizer(model, adam, temp, metadata);
        File.Move(temp, path, overwrite: true);
    }
}
