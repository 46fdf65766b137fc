using System.Text;
using System.Text.Json;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// Parses and validates the JSON body of <c>POST /v1/chat/completions</c> (OpenAI's chat schema) into the one prompt
/// the <see cref="ChatTemplate"/> renders and the sampling settings. Every problem is an <see cref="ApiError"/> 400
/// naming the field (<c>messages[2].content</c> for one message).
/// </summary>
public static class ChatRequestParser
{
    private static readonly HashSet<string> Known =
    [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
        "seed", "stop", "stream", "stream_options", "n", "user", "presence_penalty", "frequency_penalty", "logit_bias",
        "logprobs", "top_logprobs", "tools", "tool_choice", "parallel_tool_calls", "response_format", "store", "metadata",
    ];

    /// <summary>
    /// Parses <paramref name="body"/> (UTF-8 JSON) and renders its messages with <paramref name="template"/>; the prompt
    /// is measured with <paramref name="countTokens"/> against <paramref name="contextLength"/>.
    /// </summary>
    public static CompletionRequest Parse(ReadOnlyMemory<byte> body, ChatTemplate template, Func<string, int> countTokens, int contextLength)
    {
        using (JsonDocument doc = CompletionRequestParser.ParseObject(body, Known))
        {
            JsonElement root = doc.RootElement;

            List<ChatMessage> messages = ReadMessages(root);
            // max_completion_tokens is the current name, max_tokens the deprecated one; both may not disagree.
            int? maxCompletion = CompletionRequestParser.Get(root, "max_completion_tokens").HasValue
                ? CompletionRequestParser.ReadInt(root, "max_completion_tokens", 16, min: 1) : null;
            int? maxTokensField = CompletionRequestParser.Get(root, "max_tokens").HasValue
                ? CompletionRequestParser.ReadInt(root, "max_tokens", 16, min: 1) : null;
            if (maxCompletion is int a && maxTokensField is int b && a != b)
                throw ApiError.Invalid($"'max_tokens' ({b}) and 'max_completion_tokens' ({a}) disagree; send one", "max_tokens");
            string maxName = maxCompletion is not null ? "max_completion_tokens" : "max_tokens";
            int maxTokens = maxCompletion ?? maxTokensField ?? 16;

            float temperature = CompletionRequestParser.ReadFloat(root, "temperature", 1f);
            if (temperature < 0) throw ApiError.Invalid($"'temperature' must be at least 0 (got {temperature})", "temperature");
            float topP = CompletionRequestParser.ReadFloat(root, "top_p", 1f);
            if (!(topP > 0 && topP <= 1)) throw ApiError.Invalid($"'top_p' must be in (0, 1] (got {topP})", "top_p");
            int topK = CompletionRequestParser.ReadInt(root, "top_k", 0, min: 0);
            float repetition = CompletionRequestParser.ReadFloat(root, "repetition_penalty", 1f);
            if (!(repetition > 0)) throw ApiError.Invalid($"'repetition_penalty' must be greater than 0 (got {repetition})", "repetition_penalty");
            int? seed = CompletionRequestParser.Get(root, "seed").HasValue ? CompletionRequestParser.ReadInt(root, "seed", 0, min: int.MinValue) : null;
            IReadOnlyList<string> stop = CompletionRequestParser.ReadStop(root);
            bool stream = CompletionRequestParser.ReadBool(root, "stream", false);
            if (CompletionRequestParser.Get(root, "stream_options") is { } so && so.ValueKind != JsonValueKind.Object)
                throw ApiError.Invalid($"'stream_options' must be an object (got {CompletionRequestParser.Describe(so)})", "stream_options");

            if (CompletionRequestParser.ReadInt(root, "n", 1, min: 1) != 1)
                throw ApiError.Invalid("'n' other than 1 is not supported (send the request several times instead)", "n");
            if (CompletionRequestParser.ReadBool(root, "logprobs", false)) throw ApiError.Invalid("'logprobs' is not supported", "logprobs");
            if (CompletionRequestParser.Get(root, "top_logprobs").HasValue) throw ApiError.Invalid("'top_logprobs' is not supported", "top_logprobs");
            if (CompletionRequestParser.Get(root, "tools") is { } tools && !(tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() == 0))
                throw ApiError.Invalid("'tools' is not supported (the model has no tool calling)", "tools");
            if (CompletionRequestParser.Get(root, "tool_choice") is { } tc && !(tc.ValueKind == JsonValueKind.String && tc.GetString() == "none"))
                throw ApiError.Invalid("'tool_choice' is not supported (only \"none\")", "tool_choice");
            if (CompletionRequestParser.Get(root, "response_format") is { } rf
                && !(rf.ValueKind == JsonValueKind.Object && rf.TryGetProperty("type", out JsonElement rt) && rt.ValueKind == JsonValueKind.String && rt.GetString() == "text"))
                throw ApiError.Invalid("'response_format' other than {\"type\":\"text\"} is not supported", "response_format");

            string prompt = template.Render(messages);
            int n = countTokens(prompt);
            if (n >= contextLength)
                throw ApiError.Invalid(
                    $"the messages are {n} tokens in the chat format, which leaves no room in the model's context length of {contextLength} tokens", "messages");
            if (n + maxTokens > contextLength)
                throw ApiError.Invalid(
                    $"the messages ({n} tokens in the chat format) plus {maxName} ({maxTokens}) is {n + maxTokens} tokens, more than the model's " +
                    $"context length of {contextLength} tokens; send shorter messages or at most {contextLength - n} {maxName}", maxName);

            var settings = new CompletionSettings
            {
                MaxTokens = maxTokens, Temperature = temperature, TopP = topP, TopK = topK,
                RepetitionPenalty = repetition, Seed = seed, Stop = [.. stop, .. template.Stop.Where(s => !stop.Contains(s))],
            };
            return new CompletionRequest([prompt], [n], settings, stream) { Model = CompletionRequestParser.ModelOf(root) };
        }
    }

    private static List<ChatMessage> ReadMessages(JsonElement root)
    {
        if (CompletionRequestParser.Get(root, "messages") is not { } m) throw ApiError.Invalid("'messages' is required", "messages");
        if (m.ValueKind != JsonValueKind.Array)
            throw ApiError.Invalid($"'messages' must be an array of {{\"role\", \"content\"}} objects (got {CompletionRequestParser.Describe(m)})", "messages");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (JsonElement e in m.EnumerateArray())
        {
            string at = $"messages[{i}]";
            if (e.ValueKind != JsonValueKind.Object)
                throw ApiError.Invalid($"'{at}' must be an object with 'role' and 'content' (got {CompletionRequestParser.Describe(e)})", at);
            if (!e.TryGetProperty("role", out JsonElement role) || role.ValueKind != JsonValueKind.String)
                throw ApiError.Invalid($"'{at}.role' is required and must be a string (system, developer, user or assistant)", $"{at}.role");
            string r = role.GetString()!;
            string normal = r switch
            {
                "system" or "developer" => "system",
                "user" => "user",
                "assistant" => "assistant",
                "tool" or "function" => throw ApiError.Invalid($"'{at}.role' '{r}' is not supported (the model has no tool calling)", $"{at}.role"),
                _ => throw ApiError.Invalid($"'{at}.role' must be system, developer, user or assistant (got '{r}')", $"{at}.role"),
            };
            messages.Add(new ChatMessage(normal, ReadContent(e, at)));
            i++;
        }
        if (messages.Count == 0) throw ApiError.Invalid("'messages' is an empty array", "messages");
        return messages;
    }

    /// <summary>A string, or an array of text parts ({"type":"text","text":…}) joined with newlines.</summary>
    private static string ReadContent(JsonElement message, string at)
    {
        string field = $"{at}.content";
        if (!message.TryGetProperty("content", out JsonElement c) || c.ValueKind == JsonValueKind.Null)
            throw ApiError.Invalid($"'{field}' is required", field);
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array)
            throw ApiError.Invalid($"'{field}' must be a string or an array of text parts (got {CompletionRequestParser.Describe(c)})", field);
        var sb = new StringBuilder();
        int k = 0;
        foreach (JsonElement part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String)
                throw ApiError.Invalid($"'{field}[{k}]' must be an object with a 'type'", $"{field}[{k}]");
            if (type.GetString() != "text")
                throw ApiError.Invalid($"'{field}[{k}].type' '{type.GetString()}' is not supported (only text)", $"{field}[{k}].type");
            if (!part.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
                throw ApiError.Invalid($"'{field}[{k}].text' must be a string", $"{field}[{k}].text");
            if (k > 0) sb.Append('\n');
            sb.Append(text.GetString());
            k++;
        }
        return sb.ToString();
    }
}
