# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the model card (data/models/NAME.md) of an exported CSGIS-Net model.

    PYTHONPATH=training python3 -m lisse_train.csgis_card \\
        --model data/models/csgis-texture.safetensors --run training/logs/csgis-texture.jsonl \\
        --eval docs/texture-eval.md --train-command "…" --export-command "…" \\
        --eval-command "…" [--note "…"]… > data/models/csgis-texture.md

As model_card.py does for Fan 2018, everything is read from files: the model
file's metadata, the run's log.jsonl (where, how long, the loss and
validation curves), the texture manifest (packages, versions, licences,
counts) and the evaluation table of tools/eval/texture-eval.py (the part
between its markers).
"""
from __future__ import annotations

import sys
from typing import Dict, List

from .texture_card import parse_args, write_card


def describe(meta: Dict[str, str]) -> List[str]:
    w: List[str] = []
    p = w.append
    p("Wang et al., \"Contrastive Semantic-Guided Image Smoothing Network\", Computer Graphics Forum "
      "2022 (CSGIS-Net): its smoothing network (§3.2, Fig. 2) trained for texture removal with its "
      "losses (eq. 5–9, 11).  Used by Remove Texture's method `csgis`.")
    p("")
    p(f"- Architecture `{meta.get('architecture')}` (core/nets/csgis.c; twin "
      "training/lisse_train/csgis_model.py): conv 3×3 head, "
      f"{meta.get('n_desc')} rHDC blocks (3 × conv 3×3 with dilations 1, 2, 3, BN, ReLU, plus identity) as the "
      "descriptor; edge interpreter (2 × conv-BN-ReLU, 1×1 conv, sigmoid); smooth interpreter "
      f"(conv over [features, edge], {meta.get('n_smooth')} rHDC, conv-BN-ReLU, conv to 3: S0 = input + it); "
      f"refinement (conv over [features, edge, S0], {meta.get('n_refine')} rHDC, conv to 3: S1 = S0 + it).  "
      f"Width {meta.get('width')}.  BatchNorm folded into the convolutions, so tiles give the whole-image "
      f"result; receptive radius {meta.get('receptive_radius')} px.")
    p(f"- The paper's sizes: width 64, 12 descriptor blocks as trained (20 as released), 3 and 6 in the "
      f"interpreters.  This model: width {meta.get('width')}, {meta.get('n_desc')} / {meta.get('n_smooth')} / "
      f"{meta.get('n_refine')} blocks, chosen at equal CPU time (training/README.md, \"CSGIS-Net\").")
    p("- Differences from the paper (training/lisse_train/csgis_loss.py and csgis_model.py say why): S0 is a "
      "residual on the input; the contrastive loss uses Gram matrices of a fixed random convolution network "
      "instead of ImageNet VGG16 (none is available here); I_over is a Gaussian blur (σ 4) of the input; no "
      "semantic-segmentation loss (no VOC labels, no DeepLabv3+); mean-normalised edge BCE (λe 0.05), "
      "λc 0.1; the DTV term's TV part is on gradient differences.")
    return w


def main(argv=None) -> int:
    return write_card(parse_args(__doc__, argv), describe,
                      "the paper: 250 epochs of 12k pairs, batch 8, 128² — about 375k steps",
                      [("loss", "loss"), ("L1(S1)", "l1"), ("edge BCE", "edge"),
                       ("contrastive", "contrast")], "S1")


if __name__ == "__main__":
    sys.exit(main())
