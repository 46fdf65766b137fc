using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TokenFormer.Model.Training;

/// <summary>One optimiser step's figures.</summary>
public readonly record struct StepMetrics(long Step, double Loss, double LearningRate, double TokensPerSecond, double GradNorm, double ElapsedSeconds);

/// <summary>One evaluation's figures.</summary>
public readonly record struct EvalMetrics(long Step, double ValLoss, double ValPerplexity);

/// <summary>
/// RUN/metrics.jsonl: one JSON object per line, appended and flushed as they happen — per optimiser step
/// <c>{"step","loss","lr","tokens_per_s","grad_norm","elapsed_s"}</c>, per evaluation <c>{"step","val_loss","val_ppl"}</c>.
/// Losses are written with round-trip precision. On resume the file is cut back to its length at the checkpoint.
/// <see cref="InMemory"/> keeps the records without a file (a run without a run directory).
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly FileStream? _stream;

    /// <summary>Step records so far (including those read back on resume).</summary>
    public List<StepMetrics> Steps { get; } = [];
    /// <summary>Evaluation records so far.</summary>
    public List<EvalMetrics> Evals { get; } = [];
    /// <summary>Path of the file (null: <see cref="InMemory"/>).</summary>
    public string? Path { get; }

    /// <summary>Opens <paramref name="path"/>, truncated to <paramref name="keepBytes"/> (0 = start empty), and reads back what is kept.</summary>
    public MetricsLog(string path, long keepBytes)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        if (_stream.Length < keepBytes)
            throw new IOException($"{path}: {_stream.Length} bytes, shorter than the {keepBytes} bytes recorded in the checkpoint");
        _stream.SetLength(keepBytes);
        if (keepBytes > 0) ReadBack();
        _stream.Seek(0, SeekOrigin.End);
    }

    private MetricsLog() { }

    /// <summary>A log that keeps its records in memory only and writes nothing.</summary>
    public static MetricsLog InMemory() => new();

    /// <summary>Bytes written so far (stored in checkpoints; 0 in memory).</summary>
    public long Length => _stream?.Length ?? 0;

    private void ReadBack()
    {
        if (_stream == null) return;
        _stream.Position = 0;
        using var reader = new StreamReader(_stream, Encoding.UTF8, false, 1 << 16, leaveOpen: true);
        while (reader.ReadLine() is string line)
        {
            if (line.Length == 0) continue;
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            long step = e.GetProperty("step").GetInt64();
            if (e.TryGetProperty("val_loss", out _))
                Evals.Add(new EvalMetrics(step, D(e, "val_loss"), D(e, "val_ppl")));
            else
                Steps.Add(new StepMetrics(step, D(e, "loss"), D(e, "lr"), D(e, "tokens_per_s"), D(e, "grad_norm"), D(e, "elapsed_s")));
        }
    }

    private static double D(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;

    /// <summary>Appends a step record.</summary>
    public void Add(StepMetrics m)
    {
        Steps.Add(m);
        Write(string.Create(CultureInfo.InvariantCulture,
            $"{{\"step\":{m.Step},\"loss\":{m.Loss:R},\"lr\":{m.LearningRate:R},\"tokens_per_s\":{m.TokensPerSecond:F1},\"grad_norm\":{Num(m.GradNorm)},\"elapsed_s\":{m.ElapsedSeconds:F3}}}"));
    }

    /// <summary>Appends an evaluation record.</summary>
    public void Add(EvalMetrics m)
    {
        Evals.Add(m);
        Write(string.Create(CultureInfo.InvariantCulture, $"{{\"step\":{m.Step},\"val_loss\":{m.ValLoss:R},\"val_ppl\":{Num(m.ValPerplexity)}}}"));
    }

    private static string Num(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "null";

    private void Write(string line)
    {
        if (_stream == null) return;
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        _stream.Write(bytes);
        _stream.Flush();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream?.Dispose();
}
