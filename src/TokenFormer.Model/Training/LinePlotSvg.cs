using System.Globalization;
using System.Text;
using TokenFormer.Core.IO;

namespace TokenFormer.Model.Training;

/// <summary>
/// A single-panel line plot as plain SVG 1.1 (no scripts, no external fonts): several named series (lines with dots),
/// optional horizontal and vertical reference lines (dashed, labelled), axes with round ticks, axis labels and a
/// legend. Used for validation loss against cumulative training FLOPs (docs/growth.md).
/// </summary>
public static class LinePlotSvg
{
    /// <summary>One curve: name (legend), colour, points (x, y) in drawing order, dashed or solid, with or without a dot per point.</summary>
    public sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false, bool Dots = true);

    /// <summary>A reference line at <paramref name="At"/> (y for horizontal, x for vertical) with a label.</summary>
    public sealed record Reference(double At, string Label, string Color = "#666");

    private const int Width = 860, Height = 480, Left = 70, Right = 20, Top = 40, Bottom = 56;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The SVG text. Empty series are skipped; non-finite points are dropped.</summary>
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        IReadOnlyList<Reference>? horizontal = null, IReadOnlyList<Reference>? vertical = null)
    {
        horizontal ??= [];
        vertical ??= [];
        var clean = series.Select(s => s with { Points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList() })
            .Where(s => s.Points.Count > 0).ToList();
        var xs = clean.SelectMany(s => s.Points.Select(p => p.X)).Concat(vertical.Select(v => v.At)).ToList();
        var ys = clean.SelectMany(s => s.Points.Select(p => p.Y)).Concat(horizontal.Select(h => h.At)).ToList();
        double xMin = xs.Count > 0 ? Math.Min(0, xs.Min()) : 0, xMax = xs.Count > 0 ? xs.Max() : 1;
        double yMin = ys.Count > 0 ? ys.Min() : 0, yMax = ys.Count > 0 ? ys.Max() : 1;
        if (xMax - xMin < 1e-300) xMax = xMin + 1;
        if (yMax - yMin < 1e-9) { yMin -= 0.5; yMax += 0.5; }
        double pad = (yMax - yMin) * 0.04;
        yMin -= pad; yMax += pad;
        xMax += (xMax - xMin) * 0.02;
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double v) => Left + (v - xMin) / (xMax - xMin) * plotW;
        double Y(double v) => Top + (yMax - v) / (yMax - yMin) * plotH;

        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(Inv, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(Inv, $"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{Escape(title)}</text>\n");
        sb.Append(Inv, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#444\"/>\n");
        foreach (double t in LossCurveSvg.Ticks(xMin, xMax))
        {
            sb.Append(Inv, $"<line x1=\"{F(X(t))}\" y1=\"{Top}\" x2=\"{F(X(t))}\" y2=\"{Top + plotH}\" stroke=\"#e5e5e5\"/>");
            sb.Append(Inv, $"<text x=\"{F(X(t))}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{Label(t)}</text>\n");
        }
        foreach (double t in LossCurveSvg.Ticks(yMin, yMax))
        {
            sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{F(Y(t))}\" x2=\"{Left + plotW}\" y2=\"{F(Y(t))}\" stroke=\"#e5e5e5\"/>");
            sb.Append(Inv, $"<text x=\"{Left - 6}\" y=\"{F(Y(t) + 4)}\" text-anchor=\"end\">{Label(t)}</text>\n");
        }
        sb.Append(Inv, $"<text x=\"{Left + plotW / 2}\" y=\"{Height - 14}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        sb.Append(Inv, $"<text transform=\"translate(18,{Top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");
        foreach (Reference h in horizontal)
        {
            sb.Append(Inv, $"<line x1=\"{Left}\" y1=\"{F(Y(h.At))}\" x2=\"{Left + plotW}\" y2=\"{F(Y(h.At))}\" stroke=\"{h.Color}\" stroke-dasharray=\"4 3\"/>");
            sb.Append(Inv, $"<text x=\"{Left + 6}\" y=\"{F(Y(h.At) - 4)}\" fill=\"{h.Color}\">{Escape(h.Label)}</text>\n");
        }
        foreach (Reference v in vertical)
        {
            sb.Append(Inv, $"<line x1=\"{F(X(v.At))}\" y1=\"{Top}\" x2=\"{F(X(v.At))}\" y2=\"{Top + plotH}\" stroke=\"{v.Color}\" stroke-dasharray=\"4 3\"/>");
            sb.Append(Inv, $"<text x=\"{F(X(v.At) + 4)}\" y=\"{Top + plotH - 6}\" fill=\"{v.Color}\">{Escape(v.Label)}</text>\n");
        }
        foreach (Series s in clean)
        {
            string dash = s.Dashed ? " stroke-dasharray=\"6 3\"" : "";
            sb.Append(Inv, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash} points=\"");
            foreach (var (px, py) in s.Points) sb.Append(Inv, $"{F(X(px))},{F(Y(py))} ");
            sb.Append("\"/>\n");
            if (s.Dots)
                foreach (var (px, py) in s.Points) sb.Append(Inv, $"<circle cx=\"{F(X(px))}\" cy=\"{F(Y(py))}\" r=\"2.2\" fill=\"{s.Color}\"/>");
            sb.Append('\n');
        }
        int legendW = 12 + 7 * Math.Max(10, clean.Count > 0 ? clean.Max(s => s.Name.Length) : 10) + 30;
        int lx = Left + plotW - legendW - 6, ly = Top + 6;
        sb.Append(Inv, $"<rect x=\"{lx}\" y=\"{ly}\" width=\"{legendW}\" height=\"{16 * clean.Count + 8}\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n");
        int y = ly + 16;
        foreach (Series s in clean)
        {
            string dash = s.Dashed ? " stroke-dasharray=\"6 3\"" : "";
            sb.Append(Inv, $"<line x1=\"{lx + 6}\" y1=\"{y - 4}\" x2=\"{lx + 30}\" y2=\"{y - 4}\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash}/>");
            sb.Append(Inv, $"<text x=\"{lx + 36}\" y=\"{y}\">{Escape(s.Name)}</text>\n");
            y += 16;
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>Writes <see cref="Render"/>'s output to <paramref name="path"/> via a temporary file and rename.</summary>
    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        IReadOnlyList<Reference>? horizontal = null, IReadOnlyList<Reference>? vertical = null)
    {
        AtomicFile.WriteAllText(path, Render(title, xLabel, yLabel, series, horizontal, vertical));
    }

    private static string Label(double v) => Math.Abs(v) >= 10000 ? v.ToString("0.##e0", Inv) : v.ToString("0.###", Inv);
    private static string F(double v) => v.ToString("0.#", Inv);
    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
