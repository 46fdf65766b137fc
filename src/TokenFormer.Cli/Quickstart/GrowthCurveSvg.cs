using System.Globalization;
using System.Text;
using TokenFormer.Model.Training;

namespace TokenFormer.Cli.Quickstart;

/// <summary>One training phase for <see cref="GrowthCurveSvg"/>: its records, FLOPs per step and where it starts on the FLOPs axis.</summary>
public sealed record PhaseCurve(string Name, string Color, IReadOnlyList<StepMetrics> Steps, IReadOnlyList<EvalMetrics> Evals, double FlopsPerStep, double FlopsBefore);

/// <summary>
/// RUN/growth.svg: training loss (running mean) and validation loss of both quickstart phases against cumulative
/// training FLOPs, with a dashed line where the model was grown. Plain SVG 1.1.
/// </summary>
public static class GrowthCurveSvg
{
    private const int Width = 760, Height = 420, Left = 64, Right = 20, Top = 40, Bottom = 52;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The SVG text.</summary>
    public static string Render(IReadOnlyList<PhaseCurve> phases, string title)
    {
        var series = new List<(List<(double X, double Y)> Points, string Color, double Width, bool Dots, double Opacity, string Name)>();
        double maxFlops = 0;
        foreach (PhaseCurve p in phases)
        {
            var train = p.Steps.Where(s => double.IsFinite(s.Loss)).Select(s => (p.FlopsBefore + s.Step * p.FlopsPerStep, s.Loss)).ToList();
            series.Add((RunningMean(train, Math.Max(1, train.Count / 20)), p.Color, 1.4, false, 0.45, $"{p.Name}: train loss (running mean)"));
            series.Add((p.Evals.Where(e => double.IsFinite(e.ValLoss)).Select(e => (p.FlopsBefore + e.Step * p.FlopsPerStep, e.ValLoss)).ToList(),
                p.Color, 2.2, true, 1.0, $"{p.Name}: validation loss"));
            maxFlops = Math.Max(maxFlops, p.FlopsBefore + p.Steps.Select(s => (double)s.Step).DefaultIfEmpty(0).Max() * p.FlopsPerStep);
        }
        (double scale, string unit) = Unit(Math.Max(maxFlops, 1));
        var ys = series.SelectMany(s => s.Points.Select(p => p.Y)).ToList();
        double yMin = ys.Count > 0 ? ys.Min() : 0, yMax = ys.Count > 0 ? ys.Max() : 1;
        if (yMax - yMin < 1e-9) { yMin -= 0.5; yMax += 0.5; }
        double pad = (yMax - yMin) * 0.05;
        yMin -= pad; yMax += pad;
        double xMax = Math.Max(maxFlops / scale, 1e-9);
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double flops) => Left + flops / scale / xMax * plotW;
        double Y(double v) => Top + (yMax - v) / (yMax - yMin) * plotH;

        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(Inv, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(Inv, $"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{Escape(title)}</text>\n");
        sb.Append(Inv, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#444\"/>\n");
        foreach (double t in LossCurveSvg.Ticks(0, xMax))
        {
            double x = Left + t / xMax * plotW;
            sb.Append(Inv, $"<line x1=\"{F(x)}\" y1=\"{Top}\" x2=\"{F(x)}\" y2=\"{Top + plotH}\" stroke=\"#e5e5e5\"/>");
            sb.Append(Inv, $"<text x=\"{F(x)}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{t.ToString("0.###", Inv)}</text>\n");
        }
        foreach (double t in LossCurveSvg.Ticks(yMin, yMax))
        {
            sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{F(Y(t))}\" x2=\"{Left + plotW}\" y2=\"{F(Y(t))}\" stroke=\"#e5e5e5\"/>");
            sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(Y(t) + 4)}\" text-anchor=\"end\">{t.ToString("0.###", Inv)}</text>\n");
        }
        sb.Append(Inv, $"<text x=\"{Left + plotW / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">cumulative training compute ({unit})</text>\n");
        sb.Append(Inv, $"<text transform=\"translate(18,{Top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">loss (nats/token)</text>\n");
        for (int i = 1; i < phases.Count; i++)
        {
            double x = X(phases[i].FlopsBefore);
            sb.Append(Inv, $"<line x1=\"{F(x)}\" y1=\"{Top}\" x2=\"{F(x)}\" y2=\"{Top + plotH}\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>");
            sb.Append(Inv, $"<text x=\"{F(x + 4)}\" y=\"{Top + plotH - 8}\" fill=\"#555\">grown to {Escape(phases[i].Name)}</text>\n");
        }
        foreach (var (points, color, width, dots, opacity, _) in series)
        {
            if (points.Count == 0) continue;
            sb.Append(Inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-opacity=\"{opacity.ToString("0.##", Inv)}\" stroke-width=\"{F(width)}\" points=\"");
            foreach (var (px, py) in points) sb.Append(Inv, $"{F(X(px))},{F(Y(py))} ");
            sb.Append("\"/>\n");
            if (dots)
                foreach (var (px, py) in points) sb.Append(Inv, $"<circle cx=\"{F(X(px))}\" cy=\"{F(Y(py))}\" r=\"3\" fill=\"{color}\"/>");
            sb.Append('\n');
        }
        int legendY = Top + 18;
        sb.Append(Inv, $"<rect x=\"{Left + plotW - 304}\" y=\"{Top + 4}\" width=\"298\" height=\"{18 * series.Count + 6}\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n");
        foreach (var (_, color, _, dots, opacity, name) in series)
        {
            sb.Append(Inv, $"<line x1=\"{Left + plotW - 296}\" y1=\"{legendY - 4}\" x2=\"{Left + plotW - 274}\" y2=\"{legendY - 4}\" stroke=\"{color}\" stroke-opacity=\"{opacity.ToString("0.##", Inv)}\" stroke-width=\"2.2\"/>");
            if (dots) sb.Append(Inv, $"<circle cx=\"{Left + plotW - 285}\" cy=\"{legendY - 4}\" r=\"3\" fill=\"{color}\"/>");
            sb.Append(Inv, $"<text x=\"{Left + plotW - 268}\" y=\"{legendY}\">{Escape(name)}</text>\n");
            legendY += 18;
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>Writes <see cref="Render"/>'s output via a temporary file and rename.</summary>
    public static void Save(string path, IReadOnlyList<PhaseCurve> phases, string title)
    {
        string temp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temp, Render(phases, title));
        File.Move(temp, path, overwrite: true);
    }

    private static (double Scale, string Unit) Unit(double max) =>
        max >= 1e15 ? (1e15, "PFLOP") : max >= 1e12 ? (1e12, "TFLOP") : max >= 1e9 ? (1e9, "GFLOP") : max >= 1e6 ? (1e6, "MFLOP") : (1, "FLOP");

    private static List<(double, double)> RunningMean(List<(double X, double Y)> points, int window)
    {
        var result = new List<(double, double)>(points.Count);
        double sum = 0;
        for (int i = 0; i < points.Count; i++)
        {
            sum += points[i].Y;
            if (i >= window) sum -= points[i - window].Y;
            result.Add((points[i].X, sum / Math.Min(i + 1, window)));
        }
        return result;
    }

    private static string F(double v) => v.ToString("0.#", Inv);
    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
