using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using TokenFormer.Cli.Serve;
using Xunit.Abstractions;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>
/// The page at / end to end in headless Chromium (driven over the DevTools protocol): type a prompt, set max tokens
/// and temperature 0, click Generate, wait for the streamed text, compare it with the API's answer, take a
/// screenshot. Without a Chromium it prints "SKIPPED: chromium not found" and passes on a developer's machine, but
/// fails when the environment variable CI is "true": CI must test the page in a real browser (.ci/run installs
/// Debian's chromium when it is missing).
/// Environment: CHROMIUM (browser path), TOKENFORMER_SERVE_SCREENSHOT (where to save the PNG; default: a temp file),
/// TOKENFORMER_SERVE_PAGE_MODEL (a model directory to serve instead of the random micro model).
/// </summary>
public sealed class PageTests(ITestOutputHelper output)
{
    private const string Prompt = "Tonight, I want to talk about";
    private const int MaxTokens = 40;

    private static string? FindChromium() =>
        new[] { Environment.GetEnvironmentVariable("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }
            .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    [Fact]
    public async Task Typing_a_prompt_and_clicking_generate_streams_the_completion_into_the_page()
    {
        string? chromium = FindChromium();
        if (chromium is null)
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Assert.Fail("CI=true but no Chromium was found (looked at $CHROMIUM, /usr/bin/chromium, /usr/bin/chromium-browser, " +
                    "/usr/bin/google-chrome); install Debian's chromium (.ci/run does when it runs as root) or set CHROMIUM to the browser");
            output.WriteLine("SKIPPED: chromium not found");
            return;
        }
        string modelDir = Environment.GetEnvironmentVariable("TOKENFORMER_SERVE_PAGE_MODEL") is { Length: > 0 } m ? m : TestModel.Directory;
        var engine = TextGeneratorEngine.Load(modelDir, maxBatch: 2);
        await using TestServer server = await TestServer.StartAsync(engine, maxBatch: 2);

        // What the API answers for the same request (greedy, so the page must show exactly this).
        string expected;
        using (HttpResponseMessage r = await server.Client.PostAsync("v1/completions",
            RouteTests.Json(JsonSerializer.Serialize(new { prompt = Prompt, max_tokens = MaxTokens, temperature = 0 }))))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            expected = doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
        Assert.NotEmpty(expected.Trim());

        string profile = Directory.CreateTempSubdirectory("tokenformer-chromium-").FullName;
        var stderr = new StringBuilder();
        using var browser = new Process
        {
            StartInfo = new ProcessStartInfo(chromium)
            {
                ArgumentList =
                {
                    "--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--window-size=1000,760",
                    "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank",
                },
                RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
            },
        };
        browser.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        browser.OutputDataReceived += (_, _) => { };
        browser.Start();
        browser.BeginErrorReadLine();
        browser.BeginOutputReadLine();
        try
        {
            Uri devtools = await WaitForDevTools(profile, browser, stderr);
            await using DevTools cdp = await DevTools.ConnectAsync(devtools, CancellationToken.None);
            string targetId = (await cdp.Send("Target.createTarget", new { url = server.BaseAddress.ToString() })).GetProperty("targetId").GetString()!;
            string session = (await cdp.Send("Target.attachToTarget", new { targetId, flatten = true })).GetProperty("sessionId").GetString()!;
            await Until(async () => (await cdp.Evaluate(session, "document.readyState === 'complete' && !!document.getElementById('generate')")).ValueKind == JsonValueKind.True,
                "the page loaded");
            Assert.Equal(engine.ModelId, (await cdp.Evaluate(session, "document.getElementById('model').textContent")).GetString());

            // Type into the fields as a person would: focus, then key in the text character by character.
            await TypeInto(cdp, session, "prompt", Prompt);
            await TypeInto(cdp, session, "max-tokens", MaxTokens.ToString());
            await TypeInto(cdp, session, "temperature", "0");
            Assert.Equal(Prompt, (await cdp.Evaluate(session, "document.getElementById('prompt').value")).GetString());

            // Click the Generate button with the mouse.
            JsonElement box = await cdp.Evaluate(session,
                "(() => { const r = document.getElementById('generate').getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()");
            double x = box.GetProperty("x").GetDouble(), y = box.GetProperty("y").GetDouble();
            await cdp.Send("Input.dispatchMouseEvent", new { type = "mouseMoved", x, y }, session);
            await cdp.Send("Input.dispatchMouseEvent", new { type = "mousePressed", x, y, button = "left", clickCount = 1 }, session);
            await cdp.Send("Input.dispatchMouseEvent", new { type = "mouseReleased", x, y, button = "left", clickCount = 1 }, session);

            // Watch the completion grow until the page says it is done.
            var seenLengths = new SortedSet<int>();
            string status = "", shown = "";
            await Until(async () =>
            {
                JsonElement state = await cdp.Evaluate(session,
                    "({ text: document.getElementById('completion').textContent, status: document.getElementById('status').textContent })");
                shown = state.GetProperty("text").GetString()!;
                status = state.GetProperty("status").GetString()!;
                seenLengths.Add(shown.Length);
                return status.StartsWith("Done", StringComparison.Ordinal) || status.StartsWith("Error", StringComparison.Ordinal);
            }, "the page finished generating");
            output.WriteLine($"status: {status}");
            output.WriteLine($"completion ({shown.Length} chars; lengths seen while polling: {string.Join(", ", seenLengths)}): {shown}");
            Assert.StartsWith("Done: ", status);
            Assert.Equal(expected, shown);
            int pieces = int.Parse(status["Done: ".Length..status.IndexOf(' ', "Done: ".Length)]);
            Assert.True(pieces >= 2, $"the page counted {pieces} streamed pieces");
            Assert.Equal(Prompt, (await cdp.Evaluate(session, "document.getElementById('echo').textContent")).GetString());

            string screenshot = Environment.GetEnvironmentVariable("TOKENFORMER_SERVE_SCREENSHOT") is { Length: > 0 } s ? Path.GetFullPath(s)
                : Path.Combine(Path.GetTempPath(), "tokenformer-serve-page.png");
            JsonElement shot = await cdp.Send("Page.captureScreenshot", new { format = "png" }, session);
            byte[] png = Convert.FromBase64String(shot.GetProperty("data").GetString()!);
            Assert.True(png.AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), "not a PNG");
            Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
            string temp = screenshot + ".tmp";
            await File.WriteAllBytesAsync(temp, png);
            File.Move(temp, screenshot, overwrite: true);
            output.WriteLine($"screenshot ({png.Length} bytes): {screenshot}");

            try { await cdp.Send("Browser.close", timeout: TimeSpan.FromSeconds(5)); } catch (Exception) { }
        }
        finally
        {
            if (!browser.WaitForExit(5000)) browser.Kill(entireProcessTree: true);
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Focuses the element, clears it, then types <paramref name="text"/> one key at a time.</summary>
    private static async Task TypeInto(DevTools cdp, string session, string id, string text)
    {
        await cdp.Evaluate(session, $"(() => {{ const e = document.getElementById('{id}'); e.focus(); e.value = ''; }})()");
        foreach (char c in text)
        {
            await cdp.Send("Input.dispatchKeyEvent", new { type = "keyDown", text = c.ToString(), key = c.ToString(), unmodifiedText = c.ToString() }, session);
            await cdp.Send("Input.dispatchKeyEvent", new { type = "keyUp", key = c.ToString() }, session);
        }
        string value = (await cdp.Evaluate(session, $"document.getElementById('{id}').value")).GetString()!;
        Assert.Equal(text, value);
    }

    /// <summary>The browser's DevTools WebSocket address, from the DevToolsActivePort file it writes into its profile.</summary>
    private static async Task<Uri> WaitForDevTools(string profile, Process browser, StringBuilder stderr)
    {
        string file = Path.Combine(profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (browser.HasExited) break;
            if (File.Exists(file))
            {
                string[] lines = (await File.ReadAllTextAsync(file)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (lines.Length >= 2 && int.TryParse(lines[0], out int port)) return new Uri($"ws://127.0.0.1:{port}{lines[1].Trim()}");
            }
            await Task.Delay(50);
        }
        string log;
        lock (stderr) log = stderr.ToString();
        throw new InvalidOperationException($"Chromium did not open its DevTools port (exited: {browser.HasExited}); stderr:\n{log}");
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("timed out waiting until " + what);
            await Task.Delay(25);
        }
    }
}
