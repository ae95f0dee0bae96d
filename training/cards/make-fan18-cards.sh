#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Re-makes data/models/fan18-{smooth,detail}.md from the model files, the training logs
# (training/logs), the evaluation tables (docs/fan18-eval-*.md) and the hand-written
# limitations (training/cards/*-limitations.md).  Run from anywhere.
set -e
cd "$(dirname "$0")/../.."
for p in smooth detail; do
  st=2400; [ $p = detail ] && st=2000
  S1="tools/dev exec env PYTHONPATH=training python3 -m lisse_train.train --config cpu --preset $p --out training/runs/fan18-$p-stage1 --threads 1 --set steps=$st --set lr=0.001 --set lr_min=0.00001 --set warmup_steps=100 --set lambda_fixed_steps=400 --set lambda_ramp_steps=400 --set alpha_start=600 --set alpha_ramp=600 --set large_window_radius=null --stop-at 500   # stage 1: 500 steps, eq. 8's α still 0"
  S2="tools/dev exec env PYTHONPATH=training python3 -m lisse_train.train --config cpu --preset $p --out training/runs/fan18-$p-cpu --init training/runs/fan18-$p-stage1/step-000500.pt --threads 1 --set steps=2000 --set lr=0.0005 --set lr_min=0.00001 --set warmup_steps=20 --set lambda_fixed_steps=0 --set lambda_ramp_steps=1 --set alpha_start=0 --set alpha_ramp=0 --set large_window_radius=2   # stage 2: 2000 steps, full α, 5×5 L2 window"
  S3="tools/dev exec env PYTHONPATH=training python3 -m lisse_train.train --config cpu --preset $p --out training/runs/fan18-$p-stage3 --init training/runs/fan18-$p-cpu/last.pt --threads 1 --set steps=20000 --set budget_minutes=85 --set lr=0.0005 --set lr_min=0.00001 --set warmup_steps=100 --set 'budget_probe=[20,80]' --set lambda_fixed_steps=0 --set lambda_ramp_steps=1 --set alpha_start=0 --set alpha_ramp=0 --set large_window_radius=2 --set val_every=1000 --set ckpt_every=1000   # stage 3: 85 min, as stage 2; the budget fixes the step count from the measured speed (its 'budget' log record; --set steps=N without budget_minutes repeats a run exactly)"
  EV="tools/dev exec env PYTHONPATH=training python3 training/eval.py --model fan18-$p --out docs/fan18-eval-$p --threads 1 --count $([ $p = smooth ] && echo 12 || echo 8) --sheet docs/fan18-contact-sheet$([ $p = detail ] && echo -detail || true).png"
  tools/dev exec env PYTHONPATH=training python3 -m lisse_train.model_card \
    --model data/models/fan18-$p.safetensors --run training/logs/fan18-$p-stage3.jsonl \
    --export-command "tools/dev exec env PYTHONPATH=training python3 -m lisse_train.export training/runs/fan18-$p-stage3/last.pt data/models/fan18-$p.safetensors --name fan18-$p" \
    --eval docs/fan18-eval-$p.md \
    --train-command "$S1"$'\n'"$S2"$'\n'"$S3" \
    --eval-command "$EV" \
    --note "$(cat training/cards/fan18-$p-limitations.md)" > data/models/fan18-$p.md
done
