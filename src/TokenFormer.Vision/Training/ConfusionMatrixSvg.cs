using System.Globalization;
using System.Net;
using System.Text;
using TokenFormer.Core.IO;

namespace TokenFormer.Vision.Training;

/// <summary>
/// The confusion matrix as a plain SVG 1.1 picture: rows are the true classes, columns the predicted ones; each cell
/// shows its count and is shaded by its share of the row (white 0 → dark blue 1; the diagonal is per-class recall); the
/// per-class accuracy is printed right of each row and the overall accuracy in the title.
/// </summary>
public static class ConfusionMatrixSvg
{
    /// <summary>The SVG text of <paramref name="e"/>, headed by <paramref name="title"/>.</summary>
    public static string Render(VisionEvaluation e, string title)
    {
        var inv = CultureInfo.InvariantCulture;
        int k = e.Confusion.GetLength(0), cell = 44, left = 130, top = 120;
        int width = left + k * cell + 90, height = top + k * cell + 40;
        double[] acc = e.PerClassAccuracy();
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\">\n");
        sb.Append(inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append(inv, $"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{WebUtility.HtmlEncode(title)}: accuracy {e.Accuracy * 100:F2}% of {e.Count:N0} images</text>\n");
        sb.Append(inv, $"<text x=\"{left + k * cell / 2}\" y=\"44\" text-anchor=\"middle\" font-size=\"12\">predicted class</text>\n");
        sb.Append(inv, $"<text x=\"14\" y=\"{top + k * cell / 2}\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 {top + k * cell / 2})\">true class</text>\n");
        for (int j = 0; j < k; j++)
        {
            int x = left + j * cell + cell / 2;
            sb.Append(inv, $"<text x=\"{x}\" y=\"{top - 6}\" font-size=\"10\" transform=\"rotate(-45 {x} {top - 6})\">{WebUtility.HtmlEncode(Name(e, j))}</text>\n");
        }
        sb.Append(inv, $"<text x=\"{left + k * cell + 8}\" y=\"{top - 6}\" font-size=\"10\">recall</text>\n");
        for (int i = 0; i < k; i++)
        {
            long total = 0;
            for (int j = 0; j < k; j++) total += e.Confusion[i, j];
            int y = top + i * cell;
            sb.Append(inv, $"<text x=\"{left - 6}\" y=\"{y + cell / 2 + 4}\" text-anchor=\"end\" font-size=\"10\">{WebUtility.HtmlEncode(Name(e, i))}</text>\n");
            for (int j = 0; j < k; j++)
            {
                double share = total == 0 ? 0 : (double)e.Confusion[i, j] / total;
                int r = (int)(255 - share * (255 - 8)), g = (int)(255 - share * (255 - 48)), b = (int)(255 - share * (255 - 107));
                int x = left + j * cell;
                sb.Append(inv, $"<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({r},{g},{b})\" stroke=\"#ccc\"/>\n");
                sb.Append(inv, $"<text x=\"{x + cell / 2}\" y=\"{y + cell / 2 + 4}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{(share > 0.5 ? "white" : "black")}\">{e.Confusion[i, j]}</text>\n");
            }
            sb.Append(inv, $"<text x=\"{left + k * cell + 8}\" y=\"{y + cell / 2 + 4}\" font-size=\"10\">{(double.IsNaN(acc[i]) ? "–" : (acc[i] * 100).ToString("F1", inv) + "%")}</text>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static string Name(VisionEvaluation e, int i) => i < e.ClassNames.Length ? e.ClassNames[i] : i.ToString(CultureInfo.InvariantCulture);

    /// <summary>Writes <see cref="Render"/>'s output via a temporary file and rename.</summary>
    public static void Save(string path, VisionEvaluation e, string title) => AtomicFile.WriteAllText(path, Render(e, title));
}
