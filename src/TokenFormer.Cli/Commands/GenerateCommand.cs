using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TokenFormer.Runtime.Generation;
using TokenFormer.Model;
using TokenFormer.Model.Inference;
using TokenFormer.Text;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer generate</c>: KV-cached generation from text prompts (<c>--prompt</c>, repeatable: several prompts run
/// as one batch) or token ids (<c>--prompt-ids</c>), streaming text as it is produced, or one JSON line per prompt
/// with <c>--json</c>; <c>--interactive</c> reads prompts from stdin until EOF or an empty line. A thin layer over the
/// library's <see cref="TextGenerator"/> (ids-only prompts without a tokenizer use its <see cref="Generator"/>);
/// the library's errors are mapped to messages naming this command's flags (<see cref="LibraryErrors.GenerateFlags"/>).
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json, model.safetensors, tokenizer.json)", Required = true };
        var prompt = new Option<string[]>("--prompt") { Description = "Prompt text; repeat for several prompts generated as one batch" };
        var promptIds = new Option<string[]>("--prompt-ids") { Description = "Prompt as comma-separated token ids, e.g. 1,2,3 (repeatable)" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate per prompt (the default 64 shrinks to fit the context)", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = off)" };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling probability mass (1 = off)", DefaultValueFactory = _ => 1f };
        var penalty = new Option<float>("--repetition-penalty") { Description = "CTRL repetition penalty (1 = off)", DefaultValueFactory = _ => 1f };
        var seed = new Option<int>("--seed") { Description = "Random seed (same seed, same output)" };
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable); not included in the output" };
        var stopId = new Option<int[]>("--stop-id") { Description = "Stop token id (repeatable); the end-of-text token always stops unless --ignore-eos" };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Do not stop at the tokenizer's end-of-text token" };
        var maxLength = new Option<int>("--max-length") { Description = "KV cache length per sequence (0 = the model's max_position_embeddings)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {\"ids\":[…],\"text\":\"…\"} per prompt instead of streaming" };
        var adapterOption = AdapterCommands.AdapterOption();
        var interactive = new Option<bool>("--interactive") { Description = "Prompt loop: read a prompt per line from stdin until EOF or an empty line" };
        var cmd = new Command("generate", "Generate text with a model (KV cache, greedy or sampled), streaming tokens as they are produced.")
        {
            model, prompt, promptIds, maxNew, temperature, topK, topP, penalty, seed, stop, stopId, ignoreEos, maxLength, json, interactive, adapterOption,
        };
        cmd.SetAction(parse =>
        {
            try { return Execute(parse); }
            catch (Exception e) when (e is InvalidSettingException or ModelFormatException or TokenizerFormatException)
            {
                throw LibraryErrors.ToCli(e, LibraryErrors.GenerateFlags);
            }
        });
        return cmd;

        int Execute(ParseResult parse)
        {
            string dir = parse.GetValue(model)!;
            string[] texts = parse.GetValue(prompt) ?? [];
            string[] idLists = parse.GetValue(promptIds) ?? [];
            bool isInteractive = parse.GetValue(interactive), asJson = parse.GetValue(json);
            int given = (texts.Length > 0 ? 1 : 0) + (idLists.Length > 0 ? 1 : 0) + (isInteractive ? 1 : 0);
            if (given == 0) throw new CliException("give --prompt TEXT, --prompt-ids 1,2,3 or --interactive");
            if (given > 1) throw new CliException("give only one of --prompt, --prompt-ids and --interactive");
            int[][] ids = idLists.Select((s, i) => ParseIds(s, i)).ToArray();
            var options = new SamplingOptions
            {
                MaxNewTokens = parse.GetValue(maxNew),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                RepetitionPenalty = parse.GetValue(penalty),
                Seed = parse.GetValue(seed),
            };
            options.Validate();
            int length = parse.GetValue(maxLength);
            if (length < 0) throw new CliException($"--max-length must be at least 0 (got {length}; 0 = the model's context)");

            TokenFormerModel m = TextGenerator.LoadModel(dir);
            ConfigNotes.Print(m.Config);
            Tokenizer? tokenizer = texts.Length > 0 || isInteractive || File.Exists(Path.Combine(dir, TextGenerator.TokenizerFile))
                ? TextGenerator.LoadTokenizer(dir) : null;
            for (int i = 0; i < ids.Length; i++)
                foreach (int id in ids[i])
                    if (id >= m.Vocab) throw new CliException($"--prompt-ids: token id {id} is outside the model's vocabulary [0, {m.Vocab})");
            var stopIds = new List<int>(parse.GetValue(stopId) ?? []);
            foreach (int s in stopIds)
                if (s < 0 || s >= m.Vocab) throw new CliException($"--stop-id {s} is outside the model's vocabulary [0, {m.Vocab})");
            if (!parse.GetValue(ignoreEos) && tokenizer?.EndOfTextId is int eot && eot < m.Vocab && !stopIds.Contains(eot)) stopIds.Add(eot);
            options = options with { StopIds = stopIds };
            string[] stops = parse.GetValue(stop) ?? [];
            if (stops.Length > 0 && tokenizer == null) throw new CliException($"--stop needs the model's tokenizer: {Path.Combine(dir, TextGenerator.TokenizerFile)} not found");

            int batch = Math.Max(1, Math.Max(texts.Length, ids.Length));
            TextGenerator? textGen = null;
            Generator generator;
            if (length > m.Config.MaxPositionEmbeddings)
                throw new CliException($"--max-length must be in [0, max_position_embeddings {m.Config.MaxPositionEmbeddings}] (got {length}; 0 = the model's context)");
            if (tokenizer != null)
            {
                try { textGen = new TextGenerator(m, tokenizer, batch, length); }
                catch (ArgumentException e) when (e is not InvalidSettingException) { throw new CliException($"{dir}: {e.Message}"); }
                generator = textGen.Generator;
            }
            else generator = new Generator(m, batch, length);
            // an adapter runs on the base through the shared-base path the server uses (docs/adapters.md)
            if (parse.GetValue(adapterOption) is string adapterDir) AdapterCommands.Apply(generator, dir, adapterDir);

            // the default --max-new-tokens shrinks to fit the context; an explicit value that does not fit is an error
            bool explicitMaxNew = parse.GetResult(maxNew) is { Implicit: false };
            int longest = Math.Max(texts.Length > 0 ? texts.Max(t => textGen!.EncodePrompt(t).Length) : 0, ids.Length > 0 ? ids.Max(x => x.Length) : 0);
            if (!explicitMaxNew && longest > 0 && longest + options.MaxNewTokens > generator.MaxLength)
                options = options with { MaxNewTokens = Math.Max(1, generator.MaxLength - longest) };

            var stdout = Console.Out;
            if (isInteractive)
            {
                while (true)
                {
                    Console.Error.Write("> ");
                    string? line = Console.In.ReadLine();
                    if (string.IsNullOrEmpty(line)) break;
                    int[] lineIds = textGen!.EncodePrompt(line);
                    SamplingOptions lineOptions = !explicitMaxNew && lineIds.Length + options.MaxNewTokens > generator.MaxLength
                        ? options with { MaxNewTokens = Math.Max(1, generator.MaxLength - lineIds.Length) } : options;
                    try { Run(textGen, generator, [lineIds], [line], lineOptions, stops, asJson, stdout); }
                    catch (ArgumentException e) { Console.Error.WriteLine($"error: {e.Message}"); }
                }
                return 0;
            }
            int[][] prompts = texts.Length > 0 ? texts.Select(t => textGen!.EncodePrompt(t)).ToArray() : ids;
            try { Run(textGen, generator, prompts, texts.Length > 0 ? texts : null, options, stops, asJson, stdout); }
            catch (ArgumentException e) when (e is not InvalidSettingException) { throw new CliException(e.Message); }
            return 0;
        }
    }

    /// <summary>Generates for one batch of prompts and prints (streaming, or JSON lines).</summary>
    private static void Run(TextGenerator? textGen, Generator generator, int[][] prompts, string[]? promptTexts,
        SamplingOptions options, string[] stops, bool asJson, TextWriter stdout)
    {
        foreach (int[] p in prompts)
            if (p.Length + options.MaxNewTokens > generator.MaxLength)
                throw new ArgumentException($"the prompt has {p.Length} tokens; with --max-new-tokens {options.MaxNewTokens} that is {p.Length + options.MaxNewTokens}, " +
                    $"more than the context length {generator.MaxLength} (lower --max-new-tokens or shorten the prompt)");
        bool stream = !asJson && prompts.Length == 1;
        if (textGen == null)
        {
            // no tokenizer: ids only
            if (stream) stdout.Write(string.Join(' ', prompts[0]));
            int[][] generated = generator.Generate(prompts, options, (i, id) =>
            {
                if (stream && !options.StopIds.Contains(id)) { stdout.Write(' '); stdout.Write(id); stdout.Flush(); }
                return true;
            });
            if (stream) { stdout.WriteLine(); return; }
            for (int i = 0; i < prompts.Length; i++)
                stdout.WriteLine(asJson ? Json(generated[i], null) : $"[{i}] {string.Join(' ', prompts[i])} | {string.Join(' ', generated[i])}");
            return;
        }
        if (stream) { stdout.Write(promptTexts?[0] ?? textGen.Tokenizer.Decode(prompts[0])); stdout.Flush(); }
        TextCompletion[] results = textGen.CompleteIds(prompts, options, stops, stream ? (_, piece) => { stdout.Write(piece); stdout.Flush(); } : null);
        if (stream) { stdout.WriteLine(); return; }
        for (int i = 0; i < results.Length; i++)
        {
            if (asJson) stdout.WriteLine(Json(results[i].Ids, results[i].Text));
            else
            {
                stdout.WriteLine($"--- prompt {i} ---");
                stdout.WriteLine((promptTexts?[i] ?? textGen.Tokenizer.Decode(prompts[i])) + results[i].Text);
            }
        }
    }

    private static string Json(int[] ids, string? text)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("ids");
            foreach (int id in ids) w.WriteNumberValue(id);
            w.WriteEndArray();
            if (text == null) w.WriteNull("text"); else w.WriteString("text", text);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static int[] ParseIds(string text, int index)
    {
        var ids = new List<int>();
        foreach (string part in text.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id) || id < 0)
                throw new CliException($"--prompt-ids: '{part}' is not a token id (expected non-negative integers separated by commas, e.g. 1,2,3)");
            ids.Add(id);
        }
        if (ids.Count == 0) throw new CliException($"--prompt-ids number {index + 1} is empty (expected e.g. 1,2,3)");
        return ids.ToArray();
    }
}
