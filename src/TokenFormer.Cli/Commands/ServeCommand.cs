using System.CommandLine;
using Microsoft.Extensions.Hosting;
using TokenFormer.Cli.Serve;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer serve --model DIR</c>: an OpenAI-compatible HTTP API (<c>POST /v1/completions</c>,
/// <c>GET /v1/models</c>, <c>GET /health</c>) and a page at <c>/</c> to try the model; runs until Ctrl+C or SIGTERM.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (config.json, model.safetensors, tokenizer.json)", Required = true };
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one)", DefaultValueFactory = _ => 8080 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests that may wait for the model; more get 503", DefaultValueFactory = _ => 64 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Prompts generated together in one batch", DefaultValueFactory = _ => 4 };
        var maxLength = new Option<int>("--max-length")
        {
            Description = "Positions per sequence (prompt + max_tokens) the KV cache holds (default: the model's max_position_embeddings)",
            DefaultValueFactory = _ => 0,
        };
        var maxConnections = new Option<long>("--max-connections")
        {
            Description = "Open connections accepted at once (idle ones close after 60 s); more are closed at once",
            DefaultValueFactory = _ => 4096,
        };
        var quiet = new Option<bool>("--quiet") { Description = "Do not print a line per request" };
        var adapters = new Option<string[]>("--adapter")
        {
            Description = "Adapter directory made by 'tokenformer finetune' for --model (repeatable): each is served as a model named after its directory, " +
                "picked by a request's 'model' field; requests for different adapters and the base share one batch (docs/adapters.md)",
        };
        var cmd = new Command("serve",
            "Serve a model over HTTP: OpenAI-compatible POST /v1/completions and /v1/chat/completions (server-sent events with \"stream\": true), " +
            "GET /v1/models, GET /health, and a page at / to type a prompt and watch the tokens stream.")
        {
            model, host, port, maxQueue, maxBatch, maxLength, maxConnections, quiet, adapters,
        };
        cmd.SetAction(parse =>
        {
            var options = new ServeOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                MaxQueue = parse.GetValue(maxQueue),
                MaxBatch = parse.GetValue(maxBatch),
                MaxConnections = parse.GetValue(maxConnections),
                LogToConsole = !parse.GetValue(quiet),
            };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            int length = parse.GetValue(maxLength);
            if (length < 0) throw new CliException($"--max-length must be at least 0 (got {length}; 0 = the model's maximum)");
            return Run(parse.GetValue(model)!, length, options, parse.GetValue(adapters) ?? []);
        });
        return cmd;
    }

    private static int Run(string modelDirectory, int maxLength, ServeOptions options, string[] adapters)
    {
        TextGeneratorEngine engine = TextGeneratorEngine.Load(modelDirectory, options.MaxBatch, maxLength);
        foreach (string dir in adapters)
        {
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            engine.AddAdapter(dir, name, modelDirectory);
        }
        if (adapters.Length > 0) Console.WriteLine($"models: {string.Join(", ", engine.ModelIds)} (a request's 'model' picks one; absent: {engine.ModelId})");
        options = options with { Chat = ChatTemplate.ForModel(modelDirectory, out string? chatNote) };
        if (chatNote is not null) Console.WriteLine("note: " + chatNote);
        ServeApp app = ServeApp.Create(engine, options);
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            throw new CliException($"cannot listen on {options.Host}:{options.Port}: {e.Message}");
        }
        string url = app.Urls.First();
        Console.WriteLine($"Serving {engine.ModelId} ({engine.ContextLength}-token context, batches of up to {engine.MaxBatch}, " +
            $"queue of {options.MaxQueue}) at {url}/");
        Console.WriteLine($"  page: {url}/   API: POST {url}/v1/completions, {url}/v1/chat/completions   Ctrl+C to stop");
        app.App.WaitForShutdownAsync().GetAwaiter().GetResult();
        app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Console.WriteLine("Stopped.");
        return 0;
    }
}
