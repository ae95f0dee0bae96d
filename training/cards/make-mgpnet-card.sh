#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Re-makes data/models/mgpnet-texture.md from the model file, its training log
# (training/logs/mgpnet-texture.jsonl: runs 1 to 3 of the cpu config, one log), the
# evaluation table (docs/texture-eval.md)
# and the hand-written limitations (training/cards/mgpnet-texture-limitations.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
P="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1"
T1="$P taskset -c 1 python3 -m lisse_train.train_mgpnet --config cpu --out training/runs/mgpnet-cpu --pack build-textures/pack --set val_every=250 --set ckpt_every=250 --minutes 125   # run 1, then resumed twice (--resume --minutes 24, 11)"
T2="$P taskset -c 0 python3 -m lisse_train.train_mgpnet --config cpu --out training/runs/mgpnet-cpu --pack build-textures/pack --resume --minutes 143   # run 2 from step 1635, stopped (SIGTERM) at step 4262"
T3="$P taskset -c 0 python3 -m lisse_train.train_mgpnet --config cpu --out training/runs/mgpnet-cpu --pack build-textures/pack --set val_every=250 --set ckpt_every=250 --resume --minutes 138   # run 3 from step 4276, towards the schedule's 8000 steps"
EXP="tools/dev exec env PYTHONPATH=training python3 -m lisse_train.mgpnet_export training/runs/mgpnet-cpu/best.pt data/models/mgpnet-texture.safetensors --name mgpnet-texture"
EV="taskset -c 1 tools/dev exec python3 tools/eval/texture-eval.py --tune-images 100 --model data/models/csgis-texture.safetensors --model data/models/mgpnet-texture.safetensors --jobs 2 --lisse build/core/cli/lisse"
tools/dev exec env PYTHONPATH=training python3 -m lisse_train.mgpnet_card \
  --model data/models/mgpnet-texture.safetensors --run training/logs/mgpnet-texture.jsonl \
  --eval docs/texture-eval.md --train-command "$T1"$'\n'"$T2"$'\n'"$T3" --export-command "$EXP" \
  --eval-command "$EV" --note "$(cat training/cards/mgpnet-texture-limitations.md)" \
  > data/models/mgpnet-texture.md
