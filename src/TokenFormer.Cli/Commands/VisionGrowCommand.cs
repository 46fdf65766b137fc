using System.Globalization;
using TokenFormer.Model.Growth;
using TokenFormer.Vision;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer grow</c> for a vision model directory: the blocks' parameter tokens grow, the stem is copied.</summary>
public static class VisionGrowCommand
{
    /// <summary>Grows the vision model in <paramref name="source"/> into <paramref name="outDir"/> (options as <c>grow</c>'s).</summary>
    public static int Grow(string source, string outDir, int? q, int? p, int? f, double? factor, string mode, int seed) => VisionCommand.Guard(() =>
    {
        VisionModel model = VisionModel.Load(source);
        TokenCounts old = TokenCounts.Of(model.Core.Config), target;
        if (factor is double s)
        {
            if (q != null || p != null || f != null) throw new CliException("give either --factor or --qkv-tokens/--proj-tokens/--ffn-tokens, not both");
            if (!(s > 1) || !double.IsFinite(s)) throw new CliException($"--factor must be a number greater than 1 (got {s.ToString(CultureInfo.InvariantCulture)})");
            target = old.Scale(s);
        }
        else
        {
            if (q == null && p == null && f == null) throw new CliException("give the new size: --factor F, or at least one of --qkv-tokens N, --proj-tokens N, --ffn-tokens N");
            target = new TokenCounts(q ?? old.Qkv, p ?? old.Proj, f ?? old.Ffn);
        }
        VisionModel grown;
        try { grown = VisionGrower.Grow(model, new GrowthOptions(target, GrowthModes.Parse(mode), seed, Path.GetFullPath(source))); }
        catch (GrowthException e) { throw new CliException(e.Message); }
        grown.Save(outDir);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"grew vision model {source} ({old}; {model.ParameterCount:N0} parameters) to {outDir} ({target}; {grown.ParameterCount:N0} parameters), mode {mode}; patch embedding, positions and head bias copied"));
        Console.WriteLine($"train on with: tokenformer vision train --init-from {outDir} --out RUN …");
        return 0;
    });
}
