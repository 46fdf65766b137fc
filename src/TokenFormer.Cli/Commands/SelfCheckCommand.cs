using System.CommandLine;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.Memory;
using TokenFormer.Core.Threading;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer selfcheck</c>: reports the hardware paths in use and checks the kernels against their references.</summary>
public static class SelfCheckCommand
{
    public static Command Create()
    {
        var cmd = new Command("selfcheck", "Report SIMD support and thread count, and verify the GEMM kernels against the reference on random inputs.");
        cmd.SetAction(_ => Run(Console.Out));
        return cmd;
    }

    public static int Run(TextWriter output)
    {
        output.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} cores, {Parallelism.ThreadCount} threads");
        output.WriteLine($"Vector512 accelerated: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, " +
                         $"GEMM instruction set: {GemmIsaInfo.Best}");
        output.WriteLine($"Weights on huge pages: {WeightArrays.Describe()}");
        var rng = new Random(7);
        int failures = 0;
        foreach (GemmForm form in Enum.GetValues<GemmForm>())
        foreach ((int m, int k, int n) in new[] { (1, 65, 33), (17, 63, 255), (130, 300, 70) })
        {
            float[] a = Random(rng, m * k), b = Random(rng, k * n), c = new float[m * n], r = new float[m * n];
            int lda = form == GemmForm.TN ? m : k, ldb = form == GemmForm.NT ? k : n;
            Gemm.Compute(form, m, k, n, a, lda, b, ldb, c, n);
            GemmReference.Compute(form, m, k, n, a, lda, b, ldb, r, n);
            double err = 0, max = 0;
            for (int i = 0; i < c.Length; i++) { err = Math.Max(err, Math.Abs(c[i] - r[i])); max = Math.Max(max, Math.Abs(r[i])); }
            bool ok = err <= 1e-5 * Math.Max(max, 1e-30);
            if (!ok) failures++;
            output.WriteLine($"  gemm {form} {m}x{k}x{n}: max relative error {err / max:E1} {(ok ? "ok" : "FAILED")}");
        }
        output.WriteLine(failures == 0 ? "self-check passed" : $"self-check FAILED ({failures} failures)");
        return failures == 0 ? 0 : 1;
    }

    private static float[] Random(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
