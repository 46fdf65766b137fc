#!/bin/sh
# The timed figures of docs/quantization.md and docs/benchmarks.md ("Reduced-precision weights"): the decode products
# per format and SIMD path, then `bench generate` on the 150m preset with float32, bf16 and int8 weights alternating in
# rounds (batch 1), then the 4-sequence batch, then each reduced format against float32 in one process (--against:
# the medians of the repetitions' ratios, batch 1 and 4). Run it under the shared CPU lock:
#   flock /work/cpu.lock bench/quantization-side-by-side.sh BIN_DIR ROUNDS > out.txt
# BIN_DIR: a copy of src/TokenFormer.Cli/bin/Release/net10.0 (so a rebuild during the run does not change it).
set -eu
BIN=${1:?bin directory}; ROUNDS=${2:-2}
T="$BIN/tokenformer --threads 2"
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) steal-before $(awk '/^cpu /{print $9}' /proc/stat)"
$T bench kernels --cases weights-head,weights-ffn-values,weights-batch4 --reps 5
r=1
while [ $r -le "$ROUNDS" ]; do
  for d in float32 bf16 int8; do $T bench generate --preset 150m --dtype $d --json; done
  r=$((r + 1))
done
for d in float32 bf16 int8; do $T bench generate --preset 150m --dtype $d --batch 4 --new-tokens 64 --json; done
# the ratios with the host's drift cancelled: each reduced format and float32 in one process, alternating repetitions
for d in bf16 int8; do $T bench generate --preset 150m --dtype $d --against float32 --reps 9 --json; done
for d in bf16 int8; do $T bench generate --preset 150m --dtype $d --against float32 --reps 9 --batch 4 --new-tokens 64 --json; done
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) steal-after $(awk '/^cpu /{print $9}' /proc/stat)"
