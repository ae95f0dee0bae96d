# SPDX-License-Identifier: GPL-3.0-or-later
"""What the detail latent at inference costs or gains (issue 11: zero, or a
fixed function of the pixel position).  A position-hashed latent is, over an
image, a draw of i.i.d. noise that does not change between runs; so this
scores a checkpoint on the pack's held-out pairs with the latent zero and
with fixed Gaussian draws of each standard deviation (one seed per image),
the mean PSNR per setting.

    PYTHONPATH=training python3 -m lisse_train.sasnet_noise_eval CHECKPOINT \\
        [--pack build-textures/pack] [--std 0,0.1,0.3,1] [--count 48]
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from .sasnet_export import load_checkpoint, model_from_checkpoint
from .train_csgis import Pack, psnr8, to_tensor


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--pack", default="build-textures/pack")
    ap.add_argument("--std", default="0,0.1,0.3,1")
    ap.add_argument("--count", type=int, default=48)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = model_from_checkpoint(load_checkpoint(a.checkpoint))
    pairs = Pack(a.pack).val[: a.count]
    out = {}
    for std in (float(s) for s in a.std.split(",")):
        ps = []
        with torch.no_grad():
            for i, (inp, gt) in enumerate(pairs):
                g = torch.Generator().manual_seed(1000 + i)
                y, _ = model.forward_all(to_tensor([inp]), std, generator=g)
                ps += psnr8(y.clamp(0, 1), to_tensor([gt]))
        out[std] = float(np.mean(ps))
        print(json.dumps({"noise_std": std, "psnr": round(out[std], 3), "images": len(ps)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
