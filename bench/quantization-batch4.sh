#!/bin/sh
# The batched-decode figures of docs/quantization.md ("Batched decode"): the four-row products per format and kernel
# (blocked over rows of W against the first, row-at-a-time kernels), then `bench generate --batch 4` on the 150m preset
# for float32, bf16 and int8, each reduced format also with TOKENFORMER_BATCH_KERNEL=row, alternating in rounds.
# Run it under the shared CPU lock:
#   flock /work/cpu.lock bench/quantization-batch4.sh BIN_DIR ROUNDS > out.txt
# BIN_DIR: a copy of src/TokenFormer.Cli/bin/Release/net10.0 (so a rebuild during the run does not change it).
set -eu
BIN=${1:?bin directory}; ROUNDS=${2:-1}
T="$BIN/tokenformer --threads 2"
G="bench generate --preset 150m --batch 4 --new-tokens 64 --prefill-tokens 64 --reps 5 --json"
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) steal-before $(awk '/^cpu /{print $9}' /proc/stat)"
$T bench kernels --cases weights-batch4,weights-head-batch4 --reps 5
r=1
while [ $r -le "$ROUNDS" ]; do
  for d in float32 bf16 int8; do
    $T $G --dtype $d
    if [ $d != float32 ]; then TOKENFORMER_BATCH_KERNEL=row $T $G --dtype $d | sed 's/^{/{"kernel":"row",/'; fi
  done
  r=$((r + 1))
done
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) steal-after $(awk '/^cpu /{print $9}' /proc/stat)"
