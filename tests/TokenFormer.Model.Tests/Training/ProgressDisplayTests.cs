using TokenFormer.Model.Training;

namespace TokenFormer.Model.Tests.Training;

public class ProgressDisplayTests
{
    [Fact]
    public void Redirected_PrintsPlainLinesAtStepOneEveryNAndTheLast()
    {
        var w = new StringWriter();
        var p = new ProgressDisplay(w, interactive: false, logEvery: 4);
        for (int s = 1; s <= 10; s++) p.Step(new StepMetrics(s, 5.0 - s / 10.0, 1e-3, 1234.5, 1, s), 10, TimeSpan.FromSeconds(75));
        p.Line("eval");
        string[] lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal(["step 1/10", "step 4/10", "step 8/10", "step 10/10", "eval"], lines.Select(l => l.Split(" | ")[0]).ToArray());
        Assert.Equal("step 4/10 | loss 4.6000 | lr 1.00e-03 | 1,234 tok/s | ETA 1:15", lines[1]);
        Assert.DoesNotContain('\r', w.ToString().Replace(Environment.NewLine, "\n"));
    }

    [Fact]
    public void Terminal_RewritesOneLineInPlace()
    {
        var w = new StringWriter();
        var p = new ProgressDisplay(w, interactive: true, logEvery: 100);
        p.Step(new StepMetrics(1, 5, 1e-3, 100, 1, 1), 3, null);
        p.Line("eval step 1");
        p.Step(new StepMetrics(3, 4, 1e-3, 100, 1, 1), 3, TimeSpan.FromHours(2));
        p.Finish();
        string text = w.ToString();
        Assert.StartsWith("\rstep 1/3 | loss 5.0000", text);
        Assert.Contains("eval step 1" + Environment.NewLine, text);
        Assert.Contains("\rstep 3/3 | loss 4.0000 | lr 1.00e-03 | 100 tok/s | ETA 2:00:00", text);
        Assert.Equal("--", ProgressDisplay.FormatEta(null));
    }
}
