#!/usr/bin/env bash
# Step time split (compute / exposed communication / optimizer) of the small preset on this machine:
# 1 process × 2 threads against 2 ranks × 1 thread (overlapped buckets, one allreduce, sharded optimizer), same global batch.
# Usage: experiments/distributed/step-split.sh DATA_DIR [STEPS]   (run under flock /work/cpu.lock on a shared machine)
set -euo pipefail
data=$1; steps=${2:-12}
T="dotnet src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
common=(train --data "$data" --preset small --steps "$steps" --seq 128 --eval-every 0 --save-every 0 --log-every 1000 --warmup 2)
run() { local name=$1; shift; echo "== $name"; /usr/bin/time -f "wall %e s" "$@" 2>&1 | grep -E "data parallel:|AdamW state|finished|wall|tok/s" | grep -v "^step" || true; }
run "1 process x 2 threads, batch 4" $T "${common[@]}" --out "$out/one" --batch 4 --threads 2
run "2 ranks x 1 thread, batch 2 each, buckets 4 MB overlapped" mpirun -np 2 --oversubscribe --bind-to none $T "${common[@]}" --out "$out/overlap" --batch 2 --threads 1
run "2 ranks x 1 thread, batch 2 each, one allreduce after the backward" mpirun -np 2 --oversubscribe --bind-to none $T "${common[@]}" --out "$out/blocking" --batch 2 --threads 1 --bucket-mb 0
run "2 ranks x 1 thread, batch 2 each, sharded optimizer" mpirun -np 2 --oversubscribe --bind-to none $T "${common[@]}" --out "$out/sharded" --batch 2 --threads 1 --shard-optimizer
python3 - "$out" <<'PY'
import json, sys, statistics
for name in ("one", "overlap", "blocking", "sharded"):
    steps = [json.loads(l) for l in open(f"{sys.argv[1]}/{name}/metrics.jsonl") if '"loss"' in l]
    tps = [s["tokens_per_s"] for s in steps[2:]]
    print(f"{name:9s} median tokens/s (steps 3..): {statistics.median(tps):,.0f}; step time {512/statistics.median(tps)*1000:.0f} ms (global batch 4 x 128 tokens)")
PY
rm -rf "$out"
