using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using TokenFormer.Cli.Serve;
using TokenFormer.TestSupport;
using ChatMessage = OpenAI.Chat.ChatMessage;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// The server as the official OpenAI .NET SDK (NuGet OpenAI, a test-only dependency) sees it: chat completions through
/// its typed ChatClient, text completions through the SDK's client pipeline (its legacy completions client is internal in
/// 2.15, so a request to /v1/completions is built by hand and sent through <see cref="OpenAIClient.Pipeline"/>), streamed and not, and errors — against the committed trained fixture model (tests/fixtures/library/sotu-tiny)
/// on a loopback port. Greedy answers must equal what <c>tokenformer generate</c> prints for the same prompt.
/// </summary>
public sealed class OpenAISdkTests
{
    private static string ModelDir => Path.Combine(Path.GetDirectoryName(TrainingFixtures.Directory)!, "library", "sotu-tiny");

    private static OpenAIClientOptions SdkOptions(TestServer server) => new()
    {
        Endpoint = new Uri(server.BaseAddress, "v1"),
        NetworkTimeout = TimeSpan.FromSeconds(60),
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // an error must reach the test, not be retried
    };

    private static ChatClient Chat(TestServer server) => new("sotu-tiny", new ApiKeyCredential("unused"), SdkOptions(server));

    /// <summary>The text <c>tokenformer generate --json --temperature 0</c> gives for <paramref name="prompt"/>.</summary>
    private static string GenerateCli(string prompt, int maxNewTokens)
    {
        var (code, stdout, stderr) = Fixtures.RunCli("generate", "--model", ModelDir, "--prompt", prompt, "--json", "--temperature", "0",
            "--max-new-tokens", maxNewTokens.ToString(), "--threads", "1");
        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout.Trim());
        return doc.RootElement.GetProperty("text").GetString()!;
    }

    private const string System = "Be brief.";
    private const string Question = "The war?";
    private static readonly string ChatPrompt = $"System: {System}\nUser: {Question}\nAssistant:";

    [Fact]
    public async Task Chat_greedy_plain_and_streamed_equals_generate_on_the_rendered_prompt()
    {
        await using TestServer server = await TestServer.StartAsync(TextGeneratorEngine.Load(ModelDir, maxBatch: 2), maxBatch: 2);
        ChatClient chat = Chat(server);
        ChatMessage[] messages = [new SystemChatMessage(System), new UserChatMessage(Question)];
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        string expected = GenerateCli(ChatPrompt, 16);
        Assert.NotEmpty(expected);
        // The default format's stop string would cut the server's text; the comparison is only exact when it does not occur.
        Assert.DoesNotContain("\nUser:", expected);

        ChatCompletion whole = (await chat.CompleteChatAsync(messages, options)).Value;
        Assert.Equal(expected, whole.Content.Single().Text);
        Assert.Equal(ChatMessageRole.Assistant, whole.Role);
        Assert.StartsWith("chatcmpl-", whole.Id);
        Assert.Equal("sotu-tiny", whole.Model);
        Assert.Equal(ChatFinishReason.Length, whole.FinishReason);
        Assert.Equal(16, whole.Usage.OutputTokenCount);
        Assert.Equal(TextGeneratorEngine.Load(ModelDir, 1).CountTokens(ChatPrompt), whole.Usage.InputTokenCount);

        var streamed = new System.Text.StringBuilder();
        int updates = 0;
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (StreamingChatCompletionUpdate u in chat.CompleteChatStreamingAsync(messages, options))
        {
            updates++;
            foreach (ChatMessageContentPart part in u.ContentUpdate) streamed.Append(part.Text);
            if (u.FinishReason is { } f) { Assert.Null(finish); finish = f; }
            if (u.Usage is { } us) usage = us;
        }
        Assert.Equal(expected, streamed.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.True(updates > 3, $"{updates} updates: the text should arrive in pieces");
        if (usage is not null) Assert.Equal(16, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Chat_seeded_sampling_repeats_and_a_stop_sequence_ends_the_text()
    {
        await using TestServer server = await TestServer.StartAsync(TextGeneratorEngine.Load(ModelDir, maxBatch: 2), maxBatch: 2);
        ChatClient chat = Chat(server);
        ChatMessage[] messages = [new UserChatMessage("Tell me about the Congress.")];
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
        var sampled = new ChatCompletionOptions { Temperature = 0.9f, TopP = 0.95f, Seed = 5, MaxOutputTokenCount = 20 };
#pragma warning restore OPENAI001
        string a = (await chat.CompleteChatAsync(messages, sampled)).Value.Content.Single().Text;
        string b = (await chat.CompleteChatAsync(messages, sampled)).Value.Content.Single().Text;
        Assert.Equal(a, b);

        // Greedy text, then the same request stopped at a piece of it: the answer ends right before that piece.
        var greedy = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        string full = (await chat.CompleteChatAsync(messages, greedy)).Value.Content.Single().Text;
        Assert.True(full.Length > 6, full);
        string stop = full.Substring(full.Length / 2, 3);
        int cut = full.IndexOf(stop, StringComparison.Ordinal);
        var stopped = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        stopped.StopSequences.Add(stop);
        ChatCompletion c = (await chat.CompleteChatAsync(messages, stopped)).Value;
        Assert.Equal(full[..cut], c.Content.Count == 0 ? "" : c.Content.Single().Text);
        Assert.Equal(ChatFinishReason.Stop, c.FinishReason);
    }

    [Fact]
    public async Task Chat_errors_reach_the_sdk_as_400_naming_the_field()
    {
        await using TestServer server = await TestServer.StartAsync(TextGeneratorEngine.Load(ModelDir, maxBatch: 1), maxBatch: 1);
        ChatClient chat = Chat(server);

        // Typed API: more tokens than the 64-position context holds.
        var tooLong = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 1000 };
        ClientResultException e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Hello")], tooLong));
        AssertError(e, "max_completion_tokens", "context length of 64 tokens");

        // Protocol method (the SDK's way to send a body it would not build): a message without content.
        e = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync(
            BinaryContent.Create(BinaryData.FromString("""{"model":"sotu-tiny","messages":[{"role":"user"}]}""")), new RequestOptions()));
        AssertError(e, "messages[0].content", "'messages[0].content' is required");
    }

    [Fact]
    public async Task Completions_through_the_sdk_plain_and_streamed_equal_generate()
    {
        await using TestServer server = await TestServer.StartAsync(TextGeneratorEngine.Load(ModelDir, maxBatch: 2), maxBatch: 2);
        ClientPipeline pipeline = new OpenAIClient(new ApiKeyCredential("unused"), SdkOptions(server)).Pipeline;
        const string prompt = "The Congress of the United States";
        string expected = GenerateCli(prompt, 12);

        async Task<(int Status, string Body)> Post(string json, bool stream)
        {
            using PipelineMessage m = pipeline.CreateMessage();
            m.Request.Method = "POST";
            m.Request.Uri = new Uri(server.BaseAddress, "v1/completions");
            m.Request.Headers.Set("Content-Type", "application/json");
            m.Request.Content = BinaryContent.Create(BinaryData.FromString(json));
            m.BufferResponse = !stream;
            await pipeline.SendAsync(m);
            PipelineResponse response = m.Response!;
            if (stream)
            {
                using var reader = new StreamReader(response.ContentStream!);
                return (response.Status, await reader.ReadToEndAsync());
            }
            return (response.Status, response.Content.ToString());
        }

        (int status, string body) = await Post(JsonSerializer.Serialize(new { model = "sotu-tiny", prompt, max_tokens = 12, temperature = 0 }), false);
        Assert.True(status == 200, body);
        using (JsonDocument doc = JsonDocument.Parse(body))
        {
            Assert.Equal("text_completion", doc.RootElement.GetProperty("object").GetString());
            Assert.Equal(expected, doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        }

        (status, body) = await Post(JsonSerializer.Serialize(new { model = "sotu-tiny", prompt, max_tokens = 12, temperature = 0, stream = true }), true);
        Assert.Equal(200, status);
        (Dictionary<int, string> text, Dictionary<int, string> finish) = Sse.Collect(body, "sotu-tiny");
        Assert.Equal(expected, text[0]);
        Assert.Equal("length", finish[0]);

        (status, body) = await Post("""{"model":"sotu-tiny","prompt":"hi","max_token":3}""", false);
        Assert.Equal(400, status);
        AssertErrorBody(body, "max_token", "unknown field 'max_token'");
    }

    private static void AssertError(ClientResultException e, string param, string words)
    {
        Assert.Equal(400, e.Status);
        AssertErrorBody(e.GetRawResponse()!.Content.ToString(), param, words);
    }

    private static void AssertErrorBody(string body, string param, string words)
    {
        using JsonDocument doc = JsonDocument.Parse(body);
        JsonElement error = doc.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(words, error.GetProperty("message").GetString());
    }
}
