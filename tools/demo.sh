#!/usr/bin/env bash
# Lisse demo: the learned effects and two classical filters on a sample photo.
# Run through `tools/dev demo` (inside the dev environment, after a build).
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/build/demo"
mkdir -p "$out"

# A photo from an installed package (python3-skimage, CC0): no image in git.
sample=$(python3 -c 'import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png"))')
[ -f "$sample" ] || { echo "demo: sample photo $sample not found" >&2; exit 1; }

timed() {  # timed LABEL OUTPUT CMD…: run, print the output and the seconds
  local label=$1 output=$2; shift 2
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  printf 'demo: %-28s -> %s (%.1f s)\n' "$label" "build/demo/$output" \
    "$(python3 -c "print($end - $start)")"
}

echo "demo: models:"; lisse models
# The learned effects (Fan et al. 2018 and CSGIS-Net models from data/models), as GIMP runs them.
for spec in "smooth --set lambda-f=0.5" "smooth --set lambda-f=4" \
            "magnify-detail --set gain=2.5" "abstraction" "pencil-sketch" \
            "content-aware --set lambda-background=6" "remove-texture --set method=csgis"; do
  set -- $spec
  effect=$1; shift
  tag=$effect${2:+-$2}
  timed "effect $effect $*" "astronaut-$tag.png" \
    lisse effect "$effect" "$@" "$sample" "$out/astronaut-$tag.png"
done
# Two classical filters for comparison.
timed "filter l0" astronaut-l0.png lisse filter l0 --set lambda=0.02 "$sample" "$out/astronaut-l0.png"
timed "filter rolling-guidance" astronaut-rolling-guidance.png \
  lisse filter rolling-guidance --set sigma-s=4 --set sigma-r=0.1 "$sample" "$out/astronaut-rolling-guidance.png"
cp "$sample" "$out/astronaut-input.png"
echo "demo: done; input and results are in build/demo/"
