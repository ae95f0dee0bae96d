# SPDX-License-Identifier: GPL-3.0-or-later
"""Does a texture remover keep clean structure?  Runs a CSGIS-Net checkpoint
on ground truths with no texture at all and prints, per set, the PSNR of
its output against its input (a perfect remover leaves them as they are)
and the mean signed error in dark, mid and bright pixels of the textured
pairs (a haze lifts the darks, a contrast loss lowers the brights); and
how finely each set's structures are shaded (structure_stats), for the
set and for the pack's photo structures.

    python3 -m lisse_train.csgis_probe CHECKPOINT [--pack build-textures/pack]
        [--gt-dir DIR --input-dir DIR] [--count 24]

Sets: the pack's validation pairs, its thumbnail pairs (packs built since
2026-12-06) and, with --gt-dir/--input-dir, a folder pair named like
NKS-mini's (gt/NN.png, input/NN_TT.png).  An evaluation set given here is
measured, never trained or tuned on.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import numpy as np
import torch

from . import csgis_model as cm
from . import texture_blend as tb
from .train_csgis import Pack, read_rgb, to_tensor


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.clip(np.rint(a), 0, 255) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def load(path: str) -> cm.CSGISNet:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = cm.CSGISNet(**ck["config"]["model"])
    model.load_state_dict(ck["model"])
    return model.eval()


def apply(model: cm.CSGISNet, rgb: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(to_tensor([rgb]))[0].permute(1, 2, 0).numpy() * 255.0


def structure_stats(images) -> str:
    """Median over images of the distinct colours per image and of the
    boundary step (largest channel difference between horizontal neighbours,
    over the pairs that differ by more than 3 grey levels): how finely a set
    of structures is shaded."""
    colours, steps = [], []
    for g in images:
        colours.append(len(np.unique(g.reshape(-1, 3), axis=0)))
        d = np.abs(g[:, 1:].astype(np.int16) - g[:, :-1]).max(2)
        d = d[d > 3]
        steps.append(float(np.median(d)) if d.size else 0.0)
    return f"median {np.median(colours):.0f} colours, boundary step {np.median(steps):.1f}"


def probe(model, pairs, label: str):
    clean, textured, bias = [], [], []
    for x, y in pairs:
        clean.append(psnr(apply(model, y), y))
        out = apply(model, x)
        textured.append(psnr(out, y))
        luma = tb.gray(y.astype(np.float32))
        row = []
        for m in (luma < 50, (luma >= 50) & (luma < 200), luma >= 200):
            row.append(float((out - y)[m].mean()) if m.sum() >= 100 else np.nan)
        bias.append(row)
    b = np.nanmean(np.array(bias), 0)
    print(f"{label}: {len(pairs)} images; clean structure through the model {np.mean(clean):.2f} dB; "
          f"textured input {np.mean(textured):.2f} dB; output − truth in dark / mid / bright "
          f"pixels {b[0]:+.2f} / {b[1]:+.2f} / {b[2]:+.2f} grey levels; structures: "
          f"{structure_stats([y for _, y in pairs])}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--pack", default="build-textures/pack")
    ap.add_argument("--gt-dir")
    ap.add_argument("--input-dir")
    ap.add_argument("--count", type=int, default=24, help="pairs per pack set")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load(a.checkpoint)
    pack = Pack(a.pack)
    with open(os.path.join(pack.root, "index.json")) as f:
        structures = json.load(f)["structures"]
    for kind in ("photo-cartoon", "photo-thumb"):
        files = [x["file"] for x in structures if x["split"] == "train" and x["kind"] == kind][:40]
        if files:
            print(f"pack training structures, {kind} (first {len(files)}): "
                  + structure_stats([read_rgb(os.path.join(pack.root, f)) for f in files]))
    probe(model, pack.val[: a.count], "pack validation pairs")
    if pack.val_thumb:
        probe(model, pack.val_thumb[: a.count], "pack thumbnail pairs")
    if a.gt_dir and a.input_dir:
        pairs = []
        for f in sorted(glob.glob(os.path.join(a.input_dir, "*.png"))):
            gt = os.path.join(a.gt_dir, os.path.basename(f).split("_")[0] + ".png")
            pairs.append((read_rgb(f), read_rgb(gt)))
        probe(model, pairs, a.gt_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
