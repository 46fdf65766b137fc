#!/usr/bin/env python3
"""Load client for `tokenformer serve` (run by hand, not by CI; standard library only).

N clients in threads, each sending R requests one after another over its own keep-alive connection; every
--stream-every-th request is streamed (SSE, checked to end with [DONE]). Prints requests/s, latency median/p95
and errors per round, and the server's resident memory (VmRSS, and the peak VmHWM) from /proc/PID/status after
each round when --pid is given.

  python3 serve_load.py --url http://127.0.0.1:8080 --pid $(pgrep -n -f 'tokenformer.dll serve') --rounds 3
"""
import argparse, http.client, json, statistics, threading, time, urllib.parse

WORDS = ["The", "A", "In", "Once", "Hello", "Today", "We", "It"]


def memory(pid):
    if not pid:
        return ""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return f"server VmRSS {int(fields['VmRSS'].split()[0]) / 1024:.1f} MB, peak VmHWM {int(fields['VmHWM'].split()[0]) / 1024:.1f} MB"


def client(url, index, args, latencies, errors):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    for i in range(args.requests):
        stream = args.stream_every > 0 and (index + i) % args.stream_every == 0
        body = json.dumps({"prompt": f"{WORDS[(index + i) % len(WORDS)]} client {index} asks question {i}",
                           "max_tokens": args.max_tokens, "temperature": args.temperature, "stream": stream})
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            text = r.read().decode()
            if r.status != 200:
                errors.append(f"{r.status}: {text[:200]}")
            elif stream and not text.endswith("data: [DONE]\n\n"):
                errors.append("stream without [DONE]")
            elif not stream and json.loads(text)["usage"]["completion_tokens"] < 1:
                errors.append("no tokens")
        except Exception as e:  # noqa: BLE001 - every failure counts as an error
            errors.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        latencies.append((time.perf_counter() - t0) * 1000)
    conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--temperature", type=float, default=0)
    p.add_argument("--stream-every", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--health", action="store_true", help="print /health's memory figures after each round")
    args = p.parse_args()
    url = urllib.parse.urlparse(args.url)
    print(f"{args.clients} clients x {args.requests} requests, max_tokens {args.max_tokens}, temperature {args.temperature}; "
          f"before: {memory(args.pid)}")
    failed = 0
    for round_ in range(1, args.rounds + 1):
        latencies, errors = [], []
        threads = [threading.Thread(target=client, args=(url, c, args, latencies, errors)) for c in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies) + 0.999) - 1)]
        print(f"round {round_}: {len(latencies)} requests in {seconds:.2f} s = {len(latencies) / seconds:.1f} requests/s; "
              f"latency median {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms; errors {len(errors)}"
              + (f" (first: {errors[0]})" if errors else "") + f"; {memory(args.pid)}")
        failed += len(errors)
        if args.health:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            conn.request("GET", "/health")
            print("   health memory:", json.loads(conn.getresponse().read())["memory"])
            conn.close()
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
