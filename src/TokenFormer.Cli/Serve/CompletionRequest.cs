using System.Buffers;
using System.Text;
using System.Text.Json;
using TokenFormer.Core.IO;

namespace TokenFormer.Cli.Serve;

/// <summary>A validated <c>POST /v1/completions</c> request.</summary>
public sealed record CompletionRequest(IReadOnlyList<string> Prompts, int[] PromptTokens, CompletionSettings Settings, bool Stream)
{
    /// <summary>The request's 'model' field (null when absent): with adapters served, it picks the model (docs/adapters.md).</summary>
    public string? Model { get; init; }
}

/// <summary>
/// Parses and validates the JSON body of <c>POST /v1/completions</c> (OpenAI's fields plus the top_k and
/// repetition_penalty extensions). Every problem is an <see cref="ApiError"/> 400 naming the field.
/// </summary>
public static class CompletionRequestParser
{
    private static readonly HashSet<string> Known =
    [
        "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "repetition_penalty", "seed", "stop", "stream",
        "n", "best_of", "echo", "logprobs", "user", "suffix", "presence_penalty", "frequency_penalty", "stream_options",
        "logit_bias",
    ];

    /// <summary>Most stop strings per request (OpenAI's limit).</summary>
    public const int MaxStopStrings = 4;

    /// <summary>
    /// The shared first checks of a request body (completions and chat): valid JSON, an object, only
    /// <paramref name="known"/> fields, and 'model' a string when given. The caller disposes the document.
    /// </summary>
    internal static JsonDocument ParseObject(ReadOnlyMemory<byte> body, IReadOnlySet<string> known)
    {
        // The JSON parser accepts invalid UTF-8 inside strings and only fails when a string is read, with an
        // InvalidOperationException (a 500); found by fuzzing (docs/reliability.md, Fuzzing).
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
            throw ApiError.Invalid($"the request body is not valid UTF-8 (an invalid byte sequence at byte {FirstInvalidUtf8(body.Span)})");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw ApiError.Invalid($"the request body is not valid JSON: {e.Message}");
        }
        // likewise a \u escape that is not valid UTF-16 (a lone surrogate): it throws only when the string is read
        if (JsonStrings.FirstUndecodable(body.Span) is { } bad)
        {
            doc.Dispose();
            throw ApiError.Invalid($"the request body: {JsonStrings.Describe(bad)}", bad.Field is "" or JsonStrings.PropertyName ? null : bad.Field);
        }
        try
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw ApiError.Invalid($"the request body must be a JSON object (got {Describe(root)})");
            foreach (JsonProperty p in root.EnumerateObject())
                if (!known.Contains(p.Name))
                    throw ApiError.Invalid($"unknown field '{p.Name}'", p.Name);
            if (Get(root, "model") is { } model && model.ValueKind != JsonValueKind.String)
                throw ApiError.Invalid($"'model' must be a string (got {Describe(model)})", "model");
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Parses <paramref name="body"/> (UTF-8 JSON). <paramref name="countTokens"/> measures each prompt against
    /// <paramref name="contextLength"/>.
    /// </summary>
    public static CompletionRequest Parse(ReadOnlyMemory<byte> body, Func<string, int> countTokens, int contextLength,
        int maxPrompts)
    {
        using (JsonDocument doc = ParseObject(body, Known))
        {
            JsonElement root = doc.RootElement;

            IReadOnlyList<string> prompts = ReadPrompts(root, maxPrompts);
            int maxTokens = ReadInt(root, "max_tokens", 16, min: 1);
            float temperature = ReadFloat(root, "temperature", 1f);
            if (temperature < 0) throw ApiError.Invalid($"'temperature' must be at least 0 (got {temperature})", "temperature");
            float topP = ReadFloat(root, "top_p", 1f);
            if (!(topP > 0 && topP <= 1)) throw ApiError.Invalid($"'top_p' must be in (0, 1] (got {topP})", "top_p");
            int topK = ReadInt(root, "top_k", 0, min: 0);
            float repetition = ReadFloat(root, "repetition_penalty", 1f);
            if (!(repetition > 0)) throw ApiError.Invalid($"'repetition_penalty' must be greater than 0 (got {repetition})", "repetition_penalty");
            int? seed = Get(root, "seed").HasValue ? ReadInt(root, "seed", 0, min: int.MinValue) : null;
            IReadOnlyList<string> stop = ReadStop(root);
            bool stream = ReadBool(root, "stream", false);

            if (ReadInt(root, "n", 1, min: 1) != 1) throw ApiError.Invalid("'n' other than 1 is not supported (send the prompt several times instead)", "n");
            if (ReadInt(root, "best_of", 1, min: 1) != 1) throw ApiError.Invalid("'best_of' other than 1 is not supported", "best_of");
            if (ReadBool(root, "echo", false)) throw ApiError.Invalid("'echo' is not supported", "echo");
            if (Get(root, "logprobs") is { } lp && !(lp.ValueKind == JsonValueKind.Number && lp.TryGetInt32(out int l) && l == 0))
                throw ApiError.Invalid("'logprobs' is not supported (leave it out or null)", "logprobs");
            if (Get(root, "suffix") is { } suffix && (suffix.ValueKind != JsonValueKind.String || suffix.GetString()!.Length > 0))
                throw ApiError.Invalid("'suffix' is not supported", "suffix");

            var tokens = new int[prompts.Count];
            for (int i = 0; i < prompts.Count; i++)
            {
                int n = countTokens(prompts[i]);
                tokens[i] = n;
                string which = prompts.Count == 1 ? "the prompt" : $"prompt {i}";
                if (n == 0)
                    throw ApiError.Invalid($"{which} encodes to no tokens", "prompt");
                if (n >= contextLength)
                    throw ApiError.Invalid(
                        $"{which} is {n} tokens, which leaves no room in the model's context length of {contextLength} tokens", "prompt");
                if (n + maxTokens > contextLength)
                    throw ApiError.Invalid(
                        $"{which} ({n} tokens) plus max_tokens ({maxTokens}) is {n + maxTokens} tokens, more than the model's " +
                        $"context length of {contextLength} tokens; send a shorter prompt or at most {contextLength - n} max_tokens",
                        "max_tokens");
            }

            var settings = new CompletionSettings
            {
                MaxTokens = maxTokens, Temperature = temperature, TopP = topP, TopK = topK,
                RepetitionPenalty = repetition, Seed = seed, Stop = stop,
            };
            return new CompletionRequest(prompts, tokens, settings, stream) { Model = ModelOf(root) };
        }
    }

    /// <summary>The 'model' field (checked to be a string by <see cref="ParseObject"/>), or null.</summary>
    internal static string? ModelOf(JsonElement root) => Get(root, "model")?.GetString();

    internal static JsonElement? Get(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement e) && e.ValueKind != JsonValueKind.Null ? e : null;

    private static IReadOnlyList<string> ReadPrompts(JsonElement root, int maxPrompts)
    {
        if (Get(root, "prompt") is not { } p) throw ApiError.Invalid("'prompt' is required", "prompt");
        var prompts = new List<string>();
        if (p.ValueKind == JsonValueKind.String) prompts.Add(p.GetString()!);
        else if (p.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement e in p.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String)
                    throw ApiError.Invalid($"'prompt' must be a string or an array of strings (element {prompts.Count} is {Describe(e)})", "prompt");
                prompts.Add(e.GetString()!);
            }
            if (prompts.Count == 0) throw ApiError.Invalid("'prompt' is an empty array", "prompt");
            if (prompts.Count > maxPrompts)
                throw ApiError.Invalid($"'prompt' has {prompts.Count} prompts; at most {maxPrompts} per request", "prompt");
        }
        else throw ApiError.Invalid($"'prompt' must be a string or an array of strings (got {Describe(p)})", "prompt");
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0)
                throw ApiError.Invalid(prompts.Count == 1 ? "'prompt' is empty" : $"'prompt' element {i} is empty", "prompt");
        return prompts;
    }

    internal static IReadOnlyList<string> ReadStop(JsonElement root)
    {
        if (Get(root, "stop") is not { } s) return [];
        var stop = new List<string>();
        if (s.ValueKind == JsonValueKind.String) stop.Add(s.GetString()!);
        else if (s.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement e in s.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String)
                    throw ApiError.Invalid($"'stop' must be a string or an array of strings (element {stop.Count} is {Describe(e)})", "stop");
                stop.Add(e.GetString()!);
            }
        }
        else throw ApiError.Invalid($"'stop' must be a string or an array of strings (got {Describe(s)})", "stop");
        if (stop.Count > MaxStopStrings) throw ApiError.Invalid($"'stop' has {stop.Count} strings; at most {MaxStopStrings}", "stop");
        if (stop.Any(x => x.Length == 0)) throw ApiError.Invalid("'stop' strings must not be empty", "stop");
        return stop;
    }

    internal static int ReadInt(JsonElement root, string name, int fallback, int min)
    {
        if (Get(root, name) is not { } e) return fallback;
        if (e.ValueKind != JsonValueKind.Number)
            throw ApiError.Invalid($"'{name}' must be an integer (got {Describe(e)})", name);
        if (!e.TryGetInt64(out long v))
            throw ApiError.Invalid($"'{name}' must be an integer (got {e.GetRawText()})", name);
        if (v < min)
            throw ApiError.Invalid(min == 1 ? $"'{name}' must be at least 1 (got {v})" : $"'{name}' must be at least {min} (got {v})", name);
        if (v > int.MaxValue) throw ApiError.Invalid($"'{name}' is too large (got {v})", name);
        return (int)v;
    }

    internal static float ReadFloat(JsonElement root, string name, float fallback)
    {
        if (Get(root, name) is not { } e) return fallback;
        if (e.ValueKind != JsonValueKind.Number)
            throw ApiError.Invalid($"'{name}' must be a number (got {Describe(e)})", name);
        double v = e.GetDouble();
        if (!double.IsFinite(v) || Math.Abs(v) > 1e6) throw ApiError.Invalid($"'{name}' is out of range (got {e.GetRawText()})", name);
        return (float)v;
    }

    internal static bool ReadBool(JsonElement root, string name, bool fallback)
    {
        if (Get(root, name) is not { } e) return fallback;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiError.Invalid($"'{name}' must be true or false (got {Describe(e)})", name),
        };
    }

    internal static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"{e.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length)
        {
            if (Rune.DecodeFromUtf8(s[i..], out _, out int used) != OperationStatus.Done) return i;
            i += used;
        }
        return -1;
    }
}
