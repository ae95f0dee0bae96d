#!/usr/bin/env bash
# Lisse demo: smooth a sample photo with what ships today.
# Run through `tools/dev demo` (inside the dev environment, after a build).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/build/demo"
mkdir -p "$out"

# A photo from an installed package (python3-skimage, CC0): no image in git.
sample=$(python3 -c 'import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png"))')
[ -f "$sample" ] || { echo "demo: sample photo $sample not found" >&2; exit 1; }

models=$(lisse models 2>/dev/null | wc -l)
if [ "$models" -gt 0 ]; then
  echo "demo: models available:"; lisse models
fi
echo "demo: no trained network ships yet, so this demo runs the classical filters of core/classic."
for spec in "l0 --set lambda=0.02" "rolling-guidance --set sigma-s=4 --set sigma-r=0.1" \
            "guided --set radius=8 --set epsilon=0.01" "wls" "rtv"; do
  set -- $spec
  method=$1; shift
  start=$(date +%s.%N)
  lisse filter "$method" "$@" "$sample" "$out/astronaut-$method.png"
  end=$(date +%s.%N)
  printf 'demo: %-17s -> %s (%.2f s)\n' "$method" "build/demo/astronaut-$method.png" "$(echo "$end - $start" | bc 2>/dev/null || python3 -c "print($end-$start)")"
done
cp "$sample" "$out/astronaut-input.png"
echo "demo: done; input and results are in build/demo/"
