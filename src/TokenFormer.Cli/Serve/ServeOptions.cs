using System.Net;

namespace TokenFormer.Cli.Serve;

/// <summary>Where and how the HTTP server listens and queues work.</summary>
public sealed record ServeOptions
{
    /// <summary>IP address to bind, or "localhost".</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>TCP port; 0 picks a free one (see <see cref="ServeApp.Urls"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Requests waiting for the worker beyond the batch in progress; one more gets 503.</summary>
    public int MaxQueue { get; init; } = 64;
    /// <summary>Most requests (prompts) generated together in one batch; must not exceed the engine's MaxBatch.</summary>
    public int MaxBatch { get; init; } = 4;
    /// <summary>Most prompts in one request (an array prompt).</summary>
    public int MaxPromptsPerRequest { get; init; } = 16;
    /// <summary>How <c>POST /v1/chat/completions</c> turns messages into a prompt (see <see cref="ChatTemplate.ForModel"/>).</summary>
    public ChatTemplate Chat { get; init; } = ChatTemplate.Default;
    /// <summary>Write a line per request to the console (the CLI does; tests do not).</summary>
    public bool LogToConsole { get; init; }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port must be in 0..65535 (got {Port})");
        if (MaxQueue < 1) throw new ArgumentException($"--max-queue must be at least 1 (got {MaxQueue})");
        if (MaxBatch < 1) throw new ArgumentException($"--max-batch must be at least 1 (got {MaxBatch})");
        if (MaxPromptsPerRequest < 1) throw new ArgumentException($"prompts per request must be at least 1 (got {MaxPromptsPerRequest})");
        if (!string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) && !IPAddress.TryParse(Host, out _))
            throw new ArgumentException($"--host must be an IP address or 'localhost' (got '{Host}')");
    }
}
