# SPDX-License-Identifier: GPL-3.0-or-later
"""The parts every texture network's model card shares (csgis_card.py,
mgpnet_card.py): the training data from the texture manifest, the training
and validation curves from the run's log.jsonl, the evaluation table of
tools/eval/texture-eval.py and the commands that re-make the model.  As
model_card.py does for Fan 2018, everything is read from files."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, OrderedDict
from typing import Callable, Dict, List, Sequence, Tuple

from .model_card import card_head, read_log, read_metadata, sha256, training_time

HERE = os.path.dirname(os.path.abspath(__file__))
TEXTURE_MANIFEST = os.path.join(HERE, "..", "corpus", "texture-manifest.json")


def data_section(manifest_path: str, manifest_hash: str) -> List[str]:
    with open(manifest_path) as f:
        m = json.load(f)
    actual = sha256(manifest_path)
    note = "" if actual == manifest_hash else \
        f" (NOTE: this checkout's manifest has sha256 {actual[:16]}…, not the one trained with)"
    out = [f"Supervised pairs made on the fly from the texture pack of `training/corpus/build_textures.py` "
           f"(manifest `training/corpus/texture-manifest.json`, sha256 `{manifest_hash}`{note}): a clean "
           "structure image plus a mean-free grey texture layer (NKS / VOC-smooth blend, "
           "`training/lisse_train/texture_blend.py`).  Only **train** structures and **train** textures "
           "were used in training; validation holds out structures (by clip-art piece and by photograph) "
           "**and** textures.", "",
           "| package | version | role | licence | files train / val |", "|---|---|---|---|---|"]
    per = OrderedDict()
    for fl in m["files"]:
        c = per.setdefault(fl["package"], Counter())
        c[fl.get("split", "?")] += 1
        c["lic:" + fl.get("licence", "?")] += 1
    for pkg in m["packages"]:
        c = per.get(pkg["name"], Counter())
        lic = ", ".join(sorted(k[4:] for k in c if k.startswith("lic:"))) or pkg.get("licence", "?")
        out.append(f"| {pkg['name']} | {pkg['version']} | {pkg.get('role', '?')} | {lic} | "
                   f"{c.get('train', 0)} / {c.get('val', 0)} |")
    ps = m.get("photo_structures", {})
    pk = m.get("pack", {})
    st = pk.get("structures", {})
    out += ["", f"Structures: {json.dumps(st.get('train', {}))} for training, "
                f"{json.dumps(st.get('val', {}))} held out; the photo-cartoon ones are Lisse's L0 plus "
                f"colour posterisation of the photo crop pack (`training/corpus/manifest.json`, sha256 "
                f"`{ps.get('manifest_sha256', '?')}`; its licences are listed on the fan18 cards).  "
                f"Textures: {json.dumps(pk.get('textures', {}))}.  Validation pairs: {pk.get('val_pairs', '?')}.  "
                "No image is stored in this repository; the builder re-makes the pack from the pinned "
                "Debian packages."]
    return out


def eval_table(path: str) -> List[str]:
    with open(path) as f:
        text = f.read()
    begin, end = text.find("<!-- texture-eval: begin -->"), text.find("<!-- texture-eval: end -->")
    if begin < 0 or end < 0:
        return [text.strip()]
    return [text[begin + len("<!-- texture-eval: begin -->"):end].strip()]


def parse_args(doc: str, argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--eval", default=None)
    ap.add_argument("--train-command", required=True)
    ap.add_argument("--export-command", required=True)
    ap.add_argument("--eval-command", default=None)
    ap.add_argument("--note", action="append", default=[])
    return ap.parse_args(argv)


def write_card(a: argparse.Namespace, describe: Callable[[Dict[str, str]], List[str]],
               paper_steps: str, loss_cols: Sequence[Tuple[str, str]], output_name: str) -> int:
    """The card of model a.model on stdout: card_head, describe(metadata)
    (what the network is, lines), then the shared sections.  paper_steps:
    the paper's schedule in words; loss_cols: (header, log key) of the
    training-loss table; output_name: what the validation scores."""
    meta = read_metadata(a.model)
    log = read_log(a.run)
    start = next(r for r in log if r["kind"] == "start")
    cfg = start["config"]
    vals = [r for r in log if r["kind"] == "val"]
    trains = [r for r in log if r["kind"] == "train"]
    name = meta.get("name", os.path.basename(a.model).rsplit(".", 1)[0])
    hours = training_time(log) / 3600
    w: List[str] = card_head(a.model, name)
    p = w.append
    w.extend(describe(meta))
    p("")
    p("## Training data")
    p("")
    w.extend(data_section(TEXTURE_MANIFEST, meta.get("data_manifest_sha256", "unknown")))
    p("")
    p("## Training")
    p("")
    where = "GPU" if str(cfg.get("device")).startswith("cuda") else "CPU"
    steps = meta.get("steps")
    p(f"- Where: **{where}** ({cfg.get('device')}, {start.get('threads', '?')} thread(s), torch "
      f"{start.get('torch', '?')}, bf16 autocast {'on' if cfg.get('bf16') else 'off'}), "
      f"{hours:.2f} h of training wall time (from the log), git commit `{meta.get('git_commit', '?')}`.")
    p(f"- Steps: {steps} of batch {cfg.get('batch')} pairs, crops {cfg.get('crop_min')}–{cfg.get('crop_max')} px "
      f"({paper_steps}); Adam lr {cfg.get('lr')} → "
      f"{cfg.get('lr_min')} (warm-up {cfg.get('warmup_steps')}, cosine), gradient norm clipped at 1.  Blend: "
      f"texture zoom {cfg.get('blend_scale')}, RMS {cfg.get('blend_rms')} grey levels, "
      f"{cfg.get('blend_rotate_p')} rotated freely, {cfg.get('blend_tint_p')} tinted.")
    p("")
    if trains:
        p("Training loss (means over the logging interval):")
        p("")
        p("| step | " + " | ".join(h for h, _ in loss_cols) + " | s/step |")
        p("|" + "---|" * (len(loss_cols) + 2))
        pick = trains[:: max(1, len(trains) // 10)] + ([trains[-1]] if len(trains) > 1 else [])
        seen = set()
        for r in pick:
            if r["step"] in seen:
                continue
            seen.add(r["step"])
            p(f"| {r['step']} | " + " | ".join(f"{r.get(k, 0):.4f}" for _, k in loss_cols)
              + f" | {r['s_per_step']} |")
        p("")
    if vals:
        # "images" counts the last set scored: the thumbnails when there are.
        start = next((r for r in log if r["kind"] == "start"), {})
        n_pairs = start.get("config", {}).get("val_count", vals[-1]["images"]) \
            if "psnr_thumb" in vals[-1] else vals[-1]["images"]
        head = (f"Validation (PSNR of {output_name} against the ground truth, 8-bit, on the first "
                f"{n_pairs} held-out synthetic pairs; the input scores {vals[-1]['input_psnr']:.2f} dB)")
        if "psnr_thumb" in vals[-1]:
            r0 = vals[-1]
            p(head + f", and on two further held-out sets: the same structures at half size (input "
              f"{r0['input_psnr_half']:.2f} dB) and whole held-out photographs at thumbnail size "
              f"({r0['images']} pairs, input {r0['input_psnr_thumb']:.2f} dB); "
              + ("the best mean of the three picked the shipped step:" if cfg.get("select") == "mean"
                 else "the best PSNR on the first set picked the shipped step:"))
            p("")
            p("| step | PSNR (dB) | half size | thumbnails | mean |")
            p("|---|---|---|---|---|")
            for r in vals:
                mean = (r["psnr"] + r["psnr_half"] + r["psnr_thumb"]) / 3
                p(f"| {r['step']} | {r['psnr']:.2f} | {r['psnr_half']:.2f} | {r['psnr_thumb']:.2f} | {mean:.2f} |")
        else:
            p(head + ":")
            p("")
            p("| step | PSNR (dB) |")
            p("|---|---|")
            for r in vals:
                p(f"| {r['step']} | {r['psnr']:.2f} |")
        p("")
    if a.eval:
        p("## Evaluation")
        p("")
        p(f"From `{a.eval}` (tools/eval/texture-eval.py; NKS-mini is never used for training or choices):")
        p("")
        w.extend(eval_table(a.eval))
        p("")
    p("## Re-making it")
    p("")
    p("```sh")
    p(a.train_command)
    p(a.export_command)
    if a.eval_command:
        p(a.eval_command)
    p("```")
    p("")
    if a.note:
        p("## Limitations")
        p("")
        for n in a.note:
            p(n.strip())
            p("")
    sys.stdout.write("\n".join(w).rstrip() + "\n")
    return 0
