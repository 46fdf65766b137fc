using System.Net;
using System.Text;
using System.Text.Json;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>The routes, response shapes and SSE format, against the deterministic fake engine.</summary>
public sealed class RouteTests
{
    internal static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Health_models_and_unknown_routes()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        HttpClient http = server.Client;

        using (HttpResponseMessage r = await http.GetAsync("health"))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("application/json", r.Content.Headers.ContentType!.MediaType);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal("ok", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal("fake-model", doc.RootElement.GetProperty("model").GetString());
        }
        using (HttpResponseMessage r = await http.GetAsync("v1/models"))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Equal("list", doc.RootElement.GetProperty("object").GetString());
            JsonElement model = doc.RootElement.GetProperty("data").EnumerateArray().Single();
            Assert.Equal("fake-model", model.GetProperty("id").GetString());
            Assert.Equal("model", model.GetProperty("object").GetString());
            Assert.Equal("tokenformer", model.GetProperty("owned_by").GetString());
        }
        using (HttpResponseMessage r = await http.GetAsync("v1/models/fake-model"))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        foreach ((string method, string path, HttpStatusCode status) in new[]
        {
            ("GET", "nope", HttpStatusCode.NotFound), ("POST", "v1/embeddings", HttpStatusCode.NotFound),
            ("POST", "v1/chat/completions", HttpStatusCode.BadRequest), ("GET", "v1/chat/completions", HttpStatusCode.MethodNotAllowed),
            ("GET", "v1/models/other", HttpStatusCode.NotFound), ("GET", "v1/completions", HttpStatusCode.MethodNotAllowed),
        })
        {
            using HttpResponseMessage r = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? Json("{}") : null });
            Assert.Equal(status, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("error").GetProperty("message").GetString()));
        }
    }

    [Fact]
    public async Task Page_is_self_contained_html_with_the_controls()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/html", r.Content.Headers.ContentType!.MediaType);
        string html = await r.Content.ReadAsStringAsync();
        foreach (string id in new[] { "id=\"prompt\"", "id=\"max-tokens\"", "id=\"temperature\"", "id=\"generate\"", "id=\"completion\"", "fake-model" })
            Assert.Contains(id, html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("href=\"http", html);
        Assert.DoesNotContain("@import", html);
    }

    [Fact]
    public async Task Completion_has_the_openai_shape()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            Json("""{"model":"fake-model","prompt":"hello","max_tokens":3,"temperature":0}"""));
        string body = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(body);
        JsonElement root = doc.RootElement;
        Assert.StartsWith("cmpl-", root.GetProperty("id").GetString());
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        Assert.True(root.GetProperty("created").GetInt64() > 1_600_000_000);
        Assert.Equal("fake-model", root.GetProperty("model").GetString());
        JsonElement choice = root.GetProperty("choices").EnumerateArray().Single();
        Assert.Equal("h0 h1 h2 ", choice.GetProperty("text").GetString());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        JsonElement usage = root.GetProperty("usage");
        Assert.Equal(5, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(8, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Array_prompt_gives_one_choice_per_prompt_and_stop_strings_end_the_text()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            Json("""{"prompt":["abc","xyz"],"max_tokens":4,"stop":["a2"]}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        JsonElement[] choices = doc.RootElement.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal(2, choices.Length);
        Assert.Equal((0, "a0 a1 ", "stop"), (choices[0].GetProperty("index").GetInt32(), choices[0].GetProperty("text").GetString(), choices[0].GetProperty("finish_reason").GetString()));
        Assert.Equal((1, "x0 x1 x2 x3 ", "length"), (choices[1].GetProperty("index").GetInt32(), choices[1].GetProperty("text").GetString(), choices[1].GetProperty("finish_reason").GetString()));
        Assert.Equal(6, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3 + 4, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Stream_sends_one_event_per_piece_then_done()
    {
        await using TestServer server = await TestServer.StartAsync(new FakeEngine());
        using HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            Json("""{"prompt":["hi","yo"],"max_tokens":5,"stream":true}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType!.MediaType);
        string body = await r.Content.ReadAsStringAsync();
        List<string> events = Sse.Events(body);
        Assert.Equal(2 * 5 + 2 + 1, events.Count); // a piece per token and prompt, a finish chunk per prompt, [DONE]
        (Dictionary<int, string> text, Dictionary<int, string> finish) = Sse.Collect(body, "fake-model");
        Assert.Equal(FakeEngine.Expected("hi", 5), text[0]);
        Assert.Equal(FakeEngine.Expected("yo", 5), text[1]);
        Assert.Equal("length", finish[0]);
        Assert.Equal("length", finish[1]);
    }
}
