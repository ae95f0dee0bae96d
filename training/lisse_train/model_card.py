# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the model card (data/models/NAME.md) of an exported Fan 2018 model.

    PYTHONPATH=training python3 -m lisse_train.model_card \\
        --model data/models/fan18-smooth.safetensors \\
        --run training/runs/fan18-smooth-cpu \\
        [--eval docs/fan18-eval-smooth.md] [--train-command "…"] [--export-command "…"] \\
        [--eval-command "…"] [--note "…"] > data/models/fan18-smooth.md

Everything on the card is read from files, none of it typed in by hand: the
model file's metadata (architecture, conditioning, parameters, steps, git
commit, data-manifest hash), the run's log.jsonl (where and how long it
trained, the loss and validation history), the corpus manifest (packages,
versions, licences and counts of the training photographs) and, if given,
the evaluation table written by training/eval.py.  The commands that re-make
the model are stated on the card (defaults: those of training/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
from collections import Counter, OrderedDict
from typing import Dict, List

MANIFEST = os.path.join(os.path.dirname(__file__), "..", "corpus", "manifest.json")


def read_metadata(path: str) -> Dict[str, str]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


def count_parameters(path: str) -> int:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    total = 0
    for key, t in header.items():
        if key == "__metadata__":
            continue
        c = 1
        for d in t["shape"]:
            c *= d
        total += c
    return total


def read_log(run: str) -> List[Dict]:
    """A run folder's log.jsonl, or a log file itself (training/logs/)."""
    path = run if os.path.isfile(run) else os.path.join(run, "log.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def training_time(log: List[Dict]) -> float:
    """Seconds of training, summed over resumed segments (start/resume to the
    last record before the next start/resume)."""
    total, seg_start, last = 0.0, None, None
    for rec in log:
        if rec["kind"] in ("start", "resume"):
            if seg_start is not None and last is not None:
                total += last - seg_start
            seg_start = rec["time"]
        last = rec["time"]
    if seg_start is not None and last is not None:
        total += last - seg_start
    return total


def card_file_line(model_path: str) -> str:
    """The card's line on the file: hash, size, parameters, licence."""
    return (f"`{os.path.basename(model_path)}` — sha256 `{sha256(model_path)}`, "
            f"{os.path.getsize(model_path) / 1e6:.1f} MB, {count_parameters(model_path):,} parameters.  "
            "Weights licensed GPL-3.0-or-later, as Lisse.")


def card_head(model_path: str, name: str) -> List[str]:
    """The card's title, the file line and the "What it is" heading: the
    same on every card."""
    return [f"# Model card: {name}", "", card_file_line(model_path), "", "## What it is", ""]


def corpus_section(manifest_path: str, manifest_hash: str) -> List[str]:
    with open(manifest_path) as f:
        m = json.load(f)
    lines = []
    actual = sha256(manifest_path)
    note = "" if actual == manifest_hash else \
        f" (NOTE: the manifest in this checkout has sha256 {actual[:16]}…, not the one the model was trained with)"
    lines.append(f"Training photographs: the crop pack of `training/corpus` (manifest sha256 "
                 f"`{manifest_hash}`{note}).  Only the **train** split was used for training; "
                 "the **val** split (held out by photograph) for validation and evaluation.")
    lines.append("")
    lines.append("| package | version | licence of the images | photos train / val | crops train / val |")
    lines.append("|---|---|---|---|---|")
    per_pkg = OrderedDict()
    for img in m["images"]:
        per_pkg.setdefault(img["package"], Counter())[img["licence"]] += 1
    for pkg in m["packages"]:
        lic = ", ".join(sorted(per_pkg.get(pkg["name"], {pkg["licence"]: 0}).keys()))
        ph, cr = pkg.get("photos", {}), pkg.get("crops", {})
        lines.append(f"| {pkg['name']} | {pkg['version']} | {lic} | {ph.get('train', 0)} / {ph.get('val', 0)} "
                     f"| {cr.get('train', 0)} / {cr.get('val', 0)} |")
    pack = m.get("pack", {})
    lines.append("")
    lines.append(f"{len(m['images'])} photographs, {pack.get('train', '?')} + {pack.get('val', '?')} crops of "
                 f"{m['settings'].get('crop_size', '?')}² px.  Per-image copyright holders and sources: "
                 "`training/corpus/manifest.json`.  No image is stored in this repository; "
                 "`training/corpus/build.py` re-makes the pack from the pinned Debian packages.")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--run", required=True,
                    help="the training output folder (its log.jsonl), or a log file")
    ap.add_argument("--eval", help="markdown written by training/eval.py, included as is")
    ap.add_argument("--train-command", default=None)
    ap.add_argument("--export-command", default=None)
    ap.add_argument("--eval-command", default=None)
    ap.add_argument("--note", action="append", default=[], help="a paragraph for 'Limitations'")
    args = ap.parse_args(argv)

    meta = read_metadata(args.model)
    log = read_log(args.run)
    start = next(r for r in log if r["kind"] == "start")
    vals = [r for r in log if r["kind"] == "val"]
    trains = [r for r in log if r["kind"] == "train"]
    name = meta.get("name", os.path.basename(args.model).rsplit(".", 1)[0])
    full_cfg = json.loads(meta.get("training_config", "{}"))
    cfg = full_cfg.get("train", full_cfg)      # the training settings (overrides applied)
    energy = full_cfg.get("energy", {})
    params = json.loads(meta.get("params", "[]"))
    preset = start.get("preset", cfg.get("preset", "?"))
    device = start.get("device", "?")
    where = "GPU" if str(device).startswith("cuda") else "CPU"
    hours = training_time(log) / 3600.0

    out: List[str] = card_head(args.model, name)
    w = out.append
    w(f"Fan, Yang, Wipf, Chen, Tong, \"Image Smoothing via Unsupervised Learning\", ACM TOG 37(6), 2018: "
      f"the network of §3.3 trained without labels on the paper's energy E = Ed + λf·Ef + λe·Ee "
      f"(eq. 1–8), preset **{preset}** (`training/lisse_train/fan18_energy.py`, PRESETS).")
    w("")
    w(f"- Architecture `{meta.get('architecture')}` (core/nets/fan18.c; PyTorch twin "
      "training/lisse_train/fan18_model.py): conv 3×3 → conv 3×3 → conv 3×3 stride 2 → 10 residual "
      f"blocks (dilations {meta.get('dilations')}) → transposed conv 4×4 stride 2 → conv 3×3 → conv 1×1 "
      f"to 3 channels, output = input + residual; width {meta.get('width')}; "
      + ("BatchNorm folded into the convolutions (running statistics), so tiles give the same "
         "result as the whole image." if cfg.get("batchnorm", True) else
         "no BatchNorm in the last run (it went on from a model file, whose BatchNorm is folded "
         "into the convolutions), so tiles give the same result as the whole image."))
    w(f"- Receptive radius {meta.get('receptive_radius')} px; sizes are padded to a multiple of "
      f"{meta.get('alignment')}.  Colour encoding: {meta.get('colour_encoding')}.")
    w(f"- Conditioning `{meta.get('conditioning')}`: two extra input channels ln λf and ln(λe/0.1), "
      "constant or per pixel (content-aware editing feeds a λf map); docs/fan18-conditioning.md "
      "measures this choice against FiLM and weight prediction.")
    w("- Parameters: " + "; ".join(f"`{p['name']}` {p['min']}–{p['max']} (default {p['default']})"
                                  for p in params))
    w("")
    w("## Training data")
    w("")
    out.extend(corpus_section(MANIFEST, meta.get("data_manifest_sha256", "unknown")))
    w("")
    w("## Training")
    w("")
    w(f"- Where: **{where}** ({device}, {start.get('threads', '?')} thread(s), torch "
      f"{start.get('torch', '?')}), {hours:.2f} h of training wall time (from log.jsonl), "
      f"git commit `{meta.get('git_commit', 'unknown')}`.")
    w(f"- Steps: {meta.get('steps')} (batch {cfg.get('batch', '?')}, crops "
      f"{cfg.get('crop_min', '?')}–{cfg.get('crop_max', '?')} px), Adam lr {cfg.get('lr', '?')} → "
      f"{cfg.get('lr_min', '?')} (warm-up {cfg.get('warmup_steps', '?')}, cosine), gradient norm clipped at "
      f"{cfg.get('clip_grad', '?')}× its running mean; λf log-uniform in {cfg.get('lambda_f_range')}, "
      f"λe in {cfg.get('lambda_e_range')} after {cfg.get('lambda_fixed_steps', '?')} steps at the defaults "
      f"and a {cfg.get('lambda_ramp_steps', '?')}-step ramp; {cfg.get('map_fraction', '?')} of the batches "
      "with per-pixel λf maps.")
    lw = energy.get("large_window_radius")
    w(f"- Energy: window radius {energy.get('window_radius', '?')} (L0.8), "
      f"{lw if lw is not None else energy.get('window_radius', '?')} (eq. 8's L2 term); "
      f"α {energy.get('alpha', '?')} from step {cfg.get('alpha_start', 0)}"
      + (f" (ramped over {cfg['alpha_ramp']} steps)" if cfg.get("alpha_ramp") else "")
      + f"; eq. 8's thresholds c1 {energy.get('c1', '?')}, c2 {energy.get('c2', '?')}"
      + (f"; started from `{cfg['init']}`" if cfg.get("init") else "") + ".")
    w("")
    if trains:
        w("Training loss (energy per image divided by its mean λf; mean over the logging interval):")
        w("")
        w("| step | loss | Ed | λf·Ef | λe·Ee | share of pixels on L2 |")
        w("|---|---|---|---|---|---|")
        picks = sorted({trains[0]["step"], *[r["step"] for r in trains if r["step"] % 250 == 0],
                        trains[-1]["step"]})
        by_step = {r["step"]: r for r in trains}
        for s in picks:
            r = by_step[s]
            w(f"| {s} | {r['loss']:.4f} | {r['data']:.4f} | {r['flat']:.4f} | {r['edge']:.4f} | "
              f"{r['large_fraction']:.3f} |")
        w("")
    if vals:
        keys = list(vals[-1]["ratio"].keys())
        w("Validation (held-out crops, eval mode = the shipped network): E(output) / E(input), lower is "
          "smoother at equal fidelity; `map` = λf 4 on the left half, 0.25 on the right:")
        w("")
        w("| step | " + " | ".join(f"λf {k}" for k in keys) + " |")
        w("|---|" + "---|" * len(keys))
        for r in vals:
            w(f"| {r['step']} | " + " | ".join(f"{r['ratio'][k]:.4f}" for k in keys) + " |")
        w("")
    w("## Evaluation")
    w("")
    if args.eval:
        with open(args.eval) as f:
            w(f.read().strip())
    else:
        w("Not evaluated.")
    w("")
    w("## Re-making it")
    w("")
    w("```sh")
    w("tools/dev exec python3 training/corpus/build.py --out build-corpus     # the crop pack")
    w(args.train_command or f"tools/dev exec env PYTHONPATH=training python3 -m lisse_train.train "
      f"--config {start.get('config', 'cpu')} --preset {preset} --out {args.run}")
    w(args.export_command or f"tools/dev exec env PYTHONPATH=training python3 -m lisse_train.export "
      f"{args.run}/last.pt {args.model} --name {name}")
    if args.eval_command:
        w(args.eval_command)
    w("```")
    w("")
    w("On the CPU with the same thread count a run is bit-for-bit repeatable (tests/test_fan18_train.py); "
      "on a GPU only statistically.")
    if args.note:
        w("")
        w("## Limitations")
        w("")
        for n in args.note:
            w(n)
            w("")
    sys.stdout.write("\n".join(out).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
