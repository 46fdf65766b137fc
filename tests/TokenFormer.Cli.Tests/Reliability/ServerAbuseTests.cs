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
/// The server against clients that misbehave, on loopback (docs/reliability.md, "The server under abuse"): bodies sent
/// a byte a second, slow headers, too many connections, oversized bodies and prompts, clients that disconnect
/// mid-stream (their generation stops within one decode step) and clients that stop reading a stream (they block
/// nobody and are dropped after the write timeout). Each test is bounded to well under 30 s.
/// </summary>
public sealed class ServerAbuseTests(ITestOutputHelper output)
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

    private static async Task AssertHealthy(HttpClient http, string prompt = "healthy")
    {
        using HttpResponseMessage r = await http.PostAsync("v1/completions", RouteTests.Json($$"""{"prompt":"{{prompt}}","max_tokens":2}"""));
        string text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        using JsonDocument doc = JsonDocument.Parse(text);
        Assert.Equal(FakeEngine.Expected(prompt, 2), doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_body_sent_a_byte_a_second_is_answered_408_and_dropped_while_others_are_served()
    {
        var engine = new FakeEngine();
        await using TestServer server = await TestServer.StartAsync(engine, new ServeOptions { MinBodyRateGrace = TimeSpan.FromSeconds(2) });
        byte[] body = Encoding.UTF8.GetBytes("""{"prompt":"slow client","max_tokens":2}""");
        using Socket slow = await RawHttp.Connect(server.BaseAddress);
        await slow.SendAsync(RawHttp.PostHead("/v1/completions", body.Length));
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        Task trickle = Task.Run(async () =>
        {
            try
            {
                foreach (byte b in body)
                {
                    await slow.SendAsync(new[] { b }, SocketFlags.None, stop.Token);
                    await Task.Delay(1000, stop.Token);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        });
        await AssertHealthy(server.Client);

        (string answer, bool closed) = await RawHttp.ReadUntilClosed(slow, Wait);
        double seconds = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        await trickle;
        Assert.True(closed, "the slow client's connection was not closed");
        Assert.StartsWith("HTTP/1.1 408", answer);
        Assert.Contains("too slowly", answer);
        Assert.True(seconds < body.Length - 10, $"dropped after {seconds:F1} s; the body would have taken {body.Length} s");
        Assert.Single(engine.BatchSizes);   // only the healthy request reached the engine
        await AssertHealthy(server.Client, "after");
    }

    [Fact]
    public async Task Headers_sent_a_byte_a_second_are_dropped_after_the_headers_timeout()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine(), new ServeOptions { RequestHeadersTimeout = TimeSpan.FromSeconds(2) });
        using Socket slow = await RawHttp.Connect(server.BaseAddress);
        byte[] head = RawHttp.PostHead("/v1/completions", 10);
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        Task trickle = Task.Run(async () =>
        {
            try
            {
                foreach (byte b in head)
                {
                    await slow.SendAsync(new[] { b }, SocketFlags.None, stop.Token);
                    await Task.Delay(1000, stop.Token);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        });
        await AssertHealthy(server.Client);
        (_, bool closed) = await RawHttp.ReadUntilClosed(slow, Wait);
        double seconds = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        await trickle;
        Assert.True(closed, "the slow-headers connection was not closed");
        Assert.True(seconds < 15, $"closed after {seconds:F1} s (headers timeout 2 s; the headers would have taken {head.Length} s)");
    }

    [Fact]
    public async Task Connections_beyond_the_limit_are_closed_and_served_again_once_others_go()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine(), new ServeOptions { MaxConnections = 8 });
        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < 8; i++) held.Add(await RawHttp.Connect(server.BaseAddress));
            await Task.Delay(200);   // let the server accept them
            using Socket extra = await RawHttp.Connect(server.BaseAddress);
            await extra.SendAsync(RawHttp.Post("/v1/completions", """{"prompt":"x","max_tokens":1}"""));
            (string answer, bool closed) = await RawHttp.ReadUntilClosed(extra, Wait);
            Assert.True(closed, "the connection beyond the limit was not closed");
            Assert.DoesNotContain("200 OK", answer);
            Assert.All(held, s => Assert.False(RawHttp.ClosedByPeer(s), "a connection within the limit was closed"));
        }
        finally
        {
            foreach (Socket s in held) s.Dispose();
        }
        // the limit counts open connections: once the held ones are gone, requests are served again
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                await AssertHealthy(server.Client);
                break;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task Oversized_bodies_get_413_before_they_are_read_and_overlong_prompts_400_before_they_are_tokenized()
    {
        var engine = new WatchedEngine(TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 1));
        await using TestServer server = await TestServer.StartAsync(engine, new ServeOptions { MaxBatch = 1 });

        // a declared length over the cap: answered at once, without sending the body
        using (Socket big = await RawHttp.Connect(server.BaseAddress))
        {
            await big.SendAsync(RawHttp.PostHead("/v1/completions", 64L << 20));
            (string answer, _) = await RawHttp.ReadUntilClosed(big, TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 413", answer);
        }

        // a chunked body (no declared length) that runs past the cap: 413 once the cap is passed, and the connection closed
        using (Socket chunked = await RawHttp.Connect(server.BaseAddress))
        {
            await chunked.SendAsync(Encoding.ASCII.GetBytes(
                "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
            byte[] chunk = [.. Encoding.ASCII.GetBytes("10000\r\n"), .. Enumerable.Repeat((byte)'a', 0x10000), .. "\r\n"u8.ToArray()];
            long sent = 0;
            try
            {
                for (int i = 0; i < 64; i++)   // 4 MiB, unless the server stops us sooner
                {
                    await chunked.SendAsync(chunk);
                    sent += 0x10000;
                }
            }
            catch (SocketException)
            {
            }
            (string answer, bool closed) = await RawHttp.ReadUntilClosed(chunked, TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 413", answer);
            Assert.True(closed);
            Assert.True(sent >= CompletionEndpoint.MaxBodyBytes, $"refused after {sent} bytes, before the cap");
        }

        // a prompt longer than any prompt that can fit the context: 400 without tokenizing it
        int limit = engine.MaxPromptChars;
        Assert.InRange(limit, TestModel.ContextLength, CompletionEndpoint.MaxBodyBytes / 2);
        int counted = engine.Counted;
        using (HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            RouteTests.Json(JsonSerializer.Serialize(new { prompt = new string('a', limit + 1), max_tokens = 1 }))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal("context_length_exceeded", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains($"no prompt of more than {limit} characters fits", doc.RootElement.GetProperty("error").GetProperty("message").GetString());
        }
        Assert.Equal(counted, engine.Counted);
        // the same for chat messages
        using (HttpResponseMessage r = await server.Client.PostAsync("v1/chat/completions",
            RouteTests.Json(JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = new string('a', limit + 1) } } }))))
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(counted, engine.Counted);
        // a prompt under the bound is tokenized and measured as before (and refused here: it is more than the context)
        using (HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            RouteTests.Json(JsonSerializer.Serialize(new { prompt = string.Join(' ', Enumerable.Repeat("word", 200)), max_tokens = 1 }))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("tokens, which leaves no room", await r.Content.ReadAsStringAsync());
        }
        Assert.True(engine.Counted > counted);
        Assert.Empty(engine.Records);   // nothing reached the generator
    }

    [Fact]
    public async Task Disconnected_streams_stop_generating_within_one_decode_step_while_the_rest_of_their_batch_goes_on()
    {
        const int MaxTokens = 100;
        var engine = new WatchedEngine(TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 4))
        {
            Gate = new SemaphoreSlim(0),
            HoldAt = { ["Once upon a time"] = 2, ["Hello, world"] = 6, ["Alone"] = 1 },
        };
        await using TestServer server = await TestServer.StartAsync(engine, new ServeOptions { MaxBatch = 4 });
        HttpClient http = server.Client;
        Task<HttpResponseMessage> blocker = http.PostAsync("v1/completions", RouteTests.Json("""{"prompt":"blocker","max_tokens":1}"""));
        await WaitUntil(() => server.App.Queue.Running == 1, "the blocker runs");

        // four streams queue behind it and are generated as one batch; two of them disconnect mid-stream (a queued stream
        // gets its headers with its first piece, so the responses are awaited once the batch runs)
        string[] prompts = ["The quick brown fox", "Once upon a time", "In the beginning", "Hello, world"];
        var sending = new List<Task<HttpResponseMessage>>();
        foreach (string p in prompts)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = RouteTests.Json(JsonSerializer.Serialize(new { prompt = p, max_tokens = MaxTokens, temperature = 0, stream = true })),
            };
            sending.Add(http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead));
            await WaitUntil(() => server.App.Queue.Queued == sending.Count, $"{sending.Count} streams wait");
        }
        engine.Gate.Release();
        (await blocker).Dispose();
        List<HttpResponseMessage> streams = [.. await Task.WhenAll(sending)];
        Assert.All(streams, s => Assert.Equal(HttpStatusCode.OK, s.StatusCode));

        var readers = new Task<string>[prompts.Length];
        for (int i = 0; i < prompts.Length; i += 2) readers[i] = streams[i].Content.ReadAsStringAsync();
        foreach (int i in new[] { 1, 3 })
        {
            Stream body = await streams[i].Content.ReadAsStreamAsync();
            var some = new byte[64];
            Assert.True(await body.ReadAsync(some) > 0);
            streams[i].Dispose();        // closes the connection mid-stream
        }

        foreach (int i in new[] { 0, 2 })
        {
            (Dictionary<int, string> text, Dictionary<int, string> finish) = Sse.Collect(await readers[i], engine.ModelId);
            Assert.Equal("length", finish[0]);
            Assert.Equal(RealModelTests.Direct(prompts[i], MaxTokens).Text, text[0]);
        }
        await WaitUntil(() => engine.Records.Count == 1 + prompts.Length, "the batch ends");
        WatchedEngine.Record[] batch = engine.Records.Skip(1).ToArray();
        Assert.Equal(prompts, batch.Select(r => r.Prompt));
        foreach (WatchedEngine.Record r in batch) output.WriteLine(r.ToString());
        foreach (int i in new[] { 1, 3 })
        {
            WatchedEngine.Record r = batch[i];
            Assert.True(r.StepsAtDisconnect.HasValue, $"prompt {i}: the server did not see the disconnect; {string.Join("; ", batch.Select(x => x.ToString()))}");
            Assert.Equal("cancelled", r.Finish);
            // the prefill gives the first token and each decode step one more: tokens beyond 1 + the steps run when the
            // client left were generated for nobody
            long after = r.Tokens!.Value - 1 - r.StepsAtDisconnect!.Value;
            Assert.True(after <= 1, $"prompt {i}: {after} decode steps after its client left (left at step {r.StepsAtDisconnect}, {r.Tokens} tokens)");
            Assert.True(r.Tokens < MaxTokens, $"prompt {i}: generated all {r.Tokens} tokens");
        }
        Assert.All(new[] { batch[0], batch[2] }, r => Assert.Equal(MaxTokens, r.Tokens));

        // a lone stream that disconnects: its whole batch is cancelled, also within one step
        var lone = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = RouteTests.Json(JsonSerializer.Serialize(new { prompt = "Alone", max_tokens = MaxTokens, temperature = 0, stream = true })),
        };
        HttpResponseMessage loneResponse = await http.SendAsync(lone, HttpCompletionOption.ResponseHeadersRead);
        Stream loneBody = await loneResponse.Content.ReadAsStreamAsync();
        Assert.True(await loneBody.ReadAsync(new byte[64]) > 0);
        loneResponse.Dispose();
        await WaitUntil(() => engine.Records.Count == 2 + prompts.Length, "the lone stream's call ends");
        WatchedEngine.Record alone = engine.Records.Last();
        output.WriteLine("lone stream: " + alone);
        Assert.True(alone.StepsAtDisconnect.HasValue, "the server did not see the lone stream's disconnect");
        // its own token ends the sequence (finish "cancelled") or the batch's token cancels the call; either way no
        // more than the step in progress runs
        long loneAfter = alone.Tokens is int t ? t - 1 - alone.StepsAtDisconnect!.Value : alone.StepsInCall - alone.StepsAtDisconnect!.Value;
        Assert.True(loneAfter <= 1, $"the lone stream ran {loneAfter} decode steps after its client left");
        Assert.True(alone.StepsInCall < MaxTokens - 1);
    }

    [Fact]
    public async Task A_client_that_stops_reading_a_stream_blocks_nobody_and_is_dropped_after_the_write_timeout()
    {
        var engine = new FloodEngine();
        await using TestServer server = await TestServer.StartAsync(engine, new ServeOptions { MaxBatch = 1, StreamWriteTimeout = TimeSpan.FromSeconds(2) });
        // (2 s: under Kestrel's own minimum response rate grace of 5 s, which would otherwise close the connection first)
        const int Pieces = 200;   // 12.5 MiB of events: far more than the socket buffers hold
        using Socket stalled = await RawHttp.Connect(server.BaseAddress, receiveBuffer: 4096);
        await stalled.SendAsync(RawHttp.Post("/v1/completions", $$"""{"prompt":"flood","max_tokens":{{Pieces}},"stream":true}"""));

        // the worker hands the pieces over without waiting for the client: the job finishes, and others are served
        await WaitUntil(() => engine.Finished == 1, "the stalled client's generation finished");
        Assert.Equal(0, server.App.Completions.StalledStreams);   // finished while the stream was still stalled, not once it was dropped
        await AssertHealthy(server.Client);
        await AssertHealthy(server.Client, "again");

        // the stalled stream's writes time out: the server closes its connection, having sent only part of it
        await WaitUntil(() => server.App.Completions.StalledStreams == 1, "the stalled stream is dropped");
        (string received, bool closed) = await RawHttp.ReadUntilClosed(stalled, Wait);
        Assert.True(closed, "the stalled connection was not closed");
        Assert.DoesNotContain("[DONE]", received);
        Assert.True(received.Length < Pieces * FloodEngine.PieceBytes / 2, $"{received.Length} bytes arrived");
        await AssertHealthy(server.Client, "later");
    }
}
