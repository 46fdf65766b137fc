using System.Net;
using System.Text.Json;
using TokenFormer.Runtime.Generation;
using TokenFormer.Cli.Serve;
using TokenFormer.Model.Inference;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>The server over the real <see cref="TextGeneratorEngine"/> (micro model, random weights, trained tokenizer).</summary>
public sealed class RealModelTests
{
    private static readonly string[] Prompts = ["The quick brown fox", "Once upon a time", "In the beginning", "Hello, world"];

    /// <summary>What a separate TextGenerator produces for <paramref name="prompt"/> alone, greedily.</summary>
    internal static TextCompletion Direct(string prompt, int maxTokens)
    {
        TextGenerator g = TextGenerator.Load(TestModel.Directory);
        int? eot = g.Tokenizer.EndOfTextId;
        return g.Complete([prompt], new SamplingOptions { MaxNewTokens = maxTokens, Temperature = 0, StopIds = eot is int e ? [e] : [] })[0];
    }

    private static async Task<JsonDocument> PostOk(HttpClient http, string body)
    {
        using HttpResponseMessage r = await http.PostAsync("v1/completions", RouteTests.Json(body));
        string text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text);
    }

    [Fact]
    public async Task Greedy_completion_matches_the_generator_streamed_or_not_alone_or_batched()
    {
        var engine = TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 4);
        Assert.Equal("micro-random", engine.ModelId);
        Assert.Equal(TestModel.ContextLength, engine.ContextLength);
        await using TestServer server = await TestServer.StartAsync(engine, maxBatch: 4);
        HttpClient http = server.Client;
        const int n = 12;

        TextCompletion expected = Direct(Prompts[0], n);
        Assert.Equal(n, expected.Ids.Length); // random weights: the end-of-text token is not expected this early

        using (JsonDocument doc = await PostOk(http, $$"""{"prompt":"{{Prompts[0]}}","max_tokens":{{n}},"temperature":0}"""))
        {
            JsonElement choice = doc.RootElement.GetProperty("choices")[0];
            Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
            Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
            Assert.Equal(expected.PromptTokens, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(n, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }

        using (HttpResponseMessage r = await http.PostAsync("v1/completions",
            RouteTests.Json($$"""{"prompt":"{{Prompts[0]}}","max_tokens":{{n}},"temperature":0,"stream":true}""")))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            (Dictionary<int, string> text, Dictionary<int, string> finish) = Sse.Collect(await r.Content.ReadAsStringAsync(), "micro-random");
            Assert.Equal(expected.Text, text[0]);
            Assert.Equal("length", finish[0]);
        }

        // An array prompt (one batch) and concurrent requests (batched or not) give each prompt its own greedy text.
        string[] direct = Prompts.Select(p => Direct(p, n).Text).ToArray();
        using (JsonDocument doc = await PostOk(http, JsonSerializer.Serialize(new { prompt = Prompts, max_tokens = n, temperature = 0 })))
            Assert.Equal(direct, doc.RootElement.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("text").GetString()!).ToArray());
        JsonDocument[] each = await Task.WhenAll(Prompts.Select(p => PostOk(http, JsonSerializer.Serialize(new { prompt = p, max_tokens = n, temperature = 0 }))));
        Assert.Equal(direct, each.Select(d => d.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!).ToArray());
        foreach (JsonDocument d in each) d.Dispose();
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible_and_stop_strings_cut_the_text()
    {
        await using TestServer server = await TestServer.StartAsync(TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 2), maxBatch: 2);
        string body = """{"prompt":"Once upon a time","max_tokens":20,"temperature":0.9,"top_k":50,"top_p":0.95,"repetition_penalty":1.1,"seed":42}""";
        string a, b;
        using (JsonDocument doc = await PostOk(server.Client, body)) a = doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        using (JsonDocument doc = await PostOk(server.Client, body)) b = doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(a, b);
        Assert.True(a.Length > 3, a);

        // Stop at a piece of that text: the answer is the text before it, finish "stop".
        string stop = a.Substring(a.Length / 2, 2);
        int cut = a.IndexOf(stop, StringComparison.Ordinal);
        using (JsonDocument doc = await PostOk(server.Client, body.Replace("}", $",\"stop\":{JsonSerializer.Serialize(stop)}}}")))
        {
            JsonElement choice = doc.RootElement.GetProperty("choices")[0];
            Assert.Equal(a[..cut], choice.GetProperty("text").GetString());
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task Prompt_beyond_the_context_gets_400_with_the_token_counts()
    {
        var engine = TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 1);
        await using TestServer server = await TestServer.StartAsync(engine, maxBatch: 1);
        string longPrompt = string.Join(' ', Enumerable.Repeat("word", 200));
        int tokens = engine.CountTokens(longPrompt);
        Assert.True(tokens > TestModel.ContextLength);
        string medium = string.Join(' ', Enumerable.Repeat("word", 40));
        int mediumTokens = engine.CountTokens(medium);
        Assert.InRange(mediumTokens, 1, TestModel.ContextLength - 20);

        foreach ((string body, string message) in new[]
        {
            (JsonSerializer.Serialize(new { prompt = longPrompt }), $"the prompt is {tokens} tokens, which leaves no room in the model's context length of {TestModel.ContextLength} tokens"),
            (JsonSerializer.Serialize(new { prompt = medium, max_tokens = 64 }),
                $"the prompt ({mediumTokens} tokens) plus max_tokens (64) is {mediumTokens + 64} tokens, more than the model's context length of {TestModel.ContextLength} tokens"),
        })
        {
            using HttpResponseMessage r = await server.Client.PostAsync("v1/completions", RouteTests.Json(body));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            Assert.Contains(message, doc.RootElement.GetProperty("error").GetProperty("message").GetString());
        }
        // Exactly filling the context is fine.
        using JsonDocument ok = await PostOk(server.Client, JsonSerializer.Serialize(new { prompt = medium, max_tokens = TestModel.ContextLength - mediumTokens, temperature = 0 }));
        Assert.Equal(TestModel.ContextLength - mediumTokens, ok.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }
}
