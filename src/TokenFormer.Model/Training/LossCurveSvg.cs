using System.Globalization;
using System.Text;
using TokenFormer.Core.IO;

namespace TokenFormer.Model.Training;

/// <summary>
/// Renders RUN/loss.svg: two panels — left, training loss per step (light) with its running mean over 1 % of the
/// steps (dark) and validation loss (orange, dots); right, validation perplexity on a log scale — with axes, ticks,
/// grid lines, labels and a legend. Plain SVG 1.1, no scripts or external fonts.
/// </summary>
public static class LossCurveSvg
{
    private const int PanelWidth = 460, Height = 340, Left = 62, Right = 16, Top = 34, Bottom = 48;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The SVG text for the given records; <paramref name="title"/> heads the figure.</summary>
    public static string Render(IReadOnlyList<StepMetrics> steps, IReadOnlyList<EvalMetrics> evals, string title)
    {
        var sb = new StringBuilder();
        int width = 2 * PanelWidth;
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{Height + 24}\" viewBox=\"0 0 {width} {Height + 24}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(Inv, $"<rect width=\"{width}\" height=\"{Height + 24}\" fill=\"white\"/>\n");
        sb.Append(Inv, $"<text x=\"{width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{Escape(title)}</text>\n");

        long maxStep = Math.Max(1, Math.Max(steps.Count > 0 ? steps.Max(s => s.Step) : 1, evals.Count > 0 ? evals.Max(e => e.Step) : 1));
        var train = steps.Where(s => double.IsFinite(s.Loss)).Select(s => ((double)s.Step, s.Loss)).ToList();
        var mean = RunningMean(train, Math.Max(1, train.Count / 100));
        var val = evals.Where(e => double.IsFinite(e.ValLoss)).Select(e => ((double)e.Step, e.ValLoss)).ToList();
        var ppl = evals.Where(e => double.IsFinite(e.ValPerplexity) && e.ValPerplexity > 0).Select(e => ((double)e.Step, Math.Log10(e.ValPerplexity))).ToList();

        // left panel: loss
        var lossValues = train.Select(p => p.Item2).Concat(val.Select(p => p.Item2)).ToList();
        (double lo, double hi) = lossValues.Count > 0 ? (lossValues.Min(), lossValues.Max()) : (0, 1);
        Panel(sb, 0, "loss (nats/token)", 0, maxStep, lo, hi, log: false,
            [(train, "#9ecae1", 1.0, false, "train loss"), (mean, "#08519c", 1.6, false, "train loss, running mean"), (val, "#e6550d", 2.0, true, "validation loss")]);
        // right panel: perplexity (log10 axis)
        (double plo, double phi) = ppl.Count > 0 ? (ppl.Min(p => p.Item2), ppl.Max(p => p.Item2)) : (0, 1);
        Panel(sb, PanelWidth, "validation perplexity (log scale)", 0, maxStep, plo, phi, log: true,
            [(ppl, "#e6550d", 2.0, true, "validation perplexity")]);
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>Writes <see cref="Render"/>'s output to <paramref name="path"/> via a temporary file and rename.</summary>
    public static void Save(string path, IReadOnlyList<StepMetrics> steps, IReadOnlyList<EvalMetrics> evals, string title)
    {
        AtomicFile.WriteAllText(path, Render(steps, evals, title));
    }

    /// <summary>Mean of the last <paramref name="window"/> y values at each point (fewer at the start).</summary>
    public static List<(double, double)> RunningMean(List<(double X, double Y)> points, int window)
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

    private static void Panel(StringBuilder sb, int x0, string yLabel, double xMin, double xMax, double yMin, double yMax, bool log,
        (List<(double X, double Y)> Points, string Color, double Width, bool Dots, string Name)[] series)
    {
        if (yMax - yMin < 1e-9) { yMin -= 0.5; yMax += 0.5; }
        double pad = (yMax - yMin) * 0.05;
        yMin -= pad; yMax += pad;
        int plotW = PanelWidth - Left - Right, plotH = Height - Top - Bottom;
        double X(double v) => x0 + Left + (v - xMin) / (xMax - xMin) * plotW;
        double Y(double v) => Top + (yMax - v) / (yMax - yMin) * plotH;

        sb.Append(Inv, $"<g>\n<rect x=\"{x0 + Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#444\"/>\n");
        foreach (double t in Ticks(xMin, xMax))
        {
            sb.Append(Inv, $"<line x1=\"{F(X(t))}\" y1=\"{Top}\" x2=\"{F(X(t))}\" y2=\"{Top + plotH}\" stroke=\"#e5e5e5\"/>");
            sb.Append(Inv, $"<text x=\"{F(X(t))}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{Label(t)}</text>\n");
        }
        IEnumerable<(double At, string Text)> yTicks = log ? LogTicks(yMin, yMax) : Ticks(yMin, yMax).Select(t => (t, Label(t)));
        foreach (var (t, text) in yTicks)
        {
            sb.Append(Inv, $"<line x1=\"{x0 + Left}\" y1=\"{F(Y(t))}\" x2=\"{x0 + Left + plotW}\" y2=\"{F(Y(t))}\" stroke=\"#e5e5e5\"/>");
            sb.Append(Inv, $"<text x=\"{x0 + Left - 6}\" y=\"{F(Y(t) + 4)}\" text-anchor=\"end\">{text}</text>\n");
        }
        sb.Append(Inv, $"<text x=\"{x0 + Left + plotW / 2}\" y=\"{Height - 10}\" text-anchor=\"middle\">optimiser step</text>\n");
        sb.Append(Inv, $"<text transform=\"translate({x0 + 16},{Top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");
        foreach (var (points, color, width, dots, _) in series)
        {
            if (points.Count == 0) continue;
            sb.Append(Inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{F(width)}\" points=\"");
            foreach (var (px, py) in points) sb.Append(Inv, $"{F(X(px))},{F(Y(py))} ");
            sb.Append("\"/>\n");
            if (dots)
                foreach (var (px, py) in points)
                    sb.Append(Inv, $"<circle cx=\"{F(X(px))}\" cy=\"{F(Y(py))}\" r=\"2.5\" fill=\"{color}\"/>");
            sb.Append('\n');
        }
        // legend last, on a white box, so that it stays readable over the lines
        int legendY = Top + 16;
        sb.Append(Inv, $"<rect x=\"{x0 + Left + plotW - 194}\" y=\"{Top + 2}\" width=\"190\" height=\"{16 * series.Length + 4}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n");
        foreach (var (_, color, _, _, name) in series)
        {
            sb.Append(Inv, $"<line x1=\"{x0 + Left + plotW - 188}\" y1=\"{legendY - 4}\" x2=\"{x0 + Left + plotW - 168}\" y2=\"{legendY - 4}\" stroke=\"{color}\" stroke-width=\"2\"/>");
            sb.Append(Inv, $"<text x=\"{x0 + Left + plotW - 163}\" y=\"{legendY}\">{Escape(name)}</text>\n");
            legendY += 16;
        }
        sb.Append("</g>\n");
    }

    /// <summary>About five round tick values (1, 2 or 5 × 10ᵏ apart) in [lo, hi].</summary>
    public static List<double> Ticks(double lo, double hi)
    {
        double raw = (hi - lo) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), f = raw / mag;
        double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
        var ticks = new List<double>();
        for (double t = Math.Ceiling(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return ticks;
    }

    private static IEnumerable<(double, string)> LogTicks(double lo, double hi)
    {
        // lo, hi are log10 values; ticks at 1, 2, 5 × 10^k (only the decades when the range is wide), or round
        // linear values when the range is too narrow for three of those
        bool wide = hi - lo > 2.5;
        var ticks = new List<(double, string)>();
        for (int k = (int)Math.Floor(lo); k <= (int)Math.Ceiling(hi); k++)
            foreach (int m in wide ? new[] { 1 } : new[] { 1, 2, 5 })
            {
                double v = k + Math.Log10(m);
                if (v >= lo && v <= hi) ticks.Add((v, Label(m * Math.Pow(10, k))));
            }
        if (ticks.Count < 3)
            ticks = Ticks(Math.Pow(10, lo), Math.Pow(10, hi)).Where(t => t > 0).Select(t => (Math.Log10(t), Label(t))).ToList();
        return ticks;
    }

    private static string Label(double v) => Math.Abs(v) >= 10000 ? v.ToString("0.#e0", Inv) : v.ToString("0.###", Inv);
    private static string F(double v) => v.ToString("0.#", Inv);
    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
