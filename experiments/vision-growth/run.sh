#!/usr/bin/env bash
# Growth experiment of docs/vision.md: a small vision TokenFormer S (7×7 patches, 6 layers, d 64, tokens qkv 16,
# proj 16, ffn 64) trained on Fashion-MNIST, grown 4× (preserve) to the default preset's size L (64, 64, 256) and
# trained on, against L trained from scratch; accuracy against training FLOPs (VisionFlops). Run from the repository
# root under the shared lock:  flock /work/cpu.lock experiments/vision-growth/run.sh OUT [TOKENFORMER]
set -euo pipefail
out=${1:-vision-growth-run}
T=${2:-"dotnet run -c Release --project src/TokenFormer.Cli --"}
S_EPOCHS=${S_EPOCHS:-2}; G_EPOCHS=${G_EPOCHS:-2}; L_EPOCHS=${L_EPOCHS:-3}
mkdir -p "$out"
common=(--threads ${THREADS:-2} --patch-size 7 --layers 6 --hidden 64 --heads 4 --log-every 1000 ${EXTRA:-})   # EXTRA: e.g. --train-limit N for a smoke test
$T vision train --out "$out/L-scratch" "${common[@]}" --qkv-tokens 64 --proj-tokens 64 --ffn-tokens 256 --epochs "$L_EPOCHS" > "$out/L-scratch.log"
$T vision train --out "$out/S" "${common[@]}" --qkv-tokens 16 --proj-tokens 16 --ffn-tokens 64 --epochs "$S_EPOCHS" > "$out/S.log"
s_last=$(ls -d "$out"/S/checkpoints/step-* | sort -V | tail -1)
$T grow --from "$s_last" --out "$out/S-grown" --factor 4 --mode preserve > "$out/grow.log"
$T vision eval --model "$out/S-grown" ${EVAL_EXTRA:-} --confusion "$out/S-grown-confusion.svg" > "$out/S-grown-eval.log"
$T vision train --out "$out/S-grown-trained" --init-from "$out/S-grown" --threads ${THREADS:-2} --log-every 1000 ${EXTRA:-} --epochs "$G_EPOCHS" > "$out/S-grown-trained.log"
python3 experiments/vision-growth/summarise.py "$out"
