#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Re-makes data/models/csgis-texture.md from the model file, its training log
# (training/logs/csgis-texture-stage4.jsonl; stages 1 to 3 are training/logs/csgis-texture.jsonl,
# csgis-texture-stage2.jsonl and csgis-texture-stage3.jsonl, the clean-pairs branch
# csgis-clean-B.jsonl), the
# evaluation table (docs/texture-eval.md)
# and the hand-written limitations (training/cards/csgis-texture-limitations.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
T1="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 0 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/csgis-sizeA --set bf16=true --set steps=5000 --set val_every=250 --minutes 12   # 12-minute size trial (width 32, 4/3/6), won against width 48, 2/2/4"
T2="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 0 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/csgis-sizeA --resume --set steps=3400 --set val_every=500 --minutes 88   # the same run, resumed"
T3="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 0 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/abA --init training/checkpoints/csgis-texture-last.pt --set bf16=true --set lr=3e-4 --set warmup_steps=50 --set steps=3000 --set val_every=250 --set ckpt_every=250 --minutes 16   # stage 2 from stage 1's step-3388 weights, fresh optimiser"
T4="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 0 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/abA --resume --set steps=4500 --set val_every=500 --set ckpt_every=500 --minutes 112   # stage 2 resumed, stopped (SIGTERM) at step 3708; best validation at step 3500"
T5="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 0 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/csgis-thumb --init training/checkpoints/csgis-texture-last.pt --set bf16=true --set lr=3e-4 --set warmup_steps=50 --set steps=4000 --set val_every=250 --set ckpt_every=250 --set select=mean --minutes 115   # stage 3 from stage 2's step-3708 weights on the pack with photo thumbnails, stopped (SIGTERM) at step 3183; best mean validation at step 2750"
T6="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 1 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/csgis-cleanB --init training/checkpoints/csgis-texture-last.pt --set bf16=true --set lr=1e-4 --set warmup_steps=20 --set steps=400 --set val_every=200 --set ckpt_every=200 --set select=mean --set clean_p=0.2   # the clean-pairs branch from stage 3's last weights (step 3183), 400 steps (its twin with clean_p 0: training/README.md section 7)"
T7="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 taskset -c 1 python3 -m lisse_train.train_csgis --config cpu --pack build-textures/pack --out training/runs/csgis-clean4 --init training/runs/csgis-cleanB/best.pt --set bf16=true --set lr=1e-4 --set warmup_steps=20 --set steps=2000 --set val_every=250 --set ckpt_every=250 --set select=mean --set clean_p=0.2 --minutes 74   # stage 4 from the branch's step 400, with clean pairs"
EXP="tools/dev exec env PYTHONPATH=training python3 -m lisse_train.csgis_export training/runs/csgis-clean4/best.pt data/models/csgis-texture.safetensors --name csgis-texture"
EV="tools/dev exec python3 tools/eval/texture-eval.py --filters '' --no-oracle --model data/models/csgis-texture.safetensors --jobs 2 --json OUT.json --no-doc --no-sheet   # the model's row alone; the classical rows: the same without --filters '' --no-oracle"
tools/dev exec env PYTHONPATH=training python3 -m lisse_train.csgis_card \
  --model data/models/csgis-texture.safetensors --run training/logs/csgis-texture-stage4.jsonl \
  --eval docs/texture-eval.md --train-command "$T1"$'\n'"$T2"$'\n'"$T3"$'\n'"$T4"$'\n'"$T5"$'\n'"$T6"$'\n'"$T7" --export-command "$EXP" \
  --eval-command "$EV" --note "$(cat training/cards/csgis-texture-limitations.md)" \
  > data/models/csgis-texture.md
