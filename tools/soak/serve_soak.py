#!/usr/bin/env python3
"""Soak of `tokenformer serve` at steady load (run by hand, not by CI; standard library only).

Starts the server (its own process, --quiet) on a model directory, sends requests at a fixed rate from a few client
threads for --minutes, and samples the server's resident memory (VmRSS from /proc/PID/status) every --sample
seconds. After --warmup seconds it reports:

  * latency p50/p95/p99/max of every request (and per minute, to show whether it drifts),
  * memory growth: mean RSS over the last minute against the mean over the first minute after warm-up (pass: <= 5 %),
    with the RSS of every minute and the server's own /health memory figures (managed heap, GC counts) once a minute,
  * errors (any non-200, a stream without [DONE], a wrong token count).

The mix: non-streamed completions, streamed completions (every --stream-every-th), and streams the client abandons
after the first event (every --abandon-every-th, exercising cancellation on disconnect). Exit code 1 when there were
errors or the memory grew more than 5 %.

  python3 tools/soak/serve_soak.py --cli src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll --minutes 10

Without --model it builds one first in --work (the trained 8,192-token test tokenizer, prepare, one training step of
the micro preset; a few seconds) so the soak needs nothing but the repository and the built CLI.
"""
import argparse, gzip, http.client, json, os, re, shutil, statistics, subprocess, sys, threading, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORDS = ["The", "A", "In", "Once", "Hello", "Today", "We", "It"]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build_model(cli, work):
    os.makedirs(work, exist_ok=True)
    tok, text = os.path.join(work, "tokenizer.json"), os.path.join(work, "text.txt")
    with gzip.open(os.path.join(ROOT, "tests/fixtures/tokenizer/trained-tokenizer.json.gz")) as f, open(tok, "wb") as g:
        shutil.copyfileobj(f, g)
    with gzip.open(os.path.join(ROOT, "tests/fixtures/tokenizer/train.txt.gz")) as f, open(text, "wb") as g:
        shutil.copyfileobj(f, g)
    data, run = os.path.join(work, "data"), os.path.join(work, "run")
    for d in (data, run):
        shutil.rmtree(d, ignore_errors=True)
    subprocess.run(["dotnet", cli, "prepare", "--tokenizer", tok, "--input", text, "--out", data, "--val-fraction", "0.1"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["dotnet", cli, "train", "--data", data, "--preset", "micro", "--steps", "1", "--batch", "1", "--seq", "64",
                    "--eval-every", "0", "--save-every", "1", "--out", run], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(run, "checkpoints", "step-1")


def start_server(cli, model, max_batch):
    p = subprocess.Popen(["dotnet", cli, "serve", "--model", model, "--port", "0", "--quiet", "--max-batch", str(max_batch)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            raise SystemExit("serve exited: " + p.stderr.read())
        m = re.search(r" at http://([\d.]+):(\d+)/", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()   # keep draining
            return p, m.group(1), int(m.group(2))
    raise SystemExit("serve did not start listening")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = []   # (time since start, latency ms)
        self.errors = []
        self.kinds = {"whole": 0, "stream": 0, "abandoned": 0}


def client(host, port, index, args, stats, start, stop_at):
    interval = args.clients / args.rate
    next_at = start + index * interval / args.clients
    conn = http.client.HTTPConnection(host, port, timeout=60)
    i = 0
    while True:
        now = time.time()
        if now >= stop_at:
            break
        if next_at > now:
            time.sleep(next_at - now)
        next_at += interval
        n = index * 1_000_000 + i
        i += 1
        abandon = args.abandon_every > 0 and n % args.abandon_every == 0
        stream = abandon or (args.stream_every > 0 and n % args.stream_every == 0)
        body = json.dumps({"prompt": f"{WORDS[n % len(WORDS)]} client {index} asks question {i}", "max_tokens": args.max_tokens,
                           "temperature": 0.8, "seed": n, "stream": stream})
        t0 = time.perf_counter()
        problem = None
        try:
            conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            if abandon:
                r.fp.readline()   # the first event line, then the client goes away
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                kind = "abandoned"
            else:
                text = r.read().decode()
                kind = "stream" if stream else "whole"
                if r.status != 200:
                    problem = f"{r.status}: {text[:200]}"
                elif stream and not text.endswith("data: [DONE]\n\n"):
                    problem = "stream without [DONE]"
                elif not stream and not 0 <= json.loads(text)["usage"]["completion_tokens"] <= args.max_tokens:
                    problem = "wrong token count"   # (0 is right when the first token sampled is end-of-text)
        except Exception as e:  # noqa: BLE001 - every failure counts
            problem, kind = repr(e), "error"
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
        ms = (time.perf_counter() - t0) * 1000
        with stats.lock:
            if kind != "abandoned" and kind != "error":
                stats.samples.append((time.time() - start, ms))
            if kind in stats.kinds:
                stats.kinds[kind] += 1
            if problem:
                stats.errors.append(problem)
    conn.close()


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, max(0, int(p * len(sorted_values) + 0.999999) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll"))
    ap.add_argument("--model", help="model directory (default: build one in --work)")
    ap.add_argument("--work", default="/tmp/tokenformer-soak")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=120, help="seconds left out of the figures")
    ap.add_argument("--rate", type=float, default=8, help="requests per second, all clients together")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--max-batch", type=int, default=4)
    ap.add_argument("--stream-every", type=int, default=4)
    ap.add_argument("--abandon-every", type=int, default=10)
    ap.add_argument("--sample", type=float, default=5, help="seconds between memory samples")
    ap.add_argument("--json", help="write the figures here as JSON too")
    args = ap.parse_args()

    model = args.model or build_model(args.cli, args.work)
    server, host, port = start_server(args.cli, model, args.max_batch)
    try:
        stats = Stats()
        start = time.time()
        stop_at = start + args.minutes * 60
        threads = [threading.Thread(target=client, args=(host, port, c, args, stats, start, stop_at)) for c in range(args.clients)]
        for t in threads:
            t.start()
        memory = []   # (time since start, RSS MB)
        managed = []  # (time since start, /health memory) once a minute
        next_health = start
        while time.time() < stop_at:
            memory.append((time.time() - start, rss_mb(server.pid)))
            if time.time() >= next_health:
                next_health += 60
                try:
                    hc = http.client.HTTPConnection(host, port, timeout=30)
                    hc.request("GET", "/health")
                    managed.append((round(time.time() - start), json.loads(hc.getresponse().read())["memory"]))
                    hc.close()
                except Exception as e:  # noqa: BLE001 - a missed sample is not an error of the server under test
                    managed.append((round(time.time() - start), repr(e)))
            time.sleep(args.sample)
        for t in threads:
            t.join()
        memory.append((time.time() - start, rss_mb(server.pid)))
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", "/health")
        health = json.loads(conn.getresponse().read())
        conn.close()
    finally:
        server.terminate()
        try:
            code = server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed"

    duration = args.minutes * 60
    after = [ms for t, ms in stats.samples if t >= args.warmup]
    after.sort()
    first = [m for t, m in memory if args.warmup <= t < args.warmup + 60]
    last = [m for t, m in memory if t >= duration - 60]
    growth = (statistics.mean(last) / statistics.mean(first) - 1) * 100
    per_minute = []
    for minute in range(int(args.warmup // 60), int(duration // 60)):
        xs = sorted(ms for t, ms in stats.samples if minute * 60 <= t < (minute + 1) * 60 and t >= args.warmup)
        if xs:
            per_minute.append({"minute": minute + 1, "requests": len(xs), "p50": round(pct(xs, .5), 1),
                               "p95": round(pct(xs, .95), 1), "p99": round(pct(xs, .99), 1)})
    result = {
        "minutes": args.minutes, "warmup_s": args.warmup, "rate_per_s": args.rate, "clients": args.clients,
        "max_tokens": args.max_tokens, "requests": stats.kinds, "errors": len(stats.errors),
        "first_error": stats.errors[0] if stats.errors else None,
        "latency_ms": {"count": len(after), "p50": round(pct(after, .5), 1), "p95": round(pct(after, .95), 1),
                       "p99": round(pct(after, .99), 1), "max": round(after[-1], 1)},
        "rss_mb": {"at_start": round(memory[0][1], 1), "first_minute_after_warmup": round(statistics.mean(first), 1),
                   "last_minute": round(statistics.mean(last), 1), "max": round(max(m for _, m in memory), 1),
                   "growth_percent": round(growth, 2)},
        "per_minute": per_minute,
        "rss_mb_per_minute": [round(statistics.mean(m for t, m in memory if k * 60 <= t < (k + 1) * 60), 1)
                              for k in range(int(duration // 60)) if any(k * 60 <= t < (k + 1) * 60 for t, _ in memory)],
        "health_memory_per_minute": managed, "server_health": health, "server_exit": code,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    ok = not stats.errors and growth <= 5 and code == 0
    print("PASS" if ok else "FAIL", f"memory growth {growth:+.2f} % (limit 5 %), {len(stats.errors)} errors, server exit {code}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
