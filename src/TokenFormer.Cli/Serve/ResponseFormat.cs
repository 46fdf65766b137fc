using System.Text.Json;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// The response shapes of one route: <see cref="Text"/> for <c>/v1/completions</c> (<c>text_completion</c>) and
/// <see cref="ForChat"/> for <c>/v1/chat/completions</c> (<c>chat.completion</c> / <c>chat.completion.chunk</c>).
/// <see cref="CompletionEndpoint"/> runs both the same way and asks this for the JSON it writes.
/// </summary>
public abstract class ResponseFormat
{
    /// <summary>The text completion shapes.</summary>
    public static readonly ResponseFormat Text = new TextFormat();

    /// <summary>The chat shapes; a usage chunk ends the stream when the body asks for it (<c>stream_options.include_usage</c>).</summary>
    public static ResponseFormat ForChat(ReadOnlyMemory<byte> validatedBody)
    {
        // The body has passed ChatRequestParser, so it is a JSON object and stream_options, when present, an object.
        using JsonDocument doc = JsonDocument.Parse(validatedBody);
        bool usage = doc.RootElement.TryGetProperty("stream_options", out JsonElement so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out JsonElement iu) && iu.ValueKind == JsonValueKind.True;
        return new ChatFormat(usage);
    }

    /// <summary>Start of the response id ("cmpl-", "chatcmpl-").</summary>
    public abstract string IdPrefix { get; }

    /// <summary>The whole (non-streamed) answer.</summary>
    public abstract void WriteWhole(Utf8JsonWriter w, string id, long created, string model, IReadOnlyList<EngineCompletion> results);

    /// <summary>Events sent before any text (the chat's role chunk).</summary>
    public virtual IEnumerable<Action<Utf8JsonWriter>> StartEvents(string id, long created, string model, int choices) => [];

    /// <summary>The event for a piece of text of choice <paramref name="index"/>.</summary>
    public abstract Action<Utf8JsonWriter> Piece(string id, long created, string model, int index, string text);

    /// <summary>The events after the last piece (finish reasons, usage); <c>data: [DONE]</c> follows them.</summary>
    public abstract IEnumerable<Action<Utf8JsonWriter>> EndEvents(string id, long created, string model, IReadOnlyList<EngineCompletion> results);

    private sealed class TextFormat : ResponseFormat
    {
        public override string IdPrefix => "cmpl-";

        public override void WriteWhole(Utf8JsonWriter w, string id, long created, string model, IReadOnlyList<EngineCompletion> results) =>
            ApiJson.WriteCompletion(w, id, created, model, results);

        public override Action<Utf8JsonWriter> Piece(string id, long created, string model, int index, string text) =>
            w => ApiJson.WriteChunk(w, id, created, model, index, text, null);

        public override IEnumerable<Action<Utf8JsonWriter>> EndEvents(string id, long created, string model, IReadOnlyList<EngineCompletion> results)
        {
            for (int i = 0; i < results.Count; i++)
            {
                int k = i;
                yield return w => ApiJson.WriteChunk(w, id, created, model, k, "", results[k].FinishReason);
            }
        }
    }

    private sealed class ChatFormat(bool includeUsage) : ResponseFormat
    {
        public override string IdPrefix => "chatcmpl-";

        public override void WriteWhole(Utf8JsonWriter w, string id, long created, string model, IReadOnlyList<EngineCompletion> results) =>
            ApiJson.WriteChatCompletion(w, id, created, model, results);

        public override IEnumerable<Action<Utf8JsonWriter>> StartEvents(string id, long created, string model, int choices)
        {
            for (int i = 0; i < choices; i++)
            {
                int k = i;
                yield return w => ApiJson.WriteChatChunk(w, id, created, model, k, role: "assistant", content: "", finishReason: null);
            }
        }

        public override Action<Utf8JsonWriter> Piece(string id, long created, string model, int index, string text) =>
            w => ApiJson.WriteChatChunk(w, id, created, model, index, role: null, content: text, finishReason: null);

        public override IEnumerable<Action<Utf8JsonWriter>> EndEvents(string id, long created, string model, IReadOnlyList<EngineCompletion> results)
        {
            for (int i = 0; i < results.Count; i++)
            {
                int k = i;
                yield return w => ApiJson.WriteChatChunk(w, id, created, model, k, role: null, content: null, finishReason: results[k].FinishReason);
            }
            if (includeUsage) yield return w => ApiJson.WriteChatUsageChunk(w, id, created, model, results);
        }
    }
}
