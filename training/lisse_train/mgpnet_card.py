# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the model card (data/models/NAME.md) of an exported MGPNet model.

    PYTHONPATH=training python3 -m lisse_train.mgpnet_card \\
        --model data/models/mgpnet-texture.safetensors --run training/logs/mgpnet-texture.jsonl \\
        --eval docs/texture-eval.md --train-command "…" --export-command "…" \\
        --eval-command "…" [--note "…"]… > data/models/mgpnet-texture.md

The sections every texture network's card shares come from texture_card.py
(training data, curves, evaluation, commands); this file says what the
network is.
"""
from __future__ import annotations

import sys
from typing import Dict, List

from .texture_card import parse_args, write_card


def describe(meta: Dict[str, str]) -> List[str]:
    c = [meta.get(f"width{t}") for t in (1, 2, 3)]
    b = [meta.get(f"block{t}") for t in (1, 2, 3)]
    w: List[str] = []
    p = w.append
    p("He, Quan, Xu, Xu, \"Image Smoothing via Multiscale Global Perception\" (MGPNet, §II, "
      "Fig. 2), trained for texture removal with its multi-scale L1 loss (eq. 3).  Used by "
      "Remove Texture's method `mgpnet`.")
    p("")
    p(f"- Architecture `{meta.get('architecture')}` (core/nets/mgpnet.c; twin "
      "training/lisse_train/mgpnet_model.py): a three-level U-shaped network, widths "
      f"{c[0]} / {c[1]} / {c[2]}; the ×0.5 and ×0.25 input copies through 3×3 convolutions to "
      f"{meta.get('in_feat')} channels join levels 2 and 3; every encoder and decoder stage a 1×1 "
      f"projection and {meta.get('n_pairs')} × [global perception block, RCAB] with a skip.  The "
      "global perception block is MAXIM's residual split-head multi-axis gMLP: a block branch "
      f"mixing the pixels of {b[0]}² / {b[1]}² / {b[2]}² windows (levels 1 / 2 / 3) and a grid "
      f"branch mixing the cells of a fixed {meta.get('grid')} × {meta.get('grid')} grid over the "
      "whole image; RCAB: LayerNorm, 3×3, LeakyReLU 0.2, 3×3, channel attention (reduction 4).  "
      "Two fusion blocks (1×1 and 3×3 convolutions over all three levels resized) feed the "
      f"decoder.  The input is padded to a multiple of {meta.get('multiple')} by reflection; "
      "the result is the input plus the finest output (the half- and quarter-size outputs are "
      "for the loss only).")
    p("- Global: the grid branch sees the whole image, so Lisse runs it whole up to its "
      "whole-image size (3.36 MP at width 16: what fits 2 GiB) and above it in tiles with 128 px "
      "of context (net.h; docs/performance.md measures how close that is to the whole run).")
    p(f"- The paper's sizes: widths 32 / 64 / 128 (3.7 M parameters, 0.93 TFLOP a megapixel).  "
      f"This model: widths {c[0]} / {c[1]} / {c[2]}, half the paper's, for one CPU core "
      "(training/README.md, \"MGPNet\").")
    p("- Choices the paper leaves open (mgpnet_model.py says why): average-pool downsampling of "
      "the input copies, bilinear upsampling in the fusion, 2×2 stride-2 convolutions down and "
      "2×2 transposed convolutions up, reflection padding that works for any size.")
    return w


def main(argv=None) -> int:
    return write_card(parse_args(__doc__, argv), describe,
                      "the paper: 3×10⁴ iterations of batch 8, 128², lr 2×10⁻⁴ halved every 10⁴",
                      [("loss", "loss"), ("L1 full", "l1"), ("L1 half", "l1_half"),
                       ("L1 quarter", "l1_quarter")], "the result")


if __name__ == "__main__":
    sys.exit(main())
