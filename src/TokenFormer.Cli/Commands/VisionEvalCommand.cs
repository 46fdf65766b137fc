using System.CommandLine;
using System.Globalization;
using TokenFormer.Vision;
using TokenFormer.Vision.Data;
using TokenFormer.Vision.Training;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer vision eval --model DIR [--data fashion-mnist|DIR]</c>: test accuracy, mean loss, per-class accuracy and
/// the confusion matrix (printed and drawn as an SVG picture).
/// </summary>
public static class VisionEvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Vision model directory, checkpoint or run directory (its newest checkpoint)", Required = true };
        var data = new Option<string>("--data") { Description = "fashion-mnist, a folder with the four IDX files, or an image folder (its test/ part, or every tenth image)", DefaultValueFactory = _ => "fashion-mnist" };
        var confusion = new Option<string>("--confusion") { Description = "Where to write the confusion-matrix picture (SVG)", DefaultValueFactory = _ => "confusion.svg" };
        var batch = new Option<int>("--batch") { Description = "Images per forward pass", DefaultValueFactory = _ => 250 };
        var limit = new Option<int>("--limit") { Description = "Evaluate only the first N test images (0 = all)" };
        var cmd = new Command("eval", "Evaluate a vision model: accuracy, per-class accuracy, confusion matrix (SVG)") { model, data, confusion, batch, limit };
        cmd.SetAction(parse => VisionCommand.Guard(() =>
        {
            string dir = ResolveModel(parse.GetValue(model)!);
            VisionModel m = VisionModel.Load(dir);
            var (_, test, _) = VisionData.Load(parse.GetValue(data)!, m.Config.Channels, m.Config.ImageSize);
            test.CheckFits(m.Config, dir);
            if (parse.GetValue(batch) < 1) throw new CliException($"--batch must be positive (got {parse.GetValue(batch)})");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            VisionEvaluation e = VisionEvaluator.Evaluate(new VisionNetwork(m, parse.GetValue(batch)), test, parse.GetValue(limit));
            double seconds = clock.Elapsed.TotalSeconds;
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"model {dir}, data {test.Source}: {e.Count:N0} images in {seconds:F1} s ({e.Count / seconds:F0} images/s)"));
            Console.WriteLine(string.Create(inv, $"accuracy {e.Accuracy * 100:F2}%  loss {e.Loss:F4}"));
            double[] per = e.PerClassAccuracy();
            int k = per.Length, w = Math.Max(12, e.ClassNames.Max(n => n.Length) + 2);
            Console.WriteLine("per class:");
            for (int i = 0; i < k; i++)
                Console.WriteLine(string.Create(inv, $"  {m.Config.ClassName(i).PadRight(w)} {(double.IsNaN(per[i]) ? "–" : (per[i] * 100).ToString("F2", inv) + "%"),8}"));
            Console.WriteLine("confusion matrix (rows: true class, columns: predicted):");
            Console.WriteLine("  " + new string(' ', w) + string.Concat(Enumerable.Range(0, k).Select(j => j.ToString(inv).PadLeft(6))));
            for (int i = 0; i < k; i++)
                Console.WriteLine($"  {(i.ToString(inv) + " " + m.Config.ClassName(i)).PadRight(w)}" + string.Concat(Enumerable.Range(0, k).Select(j => e.Confusion[i, j].ToString(inv).PadLeft(6))));
            string svg = parse.GetValue(confusion)!;
            ConfusionMatrixSvg.Save(svg, e, $"{Path.GetFileName(Path.GetFullPath(dir).TrimEnd('/'))} on {Path.GetFileName(test.Source)}");
            Console.WriteLine($"confusion matrix picture: {svg}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>A vision model directory from a model directory, checkpoint or run directory; errors name the path.</summary>
    internal static string ResolveModel(string path)
    {
        if (!Directory.Exists(path)) throw new CliException($"--model {path}: directory not found");
        if (File.Exists(Path.Combine(path, VisionModel.ConfigFile))) return path;
        var latest = new VisionCheckpoint(path).List().LastOrDefault();
        if (latest.Path != null) return latest.Path;
        throw new CliException($"--model {path}: neither a vision model directory ({VisionModel.ConfigFile} + {VisionModel.WeightsFile}) nor a run directory with a complete checkpoint");
    }
}
