using System.Text.Json;
using System.Text.Json.Serialization;

namespace TokenFormer.Model.Training;

/// <summary>
/// trainer_state.json of a checkpoint: everything besides weights and optimiser moments that a resumed run needs to
/// continue bit for bit — the step, the sampler's (seed, windows drawn), the schedule and all numeric options — plus
/// the metrics file's length at the checkpoint and a few figures for people.
/// </summary>
public sealed class TrainerState
{
    /// <summary>File name inside a checkpoint.</summary>
    public const string FileName = "trainer_state.json";

    /// <summary>Version of this file's layout.</summary>
    [JsonPropertyName("format_version")] public int FormatVersion { get; set; } = 1;
    /// <summary>Optimiser steps completed.</summary>
    [JsonPropertyName("step")] public long Step { get; set; }
    /// <summary>Seed of the training-window sampler.</summary>
    [JsonPropertyName("sampler_seed")] public ulong SamplerSeed { get; set; }
    /// <summary>Training windows drawn so far (the sampler's position in its stream).</summary>
    [JsonPropertyName("windows_drawn")] public long WindowsDrawn { get; set; }
    /// <summary>Training tokens processed so far.</summary>
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; set; }
    /// <summary>Optimiser steps of the whole run (the end of the cosine schedule).</summary>
    [JsonPropertyName("steps")] public long Steps { get; set; }
    /// <summary>Sequences per micro-batch of each rank (the global micro-batch is <see cref="Batch"/> × <see cref="Ranks"/>).</summary>
    [JsonPropertyName("batch")] public int Batch { get; set; }
    /// <summary>Data-parallel ranks the checkpoint was written by (absent = 1).</summary>
    [JsonPropertyName("ranks")] public int Ranks { get; set; } = 1;
    /// <summary>Tokens per sequence.</summary>
    [JsonPropertyName("seq")] public int Sequence { get; set; }
    /// <summary>Micro-batches per optimiser step.</summary>
    [JsonPropertyName("grad_accum")] public int GradAccum { get; set; }
    /// <summary>Peak learning rate.</summary>
    [JsonPropertyName("lr")] public double LearningRate { get; set; }
    /// <summary>Floor of the cosine schedule.</summary>
    [JsonPropertyName("min_lr")] public double MinLearningRate { get; set; }
    /// <summary>Linear warmup steps.</summary>
    [JsonPropertyName("warmup")] public long Warmup { get; set; }
    /// <summary>Decoupled weight decay λ.</summary>
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; set; }
    /// <summary>Global gradient-norm clip (0 = off).</summary>
    [JsonPropertyName("clip")] public double Clip { get; set; }
    /// <summary>Seed of the initialisation and of the sampler.</summary>
    [JsonPropertyName("seed")] public int Seed { get; set; }
    /// <summary>Validation windows per evaluation.</summary>
    [JsonPropertyName("eval_windows")] public int EvalWindows { get; set; }
    /// <summary>AdamW β1.</summary>
    [JsonPropertyName("adam_beta1")] public double Beta1 { get; set; }
    /// <summary>AdamW β2.</summary>
    [JsonPropertyName("adam_beta2")] public double Beta2 { get; set; }
    /// <summary>AdamW ε.</summary>
    [JsonPropertyName("adam_eps")] public double Epsilon { get; set; }
    /// <summary>Learning rate of the next update.</summary>
    [JsonPropertyName("next_lr")] public double NextLearningRate { get; set; }
    /// <summary>Threads the run used (bitwise resume needs the same count).</summary>
    [JsonPropertyName("threads")] public int Threads { get; set; }
    /// <summary>Length of metrics.jsonl at this checkpoint (a resumed run cuts the file back to it).</summary>
    [JsonPropertyName("metrics_bytes")] public long MetricsBytes { get; set; }
    /// <summary>Training loss of the last step.</summary>
    [JsonPropertyName("last_loss")] public double? LastLoss { get; set; }
    /// <summary>Validation loss of the last evaluation (null: none yet).</summary>
    [JsonPropertyName("last_val_loss")] public double? LastValLoss { get; set; }
    /// <summary>Training wall time so far, in seconds.</summary>
    [JsonPropertyName("elapsed_s")] public double ElapsedSeconds { get; set; }
    /// <summary>Content hash of the data's tokenizer (null: not recorded).</summary>
    [JsonPropertyName("tokenizer_hash")] public string? TokenizerHash { get; set; }
    /// <summary>Tokens in the train split the run was started on.</summary>
    [JsonPropertyName("train_tokens")] public long TrainTokens { get; set; }
    /// <summary>Only the newest growth step's token rows train (absent = false).</summary>
    [JsonPropertyName("freeze_old")] public bool FreezeOld { get; set; }
    /// <summary>The model directory the run started from (<c>train --init-from</c>); null for a fresh initialisation.</summary>
    [JsonPropertyName("init_from")] public string? InitFrom { get; set; }
    /// <summary>The learning-rate curve: "cosine" (also when absent), "wsd", "continue" or "rewarm".</summary>
    [JsonPropertyName("schedule")] public string Schedule { get; set; } = "cosine";
    /// <summary>The source run's curve and step that "continue" and "rewarm" start from (absent: none).</summary>
    [JsonPropertyName("source_schedule")] public SourceSchedule? SourceSchedule { get; set; }
    /// <summary>Decay steps at the end of a wsd or continued stable curve, as resolved at the start (absent: the default).</summary>
    [JsonPropertyName("decay_steps")] public long? DecaySteps { get; set; }
    /// <summary>Learning-rate multiple of the parameters that existed before the newest growth step (absent = 1).</summary>
    [JsonPropertyName("old_lr_scale")] public double OldLearningRateScale { get; set; } = 1;
    /// <summary>The run started from carried AdamW state (moments and step of the source run) rather than fresh (absent = false).</summary>
    [JsonPropertyName("carry_optimizer")] public bool CarryOptimizer { get; set; }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Sequences per micro-batch on each of <paramref name="ranks"/> ranks that keep this checkpoint's global batch
    /// (<see cref="Batch"/> × <see cref="Ranks"/>); null when it does not divide evenly.
    /// </summary>
    public int? BatchFor(int ranks) => (long)Batch * Ranks % ranks == 0 ? (int)((long)Batch * Ranks / ranks) : null;

    /// <summary>The numeric options stored here.</summary>
    public TrainingOptions ToOptions(TrainingOptions scheduling) => scheduling with
    {
        Steps = Steps, Batch = Batch, Sequence = Sequence, GradAccum = GradAccum, LearningRate = LearningRate,
        MinLearningRate = MinLearningRate, Warmup = Warmup, WeightDecay = WeightDecay, Clip = Clip, Seed = Seed, EvalWindows = EvalWindows,
        FreezeOld = FreezeOld, Schedule = ScheduleKinds.Parse(Schedule), SourceSchedule = SourceSchedule, DecaySteps = DecaySteps, OldLearningRateScale = OldLearningRateScale,
    };

    /// <summary>Serialises.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Reads a trainer_state.json; errors name the file.</summary>
    public static TrainerState Load(string path)
    {
        try
        {
            TrainerState s = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Options)
                ?? throw new InvalidDataException($"{path}: empty");
            if (s.FormatVersion != 1) throw new InvalidDataException($"{path}: format_version {s.FormatVersion} is not supported (expected 1)");
            if (s.Ranks < 1) throw new InvalidDataException($"{path}: ranks {s.Ranks} must be at least 1");
            return s;
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
    }
}
