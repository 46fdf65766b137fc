#!/usr/bin/env bash
# One run comparing TokenFormer.Text with Hugging Face's tokenizers (Rust core, Node binding) on the same text:
#   1. encode throughput, HF single-threaded vs ours single- and multi-threaded, GPT-NeoX-20B and GPT-2 tokenizers;
#   2. training a 16k vocabulary on the same >= 10 MB text (wall time of `tokenformer tokenizer train`);
#   3. the trained tokenizer loaded in HF: ids identical to ours on held-out text (a different seed).
# Usage: tools/reference/tokenizer/bench.sh [REPS]   (after `npm ci` here and `dotnet build -c Release`)
# Figures go to docs/benchmarks.md (## Tokenizer). Not run by CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
reps="${1:-5}"
work="${TMPDIR:-/tmp}/tokenformer-tokenizer-bench"
mkdir -p "$work"
cli="$repo/src/TokenFormer.Cli/bin/Release/net10.0/tokenformer"
[ -x "$cli" ] || { echo "build first: dotnet build src/TokenFormer.Cli -c Release" >&2; exit 1; }
neox="$repo/../shared/reference/gpt-neox-20b-tokenizer.json"
gunzip -c "$repo/tests/fixtures/tokenizer/gpt2-tokenizer.json.gz" > "$work/gpt2-tokenizer.json"
[ -f "$work/bench10.txt" ] || node "$here/make-fixtures.js" benchtext "$work/bench10.txt" 10 3
[ -f "$work/heldout.txt" ] || node "$here/make-fixtures.js" benchtext "$work/heldout.txt" 1 4

echo "## machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
tokenizers=("gpt2:$work/gpt2-tokenizer.json")
[ -f "$neox" ] && tokenizers=("neox:$neox" "${tokenizers[@]}")
for entry in "${tokenizers[@]}"; do
  name="${entry%%:*}"; file="${entry#*:}"
  hf=$(RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node "$here/make-fixtures.js" bench "$file" "$work/bench10.txt" "$reps" 64)
  ours=$("$cli" tokenizer bench --tokenizer "$file" --input "$work/bench10.txt" --reps "$reps" --json)
  python3 - "$name" "$hf" "$ours" <<'PY'
import json, sys
name, hf, ours = sys.argv[1], json.loads(sys.argv[2]), [json.loads(l) for l in sys.argv[3].splitlines()]
single = next(o for o in ours if o["threads"] == 1 and "single" in o["mode"])
multi = next(o for o in ours if "multi" in o["mode"])
assert single["tokens"] == hf["tokens"], f"token counts differ: ours {single['tokens']} HF {hf['tokens']}"
print(f"{name}: {hf['bytes']/1e6:.2f} MB, {hf['tokens']} tokens (same count both sides)")
print(f"  HF tokenizers 1 thread     median {hf['median_s']:.3f} s  {hf['mb_per_s']:.2f} MB/s  runs {[round(x, 3) for x in hf['runs_s']]}")
print(f"  ours 1 thread              median {single['median_s']:.3f} s  {single['mb_per_s']:.2f} MB/s  runs {[round(x, 3) for x in single['runs_s']]}  ratio {hf['median_s']/single['median_s']:.2f}x")
print(f"  ours {multi['threads']} threads             median {multi['median_s']:.3f} s  {multi['mb_per_s']:.2f} MB/s  runs {[round(x, 3) for x in multi['runs_s']]}  ratio {hf['median_s']/multi['median_s']:.2f}x")
PY
done

echo "training 16384 tokens on $(du -h "$work/bench10.txt" | cut -f1) of text:"
start=$(date +%s.%N)
"$cli" tokenizer train --input "$work/bench10.txt" --vocab-size 16384 --out "$work/trained16k.json"
echo "  wall time $(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')") s (process start to file written)"

node "$here/make-fixtures.js" encode "$work/trained16k.json" "$work/heldout.txt" > "$work/heldout-hf.jsonl"
"$cli" tokenize --tokenizer "$work/trained16k.json" --input "$work/heldout.txt" --json > "$work/heldout-ours.jsonl"
if cmp -s "$work/heldout-hf.jsonl" "$work/heldout-ours.jsonl"; then
  echo "held-out: HF and ours give identical ids on all $(wc -l < "$work/heldout.txt") lines of $(du -h "$work/heldout.txt" | cut -f1) held-out text"
else
  echo "held-out: ids DIFFER between HF and ours"; exit 1
fi
