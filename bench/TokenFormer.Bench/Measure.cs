using System.Diagnostics;

namespace TokenFormer.Bench;

/// <summary>Timing helpers: repeat an action for at least a minimum time per repetition and report medians.</summary>
public static class Measure
{
    /// <summary>Seconds per call of one repetition that loops for at least <paramref name="minSeconds"/>.</summary>
    public static double SecondsPerCall(Action action, double minSeconds)
    {
        long start = Stopwatch.GetTimestamp();
        long calls = 0;
        double elapsed;
        do
        {
            action();
            calls++;
            elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        } while (elapsed < minSeconds);
        return elapsed / calls;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        double[] s = values.OrderBy(v => v).ToArray();
        int h = s.Length / 2;
        return s.Length % 2 == 1 ? s[h] : 0.5 * (s[h - 1] + s[h]);
    }
}
