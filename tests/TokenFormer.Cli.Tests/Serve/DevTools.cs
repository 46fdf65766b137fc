using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// A minimal Chrome DevTools Protocol client over one WebSocket: <see cref="Send"/> a command (optionally to an
/// attached target's session, "flatten" mode) and await its result; events are ignored.
/// </summary>
internal sealed class DevTools : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _receiver;
    private int _nextId;

    private DevTools(ClientWebSocket socket)
    {
        _socket = socket;
        _receiver = Task.Run(Receive);
    }

    public static async Task<DevTools> ConnectAsync(Uri url, CancellationToken cancel)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(url, cancel);
        return new DevTools(socket);
    }

    /// <summary>Sends <paramref name="method"/> and returns its "result" object; a protocol error throws.</summary>
    public async Task<JsonElement> Send(string method, object? parameters = null, string? sessionId = null, TimeSpan? timeout = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var message = new Dictionary<string, object?> { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new { } };
        if (sessionId is not null) message["sessionId"] = sessionId;
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(message);
        await _sendLock.WaitAsync();
        try { await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, _closing.Token); }
        finally { _sendLock.Release(); }
        Task done = await Task.WhenAny(reply.Task, Task.Delay(timeout ?? TimeSpan.FromSeconds(30)));
        if (done != reply.Task)
        {
            _pending.TryRemove(id, out _);
            throw new TimeoutException($"DevTools command {method} got no reply");
        }
        return await reply.Task;
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page (awaiting a promise) and returns its JSON value.</summary>
    public async Task<JsonElement> Evaluate(string sessionId, string expression)
    {
        JsonElement result = await Send("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true }, sessionId);
        if (result.TryGetProperty("exceptionDetails", out JsonElement ex))
            throw new InvalidOperationException($"page script failed: {ex.GetRawText()}");
        JsonElement value = result.GetProperty("result");
        return value.TryGetProperty("value", out JsonElement v) ? v : default;
    }

    private async Task Receive()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                message.SetLength(0);
                WebSocketReceiveResult r;
                do
                {
                    r = await _socket.ReceiveAsync(buffer, _closing.Token);
                    if (r.MessageType == WebSocketMessageType.Close) return;
                    message.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                using JsonDocument doc = JsonDocument.Parse(message.ToArray());
                JsonElement root = doc.RootElement;
                if (!root.TryGetProperty("id", out JsonElement idElement) || !_pending.TryRemove(idElement.GetInt32(), out var reply)) continue;
                if (root.TryGetProperty("error", out JsonElement error))
                    reply.TrySetException(new InvalidOperationException("DevTools error: " + error.GetRawText()));
                else
                    reply.TrySetResult(root.GetProperty("result").Clone());
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            foreach (var pending in _pending.Values) pending.TrySetException(new InvalidOperationException("the DevTools connection closed"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        try { await _receiver; } catch (Exception) { }
        _socket.Dispose();
        _closing.Dispose();
        _sendLock.Dispose();
    }
}
