using System.Buffers.Binary;
using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests;

/// <summary>
/// tokenformer vision train|eval|predict and grow on a vision model, end to end on a tiny image folder; bad inputs give
/// one-line errors naming the file and no stack trace.
/// </summary>
public sealed class VisionCliTests
{
    /// <summary>An image folder: train/ and test/, classes "dark" and "light" (greyscale 16×16 PNGs with a pattern).</summary>
    private static string ImageFolder(string dir)
    {
        var rng = new Random(3);
        foreach (string part in new[] { "train", "test" })
            foreach (var (name, level) in new[] { ("dark", 40), ("light", 210) })
            {
                string d = Path.Combine(dir, "images", part, name);
                Directory.CreateDirectory(d);
                for (int i = 0; i < (part == "train" ? 12 : 4); i++)
                {
                    byte[] px = Enumerable.Range(0, 16 * 16).Select(_ => (byte)Math.Clamp(level + rng.Next(-30, 31), 0, 255)).ToArray();
                    File.WriteAllBytes(Path.Combine(d, $"{i}.png"), PngWriter.Encode(px, 16, 16, 1));
                }
            }
        return Path.Combine(dir, "images");
    }

    private static void AssertCleanError(int code, string stderr, string mustName)
    {
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(mustName, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void TrainEvalPredictGrowOnAnImageFolder()
    {
        string dir = Fixtures.TempDir("vision-cli");
        string images = ImageFolder(dir), run = Path.Combine(dir, "run");
        var (code, stdout, stderr) = Fixtures.RunCli("vision", "train", "--data", images, "--out", run, "--preset", "tiny", "--image-size", "14",
            "--channels", "1", "--steps", "8", "--batch", "4", "--warmup", "2", "--eval-every", "4", "--save-every", "4", "--threads", "1");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("test_acc", stdout);
        foreach (string f in new[] { "metrics.jsonl", "loss.svg", "accuracy.svg", "checkpoints/step-8/model.safetensors", "checkpoints/step-8/optimizer.safetensors" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);

        // a second train into the same folder without --resume is refused; --resume after the last step does nothing new
        (code, _, stderr) = Fixtures.RunCli("vision", "train", "--data", images, "--out", run, "--preset", "tiny", "--image-size", "14", "--channels", "1", "--steps", "8", "--batch", "4");
        AssertCleanError(code, stderr, "--resume");

        string svg = Path.Combine(dir, "confusion.svg");
        (code, stdout, stderr) = Fixtures.RunCli("vision", "eval", "--model", run, "--data", images, "--confusion", svg);
        Assert.True(code == 0, stderr);
        Assert.Contains("accuracy ", stdout);
        Assert.Contains("per class:", stdout);
        Assert.Contains("<svg", File.ReadAllText(svg));

        // predict: a greyscale PNG of another size, an RGB PNG with alpha, a truncated PNG and a text file
        string big = Path.Combine(dir, "big.png"), rgba = Path.Combine(dir, "rgba.png"), truncated = Path.Combine(dir, "truncated.png"), text = Path.Combine(dir, "text.png");
        File.WriteAllBytes(big, PngWriter.Encode(Enumerable.Repeat((byte)220, 40 * 30).ToArray(), 40, 30, 1));
        File.WriteAllBytes(rgba, PngWriter.Encode(Enumerable.Range(0, 8 * 8 * 4).Select(i => (byte)(i % 4 == 3 ? 255 : 30)).ToArray(), 8, 8, 4));
        byte[] good = PngWriter.Encode(Enumerable.Range(0, 32 * 32).Select(i => (byte)i).ToArray(), 32, 32, 1);
        File.WriteAllBytes(truncated, good[..(good.Length / 2)]);
        File.WriteAllText(text, "not an image");
        (code, stdout, stderr) = Fixtures.RunCli("vision", "predict", "--model", run, "--top-k", "2", big, rgba, truncated, text);
        Assert.Equal(1, code);
        Assert.Contains(big + ": ", stdout);
        Assert.Contains(rgba + ": ", stdout);
        Assert.Matches(@"(dark|light) \d+\.\d%, (dark|light) \d+\.\d%", stdout);
        Assert.Contains(truncated, stderr);
        Assert.Contains(text, stderr);
        Assert.DoesNotContain("   at ", stderr);

        // grow (preserve): the grown model evaluates to the same accuracy and loss
        string grown = Path.Combine(dir, "grown");
        (code, stdout, stderr) = Fixtures.RunCli("grow", "--from", Path.Combine(run, "checkpoints", "step-8"), "--out", grown, "--factor", "4");
        Assert.True(code == 0, stderr);
        Assert.Contains("grew vision model", stdout);
        var (_, before, _) = Fixtures.RunCli("vision", "eval", "--model", run, "--data", images, "--confusion", svg);
        var (c2, after, e2) = Fixtures.RunCli("vision", "eval", "--model", grown, "--data", images, "--confusion", svg);
        Assert.True(c2 == 0, e2);
        string Line(string s) => s.Split('\n').First(l => l.StartsWith("accuracy "));
        Assert.Equal(Line(before), Line(after));
    }

    [Fact]
    public void BadDataIsACleanErrorNamingTheFile()
    {
        string dir = Fixtures.TempDir("vision-cli-bad");
        string images = ImageFolder(dir);
        string empty = Path.Combine(images, "train", "empty");
        Directory.CreateDirectory(empty);
        var (code, _, stderr) = Fixtures.RunCli("vision", "train", "--data", images, "--out", Path.Combine(dir, "run"), "--preset", "tiny", "--image-size", "14", "--channels", "1", "--steps", "2", "--batch", "4");
        AssertCleanError(code, stderr, empty);
        Directory.Delete(empty);

        // model/data size mismatch: a 14×14 model evaluated on 28×28 IDX files
        string run = Path.Combine(dir, "run2");
        (code, _, stderr) = Fixtures.RunCli("vision", "train", "--data", images, "--out", run, "--preset", "tiny", "--image-size", "14", "--channels", "1", "--steps", "2", "--batch", "4", "--threads", "1");
        Assert.True(code == 0, stderr);
        string idx = Path.Combine(dir, "idx");
        Directory.CreateDirectory(idx);
        void Idx(string name, int[] dims, int bytes)
        {
            using var f = File.Create(Path.Combine(idx, name));
            f.Write([0, 0, 8, (byte)dims.Length]);
            foreach (int d in dims) { var b = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, d); f.Write(b); }
            f.Write(new byte[bytes]);
        }
        Idx("train-images-idx3-ubyte", [2, 28, 28], 2 * 784); Idx("train-labels-idx1-ubyte", [2], 2);
        Idx("t10k-images-idx3-ubyte", [2, 28, 28], 2 * 784); Idx("t10k-labels-idx1-ubyte", [2], 2);
        (code, _, stderr) = Fixtures.RunCli("vision", "eval", "--model", run, "--data", idx);
        AssertCleanError(code, stderr, Path.Combine(idx, "t10k-images-idx3-ubyte"));
        Assert.Contains("1×28×28", stderr);

        // a truncated IDX file
        Idx("t10k-images-idx3-ubyte", [2, 28, 28], 100);
        (code, _, stderr) = Fixtures.RunCli("vision", "eval", "--model", run, "--data", idx);
        AssertCleanError(code, stderr, Path.Combine(idx, "t10k-images-idx3-ubyte"));

        // a missing Fashion-MNIST folder says how to get it
        (code, _, stderr) = Fixtures.RunCli("vision", "train", "--data", Path.Combine(dir, "nowhere"), "--out", Path.Combine(dir, "run3"));
        AssertCleanError(code, stderr, Path.Combine(dir, "nowhere"));
    }
}
