# SPDX-License-Identifier: GPL-3.0-or-later
"""Train MGPNet (lisse_train/mgpnet_model.py) on the texture pack with the
paper's multi-scale L1 loss (eq. 3, every λ_t = 1).

    PYTHONPATH=training python3 -m lisse_train.train_mgpnet --config smoke|cpu|gpu \\
        --out DIR [--pack build-textures/pack] [--set key=value …] [--resume]
        [--init CHECKPOINT] [--minutes M] [--stop-at N] [--validate]

The loop, data, validation, schedule and checkpoints are CSGIS-Net's
(train_csgis.TextureTrainer); the checkpoint format is "lisse-mgpnet-train/1"
(mgpnet_export.CHECKPOINT_FORMAT), the model configuration under
config.model.  Training crops are reflect-padded to the network's multiple
like any input (the cpu and gpu crops are multiples of it already).
"""
from __future__ import annotations

import sys
from typing import Dict

import torch

from . import mgpnet_model as mm
from .mgpnet_export import CHECKPOINT_FORMAT
from .train_csgis import TextureTrainer, main as texture_main

_COMMON = dict(
    seed=0, device="cpu", threads=1, bf16=False,
    widths=[16, 32, 64], in_feat=16, blocks=[8, 8, 16], grid=16, n_pairs=2, multiple=64,
    lr=2e-4, lr_min=1e-6, warmup_steps=100, steps=8000,
    batch=4, crop_min=128, crop_max=128, crop_step=16,
    blend_scale=(0.5, 2.0), blend_rms=(4.0, 22.0), blend_rotate_p=0.5, blend_tint_p=0.25,
    struct_scale=(1.0, 1.0), clean_p=0.0, select="psnr",
    log_every=20, val_every=500, ckpt_every=500, val_count=48, val_batch=4,
)

CONFIGS: Dict[str, Dict] = {
    "smoke": {**_COMMON, **dict(widths=[4, 6, 8], in_feat=3, blocks=[2, 2, 4], grid=4,
                                n_pairs=1, multiple=16, steps=12, batch=2, crop_min=32,
                                crop_max=32, warmup_steps=2, log_every=4, val_every=6,
                                ckpt_every=6, val_count=2, val_batch=2)},
    # One core of the 2-core host, cut into sessions with --minutes / --resume:
    # half the paper's widths, its 128² patches.
    "cpu": dict(_COMMON),
    # One H100/H200: the paper's widths, batch 8, 128² patches, 30k iterations
    # (§III-A).  NOT RUN (no GPU lent when written).
    "gpu": {**_COMMON, **dict(device="auto", threads=8, bf16=True, widths=[32, 64, 128],
                              steps=30000, batch=8, val_every=2000, ckpt_every=2000,
                              val_count=200)},
}


class Trainer(TextureTrainer):
    CHECKPOINT_FORMAT = CHECKPOINT_FORMAT

    def build_model(self, cfg: Dict) -> torch.nn.Module:
        return mm.MGPNet(widths=cfg["widths"], in_feat=cfg["in_feat"], blocks=cfg["blocks"],
                         grid=cfg["grid"], n_pairs=cfg["n_pairs"], multiple=cfg["multiple"])

    def compute_loss(self, x, y):
        m = self.cfg["multiple"]
        outs = self.forward_all(mm.pad_reflect_to(x, m))
        loss, terms = mm.multiscale_l1(outs, mm.pad_reflect_to(y, m))
        return loss, {"l1": float(terms[0].detach()), "l1_half": float(terms[1].detach()),
                      "l1_quarter": float(terms[2].detach())}

    def describe(self) -> Dict:
        return {"params": mm.count_parameters(self.model),
                "macs_per_pixel": mm.macs_per_pixel(self.model), "receptive_radius": "global"}


def main(argv=None) -> int:
    return texture_main(argv, Trainer, CONFIGS)


if __name__ == "__main__":
    sys.exit(main())
