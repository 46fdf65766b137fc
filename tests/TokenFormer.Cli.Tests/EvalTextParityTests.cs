using System.Globalization;
using System.Text.RegularExpressions;
using TokenFormer.Runtime;

using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests;

/// <summary><c>tokenformer eval --text</c> prints the loss and perplexity that the library's <see cref="LanguageModel.Score"/> returns.</summary>
public class EvalTextParityTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("16")]
    public void EvalText_PrintsTheLibrarysPerplexity(string? seq)
    {
        string model = Path.Combine(Path.GetDirectoryName(TrainingFixtures.Directory)!, "library", "sotu-tiny");
        string text = Path.Combine(TrainingFixtures.Directory, "sotu-1790-excerpt.txt");
        string[] args = seq == null ? ["eval", "--model", model, "--text", text] : ["eval", "--model", model, "--text", text, "--seq", seq];
        var (code, stdout, stderr) = Fixtures.RunCli(args);
        Assert.True(code == 0, stderr);
        Match m = Regex.Match(stdout, @"windows of (\d+) \| loss ([0-9.]+) \| perplexity ([0-9.]+)");
        Assert.True(m.Success, stdout);

        using LanguageModel lm = LanguageModel.Load(model);
        TextScore score = lm.Score(File.ReadAllText(text), seq == null ? null : int.Parse(seq, CultureInfo.InvariantCulture));
        Assert.True(double.IsFinite(score.Perplexity));
        Assert.Equal(score.Sequence.ToString(CultureInfo.InvariantCulture), m.Groups[1].Value);
        Assert.Equal(score.Loss.ToString("F4", CultureInfo.InvariantCulture), m.Groups[2].Value);
        Assert.Equal(score.Perplexity.ToString("F2", CultureInfo.InvariantCulture), m.Groups[3].Value);
    }
}
