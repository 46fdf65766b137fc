using System.Globalization;
using System.Text;
using System.Text.Json;
using TokenFormer.Model.Growth;
using TokenFormer.Model.Training;
using TokenFormer.Core.IO;

namespace TokenFormer.Cli.Quickstart;

/// <summary>Writes RUN/summary.md (for people) and RUN/summary.json (for scripts) from a <see cref="QuickstartResult"/>.</summary>
public static class QuickstartSummary
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes both files (each via a temporary file and rename).</summary>
    public static void Write(QuickstartResult r)
    {
        AtomicFile.WriteAllText(Path.Combine(r.RunDirectory, QuickstartRun.SummaryFile), Markdown(r));
        AtomicFile.WriteAllText(Path.Combine(r.RunDirectory, QuickstartRun.SummaryJsonFile), Json(r));
    }

    /// <summary>The summary.md text.</summary>
    public static string Markdown(QuickstartResult r)
    {
        var sb = new StringBuilder();
        string Rel(string path) => Path.GetRelativePath(r.RunDirectory, path).Replace('\\', '/');
        sb.AppendLine("# TokenFormer quickstart");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Corpus: {r.Corpus}.");
        if (r.Fallback != null) sb.AppendLine().AppendLine(Inv, $"Note: {r.Fallback}.");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Tokenizer: byte-level BPE, {r.VocabSize:N0} tokens. Data: {r.TrainTokens:N0} train and {r.ValTokens:N0} validation tokens. " +
            $"Batch {r.Batch} × {r.Sequence} tokens, seed {r.Seed}, {r.Threads} threads, wall time {QuickstartRun.FormatTime(r.Seconds)}.");
        sb.AppendLine();
        sb.AppendLine("| phase | model | non-embedding params | params | steps | tokens | training FLOPs | time | val loss (first → last) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (PhaseFigures p in new[] { r.Small, r.Large })
        {
            var c = p.Config;
            sb.AppendLine(Inv, $"| {p.Name} | L{c.NumLayers} d{c.HiddenSize}, tokens {TokenCounts.Of(c)} | {p.NonEmbeddingParameters:N0} | {p.Parameters:N0} | " +
                $"{p.Steps:N0} | {p.Tokens:N0} | {QuickstartSummary.FormatFlops(p.Flops)} | {QuickstartRun.FormatTime(p.Seconds)} | {p.FirstValLoss:F4} → {p.LastValLoss:F4} |");
        }
        sb.AppendLine();
        double delta = r.LossAfterGrowth - r.LossBeforeGrowth;
        sb.AppendLine(Inv, $"Validation loss ({r.EvalWindows} fixed windows of {r.Sequence} tokens):");
        sb.AppendLine();
        sb.AppendLine("| when | val loss | perplexity | cumulative training FLOPs |");
        sb.AppendLine("|---|---|---|---|");
        sb.AppendLine(Inv, $"| before growth (S, step {r.Small.Steps:N0}) | {r.LossBeforeGrowth:F4} | {Math.Exp(r.LossBeforeGrowth):F1} | {QuickstartSummary.FormatFlops(r.Small.Flops)} |");
        sb.AppendLine(Inv, $"| right after growth (L, step 0) | {r.LossAfterGrowth:F4} | {Math.Exp(r.LossAfterGrowth):F1} | {QuickstartSummary.FormatFlops(r.Small.Flops)} |");
        sb.AppendLine(Inv, $"| after continued training (L, step {r.Large.Steps:N0}) | {r.LossFinal:F4} | {Math.Exp(r.LossFinal):F1} | {QuickstartSummary.FormatFlops(r.Small.Flops + r.Large.Flops)} |");
        sb.AppendLine();
        string verdict = r.Preserved
            ? string.Create(Inv, $"(within {QuickstartResult.PreservedTolerance:0e+0}: the grown model computes the same function)")
            : "(more than expected: the function was not preserved)";
        sb.AppendLine(Inv, $"Growth changed the validation loss by {delta:+0.0e+0;-0.0e+0;0} {verdict}.");
        sb.AppendLine("Training FLOPs per token: 6 per parameter that multiplies the token (Pattention tokens and the tied output projection) plus 12·L·d·T for attention (as in the paper; `TrainingFlops`).");
        sb.AppendLine();
        sb.AppendLine(Inv, $"![validation loss against training compute]({QuickstartRun.CurveFile})");
        sb.AppendLine();
        sb.AppendLine("## Samples from the final model");
        sb.AppendLine();
        sb.AppendLine("Temperature 0.8, top-k 40, seeded (prompt in bold):");
        sb.AppendLine();
        foreach (QuickstartSample s in r.Samples)
            sb.AppendLine(Inv, $"- **{EscapeMd(s.Prompt)}**{EscapeMd(s.Continuation).ReplaceLineEndings(" ")}");
        sb.AppendLine();
        sb.AppendLine("## Files");
        sb.AppendLine();
        sb.AppendLine(Inv, $"- `{QuickstartRun.CurveFile}`: both phases against cumulative training FLOPs; `{QuickstartRun.SmallDir}/loss.svg`, `{QuickstartRun.LargeDir}/loss.svg`: each phase against steps");
        sb.AppendLine(Inv, $"- `{QuickstartRun.SmallDir}/metrics.jsonl`, `{QuickstartRun.LargeDir}/metrics.jsonl`: per-step and per-evaluation figures");
        sb.AppendLine(Inv, $"- `{Rel(r.Small.Checkpoint)}`: S; `{Rel(r.GrownDirectory)}`: S grown to L, untrained; `{Rel(r.Large.Checkpoint)}`: the final L (model directories: config.json, model.safetensors, tokenizer.json)");
        sb.AppendLine(Inv, $"- `{QuickstartRun.TokenizerFileName}`, `{QuickstartRun.DataDir}/`: the tokenizer and the token streams; `{QuickstartRun.SummaryJsonFile}`: these figures as JSON");
        sb.AppendLine();
        sb.AppendLine(Inv, $"Plan: {r.PlanNote}. Repeat with `tokenformer quickstart --small-steps {r.Small.Steps} --large-steps {r.Large.Steps} --seed {r.Seed}` " +
            $"for the same step counts (same numbers at the same thread count).");
        return sb.ToString();
    }

    /// <summary>The summary.json text.</summary>
    public static string Json(QuickstartResult r)
    {
        object Phase(PhaseFigures p) => new Dictionary<string, object>
        {
            ["qkv_tokens"] = p.Config.QkvSlotNum, ["proj_tokens"] = p.Config.ProjSlotNum, ["ffn_tokens"] = p.Config.FfnSlotNum,
            ["non_embedding_parameters"] = p.NonEmbeddingParameters, ["parameters"] = p.Parameters, ["steps"] = p.Steps, ["tokens"] = p.Tokens,
            ["flops"] = p.Flops, ["seconds"] = Math.Round(p.Seconds, 2), ["first_val_loss"] = p.FirstValLoss, ["last_val_loss"] = p.LastValLoss,
            ["checkpoint"] = p.Checkpoint,
        };
        var doc = new Dictionary<string, object?>
        {
            ["corpus"] = r.Corpus, ["corpus_kind"] = r.CorpusKind, ["fallback"] = r.Fallback, ["vocab_size"] = r.VocabSize,
            ["train_tokens"] = r.TrainTokens, ["val_tokens"] = r.ValTokens, ["threads"] = r.Threads, ["batch"] = r.Batch, ["seq"] = r.Sequence,
            ["seed"] = r.Seed, ["eval_windows"] = r.EvalWindows, ["small"] = Phase(r.Small), ["large"] = Phase(r.Large),
            ["val_loss_before_growth"] = r.LossBeforeGrowth, ["val_loss_after_growth"] = r.LossAfterGrowth, ["val_loss_final"] = r.LossFinal,
            ["function_preserved"] = r.Preserved, ["grown_model"] = r.GrownDirectory, ["seconds"] = Math.Round(r.Seconds, 2),
            ["samples"] = r.Samples.Select(s => new Dictionary<string, object> { ["prompt"] = s.Prompt, ["continuation"] = s.Continuation, ["tokens"] = s.Tokens }).ToList(),
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>"1.23 TFLOP"-style text.</summary>
    public static string FormatFlops(double flops)
    {
        string[] units = ["FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"];
        int u = 0;
        while (flops >= 1000 && u < units.Length - 1) { flops /= 1000; u++; }
        return string.Create(Inv, $"{flops:0.00} {units[u]}");
    }

    private static string EscapeMd(string s) => s.Replace("\\", "\\\\").Replace("*", "\\*").Replace("_", "\\_").Replace("<", "&lt;").Replace("`", "\\`");
}
