#!/usr/bin/env bash
# Issue 14, acceptance 2 and 3 (docs/growth.md, "Against L from scratch and S trained on"): the setting of
# experiments/growth/run.sh (S 600 steps; grown x3.5 in preserve mode; each grown run 353 steps = 60 % of L's FLOPs
# counting S's; L from scratch 1,000 steps at three learning rates; S-long = S trained for the whole budget) with the
# growth recipes: the old one (fresh moments, cosine), the quickstart's (S's AdamW state carried, S's schedule
# continued), carried moments with a fresh cosine, and that with the old tokens at a third of the learning rate.
# Runs already in OUT are kept. Build the CLI first (dotnet build src/TokenFormer.Cli -c Release).

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/experiments/growth-recipe/setup.sh"
train() { local name=$1 lr=$2; shift 2
  if [ -d "$OUT/$name/checkpoints" ]; then return; fi
  echo "== $(date -u +%H:%M:%S) $name: --lr $lr $*"
  $TF train --data "$OUT/data" --out "$OUT/$name" --batch $BATCH --seq $SEQ --lr $lr --min-lr $(awk "BEGIN{print $lr/10}") $EVAL "$@" > "$OUT/$name.log"
  tail -1 "$OUT/$name.log"; }
train S $LR --config "$OUT/s.json" --steps $S_STEPS --warmup 30
[ -f "$OUT/grown/config.json" ] || $TF grow --from "$OUT/S" --out "$OUT/grown" --qkv-tokens 224 --proj-tokens 224 --ffn-tokens 896 --mode preserve --seed 7
# the quickstart's recipe: S's AdamW state carried, S's schedule continued (--lr/--min-lr/--warmup do not apply)
if [ ! -d "$OUT/G-carry-continue/checkpoints" ]; then
  echo "== $(date -u +%H:%M:%S) G-carry-continue"
  $TF train --data "$OUT/data" --out "$OUT/G-carry-continue" --batch $BATCH --seq $SEQ $EVAL --init-from "$OUT/grown" --steps $G_STEPS --seed 1235 --carry-optimizer --schedule continue > "$OUT/G-carry-continue.log"; tail -1 "$OUT/G-carry-continue.log"; fi
train G-preserve $LR --init-from "$OUT/grown" --steps $G_STEPS --warmup 20 --seed 1235
train L $LR --config "$OUT/l.json" --steps $L_STEPS --warmup 50
train L-lr2e-3 2e-3 --config "$OUT/l.json" --steps $L_STEPS --warmup 50
train L-lr5e-4 5e-4 --config "$OUT/l.json" --steps $L_STEPS --warmup 50
train S-long $LR --config "$OUT/s.json" --steps $S_LONG_STEPS --warmup 30
run_extra() { local name=$1; shift; [ -d "$OUT/$name/checkpoints" ] && return
  echo "== $(date -u +%H:%M:%S) $name $*"
  $TF train --data "$OUT/data" --out "$OUT/$name" --batch $BATCH --seq $SEQ $EVAL --init-from "$OUT/grown" --steps $G_STEPS --seed 1235 "$@" > "$OUT/$name.log"; tail -1 "$OUT/$name.log"; }
run_extra G-carry-cosine --carry-optimizer --schedule cosine --lr 1e-3 --min-lr 1e-4 --warmup 20
run_extra G-carry-cosine-old0.33 --carry-optimizer --schedule cosine --lr 1e-3 --min-lr 1e-4 --warmup 20 --old-lr-scale 0.3333
$TF experiment growth-report --out "$OUT" --docs "$OUT/report" --small S --large L L-lr2e-3 L-lr5e-4 \
  --grown G-preserve G-carry-continue G-carry-cosine G-carry-cosine-old0.33 --baseline S-long
echo "== $(date -u +%H:%M:%S) done; table in $OUT/report/growth-results.md"
