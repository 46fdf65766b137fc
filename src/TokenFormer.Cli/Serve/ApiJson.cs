using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TokenFormer.Cli.Serve;

/// <summary>The JSON bodies the server writes (OpenAI's shapes), written with <see cref="Utf8JsonWriter"/>.</summary>
public static class ApiJson
{
    /// <summary>Writer options: text other than the characters JSON must escape is written as is (quotes, non-ASCII).</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary><c>{"error":{"message","type","param","code"}}</c> with the error's status code.</summary>
    public static Task WriteError(HttpResponse response, ApiError error)
    {
        response.StatusCode = error.Status;
        return WriteJson(response, w => WriteErrorObject(w, error));
    }

    /// <summary>The error object alone (also sent as an SSE event when a stream fails).</summary>
    public static void WriteErrorObject(Utf8JsonWriter w, ApiError error)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", error.Message);
        w.WriteString("type", error.Type);
        if (error.Param is null) w.WriteNull("param"); else w.WriteString("param", error.Param);
        if (error.Code is null) w.WriteNull("code"); else w.WriteString("code", error.Code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>A whole text_completion: one choice per prompt, plus usage.</summary>
    public static void WriteCompletion(Utf8JsonWriter w, string id, long created, string model, IReadOnlyList<EngineCompletion> results)
    {
        w.WriteStartObject();
        WriteHeader(w, id, created, model);
        w.WriteStartArray("choices");
        for (int i = 0; i < results.Count; i++) WriteChoice(w, i, results[i].Text, results[i].FinishReason);
        w.WriteEndArray();
        int prompt = results.Sum(r => r.PromptTokens), completion = results.Sum(r => r.CompletionTokens);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>One streamed chunk: a single choice with a piece of text (finish_reason null until the last chunk).</summary>
    public static void WriteChunk(Utf8JsonWriter w, string id, long created, string model, int index, string text, string? finishReason)
    {
        w.WriteStartObject();
        WriteHeader(w, id, created, model);
        w.WriteStartArray("choices");
        WriteChoice(w, index, text, finishReason);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A whole chat.completion: one choice (message with role assistant) per result, plus usage.</summary>
    public static void WriteChatCompletion(Utf8JsonWriter w, string id, long created, string model, IReadOnlyList<EngineCompletion> results)
    {
        w.WriteStartObject();
        WriteHeader(w, id, "chat.completion", created, model);
        w.WriteStartArray("choices");
        for (int i = 0; i < results.Count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("index", i);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", results[i].Text);
            w.WriteNull("refusal");
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", results[i].FinishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteUsage(w, results);
        w.WriteEndObject();
    }

    /// <summary>One chat.completion.chunk with one choice: a delta with the role and/or a piece of content, or the finish reason.</summary>
    public static void WriteChatChunk(Utf8JsonWriter w, string id, long created, string model, int index, string? role, string? content, string? finishReason)
    {
        w.WriteStartObject();
        WriteHeader(w, id, "chat.completion.chunk", created, model);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        if (role is not null) w.WriteString("role", role);
        if (content is not null) w.WriteString("content", content);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        if (finishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The last chat chunk when the client asked for usage: no choices, the token counts.</summary>
    public static void WriteChatUsageChunk(Utf8JsonWriter w, string id, long created, string model, IReadOnlyList<EngineCompletion> results)
    {
        w.WriteStartObject();
        WriteHeader(w, id, "chat.completion.chunk", created, model);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        WriteUsage(w, results);
        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, IReadOnlyList<EngineCompletion> results)
    {
        int prompt = results.Sum(r => r.PromptTokens), completion = results.Sum(r => r.CompletionTokens);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
    }

    /// <summary>Writes <paramref name="body"/> as the application/json response.</summary>
    public static async Task WriteJson(HttpResponse response, Action<Utf8JsonWriter> body)
    {
        response.ContentType = "application/json; charset=utf-8";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions)) body(w);
        await response.Body.WriteAsync(buffer.WrittenMemory);
    }

    private static void WriteHeader(Utf8JsonWriter w, string id, long created, string model) =>
        WriteHeader(w, id, "text_completion", created, model);

    private static void WriteHeader(Utf8JsonWriter w, string id, string objectType, long created, string model)
    {
        w.WriteString("id", id);
        w.WriteString("object", objectType);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    private static void WriteChoice(Utf8JsonWriter w, int index, string text, string? finishReason)
    {
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteNumber("index", index);
        w.WriteNull("logprobs");
        if (finishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
    }
}
