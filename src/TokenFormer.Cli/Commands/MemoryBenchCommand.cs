using System.CommandLine;
using TokenFormer.Bench;
using TokenFormer.Model;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer bench memory</c>: the resident memory of loading a model and generating, stage by stage.</summary>
public static class MemoryBenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model directory to load (default: --preset with random weights)" };
        var preset = new Option<string>("--preset") { Description = "Model preset when no --model is given", DefaultValueFactory = _ => "150m" };
        var dtype = new Option<string>("--dtype") { Description = "Weight storage of the --preset model: float32, bf16, int8 or int4", DefaultValueFactory = _ => "float32" };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt length", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Greedy tokens generated", DefaultValueFactory = _ => 64 };
        var maxLength = new Option<int>("--max-length") { Description = "KV cache length (0 = prompt + new tokens)" };
        var cmd = new Command("memory",
            "Resident memory (VmRSS, anonymous and file-backed, peak) before the model, after loading it, after building the " +
            "generator and after generating, with the bytes of the weights and of the KV cache and the GC's figures; one JSON object.")
        {
            model, preset, dtype, prompt, newTokens, maxLength,
        };
        cmd.SetAction(parse =>
        {
            var o = new MemoryBenchOptions
            {
                ModelDirectory = parse.GetValue(model),
                Preset = parse.GetValue(preset)!,
                Dtype = WeightFormats.TryParse(parse.GetValue(dtype), out WeightFormat f) ? f
                    : throw new CliException($"--dtype '{parse.GetValue(dtype)}' is not one of {string.Join(", ", WeightFormats.Names)}"),
                PromptTokens = parse.GetValue(prompt),
                NewTokens = parse.GetValue(newTokens),
                MaxLength = parse.GetValue(maxLength),
            };
            if (o.PromptTokens < 1 || o.NewTokens < 1 || o.MaxLength < 0)
                throw new CliException($"--prompt-tokens and --new-tokens must be at least 1 and --max-length at least 0 (got {o.PromptTokens}, {o.NewTokens}, {o.MaxLength})");
            try { Console.WriteLine(MemoryBenchmark.Run(o, Console.Out)); }
            catch (Exception e) when (e is TokenFormerConfigException or ArgumentException or ModelFormatException) { throw new CliException(e.Message); }
            return 0;
        });
        return cmd;
    }
}
