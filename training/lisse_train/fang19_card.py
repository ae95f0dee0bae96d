# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the model card (data/models/NAME.md) of an exported Fang 2019 model.

    PYTHONPATH=training python3 -m lisse_train.fang19_card \\
        --model data/models/fang19-rtv.safetensors \\
        --stage "LABEL=training/logs/RUN.jsonl" [--stage …] \\
        --eval docs/fang19-eval-rtv.json --train-command "…" [--train-command …] \\
        --export-command "…" --eval-command "…" [--note "…"]… > data/models/fang19-rtv.md

As model_card.py does for Fan 2018, everything is read from files: the model
file's metadata, the logs of the runs it went through (one --stage each, in
order: where, how long, the validation curve), the crop manifest (packages,
versions, licences) and the evaluation of tools/eval/fang19-eval.py --json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List

from .model_card import MANIFEST, card_head, corpus_section, read_log, read_metadata, \
    training_time

FILTER_NAMES = {"rtv": "RTV (Xu et al. 2012)", "l0": "L0 smoothing (Xu et al. 2011)",
                "wls": "WLS (Farbman et al. 2008)"}


def stage_lines(label: str, log: List[dict]) -> List[str]:
    start = next((r for r in log if r["kind"] == "start"), {})
    cfg = start.get("config", {})
    vals = [r for r in log if r["kind"] == "val"]
    trains = [r for r in log if r["kind"] == "train"]
    last = trains[-1]["step"] if trains else 0
    best = max(vals, key=lambda r: r["psnr"]) if vals else None
    out = [f"- **{label}**: {last} steps, {training_time(log) / 60:.0f} min of wall time, batch "
           f"{cfg.get('batch')} of {cfg.get('crop_size')}² crops, width {cfg.get('width')}, offsets "
           f"bounded by {cfg.get('offset_bound')} px, Adam lr {cfg.get('lr')} → {cfg.get('lr_min')} "
           f"(cosine over {cfg.get('steps')} steps), bf16 {'on' if cfg.get('bf16') else 'off'}."
           + (f"  Best validation {best['psnr']:.2f} dB at step {best['step']}." if best else "")]
    if vals:
        lams = list(vals[0]["psnr_by_lambda"])
        out += ["", "  | step | mean | " + " | ".join(f"λ {k}" for k in lams) + " |",
                "  |---|---|" + "---|" * len(lams)]
        for r in vals:
            out.append(f"  | {r['step']} | {r['psnr']:.2f} | "
                       + " | ".join(f"{r['psnr_by_lambda'][k]:.2f}" for k in lams) + " |")
        out.append("")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--stage", action="append", required=True, metavar="LABEL=LOG")
    ap.add_argument("--eval", required=True, help="fang19-eval.py --json output")
    ap.add_argument("--train-command", action="append", required=True)
    ap.add_argument("--export-command", required=True)
    ap.add_argument("--eval-command", required=True)
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args(argv)

    meta = read_metadata(a.model)
    with open(a.eval) as f:
        ev = json.load(f)
    stages = [(s.split("=", 1)[0], read_log(s.split("=", 1)[1])) for s in a.stage]
    name = meta.get("name", os.path.basename(a.model).rsplit(".", 1)[0])
    filt = meta.get("filter", "?")
    params = json.loads(meta.get("params", "[{}]"))[0]
    hours = sum(training_time(log) for _, log in stages) / 3600
    w: List[str] = card_head(a.model, name)
    p = w.append
    p(f"Fang, Wang, Shamir and Hu, \"Learning Explicit Smoothing Kernels for Joint Image Filtering\", "
      f"Computer Graphics Forum 2019: a λ-conditioned network that reproduces **{FILTER_NAMES.get(filt, filt)}** "
      f"(Lisse's own exact filter, `lisse filter {filt}`) for λ in [{params.get('min')}, {params.get('max')}] "
      f"(reference λ {meta.get('lambda_ref')}).  Used by Fast Filter (`filter` {filt})"
      + (" and Joint Filter's method `learned-rtv`" if filt == "rtv" else "")
      + f"; `lisse run --model {name} --set lambda=λ [--guide G]`.")
    p("")
    p(f"- Architecture `{meta.get('architecture')}` (core/nets/fang19.c; twin "
      "training/lisse_train/fang19_model.py): feature extractor of 3 convolutions (the third with "
      f"stride 2), {len(json.loads(meta.get('dilations', '[]')))} residual blocks at half size with "
      f"dilations {meta.get('dilations')}, nearest ×2 upsampling, 3 convolutions to 5 feature maps "
      f"and 18 offset maps per layer; every convolution λ-conditioned as eq. 4 (W = A·P + W0, "
      f"P = (λ/λ_ref, λ_ref/λ)); {meta.get('n_layers')} deformable weighted-average layers (eq. 5–7) "
      f"sharing the features.  Width {meta.get('width')}; offsets bounded by {meta.get('offset_bound')} px "
      f"(B·tanh(o/B)), so a tile with a {meta.get('receptive_radius')}-pixel halo gives the whole-image result.")
    p("- Differences from the paper (fang19_model.py says why): no instance normalisation (tiles must "
      "give the whole-image result); bounded offsets; each average normalised by the same average of "
      "a plane of ones plus ε = 1e-3 of the pixel itself; the paper's width is 64, this one's is "
      f"{meta.get('width')} (chosen at equal CPU time: training/README.md, section 8).")
    p("")
    p("## Training data")
    p("")
    p(f"Targets: Lisse's exact {filt.upper()} (`training/corpus/build_filter_targets.py`, every other "
      f"parameter at the filter's default) applied to the 256² photo crops at 7 log-uniform λ per "
      f"training crop in [{params.get('min')}, {params.get('max')}] and at the paper's five test λ per "
      "held-out crop; the crops held out by photograph.  Trained on (crop, λ, target) triples of the "
      "train split only.")
    p("")
    w.extend(corpus_section(MANIFEST, meta.get("data_manifest_sha256", "unknown")))
    p("")
    p("## Training")
    p("")
    torch_version = next((r.get("torch") for _, log in stages for r in log if r["kind"] == "start"), "?")
    p(f"Where: **CPU** (one core, one thread; torch {torch_version}), "
      f"{hours:.2f} h of training wall time over "
      + (f"{len(stages)} runs, each starting from the previous one's best weights with a fresh "
         "optimiser" if len(stages) > 1 else "one run")
      + f"; the shipped weights are step {meta.get('steps')} of the last run (its best "
      "validation).  git commit "
      f"`{meta.get('git_commit', '?')}`.  Loss: MSE to the exact filter's output (§3.3).  The paper "
      "trains on a GPU for far longer; this is what the CPU runs below gave.")
    p("")
    p("Validation during training (the first 12 held-out crops × the five test λ, PSNR on 8-bit "
      "values):")
    p("")
    for label, log in stages:
        w.extend(stage_lines(label, log))
    p("")
    p("## Evaluation")
    p("")
    lams = list(ev["psnr"])
    p(f"`tools/eval/fang19-eval.py` on {ev.get('images_per_lambda')} held-out crops per λ: PSNR "
      "(8-bit) of `lisse run` against the exact filter, beside Fang et al. 2019, Table 1:")
    p("")
    p("| λ | " + " | ".join(lams) + " | mean |")
    p("|---" * (len(lams) + 2) + "|")
    p(f"| {name} | " + " | ".join(f"{ev['psnr'][k]:.2f}" for k in lams) + f" | {ev['psnr_mean']:.2f} |")
    p("| paper | " + " | ".join(f"{ev['paper'].get(k, float('nan')):.2f}" for k in lams)
      + f" | {ev['paper_mean']:.2f} |")
    for label, t in ev.get("timing", {}).items():
        p("")
        p(f"Speed, {label}, {t['threads']} thread(s), one run: exact {t['exact_s']:.2f} s "
          f"({t['exact_peak_mib']:.0f} MiB), learned {t['learned_s']:.2f} s ({t['learned_peak_mib']:.0f} MiB).")
    for n in a.note:
        p("")
        p(n)
    p("")
    p("## Re-making it")
    p("")
    p("```sh")
    for c in a.train_command:
        p(c)
    p(a.export_command)
    p(a.eval_command)
    p("```")
    sys.stdout.write("\n".join(w) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
