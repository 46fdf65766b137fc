#!/usr/bin/env python3
"""Rows of the growth-recipe table (docs/growth.md) from runs' metrics.jsonl: the validation loss at step 0 (the
grown model, = the loss at growth), the largest rise above it over the later evaluations (in %), the first evaluated
step back below it, the final validation loss and its change against the loss at growth (in %).
Usage: summarise.py NAME=RUN_DIR [NAME=RUN_DIR ...]"""
import json
import sys

print("| run | loss at growth | max rise | first eval back below | final val loss | Δ final vs growth |")
print("|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    name, run = arg.split("=", 1)
    evals = []
    with open(f"{run}/metrics.jsonl") as f:
        for line in f:
            r = json.loads(line)
            if "val_loss" in r:
                evals.append((r["step"], r["val_loss"]))
    evals.sort()
    step0, at_growth = evals[0]
    later = evals[1:]
    rise = max((l - at_growth) / at_growth for _, l in later) * 100
    rise_text = f"{rise:+.2f} %" if rise > 0 else "none"
    back = None
    if rise > 0:
        peak_step = max(later, key=lambda e: e[1])[0]
        back = next((s for s, l in later if s > peak_step and l < at_growth), None)
        back_text = f"step {back}" if back is not None else "not within the run"
    else:
        back_text = "never above"
    final = evals[-1][1]
    print(f"| {name} | {at_growth:.4f} | {rise_text} | {back_text} | {final:.4f} | {(final - at_growth) / at_growth * 100:+.2f} % |")
    print("    curve: " + " → ".join(f"{s}:{l:.4f}" for s, l in evals), file=sys.stderr)
