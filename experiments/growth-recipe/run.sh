#!/usr/bin/env bash
# The growth-recipe ablation of docs/growth.md ("Growth recipe ablation"): the quickstart at fixed steps
# (S 2,000 steps, grown ×4 with preserve, L 800 steps, seed 1234) gives S, the data and the tokenizer (and, since the
# ablation, its L is variant c; base-fresh-cosine is its L recipe before); every variant starts from the same
# S checkpoint and token streams, grows it as the quickstart does (grow --factor 4 --seed 1234: preserve, new keys 0)
# and trains L for 800 steps with the quickstart's L settings (batch 8 × 128, seed 1235, 64 validation windows every
# 100 steps) and the variant's optimiser/schedule options. summarise.py writes the table rows.
#
# Runs already present in OUT are kept (delete a run folder to redo it).
# Environment: OUT (default runs/growth-recipe), TF (the tokenformer command; default: build the CLI and run its dll),
# LOCK (default /tmp/tokenformer-cpu.lock), THREADS (default 2), VARIANTS (names to run, default all, in table order).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/runs/growth-recipe}
LOCK=${LOCK:-/tmp/tokenformer-cpu.lock}
THREADS=${THREADS:-2}
if [ -z "${TF:-}" ]; then
  dotnet build "$ROOT/src/TokenFormer.Cli" -c Release -v q -nologo
  TF="dotnet $ROOT/src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll"
fi
locked() { flock "$LOCK" "$@"; }
mkdir -p "$OUT"

# --- baseline: the quickstart itself (its S checkpoint, data and tokenizer are reused below) ----------------------
if [ ! -f "$OUT/base/summary.json" ]; then
  echo "== base: quickstart --small-steps 2000 --large-steps 800 --seed 1234"
  locked $TF quickstart --small-steps 2000 --large-steps 800 --seed 1234 --out "$OUT/base" --threads "$THREADS" > "$OUT/base.log"
fi
S="$OUT/base/small/checkpoints/step-2000"

# --- grow once, as the quickstart does (token counts ×4, preserve, seed 1234), with S's AdamW state ----------------
if [ ! -f "$OUT/grown/config.json" ]; then
  $TF grow --from "$S" --out "$OUT/grown" --factor 4 --mode preserve --seed 1234 --threads "$THREADS"
fi

# --- L variants: the quickstart's L phase settings + the variant's options -----------------------------------------
L="--data $OUT/base/data --init-from $OUT/grown --steps 800 --batch 8 --seq 128 --seed 1235 --eval-windows 64 --eval-every 100 --save-every 0 --keep-last 1 --log-every 80 --threads $THREADS"
declare -A ARGS=(
  # the quickstart's L recipe before the ablation (the quickstart itself now runs variant c)
  [base-fresh-cosine]="--schedule cosine --lr 6e-4 --warmup 80"
  [a-carry-rewarm]="--carry-optimizer --schedule rewarm --warmup 1"
  [b-carry-rewarm-old0.25]="--carry-optimizer --schedule rewarm --warmup 1 --old-lr-scale 0.25"
  [c-carry-continue]="--carry-optimizer --schedule continue"
  [d-fresh-rewarm]="--schedule rewarm --warmup 1"
  [e-carry-continue-old0]="--carry-optimizer --schedule continue --old-lr-scale 0"
  [f-carry-cosine6e-4-old0.33]="--carry-optimizer --schedule cosine --lr 6e-4 --warmup 80 --old-lr-scale 0.3333"
)
ORDER="base-fresh-cosine a-carry-rewarm b-carry-rewarm-old0.25 c-carry-continue d-fresh-rewarm e-carry-continue-old0 f-carry-cosine6e-4-old0.33"
for name in ${VARIANTS:-$ORDER}; do
  if [ -d "$OUT/$name/checkpoints" ]; then echo "== $name: already trained (delete $OUT/$name to redo)"; continue; fi
  echo "== $name: ${ARGS[$name]}"
  # shellcheck disable=SC2086
  locked $TF train $L --out "$OUT/$name" ${ARGS[$name]} > "$OUT/$name.log"
done

# --- table ---------------------------------------------------------------------------------------------------------
rows=("quickstart=$OUT/base/large")
for name in $ORDER; do [ -f "$OUT/$name/metrics.jsonl" ] && rows+=("$name=$OUT/$name"); done
python3 "$(dirname "$0")/summarise.py" "${rows[@]}"
