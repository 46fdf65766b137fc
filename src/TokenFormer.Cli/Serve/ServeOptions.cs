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

    /// <summary>
    /// Open TCP connections accepted at once; one more is closed at once by the server. Idle connections are cheap
    /// (no thread each) and close after <see cref="KeepAliveTimeout"/>.
    /// </summary>
    public long MaxConnections { get; init; } = 4096;
    /// <summary>How long a connection may sit without a request before it is closed.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>How long a client may take to send a request's headers (a slow-headers client is dropped after it).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Slowest request body accepted, in bytes per second, after <see cref="MinBodyRateGrace"/>: a client sending a
    /// byte a second is answered 408 and dropped.
    /// </summary>
    public double MinBodyBytesPerSecond { get; init; } = 240;
    /// <summary>Time a request body is given before <see cref="MinBodyBytesPerSecond"/> applies.</summary>
    public TimeSpan MinBodyRateGrace { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// Longest wait for one write of a streamed response (a client that stopped reading): past it the connection is
    /// closed and the generation for it cancelled. The worker never waits on a client (pieces are buffered per job,
    /// at most the completion's text).
    /// </summary>
    public TimeSpan StreamWriteTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port must be in 0..65535 (got {Port})");
        if (MaxQueue < 1) throw new ArgumentException($"--max-queue must be at least 1 (got {MaxQueue})");
        if (MaxBatch < 1) throw new ArgumentException($"--max-batch must be at least 1 (got {MaxBatch})");
        if (MaxPromptsPerRequest < 1) throw new ArgumentException($"prompts per request must be at least 1 (got {MaxPromptsPerRequest})");
        if (MaxConnections < 1) throw new ArgumentException($"--max-connections must be at least 1 (got {MaxConnections})");
        if (KeepAliveTimeout <= TimeSpan.Zero || RequestHeadersTimeout <= TimeSpan.Zero || StreamWriteTimeout <= TimeSpan.Zero || MinBodyRateGrace <= TimeSpan.Zero)
            throw new ArgumentException("the server's timeouts must be positive");
        if (!(MinBodyBytesPerSecond > 0)) throw new ArgumentException($"the minimum request body rate must be positive (got {MinBodyBytesPerSecond})");
        if (!string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) && !IPAddress.TryParse(Host, out _))
            throw new ArgumentException($"--host must be an IP address or 'localhost' (got '{Host}')");
    }
}
