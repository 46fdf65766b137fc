using System.Net;
using System.Text.Json;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>The bounded queue: 503 when full, batching of compatible requests, cancellation on disconnect and on stop.</summary>
public sealed class QueueTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting until " + what);
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Full_queue_answers_503_and_the_queued_requests_still_complete()
    {
        var engine = new FakeEngine { Gate = new SemaphoreSlim(0) };
        await using TestServer server = await TestServer.StartAsync(engine, maxQueue: 2, maxBatch: 1);
        HttpClient http = server.Client;
        Task<HttpResponseMessage> Send(string prompt) =>
            http.PostAsync("v1/completions", RouteTests.Json($$"""{"prompt":"{{prompt}}","max_tokens":2}"""));

        Task<HttpResponseMessage> first = Send("a");
        Assert.True(await engine.Started.WaitAsync(Wait), "the worker did not take the first request");
        Task<HttpResponseMessage> second = Send("b"), third = Send("c");
        await WaitUntil(() => server.App.Queue.Queued == 2, "two requests wait");

        using (HttpResponseMessage rejected = await Send("d"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
            Assert.Equal("1", rejected.Headers.RetryAfter?.ToString());
            using JsonDocument doc = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync());
            Assert.Contains("busy", doc.RootElement.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal("queue_full", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        engine.Gate.Release(3);
        foreach ((Task<HttpResponseMessage> t, string p) in new[] { (first, "a"), (second, "b"), (third, "c") })
        {
            using HttpResponseMessage r = await t;
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal(FakeEngine.Expected(p, 2), doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        Assert.Equal([1, 1, 1], engine.BatchSizes);
    }

    [Fact]
    public async Task Compatible_waiting_requests_are_batched_and_each_gets_its_own_text()
    {
        var engine = new FakeEngine { Gate = new SemaphoreSlim(0) };
        await using TestServer server = await TestServer.StartAsync(engine, maxQueue: 16, maxBatch: 4);
        HttpClient http = server.Client;
        Task<HttpResponseMessage> Send(string prompt, float temperature) =>
            http.PostAsync("v1/completions", RouteTests.Json($$"""{"prompt":"{{prompt}}","max_tokens":3,"temperature":{{temperature}}}"""));

        Task<HttpResponseMessage> blocker = Send("z", 0);
        Assert.True(await engine.Started.WaitAsync(Wait));
        // Five greedy requests (batch of 4 then 1), then one with another temperature (its own batch).
        var waiting = new List<(Task<HttpResponseMessage>, string)>();
        foreach (string p in new[] { "a", "b", "c", "d", "e" })
        {
            waiting.Add((Send(p, 0), p));
            await WaitUntil(() => server.App.Queue.Queued == waiting.Count, $"{waiting.Count} requests wait");
        }
        waiting.Add((Send("f", 0.5f), "f"));
        await WaitUntil(() => server.App.Queue.Queued == 6, "6 requests wait");
        engine.Gate.Release(10);

        foreach ((Task<HttpResponseMessage> t, string p) in waiting.Prepend((blocker, "z")))
        {
            using HttpResponseMessage r = await t;
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal(FakeEngine.Expected(p, 3), doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        Assert.Equal([1, 4, 1, 1], engine.BatchSizes);
    }

    [Fact]
    public async Task Client_disconnect_cancels_its_generation()
    {
        var engine = new FakeEngine(contextLength: 10_000) { PieceDelay = TimeSpan.FromMilliseconds(20) };
        await using TestServer server = await TestServer.StartAsync(engine);
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = RouteTests.Json("""{"prompt":"p","max_tokens":5000,"stream":true}"""),
        };
        HttpResponseMessage response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Stream body = await response.Content.ReadAsStreamAsync();
        var first = new byte[64];
        Assert.True(await body.ReadAsync(first) > 0);
        response.Dispose(); // closes the connection mid-stream
        Task finished = await Task.WhenAny(engine.Cancelled.Task, Task.Delay(Wait));
        Assert.True(finished == engine.Cancelled.Task, "the engine did not see the cancellation");
        await WaitUntil(() => server.App.Queue.Running == 0 && server.App.Queue.Failed == 1, "the job is counted as cancelled");
    }

    [Fact]
    public async Task Stopping_the_server_ends_a_running_stream()
    {
        var engine = new FakeEngine(contextLength: 10_000) { PieceDelay = TimeSpan.FromMilliseconds(20) };
        TestServer server = await TestServer.StartAsync(engine);
        HttpResponseMessage response = await server.Client.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = RouteTests.Json("""{"prompt":"p","max_tokens":5000,"stream":true}""") },
            HttpCompletionOption.ResponseHeadersRead);
        Assert.True(await engine.Started.WaitAsync(Wait));
        Task<string> rest = response.Content.ReadAsStringAsync();
        Task stop = server.App.StopAsync();
        Assert.True(await Task.WhenAny(stop, Task.Delay(Wait)) == stop, "the server did not stop");
        Assert.True(engine.Cancelled.Task.IsCompleted);
        // The stream ends with an error event and [DONE] (or the connection is closed); either way the reader returns.
        Assert.True(await Task.WhenAny(rest, Task.Delay(Wait)) == rest);
        if (rest.IsCompletedSuccessfully) Assert.Contains("shutting down", await rest);
        response.Dispose();
        await server.DisposeAsync();
    }
}
