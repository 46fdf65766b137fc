using System.Diagnostics;
using System.Globalization;

namespace TokenFormer.Model.Training;

/// <summary>
/// Training feedback: on a terminal, one line rewritten in place (step, loss, lr, tokens/s, ETA) at most ten times a
/// second; otherwise (redirected output, CI) a plain line every <c>logEvery</c> steps. Evaluations and checkpoints
/// always get their own line.
/// </summary>
public sealed class ProgressDisplay(TextWriter output, bool interactive, long logEvery)
{
    private int _lastLength;
    private long _lastDraw = long.MinValue;

    /// <summary>Reports an optimiser step of <paramref name="total"/>.</summary>
    public void Step(StepMetrics m, long total, TimeSpan? eta)
    {
        string text = string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step}/{total} | loss {m.Loss:F4} | lr {m.LearningRate:0.00e+00} | {m.TokensPerSecond:N0} tok/s | ETA {FormatEta(eta)}");
        if (!interactive)
        {
            if (m.Step % logEvery == 0 || m.Step == total || m.Step == 1) output.WriteLine(text);
            return;
        }
        long now = Stopwatch.GetTimestamp();
        if (m.Step != total && _lastDraw != long.MinValue && Stopwatch.GetElapsedTime(_lastDraw, now).TotalSeconds < 0.1) return;
        _lastDraw = now;
        output.Write("\r" + text.PadRight(_lastLength));
        _lastLength = text.Length;
        output.Flush();
    }

    /// <summary>Prints a line of its own (clearing the in-place line first on a terminal).</summary>
    public void Line(string text)
    {
        if (interactive && _lastLength > 0)
        {
            output.Write("\r" + new string(' ', _lastLength) + "\r");
            _lastLength = 0;
        }
        output.WriteLine(text);
    }

    /// <summary>Ends the in-place line.</summary>
    public void Finish()
    {
        if (interactive && _lastLength > 0) output.WriteLine();
        _lastLength = 0;
    }

    /// <summary>h:mm:ss, m:ss or "--".</summary>
    public static string FormatEta(TimeSpan? eta)
    {
        if (eta is not TimeSpan t || t < TimeSpan.Zero || t.TotalDays > 99) return "--";
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";
    }
}
