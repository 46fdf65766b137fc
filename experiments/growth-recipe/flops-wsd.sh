#!/usr/bin/env bash
# Issue 14, acceptance 2 and 3 with the growth recipe (docs/growth.md, "The recipe: a held rate across growth"): the
# setting of flops.sh (S 600 steps, grown x3.5 in preserve mode, each grown run 353 steps so that S + grown = 60 % of
# L's FLOPs; L from scratch 1,000 steps at three peak learning rates; S-long = S trained for the whole budget), with
# every run on the warmup-stable-decay schedule: S holds its peak (--schedule wsd --decay-steps 0) and is grown; the
# grown run uses train --init-from's defaults (S's AdamW state carried, S's rate held, decay over its last fifth);
# L from scratch and S-long decay over their last fifth (--schedule wsd), so the baselines get the same schedule family.
# Runs already in OUT are kept. Build the CLI first (dotnet build src/TokenFormer.Cli -c Release); TF overrides the binary.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/experiments/growth-recipe/setup.sh"
run() { local name=$1; shift
  if [ -d "$OUT/$name/checkpoints" ]; then return; fi
  echo "== $(date -u +%H:%M:%S) $name: $*"
  $TF train --data "$OUT/data" --out "$OUT/$name" --batch $BATCH --seq $SEQ $EVAL "$@" > "$OUT/$name.log"
  tail -1 "$OUT/$name.log"; }
run S-wsd --config "$OUT/s.json" --steps $S_STEPS --warmup 30 --lr $LR --schedule wsd --decay-steps 0
[ -f "$OUT/grown-wsd/config.json" ] || $TF grow --from "$OUT/S-wsd" --out "$OUT/grown-wsd" --qkv-tokens 224 --proj-tokens 224 --ffn-tokens 896 --mode preserve --seed 7
run G-recipe --init-from "$OUT/grown-wsd" --steps $G_STEPS --seed 1235                      # train --init-from's defaults
for lr in 1e-3 2e-3 5e-4; do
  run L-wsd-lr$lr --config "$OUT/l.json" --steps $L_STEPS --warmup 50 --lr $lr --min-lr $(awk "BEGIN{print $lr/10}") --schedule wsd
done
run S-long-wsd --config "$OUT/s.json" --steps $S_LONG_STEPS --warmup 30 --lr $LR --min-lr 1e-4 --schedule wsd
$TF experiment growth-report --out "$OUT" --docs "$OUT/report-wsd" --small S-wsd --large L-wsd-lr1e-3 L-wsd-lr2e-3 L-wsd-lr5e-4 \
  --grown G-recipe --baseline S-long-wsd
echo "== $(date -u +%H:%M:%S) done; table in $OUT/report-wsd/growth-results.md"
