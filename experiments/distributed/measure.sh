#!/usr/bin/env bash
# The figures of docs/distributed.md in one locked session: the allreduce benchmark (2 ranks), then the step-time
# split of the small preset (experiments/distributed/step-split.sh).
# Usage: flock /work/cpu.lock experiments/distributed/measure.sh DATA_DIR [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
mpirun -np 2 --oversubscribe --bind-to none dotnet src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll bench allreduce --json
experiments/distributed/step-split.sh "$1" "${2:-10}"
echo "== done $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
