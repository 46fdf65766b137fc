using System.Net;
using System.Text.Json;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>Bad requests get 400 with an OpenAI-shaped error naming the field; nothing reaches the engine.</summary>
public sealed class ValidationTests
{
    public static TheoryData<string, string?, string> BadBodies => new()
    {
        // body, param, words the message must contain
        { """{"prompt": "hello", "max_tokens": 5""", null, "not valid JSON" },
        { "not json at all", null, "not valid JSON" },
        { "[1, 2]", null, "must be a JSON object" },
        { "", null, "empty" },
        { """{"max_tokens": 5}""", "prompt", "'prompt' is required" },
        { """{"prompt": ""}""", "prompt", "'prompt' is empty" },
        { """{"prompt": []}""", "prompt", "empty array" },
        { """{"prompt": 42}""", "prompt", "string or an array of strings (got the number 42)" },
        { """{"prompt": ["ok", 7]}""", "prompt", "element 1 is the number 7" },
        { """{"prompt": "hi", "max_tokens": -5}""", "max_tokens", "'max_tokens' must be at least 1 (got -5)" },
        { """{"prompt": "hi", "max_tokens": 0}""", "max_tokens", "'max_tokens' must be at least 1 (got 0)" },
        { """{"prompt": "hi", "max_tokens": 2.5}""", "max_tokens", "must be an integer" },
        { """{"prompt": "hi", "max_tokens": "10"}""", "max_tokens", "must be an integer (got a string)" },
        { """{"prompt": "hi", "temperature": -0.5}""", "temperature", "at least 0 (got -0.5)" },
        { """{"prompt": "hi", "temperature": "hot"}""", "temperature", "must be a number" },
        { """{"prompt": "hi", "top_p": 0}""", "top_p", "(0, 1] (got 0)" },
        { """{"prompt": "hi", "top_p": 1.5}""", "top_p", "(0, 1] (got 1.5)" },
        { """{"prompt": "hi", "top_k": -1}""", "top_k", "at least 0" },
        { """{"prompt": "hi", "repetition_penalty": 0}""", "repetition_penalty", "greater than 0" },
        { """{"prompt": "hi", "seed": 1.5}""", "seed", "must be an integer" },
        { """{"prompt": "hi", "stop": 3}""", "stop", "string or an array of strings" },
        { """{"prompt": "hi", "stop": ["a","b","c","d","e"]}""", "stop", "at most 4" },
        { """{"prompt": "hi", "stream": "yes"}""", "stream", "true or false" },
        { """{"prompt": "hi", "model": 3}""", "model", "'model' must be a string" },
        { """{"prompt": "hi", "n": 2}""", "n", "not supported" },
        { """{"prompt": "hi", "max_token": 2}""", "max_token", "unknown field 'max_token'" },
        // FakeEngine: one token per character, context 64.
        { "{\"prompt\": \"" + new string('x', 70) + "\"}", "prompt", "the prompt is 70 tokens, which leaves no room in the model's context length of 64 tokens" },
        { "{\"prompt\": \"" + new string('x', 60) + "\", \"max_tokens\": 10}", "max_tokens",
            "the prompt (60 tokens) plus max_tokens (10) is 70 tokens, more than the model's context length of 64 tokens; send a shorter prompt or at most 4 max_tokens" },
        { "{\"prompt\": [\"ok\", \"" + new string('x', 60) + "\"], \"max_tokens\": 10}", "max_tokens", "prompt 1 (60 tokens) plus max_tokens (10) is 70 tokens" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_request_gets_400_with_a_message(string body, string? param, string message)
    {
        var engine = new FakeEngine();
        await using TestServer server = await TestServer.StartAsync(engine);
        using HttpResponseMessage r = await server.Client.PostAsync("v1/completions", RouteTests.Json(body));
        string text = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("application/json", r.Content.Headers.ContentType!.MediaType);
        using JsonDocument doc = JsonDocument.Parse(text);
        JsonElement error = doc.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
        if (param is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        else Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Empty(engine.BatchSizes);
    }

    [Fact]
    public async Task Longest_allowed_request_is_accepted()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            RouteTests.Json("{\"prompt\": \"" + new string('x', 60) + "\", \"max_tokens\": 4}"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Theory]
    [InlineData("v1/completions", "{\"prompt\": \"a\u0080b\"}", 13)]
    [InlineData("v1/completions", "{\"pro\u0080mpt\": \"ab\"}", 5)]
    [InlineData("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\u00dc\"}]}", 43)]
    public async Task A_body_with_invalid_utf8_in_a_string_gets_400_naming_the_byte(string route, string text, int at)
    {
        // Found by fuzzing (docs/reliability.md, Fuzzing): the JSON parser accepts invalid UTF-8 inside a string and
        // only fails when the string is read, with an InvalidOperationException that became a 500.
        byte[] body = text.Select(c => (byte)c).ToArray(); // each char below 256 as one byte: \u0080 and \u00dc stand alone
        var engine = new FakeEngine();
        await using TestServer server = await TestServer.StartAsync(engine);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using HttpResponseMessage r = await server.Client.PostAsync(route, content);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal($"the request body is not valid UTF-8 (an invalid byte sequence at byte {at})",
            doc.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Empty(engine.BatchSizes);
    }

    [Theory]
    [InlineData("v1/completions", "{\"prompt\": \"a\\ud800b\"}", "field 'prompt' holds", 11)]
    [InlineData("v1/completions", "{\"pro\\udc00mpt\": \"ab\"}", "a property name holds", 1)]
    [InlineData("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}", "field 'content' holds", 42)]
    public async Task A_body_with_a_lone_surrogate_escape_gets_400_naming_the_field(string route, string text, string field, int at)
    {
        // Valid UTF-8 and valid JSON whose \u escape is half a surrogate pair: the parser accepts it and throws an
        // InvalidOperationException (a 500) only when the string is read.
        var engine = new FakeEngine();
        await using TestServer server = await TestServer.StartAsync(engine);
        using HttpResponseMessage r = await server.Client.PostAsync(route, RouteTests.Json(text));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal($"the request body: {field} a \\u escape that is not valid UTF-16 (a lone surrogate such as \\ud800) (at byte {at})",
            doc.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Empty(engine.BatchSizes);
    }
}
