using System.Net;

namespace TokenFormer.Cli.Serve;

/// <summary>
/// The page at <c>GET /</c>: a prompt box, max tokens and temperature, a Generate button; the completion streams
/// in as it is produced (fetch + ReadableStream reading the server-sent events of <c>POST /v1/completions</c>).
/// Self-contained: no external scripts, styles or fonts.
/// </summary>
public static class IndexPage
{
    /// <summary>The page for model <paramref name="modelId"/> with a context of <paramref name="contextLength"/> tokens.</summary>
    public static string Render(string modelId, int contextLength) => Template
        .Replace("{{MODEL}}", WebUtility.HtmlEncode(modelId), StringComparison.Ordinal)
        .Replace("{{CONTEXT}}", contextLength.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private const string Template = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TokenFormer · {{MODEL}}</title>
<style>
  :root { color-scheme: light; --accent: #2456c7; --muted: #5b6475; --line: #d5dae3; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1c2230; background: #f5f7fb; }
  main { max-width: 820px; margin: 32px auto; padding: 0 20px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  .sub { color: var(--muted); margin: 0 0 20px; }
  label { display: block; font-weight: 600; margin: 0 0 6px; }
  textarea { width: 100%; min-height: 110px; padding: 10px 12px; font: 15px/1.45 ui-monospace, "DejaVu Sans Mono", monospace;
             border: 1px solid var(--line); border-radius: 8px; resize: vertical; background: #fff; }
  .row { display: flex; gap: 16px; align-items: end; flex-wrap: wrap; margin: 14px 0 18px; }
  .row input { width: 110px; padding: 7px 9px; font: inherit; border: 1px solid var(--line); border-radius: 6px; }
  button { padding: 8px 20px; font: inherit; font-weight: 600; border-radius: 6px; border: 1px solid var(--accent); cursor: pointer; }
  #generate { background: var(--accent); color: #fff; }
  #generate:disabled { opacity: .55; cursor: default; }
  #stop { background: #fff; color: var(--accent); }
  #stop:disabled { opacity: .4; cursor: default; }
  .out { min-height: 150px; padding: 12px 14px; background: #fff; border: 1px solid var(--line); border-radius: 8px;
         font: 15px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-word; }
  .out .prompt { color: var(--muted); }
  .out .gen { color: #0d5c2e; background: #e7f6ec; }
  #status { color: var(--muted); margin-top: 8px; min-height: 1.5em; }
  #status.error { color: #b3261e; }
</style>
</head>
<body>
<main>
  <h1>TokenFormer</h1>
  <p class="sub">Model <code id="model">{{MODEL}}</code> · context {{CONTEXT}} tokens · <code>POST /v1/completions</code></p>
  <label for="prompt">Prompt</label>
  <textarea id="prompt" placeholder="Type a prompt, then press Generate (Ctrl+Enter)"></textarea>
  <div class="row">
    <div><label for="max-tokens">Max tokens</label><input id="max-tokens" type="number" min="1" max="{{CONTEXT}}" value="64"></div>
    <div><label for="temperature">Temperature</label><input id="temperature" type="number" min="0" step="0.1" value="0.8"></div>
    <div><button id="generate" type="button">Generate</button></div>
    <div><button id="stop" type="button" disabled>Stop</button></div>
  </div>
  <div class="out" id="output" aria-live="polite"><span class="prompt" id="echo"></span><span class="gen" id="completion"></span></div>
  <div id="status">Ready.</div>
</main>
<script>
"use strict";
const $ = id => document.getElementById(id);
let controller = null;

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function generate() {
  const prompt = $("prompt").value;
  const body = {
    prompt,
    max_tokens: Number($("max-tokens").value),
    temperature: Number($("temperature").value),
    stream: true,
  };
  $("echo").textContent = prompt;
  $("completion").textContent = "";
  $("generate").disabled = true;
  $("stop").disabled = false;
  controller = new AbortController();
  const started = performance.now();
  let pieces = 0, finish = null;
  setStatus("Generating…");
  try {
    const response = await fetch("/v1/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error.message; } catch (e) { }
      throw new Error(message);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          const choice = chunk.choices[0];
          if (choice.text) { $("completion").textContent += choice.text; pieces++; }
          if (choice.finish_reason) finish = choice.finish_reason;
          const seconds = (performance.now() - started) / 1000;
          setStatus("Generating… " + pieces + " pieces, " + seconds.toFixed(1) + " s");
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    setStatus("Done: " + pieces + " pieces in " + seconds.toFixed(2) + " s (" + (pieces / seconds).toFixed(1) +
      "/s), finish reason: " + (finish || "none") + ".");
  } catch (e) {
    if (e.name === "AbortError") setStatus("Stopped after " + pieces + " pieces.");
    else setStatus("Error: " + e.message, true);
  } finally {
    $("generate").disabled = false;
    $("stop").disabled = true;
    controller = null;
  }
}

$("generate").addEventListener("click", generate);
$("stop").addEventListener("click", () => controller && controller.abort());
$("prompt").addEventListener("keydown", e => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate(); });
</script>
</body>
</html>
""";
}
