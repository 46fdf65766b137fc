#!/usr/bin/env bash
# The adapter experiment of docs/adapters.md: a small base trained on the quickstart corpus (State of the Union),
# adapted to the King James Bible (Debian's bible-kjv: `bible -f` prints the verses) with adapters of several K,
# full fine-tuning and the last layer only, at equal steps. Usage: experiments/adapters/run.sh OUT [BASE_STEPS] [ARM_STEPS]
set -euo pipefail
out=${1:?usage: run.sh OUT [BASE_STEPS] [ARM_STEPS]}
base_steps=${2:-500}
arm_steps=${3:-200}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cli=${TOKENFORMER_CLI:-"dotnet $repo/src/TokenFormer.Cli/bin/Release/net10.0/tokenformer.dll"}
mkdir -p "$out"
# 1. the base: the quickstart's S on the State of the Union (its tokenizer and data are reused); L gets one step only
[ -d "$out/qs/small/checkpoints/step-$base_steps" ] || $cli quickstart --small-steps "$base_steps" --large-steps 1 --seed 1234 --out "$out/qs"
# 2. the new domain: the KJV text, one document per chapter (verse references stripped)
if [ ! -f "$out/kjv-data/meta.json" ]; then
  command -v bible >/dev/null || { echo "install Debian's bible-kjv (apt-get install bible-kjv)"; exit 1; }
  bible -f "Genesis 1:1-Revelation 22:21" | awk '{ref=$1; sub(/^[^ ]+ /,""); split(ref,a,":"); if (a[1]!=prev && NR>1) print ""; prev=a[1]; print}' > "$out/kjv.txt"
  $cli prepare --tokenizer "$out/qs/tokenizer.json" --input "$out/kjv.txt" --out "$out/kjv-data" --val-fraction 0.05 --boundary blank-line
fi
# 3. the arms
$cli experiment adapters --base "$out/qs/small/checkpoints/step-$base_steps" --new-data "$out/kjv-data" --old-data "$out/qs/data" \
  --out "$out/adapters" --docs "$repo/docs" --steps "$arm_steps" --tokens 4,16,64 --last-layers 1 --eval-every 25 --eval-windows 32
