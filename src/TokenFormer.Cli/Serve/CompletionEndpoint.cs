using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// <c>POST /v1/completions</c>: validates the body, queues a <see cref="CompletionJob"/> (503 when the queue is full)
/// and answers with one JSON object, or with server-sent events (<c>data: {chunk}</c> per piece of text, then
/// <c>data: [DONE]</c>) when <c>stream</c> is true. A client that disconnects cancels its job. <c>POST /v1/chat/completions</c>
/// (<see cref="HandleChat"/>) runs the same way with the chat shapes (<see cref="ResponseFormat"/>).
/// </summary>
public sealed class CompletionEndpoint(ICompletionEngine engine, CompletionQueue queue, ServeOptions options)
{
    /// <summary>Largest request body accepted (bytes).</summary>
    public const int MaxBodyBytes = 1 << 20;

    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] DoneEvent = "data: [DONE]\n\n"u8.ToArray();

    private long _stalledStreams;

    /// <summary>Streams closed because their client stopped reading (<see cref="ServeOptions.StreamWriteTimeout"/>).</summary>
    public long StalledStreams => Interlocked.Read(ref _stalledStreams);

    /// <summary>Handles <c>POST /v1/completions</c>.</summary>
    public Task Handle(HttpContext context) => Handle(context, body =>
        (CompletionRequestParser.Parse(body, CountTokens, engine.ContextLength, options.MaxPromptsPerRequest), ResponseFormat.Text));

    /// <summary>Handles <c>POST /v1/chat/completions</c>: the messages rendered by <see cref="ServeOptions.Chat"/> as one prompt.</summary>
    public Task HandleChat(HttpContext context) => Handle(context, body =>
        (ChatRequestParser.Parse(body, options.Chat, CountTokens, engine.ContextLength), ResponseFormat.ForChat(body)));

    /// <summary>
    /// The engine's token count, after refusing (400) a prompt too long to fit the context whatever it encodes to
    /// (<see cref="ICompletionEngine.MaxPromptChars"/>), so that such a prompt costs no tokenization.
    /// </summary>
    private int CountTokens(string prompt)
    {
        int limit = engine.MaxPromptChars;
        if (prompt.Length > limit)
            throw new ApiError(400, $"the prompt is {prompt.Length} characters; no prompt of more than {limit} characters fits the model's " +
                $"context length of {engine.ContextLength} tokens", "invalid_request_error", "prompt", "context_length_exceeded");
        return engine.CountTokens(prompt);
    }

    private async Task Handle(HttpContext context, Func<byte[], (CompletionRequest, ResponseFormat)> parse)
    {
        long started = Stopwatch.GetTimestamp();
        HttpResponse response = context.Response;
        CancellationToken aborted = context.RequestAborted;
        CompletionRequest request;
        ResponseFormat format;
        try
        {
            byte[] body = await ReadBody(context.Request, aborted);
            (request, format) = parse(body);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Log(context, 499, started, "client went away while sending the body");
            return;
        }
        catch (ApiError e)
        {
            Log(context, e.Status, started, e.Message);
            await ApiJson.WriteError(response, e);
            return;
        }

        // with adapters served, 'model' picks one by name (absent: the base); a single-model server ignores it as before
        int modelIndex = 0;
        IReadOnlyList<string> models = engine.ModelIds;
        if (models.Count > 1 && request.Model is { Length: > 0 } name)
        {
            modelIndex = -1;
            for (int i = 0; i < models.Count; i++) if (models[i] == name) { modelIndex = i; break; }
            if (modelIndex < 0)
            {
                var unknown = new ApiError(404, $"model '{name}' not found (this server has {string.Join(", ", models.Select(m => $"'{m}'"))})",
                    "invalid_request_error", "model", "model_not_found");
                Log(context, 404, started, unknown.Message);
                await ApiJson.WriteError(response, unknown);
                return;
            }
        }
        var job = new CompletionJob(request.Prompts, request.Settings, request.Stream, aborted) { ModelIndex = modelIndex };
        if (!queue.TryEnqueue(job))
        {
            var busy = new ApiError(503, $"the server is busy: {queue.MaxQueue} requests are already waiting (--max-queue {queue.MaxQueue}); retry later",
                "server_error", code: "queue_full");
            response.Headers.RetryAfter = "1";
            Log(context, 503, started, "queue full");
            await ApiJson.WriteError(response, busy);
            return;
        }

        string id = format.IdPrefix + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (request.Stream) await Stream(context, job, format, id, created, started);
        else await Whole(context, job, format, id, created, started);
    }

    private async Task Whole(HttpContext context, CompletionJob job, ResponseFormat format, string id, long created, long started)
    {
        EngineCompletion[] results;
        try
        {
            results = await job.Result;
        }
        catch (Exception e)
        {
            if (context.RequestAborted.IsCancellationRequested) { Log(context, 499, started, "client went away"); return; }
            ApiError error = AsServerError(e);
            Log(context, error.Status, started, error.Message);
            await ApiJson.WriteError(context.Response, error);
            return;
        }
        Log(context, 200, started, $"{results.Sum(r => r.CompletionTokens)} tokens");
        await ApiJson.WriteJson(context.Response, w => format.WriteWhole(w, id, created, engine.ModelIds[job.ModelIndex], results));
    }

    private async Task Stream(HttpContext context, CompletionJob job, ResponseFormat format, string id, long created, long started)
    {
        HttpResponse response = context.Response;
        CancellationToken aborted = context.RequestAborted;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var buffer = new ArrayBufferWriter<byte>(1024);
        using var json = new Utf8JsonWriter(buffer, ApiJson.WriterOptions);
        // A client that stops reading blocks only its own writes (the worker hands pieces over without waiting); a
        // write that has not gone through after StreamWriteTimeout closes the connection, which cancels the job.
        using var stalled = new CancellationTokenSource();
        using var write = CancellationTokenSource.CreateLinkedTokenSource(aborted, stalled.Token);
        async Task Send()
        {
            stalled.CancelAfter(options.StreamWriteTimeout);
            await response.Body.WriteAsync(buffer.WrittenMemory, write.Token);
            await response.Body.FlushAsync(write.Token);
            stalled.CancelAfter(Timeout.Infinite);
            buffer.ResetWrittenCount();
        }
        try
        {
            await response.StartAsync(aborted);
            foreach (Action<Utf8JsonWriter> e in format.StartEvents(id, created, engine.ModelIds[job.ModelIndex], job.Prompts.Count))
                AppendEvent(buffer, json, e);
            while (await job.Pieces!.WaitToReadAsync(aborted))
            {
                // Everything produced since the last flush goes out together: one event per piece.
                while (job.Pieces.TryRead(out TextPiece piece))
                    AppendEvent(buffer, json, format.Piece(id, created, engine.ModelIds[job.ModelIndex], piece.PromptIndex, piece.Text));
                await Send();
            }
            EngineCompletion[] results = await job.Result;
            foreach (Action<Utf8JsonWriter> e in format.EndEvents(id, created, engine.ModelIds[job.ModelIndex], results))
                AppendEvent(buffer, json, e);
            buffer.Write(DoneEvent);
            await Send();
            Log(context, 200, started, $"{results.Sum(r => r.CompletionTokens)} tokens streamed");
        }
        catch (Exception) when (stalled.IsCancellationRequested)
        {
            // (whatever the cancelled write threw; Kestrel may also have aborted the connection by now)
            Interlocked.Increment(ref _stalledStreams);
            Log(context, 499, started, $"client stopped reading (no write went through in {options.StreamWriteTimeout.TotalSeconds:F0} s); connection closed");
            context.Abort();
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
            Log(context, 499, started, "client went away");
        }
        catch (Exception e)
        {
            ApiError error = AsServerError(e);
            Log(context, 200, started, "stream ended with an error event: " + error.Message);
            buffer.ResetWrittenCount();
            AppendEvent(buffer, json, w => ApiJson.WriteErrorObject(w, error));
            buffer.Write(DoneEvent);
            try
            {
                await response.Body.WriteAsync(buffer.WrittenMemory, aborted);
                await response.Body.FlushAsync(aborted);
            }
            catch (Exception) when (aborted.IsCancellationRequested) { }
        }
    }

    private static void AppendEvent(ArrayBufferWriter<byte> buffer, Utf8JsonWriter json, Action<Utf8JsonWriter> write)
    {
        buffer.Write(DataPrefix);
        json.Reset(buffer);
        write(json);
        json.Flush();
        buffer.Write(EventEnd);
    }

    private static ApiError AsServerError(Exception e) => e switch
    {
        OperationCanceledException => new ApiError(503, "the server is shutting down", "server_error", code: "shutting_down"),
        ApiError api => api,
        _ => new ApiError(500, $"generation failed: {e.Message}", "server_error"),
    };

    private static async Task<byte[]> ReadBody(HttpRequest request, CancellationToken cancel)
    {
        if (request.ContentLength > MaxBodyBytes)
            throw new ApiError(413, $"the request body is {request.ContentLength} bytes; at most {MaxBodyBytes}", "invalid_request_error");
        using var memory = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            int n;
            while ((n = await request.Body.ReadAsync(chunk, cancel)) > 0)
            {
                if (memory.Length + n > MaxBodyBytes)
                    throw new ApiError(413, $"the request body is more than {MaxBodyBytes} bytes", "invalid_request_error");
                memory.Write(chunk, 0, n);
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's limits (ServeApp): a body slower than the minimum rate (408), or a chunked body past the size cap (413)
            throw new ApiError(e.StatusCode, e.StatusCode == 408
                ? "the request body arrived too slowly (below the server's minimum rate); send the whole body at once"
                : $"the request body was refused: {e.Message}", "invalid_request_error");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        if (memory.Length == 0) throw ApiError.Invalid("the request body is empty (expected a JSON object)");
        return memory.ToArray();
    }

    private void Log(HttpContext context, int status, long started, string what)
    {
        if (!options.LogToConsole) return;
        double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        Console.WriteLine(new StringBuilder().Append(DateTime.UtcNow.ToString("HH:mm:ss")).Append(' ')
            .Append(context.Connection.RemoteIpAddress).Append(' ').Append(context.Request.Method).Append(' ').Append(context.Request.Path.Value).Append(' ').Append(status)
            .Append(' ').Append(ms.ToString("F0")).Append(" ms ").Append(what).ToString());
    }
}
