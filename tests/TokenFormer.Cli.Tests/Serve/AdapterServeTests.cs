using System.Net;
using System.Text.Json;
using TokenFormer.Cli.Serve;
using TokenFormer.Model;
using TokenFormer.Model.Adapters;
using TokenFormer.Model.Growth;
using TokenFormer.TestSupport;
using Xunit.Abstractions;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// Serving adapters (docs/adapters.md): three adapters and the bare base on one engine, each a model in /v1/models picked
/// by the request's 'model' field. Under mixed concurrent load (16 clients × 20 greedy requests, a third of them streamed,
/// models and prompts interleaved so that batches mix them) every answer is exactly what that model gives alone (its merged model directory
/// on its own engine), with no errors; an unknown model name is a 404 naming the served ones.
/// </summary>
public sealed class AdapterServeTests(ITestOutputHelper output)
{
    private const int Clients = 16, RequestsPerClient = 20, MaxTokens = 6;
    private static readonly string[] Prompts = ["The state of the union", "Fellow citizens", "In the year", "We the people", "It is"];

    /// <summary>An adapter on the test model with drawn keys and values (as after training), saved under <paramref name="name"/>.</summary>
    internal static string MakeAdapter(string root, string name, TokenCounts tokens, int seed)
    {
        TokenFormerModel baseModel = ModelDirectory.Load(TestModel.Directory);
        AdapterConfig config = Adapter.Describe(baseModel, tokens, seed, 1);
        TokenFormerModel merged = Adapter.StartMerged(baseModel, config);
        var rng = new Random(seed);
        foreach (ParameterTensor t in baseModel.Layout.Tensors)
        {
            if (!t.Grows) continue;
            ParameterTensor m = merged.Layout.Find(t.Name)!;
            foreach (ref float v in merged.Parameters.AsSpan(m.Offset + t.Length, m.Length - t.Length))
                v = (float)((t.Role == ParameterRole.PattentionKeys ? 2.0 : 0.5) * (rng.NextDouble() * 2 - 1));
        }
        string dir = Path.Combine(root, name);
        Adapter.Extract(merged, config, 0).Save(dir);
        return dir;
    }

    private static string Merge(string root, string adapterDir)
    {
        TokenFormerModel merged = Adapter.Load(adapterDir).Merge(ModelDirectory.Load(TestModel.Directory), "test model");
        string dir = Path.Combine(root, Path.GetFileName(adapterDir) + "-merged");
        ModelDirectory.Save(merged, dir);
        File.Copy(Path.Combine(TestModel.Directory, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    [Fact]
    public async Task Three_adapters_and_the_base_under_mixed_load_answer_as_each_model_alone()
    {
        string root = TempFolders.Create("serve-adapters");
        string[] adapters =
        [
            MakeAdapter(root, "qkv-ffn", new TokenCounts(16, 0, 16), 1),
            MakeAdapter(root, "all", new TokenCounts(8, 8, 8), 2),
            MakeAdapter(root, "ffn-only", new TokenCounts(0, 0, 32), 3),
        ];
        var engine = TextGeneratorEngine.Load(TestModel.Directory, maxBatch: 4);
        foreach (string a in adapters) engine.AddAdapter(a, Path.GetFileName(a), TestModel.Directory);
        string[] names = [.. engine.ModelIds];
        Assert.Equal(4, names.Length);

        // what each model answers alone: the base on its own engine, each adapter's merged model on its own
        var greedy = new CompletionSettings { MaxTokens = MaxTokens, Temperature = 0 };
        var expected = new Dictionary<(string, string), string>();
        for (int m = 0; m < names.Length; m++)
        {
            var alone = TextGeneratorEngine.Load(m == 0 ? TestModel.Directory : Merge(root, adapters[m - 1]), maxBatch: 1);
            foreach (string p in Prompts) expected[(names[m], p)] = alone.Complete([p], greedy, 0, null, CancellationToken.None)[0].Text;
        }
        Assert.True(Prompts.Any(p => expected[(names[0], p)] != expected[(names[1], p)]), "the adapters should change what the model says");

        await using TestServer server = await TestServer.StartAsync(engine, maxQueue: 64, maxBatch: 4);
        using (JsonDocument models = JsonDocument.Parse(await server.Client.GetStringAsync("v1/models")))
            Assert.Equal(names, models.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToArray());

        int errors = 0, wrong = 0;
        string? first = null;
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            for (int i = 0; i < RequestsPerClient; i++)
            {
                string model = names[(client + i) % names.Length], prompt = Prompts[(client * 3 + i) % Prompts.Length];
                // the base is asked for both by name and without a model field; every third request is streamed
                bool stream = (client + 2 * i) % 3 == 0;
                object body = model == names[0] && i % 2 == 0
                    ? new { prompt, max_tokens = MaxTokens, temperature = 0, stream }
                    : new { model, prompt, max_tokens = MaxTokens, temperature = 0, stream };
                try
                {
                    using HttpResponseMessage r = await server.Client.PostAsync("v1/completions", RouteTests.Json(JsonSerializer.Serialize(body)));
                    string text = await r.Content.ReadAsStringAsync();
                    if (r.StatusCode != HttpStatusCode.OK) { if (Interlocked.Increment(ref errors) == 1) first = $"{(int)r.StatusCode}: {text}"; continue; }
                    string got;
                    if (stream) got = Sse.Collect(text, model).Text.GetValueOrDefault(0, "");
                    else
                    {
                        using JsonDocument doc = JsonDocument.Parse(text);
                        got = doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
                        Assert.Equal(model, doc.RootElement.GetProperty("model").GetString());
                    }
                    if (got != expected[(model, prompt)] && Interlocked.Increment(ref wrong) == 1)
                        first = $"{model} / '{prompt}': got '{got}', alone it says '{expected[(model, prompt)]}'";
                }
                catch (Exception e) { if (Interlocked.Increment(ref errors) == 1) first = e.GetType().Name + ": " + e.Message; }
            }
        })));
        long batches = server.App.Queue.Batches;
        output.WriteLine($"{Clients * RequestsPerClient} requests over {names.Length} models in {batches} engine calls ({Clients * RequestsPerClient / (double)batches:F1} prompts per batch); errors {errors}, wrong answers {wrong}");
        Assert.True(errors == 0 && wrong == 0, $"{errors} errors, {wrong} answers differ from the model alone; first: {first}");
        Assert.True(batches < Clients * RequestsPerClient, "requests should have shared batches");

        using HttpResponseMessage unknown = await server.Client.PostAsync("v1/completions", RouteTests.Json("""{"model":"nope","prompt":"Hi","max_tokens":2}"""));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        string message = await unknown.Content.ReadAsStringAsync();
        Assert.Contains("model_not_found", message);
        Assert.Contains("'all'", message);
    }

    [Fact]
    public void An_adapter_of_another_base_is_refused_with_both_hashes()
    {
        string root = TempFolders.Create("serve-adapter-other");
        string adapter = MakeAdapter(root, "a", new TokenCounts(4, 0, 0), 1);
        TokenFormerConfig config = ModelDirectory.Load(TestModel.Directory).Config;
        var other = new TokenFormerModel(config);
        other.InitializeRandom(seed: 99);
        string otherDir = Path.Combine(root, "other");
        ModelDirectory.Save(other, otherDir);
        File.Copy(Path.Combine(TestModel.Directory, "tokenizer.json"), Path.Combine(otherDir, "tokenizer.json"));
        var engine = TextGeneratorEngine.Load(otherDir, maxBatch: 2);
        var e = Assert.Throws<CliException>(() => engine.AddAdapter(adapter, "a", otherDir));
        Assert.Contains(Adapter.Load(adapter).Config.BaseSha256, e.Message);
        Assert.Contains(Adapter.BaseHash(other), e.Message);
    }
}
