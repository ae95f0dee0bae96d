#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Re-makes data/models/fan18-{smooth,detail}.md from the model files, the training logs
# (training/logs), the evaluation tables (docs/fan18-eval-*.md) and the hand-written
# limitations (training/cards/*-limitations.md).  Run from anywhere; afterwards
# `tools/dev exec tools/bench/bf16-gate --models fan18-smooth,fan18-detail --count 6 --write`
# adds each card's "Compute precision" section.
#
# The commands on the cards are every stage that made the shipped weights, in order.  Stages 1–3
# of both models trained with BatchNorm; later stages go on from the exported model file without
# it (`--init FILE --set batchnorm=false`), so the network trained is the one that ships.
set -e
cd "$(dirname "$0")/../.."
T="tools/dev exec env PYTHONPATH=training OMP_NUM_THREADS=1 python3 -m lisse_train.train --config cpu --threads 1"
X="tools/dev exec env PYTHONPATH=training python3 -m lisse_train.export"
# the settings every stage from stage 4 on shares (training/README.md, section 9)
LATE="--set batchnorm=false --set steps=20000 --set lr=0.0003 --set lr_min=0.00001 --set warmup_steps=30 --set 'budget_probe=[5,25]' --set lambda_fixed_steps=0 --set lambda_ramp_steps=1 --set alpha_start=0 --set alpha_ramp=0 --set large_window_radius=2"

early_stages() {  # $1 preset, $2 stage-1 steps, $3 extra settings (the energy the stage trained on)
  p=$1
  echo "$T --preset $p --out training/runs/fan18-$p-stage1 $3 --set steps=$2 --set lr=0.001 --set lr_min=0.00001 --set warmup_steps=100 --set lambda_fixed_steps=400 --set lambda_ramp_steps=400 --set alpha_start=600 --set alpha_ramp=600 --set large_window_radius=null --stop-at 500   # stage 1: 500 steps, eq. 8's α still 0"
  echo "$T --preset $p --out training/runs/fan18-$p-cpu --init training/runs/fan18-$p-stage1/step-000500.pt $3 --set steps=2000 --set lr=0.0005 --set lr_min=0.00001 --set warmup_steps=20 --set lambda_fixed_steps=0 --set lambda_ramp_steps=1 --set alpha_start=0 --set alpha_ramp=0 --set large_window_radius=2   # stage 2: 2000 steps, full α, 5×5 L2 window"
  echo "$T --preset $p --out training/runs/fan18-$p-stage3 --init training/runs/fan18-$p-cpu/last.pt $3 --set steps=20000 --set budget_minutes=85 --set lr=0.0005 --set lr_min=0.00001 --set warmup_steps=100 --set 'budget_probe=[20,80]' --set lambda_fixed_steps=0 --set lambda_ramp_steps=1 --set alpha_start=0 --set alpha_ramp=0 --set large_window_radius=2 --set val_every=1000 --set ckpt_every=1000   # stage 3: 85 min; the budget fixes the step count from the measured speed (its 'budget' log record; --set steps=N without budget_minutes repeats a run exactly)"
  echo "$X training/runs/fan18-$p-stage3/last.pt build/fan18-$p-stage3.safetensors --name fan18-$p   # BatchNorm folded"
}

card() {  # $1 model, $2 last run's log, $3 stage commands, $4 export command, $5 photos
  m=$1
  sheet=docs/fan18-contact-sheet.png; [ "$m" = fan18-detail ] && sheet=docs/fan18-contact-sheet-detail.png
  tools/dev exec env PYTHONPATH=training python3 -m lisse_train.model_card \
    --model data/models/$m.safetensors --run "$2" --eval docs/fan18-eval-${m#fan18-}.md \
    --train-command "$3" --export-command "$4" \
    --eval-command "tools/dev exec env PYTHONPATH=training python3 training/eval.py --model data/models/$m.safetensors --out docs/fan18-eval-${m#fan18-} --threads 1 --count $5 --sheet $sheet" \
    --note "$(cat training/cards/$m-limitations.md)" > data/models/$m.md
}

S=$(early_stages smooth 2400 "")
S="$S
taskset -c 0 $T --preset smooth --out training/runs/f15-A --init build/fan18-smooth-stage3.safetensors $LATE --set budget_minutes=20 --set val_every=150 --set ckpt_every=150   # stage 4: 20 min
taskset -c 0 $T --preset smooth --out training/runs/f15-A2 --init training/runs/f15-A/last.pt $LATE --set budget_minutes=65 --set val_every=150 --set ckpt_every=150   # stage 5: 65 min (4846 steps)
taskset -c 0 $T --preset smooth --out training/runs/fan18-smooth-stage6 --init training/runs/f15-A2/last.pt $LATE --set budget_minutes=150 --set val_every=500 --set ckpt_every=500   # stage 6: one 8869-step schedule, stopped after 26 min and resumed with --resume (same command)
taskset -c 0 $T --preset smooth --out training/runs/f15-L --init training/runs/fan18-smooth-stage6/last.pt $LATE --set budget_minutes=40 --set val_every=500 --set ckpt_every=500   # stage 7: 40 min (3194 steps)
taskset -c 0 $T --preset smooth --out training/runs/fan18-smooth-stage8 --init training/runs/f15-L/last.pt $LATE --set budget_minutes=30 --set val_every=500 --set ckpt_every=500   # stage 8: 30 min (2246 steps)
taskset -c 1 $T --preset smooth --out training/runs/stage9-aug-lr15 --init training/runs/fan18-smooth-stage8/last.pt $LATE --set budget_minutes=105 --set val_every=500 --set ckpt_every=500 --set channel_perm=true --set gray_prob=0.1 --set lr=0.00015   # stage 9: colour shuffles and gray crops, lr 1.5e-4; its step 4000 starts stage 10
taskset -c 0 $T --preset smooth --out training/runs/stage9-mean --init training/runs/stage9-aug-lr15/step-004000.pt $LATE --set budget_minutes=55 --set val_every=500 --set ckpt_every=500 --set channel_perm=true --set gray_prob=0.1 --set lr=0.00015 --set mean_weight=100   # stage 10: + the mean term, 55 min (4549 steps)"
card fan18-smooth training/logs/fan18-smooth-stage10.jsonl "$S" \
  "$X training/runs/stage9-mean/last.pt data/models/fan18-smooth.safetensors --name fan18-smooth" 12

# Detail stages 1–3 trained on §7.2's text thresholds (c1 = ∞, c2 = 0), stage 4 on the preset's.
D=$(early_stages detail 2000 "--set 'energy_overrides={\"c1\": Infinity, \"c2\": 0}'")
D="$D
taskset -c 1 $T --preset detail --out training/runs/fan18-detail-stage4 --init build/fan18-detail-stage3.safetensors $LATE --set budget_minutes=55 --set val_every=250 --set ckpt_every=250   # stage 4: 55 min, §4's thresholds"
card fan18-detail training/logs/fan18-detail-stage4.jsonl "$D" \
  "$X training/runs/fan18-detail-stage4/last.pt data/models/fan18-detail.safetensors --name fan18-detail" 8
