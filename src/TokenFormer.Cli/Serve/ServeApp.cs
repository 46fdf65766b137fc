using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// The HTTP server of <c>tokenformer serve</c>: an ASP.NET Core minimal API over an <see cref="ICompletionEngine"/>.
/// Routes: <c>GET /</c> (the page), <c>GET /health</c>, <c>GET /v1/models</c>, <c>GET /v1/models/{id}</c>,
/// <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c>; anything else is a JSON 404 (405 for a known path with the wrong method).
/// </summary>
public sealed class ServeApp : IAsyncDisposable
{
    private static readonly string[] KnownPaths = ["/", "/health", "/v1/models", "/v1/completions", "/v1/chat/completions"];

    private ServeApp(WebApplication app, CompletionQueue queue, ICompletionEngine engine, CompletionEndpoint completions)
    {
        App = app;
        Queue = queue;
        Engine = engine;
        Completions = completions;
    }

    public WebApplication App { get; }
    public CompletionQueue Queue { get; }
    public ICompletionEngine Engine { get; }
    /// <summary>The completion endpoints (their counters, e.g. <see cref="CompletionEndpoint.StalledStreams"/>).</summary>
    public CompletionEndpoint Completions { get; }

    /// <summary>The addresses listened on (actual ports once started), e.g. http://127.0.0.1:8080.</summary>
    public IReadOnlyList<string> Urls => App.Urls.ToArray();

    /// <summary>Builds the server (not started). <paramref name="options"/> is validated (ArgumentException).</summary>
    public static ServeApp Create(ICompletionEngine engine, ServeOptions options)
    {
        options.Validate();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "tokenformer-serve",
        });
        builder.Logging.ClearProviders();
        if (options.LogToConsole)
        {
            builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            // A failed start (port in use) is reported by the command as one line; no stack trace from the host too.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Limits for clients that misbehave (docs/reliability.md, "The server under abuse"): a bounded number of
            // connections, idle ones closed after a while, slow headers and slow bodies dropped, bodies capped before
            // they are read; a client that stops reading a stream is handled by CompletionEndpoint (write timeout).
            k.Limits.MaxConcurrentConnections = options.MaxConnections;
            k.Limits.MaxConcurrentUpgradedConnections = 0;
            k.Limits.KeepAliveTimeout = options.KeepAliveTimeout;
            k.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            k.Limits.MinRequestBodyDataRate = new MinDataRate(options.MinBodyBytesPerSecond, options.MinBodyRateGrace);
            k.Limits.MaxRequestBodySize = CompletionEndpoint.MaxBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            if (string.Equals(options.Host, "localhost", StringComparison.OrdinalIgnoreCase) && options.Port != 0)
                k.ListenLocalhost(options.Port);
            else
                k.Listen(string.Equals(options.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(options.Host),
                    options.Port);
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(10));

        WebApplication app = builder.Build();
        var queue = new CompletionQueue(engine, options.MaxQueue, options.MaxBatch);
        app.Lifetime.ApplicationStopping.Register(() => queue.Stop(TimeSpan.FromSeconds(10)));
        var completions = new CompletionEndpoint(engine, queue, options);
        string page = IndexPage.Render(engine.ModelId, engine.ContextLength);

        app.MapGet("/", () => Results.Content(page, "text/html; charset=utf-8"));
        app.MapGet("/health", (HttpContext c) => ApiJson.WriteJson(c.Response, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "ok");
            w.WriteString("model", engine.ModelId);
            w.WriteNumber("context_length", engine.ContextLength);
            w.WriteNumber("queued", queue.Queued);
            w.WriteNumber("running", queue.Running);
            w.WriteNumber("max_queue", queue.MaxQueue);
            w.WriteNumber("completed", queue.Completed);
            w.WriteNumber("failed", queue.Failed);
            w.WriteStartObject("memory");
            w.WriteNumber("working_set_mb", Math.Round(Environment.WorkingSet / 1048576.0, 1));
            w.WriteNumber("managed_mb", Math.Round(GC.GetTotalMemory(forceFullCollection: false) / 1048576.0, 1));
            w.WriteNumber("allocated_total_mb", Math.Round(GC.GetTotalAllocatedBytes() / 1048576.0, 1));
            w.WriteNumber("gc_count", GC.CollectionCount(0));
            w.WriteNumber("gen2_gc_count", GC.CollectionCount(2));
            w.WriteEndObject();
            w.WriteEndObject();
        }));
        app.MapGet("/v1/models", (HttpContext c) => ApiJson.WriteJson(c.Response, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (string name in engine.ModelIds) WriteModel(w, engine, name);
            w.WriteEndArray();
            w.WriteEndObject();
        }));
        app.MapGet("/v1/models/{id}", (HttpContext c, string id) => engine.ModelIds.Contains(id)
            ? ApiJson.WriteJson(c.Response, w => WriteModel(w, engine, id))
            : ApiJson.WriteError(c.Response, new ApiError(404, $"model '{id}' not found (this server has '{engine.ModelId}')",
                "invalid_request_error", "model", "model_not_found")));
        app.MapPost("/v1/completions", completions.Handle);
        app.MapPost("/v1/chat/completions", completions.HandleChat);
        app.MapFallback((HttpContext c) =>
        {
            string path = c.Request.Path.Value ?? "/";
            ApiError error = KnownPaths.Contains(path.TrimEnd('/') is "" ? "/" : path.TrimEnd('/'))
                ? new ApiError(405, $"{c.Request.Method} is not allowed on {path}", "invalid_request_error")
                : new ApiError(404, $"no route {c.Request.Method} {path} (routes: GET /, GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions)",
                    "invalid_request_error", code: "not_found");
            return ApiJson.WriteError(c.Response, error);
        });
        return new ServeApp(app, queue, engine, completions);
    }

    /// <summary>Starts listening; <see cref="Urls"/> then has the bound addresses.</summary>
    public Task StartAsync(CancellationToken cancel = default) => App.StartAsync(cancel);

    /// <summary>Stops: cancels generation in progress, lets open requests end, closes the listener.</summary>
    public Task StopAsync(CancellationToken cancel = default) => App.StopAsync(cancel);

    /// <summary>Runs until Ctrl+C or SIGTERM.</summary>
    public Task RunAsync() => App.RunAsync();

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        Queue.Dispose();
    }

    private static void WriteModel(System.Text.Json.Utf8JsonWriter w, ICompletionEngine engine, string name)
    {
        w.WriteStartObject();
        w.WriteString("id", name);
        w.WriteString("object", "model");
        w.WriteNumber("created", 0);
        w.WriteString("owned_by", "tokenformer");
        w.WriteNumber("context_length", engine.ContextLength);
        w.WriteEndObject();
    }
}
