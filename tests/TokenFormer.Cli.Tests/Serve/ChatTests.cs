using System.Net;
using System.Text.Json;
using TokenFormer.Cli.Serve;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// <c>POST /v1/chat/completions</c> against the deterministic <see cref="FakeEngine"/> (one token per character, context
/// 64): the default chat format, the chat.completion / chat.completion.chunk shapes, and every 400.
/// </summary>
public sealed class ChatTests
{
    [Fact]
    public void Default_format_puts_each_message_on_a_labelled_line_and_ends_with_the_assistant_label()
    {
        string prompt = ChatTemplate.Default.Render([new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi"),
            new ChatMessage("assistant", "Hello."), new ChatMessage("user", "And?")]);
        Assert.Equal("System: Be brief.\nUser: Hi\nAssistant: Hello.\nUser: And?\nAssistant:", prompt);
        Assert.Equal(["\nUser:"], ChatTemplate.Default.Stop);
    }

    [Fact]
    public void A_model_directorys_jinja_chat_template_is_reported_and_not_applied()
    {
        string dir = Fixtures.TempDir("chat-template");
        Assert.Same(ChatTemplate.Default, ChatTemplate.ForModel(dir, out string? none));
        Assert.Null(none);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"chat_template":"{% for m in messages %}{{ m.content }}{% endfor %}"}""");
        Assert.Same(ChatTemplate.Default, ChatTemplate.ForModel(dir, out string? note));
        Assert.Contains("chat_template", note);
        Assert.Contains("not execute", note);
    }

    [Fact]
    public async Task Plain_answer_has_the_chat_completion_shape()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/chat/completions", RouteTests.Json(
            """{"model":"x","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":3,"temperature":0}"""));
        string text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        using JsonDocument doc = JsonDocument.Parse(text);
        JsonElement root = doc.RootElement;
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", root.GetProperty("id").GetString());
        Assert.Equal("fake-model", root.GetProperty("model").GetString());
        JsonElement choice = root.GetProperty("choices").EnumerateArray().Single();
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        // "User: Hi\nAssistant:" starts with U: the fake engine's pieces are U0, U1, U2.
        Assert.Equal(FakeEngine.Expected("User: Hi\nAssistant:", 3), choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        JsonElement usage = root.GetProperty("usage");
        Assert.Equal("User: Hi\nAssistant:".Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal("User: Hi\nAssistant:".Length + 3, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Streamed_answer_is_a_role_chunk_content_chunks_a_finish_chunk_usage_on_request_then_done()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/chat/completions", RouteTests.Json(
            """{"messages":[{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType!.MediaType);
        List<string> events = Sse.Events(await r.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", events[^1]);
        var docs = events.Take(events.Count - 1).Select(e => JsonDocument.Parse(e)).ToList();
        try
        {
            Assert.All(docs, d => Assert.Equal("chat.completion.chunk", d.RootElement.GetProperty("object").GetString()));
            Assert.Single(docs.Select(d => d.RootElement.GetProperty("id").GetString()).Distinct());
            JsonElement first = docs[0].RootElement.GetProperty("choices")[0];
            Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
            Assert.Equal(JsonValueKind.Null, first.GetProperty("finish_reason").ValueKind);
            string content = string.Concat(docs.Skip(1).Take(docs.Count - 3).Select(d =>
            {
                JsonElement c = d.RootElement.GetProperty("choices")[0];
                Assert.Equal(JsonValueKind.Null, c.GetProperty("finish_reason").ValueKind);
                return c.GetProperty("delta").GetProperty("content").GetString();
            }));
            // The content parts join with a newline: "System: S\nUser: a\nb\nAssistant:" starts with S.
            Assert.Equal(FakeEngine.Expected("S", 4), content);
            JsonElement finish = docs[^2].RootElement.GetProperty("choices")[0];
            Assert.Equal("length", finish.GetProperty("finish_reason").GetString());
            Assert.False(finish.GetProperty("delta").TryGetProperty("content", out _));
            JsonElement usage = docs[^1].RootElement;
            Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
            Assert.Equal("System: S\nUser: a\nb\nAssistant:".Length, usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(4, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
        finally
        {
            foreach (JsonDocument d in docs) d.Dispose();
        }
    }

    [Fact]
    public async Task The_formats_stop_string_is_added_to_the_requests()
    {
        // The fake engine's text for a prompt starting with U is "U0 U1 …"; a request stop "U1" cuts it, and the format's
        // "\nUser:" is there too (the engine sees both).
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/chat/completions", RouteTests.Json(
            """{"messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"stop":"U1"}"""));
        using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        JsonElement choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("U0 ", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        CompletionRequest parsed = ChatRequestParser.Parse("""{"messages":[{"role":"user","content":"Hi"}],"stop":["x"]}"""u8.ToArray(),
            ChatTemplate.Default, s => s.Length, 64);
        Assert.Equal(["x", "\nUser:"], parsed.Settings.Stop);
        Assert.Equal(["User: Hi\nAssistant:"], parsed.Prompts);
    }

    public static TheoryData<string, string?, string> BadBodies => new()
    {
        { """{"messages": [""", null, "not valid JSON" },
        { "[]", null, "must be a JSON object" },
        { "", null, "empty" },
        { """{"model": "m"}""", "messages", "'messages' is required" },
        { """{"messages": "hi"}""", "messages", "must be an array" },
        { """{"messages": []}""", "messages", "empty array" },
        { """{"messages": [3]}""", "messages[0]", "must be an object" },
        { """{"messages": [{"content": "hi"}]}""", "messages[0].role", "'messages[0].role' is required" },
        { """{"messages": [{"role": "robot", "content": "hi"}]}""", "messages[0].role", "got 'robot'" },
        { """{"messages": [{"role": "tool", "content": "hi"}]}""", "messages[0].role", "not supported" },
        { """{"messages": [{"role": "user", "content": "a"}, {"role": "user"}]}""", "messages[1].content", "'messages[1].content' is required" },
        { """{"messages": [{"role": "user", "content": 5}]}""", "messages[0].content", "string or an array of text parts" },
        { """{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}""", "messages[0].content[0].type", "only text" },
        { """{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 0}""", "max_completion_tokens", "at least 1" },
        { """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "9"}""", "max_tokens", "must be an integer" },
        { """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "max_completion_tokens": 4}""", "max_tokens", "disagree" },
        { """{"messages": [{"role": "user", "content": "hi"}], "temperature": -1}""", "temperature", "at least 0" },
        { """{"messages": [{"role": "user", "content": "hi"}], "top_p": 2}""", "top_p", "(0, 1]" },
        { """{"messages": [{"role": "user", "content": "hi"}], "seed": "s"}""", "seed", "must be an integer" },
        { """{"messages": [{"role": "user", "content": "hi"}], "stop": 1}""", "stop", "string or an array" },
        { """{"messages": [{"role": "user", "content": "hi"}], "stream": 1}""", "stream", "true or false" },
        { """{"messages": [{"role": "user", "content": "hi"}], "stream_options": true}""", "stream_options", "must be an object" },
        { """{"messages": [{"role": "user", "content": "hi"}], "n": 3}""", "n", "not supported" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}""", "tools", "not supported" },
        { """{"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}""", "response_format", "not supported" },
        { """{"messages": [{"role": "user", "content": "hi"}], "prompt": "x"}""", "prompt", "unknown field 'prompt'" },
        // "User: <50 x>\nAssistant:" is 67 characters = tokens, over the fake engine's 64.
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"" + new string('x', 50) + "\"}]}", "messages", "67 tokens in the chat format" },
        { "{\"messages\": [{\"role\": \"user\", \"content\": \"" + new string('x', 30) + "\"}], \"max_completion_tokens\": 30}",
            "max_completion_tokens", "(47 tokens in the chat format) plus max_completion_tokens (30) is 77 tokens, more than the model's context length of 64 tokens; send shorter messages or at most 17 max_completion_tokens" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_chat_request_gets_400_naming_the_field(string body, string? param, string message)
    {
        var engine = new FakeEngine();
        await using TestServer server = await TestServer.StartAsync(engine);
        using HttpResponseMessage r = await server.Client.PostAsync("v1/chat/completions", RouteTests.Json(body));
        string text = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(text);
        JsonElement error = doc.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
        if (param is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        else Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Empty(engine.BatchSizes);
    }
}
