using System.Text.Json;

namespace TokenFormer.Runtime.Tests.Evaluation;

/// <summary>The committed eval fixtures (tests/fixtures/eval) and the PyTorch reference's goldens (tools/reference/make_eval_goldens.py).</summary>
internal static class EvalGoldens
{
    public static string DataDirectory => Path.Combine(Fixtures.Root, "eval");

    public static string Data(string file) => Path.Combine(DataDirectory, file);

    public static JsonElement Load(string name)
    {
        using JsonDocument d = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataDirectory, "goldens", name + ".json")));
        return d.RootElement.Clone();
    }

    /// <summary>|a − b| ≤ 1e-4·|b| (the acceptance tolerance for log-likelihoods).</summary>
    public static void Near(double expected, double actual, string what)
    {
        double tol = 1e-4 * Math.Abs(expected);
        Assert.True(Math.Abs(actual - expected) <= tol, $"{what}: expected {expected:R}, got {actual:R} (relative difference {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
    }
}
