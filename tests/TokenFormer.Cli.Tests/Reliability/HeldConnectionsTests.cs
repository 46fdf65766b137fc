using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using TokenFormer.Cli.Serve;
using TokenFormer.Cli.Tests.Serve;
using Xunit.Abstractions;

namespace TokenFormer.Cli.Tests.Reliability;

/// <summary>
/// Healthy requests against the real micro model keep succeeding, with the right text, while 1,000 idle connections
/// and 50 slow clients (20 sending a body a byte a second, 15 sending headers a byte a second, 15 streams never read)
/// are held. Latency percentiles of the healthy requests without and with the abuse go to the test output (and, as
/// measured figures, to docs/reliability.md); the test asserts correctness only. Runs alone (<see cref="AloneCollection"/>):
/// it holds two thousand sockets and measures latency.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class HeldConnectionsTests(ITestOutputHelper output)
{
    private const int Idle = 1000, SlowBodies = 20, SlowHeaders = 15, NonReaders = 15, HealthyClients = 4, MaxTokens = 4;
    private static readonly string[] Prompts = ["The quick brown fox", "Once upon a time", "In the beginning", "Hello, world"];

    private sealed record Round(double[] LatenciesMs, int Errors, string? FirstError);

    /// <summary>Each healthy client sends its prompt again and again for <paramref name="duration"/>; every answer must be <paramref name="expected"/>.</summary>
    private static async Task<Round> Healthy(HttpClient http, string[] expected, TimeSpan duration)
    {
        var latencies = new List<double>();
        int errors = 0;
        string? first = null;
        var until = DateTime.UtcNow + duration;
        await Task.WhenAll(Enumerable.Range(0, HealthyClients).Select(c => Task.Run(async () =>
        {
            string body = JsonSerializer.Serialize(new { prompt = Prompts[c], max_tokens = MaxTokens, temperature = 0 });
            while (DateTime.UtcNow < until)
            {
                long t0 = Stopwatch.GetTimestamp();
                string? problem = null;
                try
                {
                    using HttpResponseMessage r = await http.PostAsync("v1/completions", RouteTests.Json(body));
                    string text = await r.Content.ReadAsStringAsync();
                    if (r.StatusCode != HttpStatusCode.OK) problem = $"{(int)r.StatusCode}: {text}";
                    else
                    {
                        using JsonDocument doc = JsonDocument.Parse(text);
                        string got = doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
                        if (got != expected[c]) problem = $"client {c} got '{got}', expected '{expected[c]}'";
                    }
                }
                catch (Exception e) { problem = e.GetType().Name + ": " + e.Message; }
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                lock (latencies) latencies.Add(ms);
                if (problem is not null && Interlocked.Increment(ref errors) == 1) first = problem;
            }
        })));
        return new Round(latencies.ToArray(), errors, first);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private void Report(string name, Round round)
    {
        double[] sorted = round.LatenciesMs.Order().ToArray();
        output.WriteLine($"{name}: {sorted.Length} healthy requests, latency p50 {Percentile(sorted, 0.5):F1} ms, p95 {Percentile(sorted, 0.95):F1} ms, " +
            $"p99 {Percentile(sorted, 0.99):F1} ms, max {sorted[^1]:F1} ms; errors {round.Errors}");
    }

    private static Task Trickle(Socket s, byte[] bytes, CancellationToken stop) => Task.Run(async () =>
    {
        try
        {
            foreach (byte b in bytes)
            {
                await s.SendAsync(new[] { b }, SocketFlags.None, stop);
                await Task.Delay(1000, stop);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    });

    [Fact]
    public async Task Healthy_requests_succeed_while_1000_idle_connections_and_50_slow_clients_are_held()
    {
        ulong fds = RawHttp.EnsureFileDescriptors(2 * (Idle + 200) + 512);
        Assert.True(fds >= 2 * (Idle + 200), $"the test needs about {2 * (Idle + 200)} file descriptors (both ends of each connection); the limit is {fds}");

        var engine = TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 4);
        await using TestServer server = await TestServer.StartAsync(engine, new ServeOptions { MaxBatch = 4, MaxQueue = 64 });
        string[] expected = Prompts.Select(p => RealModelTests.Direct(p, MaxTokens).Text).ToArray();
        output.WriteLine($"{HealthyClients} healthy clients (max_tokens {MaxTokens}, greedy, micro model) for 5 s each round; {Environment.ProcessorCount} cores; fd limit {fds}");

        Round calm = await Healthy(server.Client, expected, TimeSpan.FromSeconds(5));
        Report("without abuse", calm);
        Assert.True(calm.Errors == 0, $"{calm.Errors} failed healthy requests; first: {calm.FirstError}");

        var sockets = new List<Socket>();
        using var stop = new CancellationTokenSource();
        var trickles = new List<Task>();
        try
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < Idle; i += 50)
                sockets.AddRange(await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => RawHttp.Connect(server.BaseAddress))));
            List<Socket> idle = sockets.ToList();
            output.WriteLine($"{Idle} idle connections opened in {clock.Elapsed.TotalSeconds:F1} s");

            byte[] body = Encoding.UTF8.GetBytes("""{"prompt":"a slow client","max_tokens":2}""");
            var slowBodies = new List<Socket>();
            for (int i = 0; i < SlowBodies; i++)
            {
                Socket s = await RawHttp.Connect(server.BaseAddress);
                sockets.Add(s);
                slowBodies.Add(s);
                await s.SendAsync(RawHttp.PostHead("/v1/completions", body.Length));
                trickles.Add(Trickle(s, body, stop.Token));
            }
            byte[] head = RawHttp.PostHead("/v1/completions", 10);
            for (int i = 0; i < SlowHeaders; i++)
            {
                Socket s = await RawHttp.Connect(server.BaseAddress);
                sockets.Add(s);
                trickles.Add(Trickle(s, head, stop.Token));
            }
            for (int i = 0; i < NonReaders; i++)
            {
                Socket s = await RawHttp.Connect(server.BaseAddress, receiveBuffer: 4096);
                sockets.Add(s);
                await s.SendAsync(RawHttp.Post("/v1/completions", JsonSerializer.Serialize(new { prompt = $"never read {i}", max_tokens = 100, temperature = 0, stream = true })));
            }

            Round abused = await Healthy(server.Client, expected, TimeSpan.FromSeconds(8));
            Report($"with {Idle} idle connections and {SlowBodies + SlowHeaders + NonReaders} slow clients", abused);
            Assert.True(abused.Errors == 0, $"{abused.Errors} failed healthy requests under abuse; first: {abused.FirstError}");

            // the idle connections were held, not refused; the slow bodies were answered 408 and dropped (grace 5 s)
            Assert.All(idle, s => Assert.False(RawHttp.ClosedByPeer(s), "an idle connection was closed within the keep-alive timeout"));
            foreach (Socket s in slowBodies)
            {
                (string answer, bool closed) = await RawHttp.ReadUntilClosed(s, TimeSpan.FromSeconds(10));
                Assert.True(closed, "a byte-a-second body was not dropped");
                Assert.StartsWith("HTTP/1.1 408", answer);
            }
            output.WriteLine($"held for {clock.Elapsed.TotalSeconds:F1} s; queue: {server.App.Queue.Completed} completed, {server.App.Queue.Failed} failed");
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(trickles);
            foreach (Socket s in sockets) s.Dispose();
        }
    }
}
