using System.Globalization;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Bench;

/// <summary>Error of one weight format against float32 on the same model and tokens.</summary>
public sealed record QuantizationError(string Dtype, double RelativeRmsLogitError, double MaxAbsLogitError, double MaxAbsLogit,
    double Top1Agreement, double Float32Loss, double Loss)
{
    /// <summary>Relative change of the perplexity exp(loss) on the targets.</summary>
    public double PerplexityChange => Math.Exp(Loss - Float32Loss) - 1;

    public string ToJson() => string.Create(CultureInfo.InvariantCulture,
        $"{{\"dtype\":\"{Dtype}\",\"rel_rms_logit_error\":{RelativeRmsLogitError:E3},\"max_abs_logit_error\":{MaxAbsLogitError:E3},\"max_abs_logit\":{MaxAbsLogit:F4}," +
        $"\"top1_agreement\":{Top1Agreement:F4},\"fp32_loss\":{Float32Loss:F6},\"loss\":{Loss:F6},\"ppl_change\":{PerplexityChange:E3}}}");
}

/// <summary>
/// <c>tokenformer bench quantization</c>: a preset with the official initialisation (or a model directory), converted
/// to bf16 and int8 in memory; one forward over the same token windows in each format; the logits compared with the
/// float32 model's (relative RMS error, largest error, top-1 agreement) and the loss on next-token targets.
/// </summary>
public static class QuantizationErrorBenchmark
{
    public static IReadOnlyList<QuantizationError> Run(string? preset, string? modelDirectory, int sequence, int windows, int seed)
    {
        TokenFormerModel fp32;
        if (modelDirectory != null) fp32 = ModelDirectory.Load(modelDirectory);
        else
        {
            fp32 = new TokenFormerModel(TokenFormerPresets.Get(preset ?? "150m"));
            fp32.InitializeRandom(1234);
        }
        if (fp32.ReducedWeights != null) throw new ArgumentException("give a float32 model: it is the reference");
        var rng = new Random(seed);
        int[][] tokens = Enumerable.Range(0, windows).Select(_ => Enumerable.Range(0, sequence + 1).Select(_ => rng.Next(fp32.Vocab)).ToArray()).ToArray();
        (float[][] refLogits, double refLoss) = Forward(fp32, tokens, sequence);
        var results = new List<QuantizationError>();
        foreach (WeightFormat f in new[] { WeightFormat.BFloat16, WeightFormat.Int8, WeightFormat.Int4 })
        {
            var q = new TokenFormerModel(fp32.Config, ReducedPrecisionWeights.From(fp32, f));
            (float[][] logits, double loss) = Forward(q, tokens, sequence);
            double se = 0, sr = 0, maxErr = 0, maxRef = 0;
            int agree = 0, rows = 0, v = fp32.Vocab;
            for (int w = 0; w < windows; w++)
                for (int r = 0; r < sequence; r++)
                {
                    int best = 0, bestQ = 0;
                    for (int j = 0; j < v; j++)
                    {
                        float a = refLogits[w][r * v + j], b = logits[w][r * v + j];
                        se += (double)(a - b) * (a - b); sr += (double)a * a;
                        maxErr = Math.Max(maxErr, Math.Abs(a - b)); maxRef = Math.Max(maxRef, Math.Abs(a));
                        if (a > refLogits[w][r * v + best]) best = j;
                        if (b > logits[w][r * v + bestQ]) bestQ = j;
                    }
                    rows++;
                    if (best == bestQ) agree++;
                }
            results.Add(new QuantizationError(WeightFormats.Name(f), Math.Sqrt(se / sr), maxErr, maxRef, (double)agree / rows, refLoss, loss));
        }
        return results;
    }

    private static (float[][] Logits, double Loss) Forward(TokenFormerModel m, int[][] windows, int sequence)
    {
        var runner = new ModelRunner(m, 1, sequence, training: false);
        var logits = new float[windows.Length][];
        double loss = 0;
        for (int w = 0; w < windows.Length; w++)
        {
            int[] input = windows[w].AsSpan(0, sequence).ToArray();
            runner.Forward(input);
            logits[w] = runner.Logits.ToArray();
            // a forward with targets overwrites the logits with the loss gradient, so the loss comes second
            loss += runner.Forward(input, windows[w].AsSpan(1, sequence).ToArray());
        }
        return (logits, loss / windows.Length);
    }
}
