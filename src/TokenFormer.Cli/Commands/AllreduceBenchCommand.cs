using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TokenFormer.Model.Distributed;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer bench allreduce</c> (under mpirun/srun): time of the MPI library's float32 allreduce (sum, in place)
/// against message size, with algorithm and bus bandwidth (bus = algorithm × 2(n−1)/n, the bytes each rank sends and
/// receives in a ring), and a fit t = a + b·bytes (least squares of the relative error) from which the α–β model of docs/distributed.md is read.
/// Only rank 0 prints.
/// </summary>
public static class AllreduceBenchCommand
{
    public static Command Create()
    {
        var minBytes = new Option<long>("--min-bytes") { Description = "Smallest message (default 4 KiB)", DefaultValueFactory = _ => 4096 };
        var maxBytes = new Option<long>("--max-bytes") { Description = "Largest message (default 64 MiB); sizes go up by 4×", DefaultValueFactory = _ => 64L << 20 };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per size (median reported; at least 3)", DefaultValueFactory = _ => 11 };
        var json = new Option<bool>("--json") { Description = "Also print one JSON object per size" };
        var cmd = new Command("allreduce",
            "Under mpirun -np N: time and bandwidth of the MPI library's allreduce (float32 sum) against message size, and an α–β fit (docs/distributed.md).")
        {
            minBytes, maxBytes, reps, json,
        };
        cmd.SetAction(parse => DistributedRun.Run(comm =>
        {
            long lo = parse.GetValue(minBytes), hi = parse.GetValue(maxBytes);
            int r = parse.GetValue(reps);
            if (lo < 4 || hi < lo || hi > (1L << 31)) throw new CliException($"--min-bytes and --max-bytes must satisfy 4 <= min <= max <= 2 GiB (got {lo} and {hi})");
            if (r < 3) throw new CliException($"--reps must be at least 3 (got {r})");
            if (comm.Size == 1)
                throw new CliException("bench allreduce measures communication between ranks: run it under a launcher, e.g. mpirun -np 2 tokenformer bench allreduce");
            int n = comm.Size;
            Console.WriteLine($"allreduce of float32 (sum, in place) over {n} ranks; {comm.Description}; median of {r} repetitions after 2 warm-ups; time is the slowest rank's");
            Console.WriteLine($"{"bytes",12} {"time (us)",12} {"algbw (GB/s)",13} {"busbw (GB/s)",13}");
            var points = new List<(double Bytes, double Seconds)>();
            var buffer = new float[hi / 4];
            var times = new double[r];
            var slowest = new double[1];
            for (long bytes = lo; bytes <= hi; bytes *= 4)
            {
                int count = (int)(bytes / 4);
                Span<float> data = buffer.AsSpan(0, count);
                for (int i = 0; i < r + 2; i++)
                {
                    comm.Barrier();
                    long t0 = Stopwatch.GetTimestamp();
                    comm.AllReduceSum(data);
                    double t = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    // the slowest rank's time: sum over ranks of (t on this rank, 0 elsewhere) would need n values; a max is sum of one-hot
                    var all = new double[n];
                    all[comm.Rank] = t;
                    comm.AllReduceSum(all.AsSpan());
                    if (i >= 2) times[i - 2] = all.Max();
                    data.Clear(); // keep the values bounded (sums of zeros)
                }
                Array.Sort(times);
                double median = times[r / 2];
                double alg = bytes / median / 1e9, bus = alg * 2 * (n - 1) / n;
                points.Add((bytes, median));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bytes,12:N0} {median * 1e6,12:F1} {alg,13:F3} {bus,13:F3}"));
                if (parse.GetValue(json))
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"ranks\":{n},\"bytes\":{bytes},\"seconds\":{median:R},\"algbw_gbs\":{alg:R},\"busbw_gbs\":{bus:R}}}"));
            }
            // least squares of the relative error (weights 1/t²), so that small and large messages count alike:
            // t = a + b·bytes; in the ring model t = 2(n−1)·α + 2(n−1)/n·bytes·β
            double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
            foreach (var (x, y) in points)
            {
                double w = 1 / (y * y);
                sw += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y;
            }
            double b = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
            double a = (sy - b * sx) / sw;
            double alpha = a / (2.0 * (n - 1)), beta = b / (2.0 * (n - 1) / n);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fit t = {a * 1e6:F1} us + bytes / {1 / b / 1e9:F3} GB/s; ring model: alpha = {alpha * 1e6:F2} us per message step, 1/beta = {1 / beta / 1e9:F3} GB/s per link"));
            return 0;
        }));
        return cmd;
    }
}
