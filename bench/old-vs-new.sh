#!/usr/bin/env bash
# Side-by-side speed of two builds of the tokenformer CLI, alternating runs on one machine (a refactor must not
# regress): bench train tiny/small/150m and bench generate 150m, ROUNDS rounds of old → new per configuration.
# Prints each run's figure, then per configuration the medians and the median of the per-round ratios new/old.
# Usage: bench/old-vs-new.sh OLD_BUILD_DIR NEW_BUILD_DIR [ROUNDS]   (each dir holds a built `tokenformer`)
# Make a build dir with: dotnet build src/TokenFormer.Cli -c Release && cp -r src/TokenFormer.Cli/bin/Release/net10.0 DIR
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
declare -A cmds=(
  [train-tiny]="bench train --preset tiny --batch 8 --seq 256 --steps 8 --warmup 2 --json"
  [train-small]="bench train --preset small --batch 4 --seq 256 --steps 6 --warmup 2 --json"
  [train-150m]="bench train --preset 150m --batch 1 --seq 512 --steps 4 --warmup 1 --json"
  [generate-150m]="bench generate --preset 150m --json"
)
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(' '.join(str(d[k]) for k in sys.argv[1:]))" "$@"; }
for name in train-tiny train-small train-150m generate-150m; do
  results=()
  for r in $(seq 1 "$rounds"); do
    for side in old new; do
      dir=${!side}
      out=$("$dir/tokenformer" ${cmds[$name]} 2>/dev/null)
      if [[ $name == train-* ]]; then v=$(echo "$out" | field tokens_per_s); else v=$(echo "$out" | field prefill_tok_s decode_tok_s); fi
      echo "$(date -u +%H:%M:%S) $name round $r $side: $v"
      results+=("$side $v")
    done
  done
  printf '%s\n' "${results[@]}" | python3 -c "
import sys, statistics as st
rows=[l.split() for l in sys.stdin if l.strip()]
old=[list(map(float,r[1:])) for r in rows if r[0]=='old']; new=[list(map(float,r[1:])) for r in rows if r[0]=='new']
names=['tok/s'] if len(old[0])==1 else ['prefill tok/s','decode tok/s']
for i,n in enumerate(names):
    o=[x[i] for x in old]; w=[x[i] for x in new]
    ratios=[b/a for a,b in zip(o,w)]
    print(f'== $name {n}: old median {st.median(o):.1f}, new median {st.median(w):.1f}, per-round ratios '+', '.join(f'{r:.3f}' for r in ratios)+f', median ratio {st.median(ratios):.3f}')
"
done
