#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Depth upsampling with a Fang 2019 model's feature maps alone (§4.3), on joint-filter-eval's scenes.

    tools/dev exec env PYTHONPATH=training python3 tools/eval/fang19-feature-jbu.py \\
        --checkpoint training/checkpoints/fang19-rtv-last.pt [--scenes 2] [--lambda 0.003]

The paper upsamples depth "only using the feature maps" F of the guide, as
joint bilateral upsampling with F in place of the guide's colours.  This
measures that idea before building it: the depth of each scene of
tools/eval/joint-filter-eval.py shrunk 4× and 8×, bicubic back, then a
joint bilateral filter over (2f+1)² windows (spatial σ f/2) whose range term
is either the photo's colours (σr 0.05) or the features F of the twin
(training/lisse_train/fang19_model.py, the checkpoint's weights) at λ, for
several σr.  Prints RMSE in grey levels against the true depth.  Not a
test, not used by any effect: the record of why Joint Filter has no
feature-based upsampling (docs/joint-filter-eval.md).
"""

import argparse
import importlib.util
import os
import sys

import cv2
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "training"))
from lisse_train import fang19_model as fm  # noqa: E402

spec = importlib.util.spec_from_file_location("jfe", os.path.join(HERE, "joint-filter-eval.py"))
jfe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jfe)


def jbf(depth, rng, radius, sigma_s, sigma_r):
    """Joint bilateral filter of @depth (H×W) with range features @rng (C×H×W)."""
    h, w = depth.shape
    num, den = np.zeros((h, w)), np.zeros((h, w))
    dp = np.pad(depth, radius, mode="edge")
    rp = np.pad(rng, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            q = rp[:, radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            wt = np.exp(-(dy * dy + dx * dx) / (2 * sigma_s ** 2)
                        - ((rng - q) ** 2).sum(0) / (2 * sigma_r ** 2))
            num += wt * dp[radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            den += wt
    return num / den


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--scenes", type=int, default=2)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.003)
    a = ap.parse_args(argv)
    ck = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    net = fm.Fang19Net(**ck["config"]["model"])
    net.load_state_dict(ck["model"])
    net.eval()
    for seed in range(a.scenes):
        photo, _, depth = jfe.scene(seed, a.size)
        g = torch.from_numpy(photo[..., ::-1].copy()).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            feat = net.extract(g, fm.lambda_params(a.lam, net.lambda_ref, 1))[0][0].numpy()
        for f in (4, 8):
            low = cv2.resize(depth, (a.size // f, a.size // f), interpolation=cv2.INTER_AREA)
            up = cv2.resize(low, (a.size, a.size), interpolation=cv2.INTER_CUBIC)
            row = [f"scene {seed} {f}×: bicubic {jfe.rmse255(up, depth):.2f}",
                   f"photo colours {jfe.rmse255(jbf(up, photo.transpose(2, 0, 1), f, f / 2, 0.05), depth):.2f}"]
            for sr in (0.02, 0.05, 0.1, 0.3, 1.0):
                row.append(f"features σr {sr}: {jfe.rmse255(jbf(up, feat, f, f / 2, sr), depth):.2f}")
            print(";  ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
