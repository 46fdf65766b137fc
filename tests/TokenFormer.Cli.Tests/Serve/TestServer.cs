using TokenFormer.Cli.Serve;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>A <see cref="ServeApp"/> started on a free loopback port, with an HttpClient pointed at it.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(ServeApp app, HttpClient client)
    {
        App = app;
        Client = client;
    }

    public ServeApp App { get; }
    public HttpClient Client { get; }
    public Uri BaseAddress => Client.BaseAddress!;

    public static Task<TestServer> StartAsync(ICompletionEngine engine, int maxQueue = 64, int maxBatch = 4) =>
        StartAsync(engine, new ServeOptions { MaxQueue = maxQueue, MaxBatch = maxBatch });

    /// <summary>Starts with <paramref name="options"/> (limits, timeouts) on a free loopback port.</summary>
    public static async Task<TestServer> StartAsync(ICompletionEngine engine, ServeOptions options)
    {
        ServeApp app = ServeApp.Create(engine, options with { Host = "127.0.0.1", Port = 0 });
        await app.StartAsync();
        string url = app.Urls.Single();
        Assert.StartsWith("http://127.0.0.1:", url);
        // MaxResponseDrainSize = 0: disposing a response whose body is unread closes its connection at once, as a client
        // that goes away does, instead of first draining it (which left the server unaware of the disconnect for seconds)
        var handler = new SocketsHttpHandler { MaxResponseDrainSize = 0 };
        var client = new HttpClient(handler) { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromSeconds(60) };
        return new TestServer(app, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
