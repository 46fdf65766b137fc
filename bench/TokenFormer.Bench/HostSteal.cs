using System.Globalization;

namespace TokenFormer.Bench;

/// <summary>
/// The share of this VM's CPU time that the hypervisor gave to other guests ("steal" in /proc/stat) between two
/// readings: on a shared host it is the best single number for how disturbed a benchmark run was. Linux only;
/// elsewhere (or if /proc/stat cannot be read) the reading is null.
/// </summary>
public readonly record struct HostSteal(long Steal, long Total)
{
    /// <summary>The aggregate "cpu" line of /proc/stat now, or null.</summary>
    public static HostSteal? Read()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return null;
            string? line = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal));
            if (line == null) return null;
            // user nice system idle iowait irq softirq steal (guest time is already counted in user/nice)
            long[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            return f.Length < 8 ? null : new HostSteal(f[7], f.Sum());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>Percent of all CPU time stolen between <paramref name="start"/> and <paramref name="end"/>, or null.</summary>
    public static double? PercentBetween(HostSteal? start, HostSteal? end) =>
        start is { } a && end is { } b && b.Total > a.Total ? 100.0 * (b.Steal - a.Steal) / (b.Total - a.Total) : null;
}
