#!/usr/bin/env bash
# Times `tokenformer import` of a checkpoint folder against reading the checkpoint's bytes (`cat`), side by side,
# ROUNDS times. "cold": the checkpoint's pages are dropped from the page cache first (GNU dd iflag=nocache count=0,
# for that file only, so the .NET runtime stays cached as on any second run), so both read it from disk; "warm":
# right after, with the file cached. The output folder is removed and synced (untimed) before each import.
# Prints one line per round: seconds and peak RSS (KB) from /usr/bin/time.
#
#   bench/import-vs-read.sh /tmp/tf150m /tmp/imp-out 5
set -euo pipefail
from=${1:?usage: import-vs-read.sh RELEASE_DIR OUT_DIR [ROUNDS]}; out=${2:?OUT_DIR}; rounds=${3:-5}
ckpt=$from/pytorch_model.bin
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$root/src/TokenFormer.Cli" -c Release -v quiet -nologo > /dev/null
T=$root/src/TokenFormer.Cli/bin/Release/net10.0/tokenformer
evict() { sync; dd if="$ckpt" iflag=nocache count=0 status=none; }
timed() { { /usr/bin/time -f "%e s %M KB" "$@" > /dev/null; } 2>&1 | tail -1; }
import() { rm -rf "$out"; sync; timed "$T" import --from "$from" --out "$out"; }
for r in $(seq "$rounds"); do
  evict; cat_cold=$(timed cat "$ckpt")
  evict; imp_cold=$(import)
  cat_warm=$(timed cat "$ckpt")
  imp_warm=$(import)
  echo "round $r  cold: cat $cat_cold, import $imp_cold  |  warm: cat $cat_warm, import $imp_warm"
done
