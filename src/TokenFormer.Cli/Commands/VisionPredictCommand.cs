using System.CommandLine;
using System.Globalization;
using TokenFormer.Vision;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer vision predict --model DIR image.png …</c>: the top-k classes of each image with their probabilities;
/// RGB, greyscale, alpha and other sizes are converted to what the model takes. A file that cannot be read is reported
/// (naming it) and the others are still classified; the exit status is then 1.
/// </summary>
public static class VisionPredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Vision model directory, checkpoint or run directory", Required = true };
        var topK = new Option<int>("--top-k") { Description = "Classes to show per image", DefaultValueFactory = _ => 3 };
        var images = new Argument<string[]>("images") { Description = "Image files (PNG, JPEG, BMP, GIF, TGA)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("predict", "Classify image files with a vision model: top-k classes with probabilities") { model, topK, images };
        cmd.SetAction(parse => VisionCommand.Guard(() =>
        {
            int k = parse.GetValue(topK);
            if (k < 1) throw new CliException($"--top-k must be at least 1 (got {k})");
            string dir = VisionEvalCommand.ResolveModel(parse.GetValue(model)!);
            var classifier = new ImageClassifier(VisionModel.Load(dir));
            int failed = 0;
            foreach (string path in parse.GetValue(images)!)
            {
                try
                {
                    var top = classifier.Classify(path, Math.Min(k, classifier.Model.Config.NumClasses));
                    Console.WriteLine(path + ": " + string.Join(", ", top.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.Probability * 100:F1}%"))));
                }
                catch (VisionFormatException e)
                {
                    Console.Error.WriteLine($"error: {e.Message}");
                    failed++;
                }
            }
            return failed == 0 ? 0 : 1;
        }));
        return cmd;
    }
}
