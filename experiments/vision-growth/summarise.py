#!/usr/bin/env python3
"""Table (markdown) and figure (SVG) of experiments/vision-growth/run.sh: test accuracy against cumulative training FLOPs."""
import json
import os
import sys


def evals(path):
    out = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if "test_acc" in r:
                out.append((r["step"], r["train_flops"], r["test_acc"], r["test_loss"]))
    return out


def main():
    root = sys.argv[1]
    L = evals(os.path.join(root, "L-scratch", "metrics.jsonl"))
    S = evals(os.path.join(root, "S", "metrics.jsonl"))
    G = evals(os.path.join(root, "S-grown-trained", "metrics.jsonl"))
    s_flops = S[-1][1]
    G = [(st, fl + s_flops, acc, loss) for st, fl, acc, loss in G]
    grown_eval = [l for l in open(os.path.join(root, "S-grown-eval.log")) if l.startswith("accuracy ")][0].split()[1]
    print("| run | epochs | training TFLOP | test accuracy | test loss |")
    print("|---|---|---|---|---|")
    for name, rows in (("L from scratch", L), ("S", S), ("S grown 4× → L, trained on", G)):
        for i, (st, fl, acc, loss) in enumerate(rows):
            print(f"| {name} | {i + 1} | {fl / 1e12:.2f} | {acc * 100:.2f}% | {loss:.4f} |")
    print(f"\nS right after growth (preserve), before training on: accuracy {grown_eval} (S's last: {S[-1][2] * 100:.2f}%)")
    # a small SVG: accuracy against PFLOP
    series = [("L from scratch", "#08519c", [(f, a) for _, f, a, _ in L]), ("S", "#31a354", [(f, a) for _, f, a, _ in S]),
              ("S grown 4x, trained on", "#e6550d", [(S[-1][1], S[-1][2])] + [(f, a) for _, f, a, _ in G])]
    xs = [p[0] for _, _, pts in series for p in pts]
    ys = [p[1] for _, _, pts in series for p in pts]
    x0, x1, y0, y1 = 0, max(xs) * 1.05, min(ys) - 0.01, max(ys) + 0.01
    W, H, l, r, t, b = 760, 420, 70, 20, 40, 50

    def X(v): return l + (v - x0) / (x1 - x0) * (W - l - r)
    def Y(v): return H - b - (v - y0) / (y1 - y0) * (H - t - b)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">Fashion-MNIST test accuracy against training compute</text>',
           f'<line x1="{l}" y1="{H - b}" x2="{W - r}" y2="{H - b}" stroke="black"/><line x1="{l}" y1="{t}" x2="{l}" y2="{H - b}" stroke="black"/>',
           f'<text x="{(W + l) / 2}" y="{H - 12}" text-anchor="middle">training TFLOP</text>',
           f'<text x="16" y="{H / 2}" text-anchor="middle" transform="rotate(-90 16 {H / 2})">test accuracy (%)</text>']
    for i in range(6):
        xv = x0 + (x1 - x0) * i / 5
        yv = y0 + (y1 - y0) * i / 5
        svg.append(f'<text x="{X(xv)}" y="{H - b + 16}" text-anchor="middle">{xv / 1e12:.1f}</text>')
        svg.append(f'<text x="{l - 6}" y="{Y(yv) + 4}" text-anchor="end">{yv * 100:.1f}</text>')
        svg.append(f'<line x1="{l}" y1="{Y(yv)}" x2="{W - r}" y2="{Y(yv)}" stroke="#eee"/>')
    for k, (name, color, pts) in enumerate(series):
        svg.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (color, " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in pts)))
        for x, y in pts:
            svg.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{color}"/>')
        svg.append(f'<rect x="{W - 230}" y="{t + 10 + 18 * k}" width="12" height="3" fill="{color}"/><text x="{W - 212}" y="{t + 15 + 18 * k}">{name}</text>')
    svg.append("</svg>")
    with open(os.path.join(root, "growth-accuracy-flops.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
