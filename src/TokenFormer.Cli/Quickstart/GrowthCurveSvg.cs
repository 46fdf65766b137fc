using TokenFormer.Model.Training;
using TokenFormer.Core.IO;

namespace TokenFormer.Cli.Quickstart;

/// <summary>One training phase for <see cref="GrowthCurveSvg"/>: its records, FLOPs per step and where it starts on the FLOPs axis.</summary>
public sealed record PhaseCurve(string Name, string Color, IReadOnlyList<StepMetrics> Steps, IReadOnlyList<EvalMetrics> Evals, double FlopsPerStep, double FlopsBefore);

/// <summary>
/// RUN/growth.svg: training loss (running mean) and validation loss of both quickstart phases against cumulative
/// training FLOPs, with a dashed line where the model was grown. Plain SVG 1.1.
/// </summary>
public static class GrowthCurveSvg
{
    /// <summary>The SVG text (drawn by <see cref="LinePlotSvg"/>).</summary>
    public static string Render(IReadOnlyList<PhaseCurve> phases, string title)
    {
        double maxFlops = phases.Select(p => p.FlopsBefore + p.Steps.Select(s => (double)s.Step).DefaultIfEmpty(0).Max() * p.FlopsPerStep)
            .DefaultIfEmpty(1).Max();
        (double scale, string unit) = Unit(Math.Max(maxFlops, 1));
        var series = new List<LinePlotSvg.Series>();
        foreach (PhaseCurve p in phases)
        {
            var train = p.Steps.Where(s => double.IsFinite(s.Loss)).Select(s => ((p.FlopsBefore + s.Step * p.FlopsPerStep) / scale, s.Loss)).ToList();
            series.Add(new LinePlotSvg.Series($"{p.Name}: train loss (running mean)", p.Color,
                LossCurveSvg.RunningMean(train, Math.Max(1, train.Count / 20)), Dashed: true, Dots: false));
            series.Add(new LinePlotSvg.Series($"{p.Name}: validation loss", p.Color,
                p.Evals.Where(e => double.IsFinite(e.ValLoss)).Select(e => ((p.FlopsBefore + e.Step * p.FlopsPerStep) / scale, e.ValLoss)).ToList()));
        }
        var grown = phases.Skip(1).Select(p => new LinePlotSvg.Reference(p.FlopsBefore / scale, $"grown to {p.Name}", "#555")).ToList();
        return LinePlotSvg.Render(title, $"cumulative training compute ({unit})", "loss (nats/token)", series, vertical: grown);
    }

    /// <summary>Writes <see cref="Render"/>'s output via a temporary file and rename.</summary>
    public static void Save(string path, IReadOnlyList<PhaseCurve> phases, string title)
    {
        AtomicFile.WriteAllText(path, Render(phases, title));
    }

    private static (double Scale, string Unit) Unit(double max) =>
        max >= 1e15 ? (1e15, "PFLOP") : max >= 1e12 ? (1e12, "TFLOP") : max >= 1e9 ? (1e9, "GFLOP") : max >= 1e6 ? (1e6, "MFLOP") : (1, "FLOP");
}
