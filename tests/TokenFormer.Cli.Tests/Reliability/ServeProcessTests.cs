using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using TokenFormer.Cli.Tests.Serve;
using TokenFormer.Model;
using TokenFormer.TestSupport;

namespace TokenFormer.Cli.Tests.Reliability;

/// <summary>
/// The real <c>tokenformer serve</c> process: SIGTERM while streams are open ends them (each with [DONE]) and the
/// process exits with code 0; the model folder truncated or removed while serving does not stop it serving (the
/// model and tokenizer are read once, at start, into memory).
/// </summary>
public sealed partial class ServeProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>A running <c>tokenformer serve</c>: its URL once it listens, its output, SIGTERM.</summary>
    private sealed partial class ServeProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _out = new(), _err = new();
        private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ServeProcess(IEnumerable<string> args)
        {
            _process = Fixtures.StartCli(args);
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_out) _out.AppendLine(e.Data);
                if (ServingAt().Match(e.Data) is { Success: true } m) _listening.TrySetResult(new Uri(m.Groups[1].Value));
            };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public Uri Url { get; private set; } = null!;
        public HttpClient Http { get; private set; } = null!;
        public string Out { get { lock (_out) return _out.ToString(); } }
        public string Err { get { lock (_err) return _err.ToString(); } }

        public static async Task<ServeProcess> Start(params string[] args)
        {
            var p = new ServeProcess(["serve", "--port", "0", .. args]);
            Task done = await Task.WhenAny(p._listening.Task, p._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
            if (done != p._listening.Task)
            {
                p.Dispose();
                Assert.Fail($"serve did not start listening; stdout: {p.Out} stderr: {p.Err}");
            }
            p.Url = await p._listening.Task;
            p.Http = new HttpClient { BaseAddress = p.Url, Timeout = Wait };
            return p;
        }

        /// <summary>Sends SIGTERM and waits for the process to exit; its exit code.</summary>
        public async Task<int> Terminate()
        {
            using (Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill.WaitForExitAsync();
            using var cts = new CancellationTokenSource(Wait);
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }

        public void Dispose()
        {
            Http?.Dispose();
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }

        [GeneratedRegex(@" at (http://\S+?)/?$")]
        private static partial Regex ServingAt();
    }

    private static async Task<string> Greedy(HttpClient http, string prompt, int maxTokens)
    {
        using HttpResponseMessage r = await http.PostAsync("v1/completions",
            RouteTests.Json(JsonSerializer.Serialize(new { prompt, max_tokens = maxTokens, temperature = 0 })));
        string text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        using JsonDocument doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    /// <summary>The test model with a 1,024-position context (long streams), in a folder of its own.</summary>
    private static string LongContextModel()
    {
        TokenFormerConfig config = TokenFormerPresets.Get("micro");
        string tokenizer = Path.Combine(TestModel.Directory, "tokenizer.json");
        config.VocabSize = TokenFormer.Text.Tokenizer.Load(tokenizer).VocabSize;
        config.MaxPositionEmbeddings = 1024;
        var model = new TokenFormerModel(config);
        model.InitializeRandom(seed: 7);
        string dir = Path.Combine(TempFolders.Create("serve-sigterm"), "micro-1k");
        ModelDirectory.Save(model, dir);
        File.Copy(tokenizer, Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    [Fact]
    public async Task Sigterm_while_streams_are_open_ends_each_with_DONE_and_exits_0()
    {
        using ServeProcess serve = await ServeProcess.Start("--model", LongContextModel(), "--max-batch", "1");
        // three long streams: one generating, two waiting in the queue (batches of one; a waiting stream gets its
        // headers with its first event)
        var sending = new List<Task<HttpResponseMessage>>();
        for (int i = 0; i < 3; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = RouteTests.Json(JsonSerializer.Serialize(new { prompt = $"Stream {i} says", max_tokens = 1000, temperature = 0, stream = true })),
            };
            sending.Add(serve.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead));
        }
        HttpResponseMessage firstResponse = await Task.WhenAny(sending).Unwrap();
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
        Stream first = await firstResponse.Content.ReadAsStreamAsync();
        var start = new byte[16];
        Assert.True(await first.ReadAsync(start) > 0);   // one stream is generating
        await Task.Delay(200);                           // the other two have reached the queue by now

        var clock = Stopwatch.StartNew();
        int code = await serve.Terminate();
        double seconds = clock.Elapsed.TotalSeconds;
        Assert.True(code == 0, $"exit code {code}; stderr: {serve.Err}");
        Assert.Contains("Stopped.", serve.Out);
        Assert.DoesNotContain("   at ", serve.Err);
        Assert.DoesNotContain("Unhandled", serve.Err);

        // every stream ended properly: finished, or cancelled with an error event, then [DONE]
        int cancelled = 0;
        foreach (Task<HttpResponseMessage> t in sending)
        {
            HttpResponseMessage response = await t;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            string rest = response == firstResponse ? await new StreamReader(first).ReadToEndAsync() : await response.Content.ReadAsStringAsync();
            Assert.EndsWith("data: [DONE]\n\n", rest);
            if (rest.Contains("\"code\":\"shutting_down\"", StringComparison.Ordinal)) cancelled++;
            response.Dispose();
        }
        Assert.True(cancelled >= 1, "no stream was open at SIGTERM (the test did not test anything)");
        Assert.True(seconds < 25, $"the process took {seconds:F1} s to exit");
    }

    [Fact]
    public async Task The_model_folder_truncated_or_removed_while_serving_does_not_stop_the_server()
    {
        string dir = Path.Combine(TempFolders.Create("serve-removed"), "micro-random");
        Directory.CreateDirectory(dir);
        foreach (string f in Directory.GetFiles(TestModel.Directory)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        using ServeProcess serve = await ServeProcess.Start("--model", dir);
        string before = await Greedy(serve.Http, "Once upon a time", 8);

        // the weights file truncated in place (a memory-mapped model would crash here with SIGBUS)
        using (new FileStream(Path.Combine(dir, ModelDirectory.WeightsFile), FileMode.Truncate)) { }
        Assert.Equal(before, await Greedy(serve.Http, "Once upon a time", 8));

        // the whole folder removed
        Directory.Delete(dir, recursive: true);
        Assert.Equal(before, await Greedy(serve.Http, "Once upon a time", 8));
        using (HttpResponseMessage health = await serve.Http.GetAsync("health")) Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        Assert.Equal(0, await serve.Terminate());
        Assert.DoesNotContain("   at ", serve.Err);
    }
}
