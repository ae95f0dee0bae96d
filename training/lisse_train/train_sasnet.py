# SPDX-License-Identifier: GPL-3.0-or-later
"""Train SASNet (sasnet_model) for texture removal on the texture pack.

    PYTHONPATH=training python3 -m lisse_train.train_sasnet --config smoke|cpu|gpu \\
        --out training/runs/NAME [--resume] [--pack build-textures/pack] \\
        [--set key=value]… [--minutes M] [--init CHECKPOINT]

The loop, the data (pairs made on the fly from the pack), the validation
sets, the schedule, the checkpoints and --minutes / --resume are
train_csgis's (its TextureTrainer; see its docstring).  What is SASNet's:

Loss: the paper's eq. 3, ‖y − ŷ‖₁ of the smoothed image y = f⁻¹([y_cor, n])
against the ground truth ŷ, plus loss_coarse · ‖y_cor − m(ŷ)‖₁, the coarse
structure against the ground truth's 2×2 means m (the downscaling module's
target, §2.1: "predicting the salient structures at the coarse scale").
n, the replaced detail latent: N(0, noise_std²) per element (the paper's
noise; noise_std 0 trains for the zero latent the C engine runs).

Optimiser: Adam (β 0.9, 0.999) at lr 2e-4 as §3 (the paper halves it every
10k iterations; here warm-up then cosine to lr_min over `steps`, which
suits a run cut into sessions), flips and 90° rotations as §3 (and the
pack's own augmentation: channel permutation, gain, texture draws).

Checkpoint: as train_csgis's, format "lisse-sasnet-train/1"; export with
lisse_train.sasnet_export.
"""
from __future__ import annotations

import sys
from typing import Dict

import torch
import torch.nn.functional as F

from . import sasnet_model as sm
from .fan18_model import pad_to_even
from .sasnet_export import CHECKPOINT_FORMAT
from .train_csgis import TextureTrainer, main as texture_main

_COMMON = dict(
    seed=0, device="cpu", threads=1, bf16=False,
    width=32, n_blocks=4, ca_window=9, ca_hidden=8, clamp=1.0,
    lr=2e-4, lr_min=1e-6, warmup_steps=100, steps=6000,
    batch=8, crop_min=96, crop_max=128, crop_step=16,
    blend_scale=(0.5, 2.0), blend_rms=(4.0, 22.0), blend_rotate_p=0.5, blend_tint_p=0.25,
    struct_scale=(1.0, 1.0), clean_p=0.0, select="psnr",
    loss_coarse=1.0, noise_std=0.0,
    log_every=20, val_every=500, ckpt_every=500, val_count=48, val_batch=4,
)

CONFIGS: Dict[str, Dict] = {
    "smoke": {**_COMMON, **dict(width=4, n_blocks=1, ca_window=3, ca_hidden=2, steps=12,
                                batch=2, crop_min=48, crop_max=48, warmup_steps=2,
                                log_every=4, val_every=6, ckpt_every=6, val_count=2,
                                val_batch=2)},
    # One core of the 2-core host, cut into sessions with --minutes / --resume.
    "cpu": dict(_COMMON),
    # One H100/H200: the paper's 16 blocks, batch 16, 128² patches.  NOT RUN
    # (no GPU lent when written).
    "gpu": {**_COMMON, **dict(device="auto", threads=8, bf16=True, width=64, n_blocks=16,
                              steps=60000, batch=16, crop_min=128, crop_max=128,
                              val_every=2000, ckpt_every=2000, val_count=200)},
}


class Trainer(TextureTrainer):
    CHECKPOINT_FORMAT = CHECKPOINT_FORMAT

    def build_model(self, cfg: Dict) -> torch.nn.Module:
        return sm.SASNet(width=cfg["width"], n_blocks=cfg["n_blocks"], ca_window=cfg["ca_window"],
                         ca_hidden=cfg["ca_hidden"], clamp=cfg["clamp"])

    def forward_all(self, x):
        noise = self.cfg["noise_std"]
        if self.cfg["bf16"]:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                y, y_cor = self.model.forward_all(x, noise)
            return y.float(), y_cor.float()
        return self.model.forward_all(x, noise)

    def compute_loss(self, x, y):
        out, coarse = self.forward_all(x)
        l1 = (out - y).abs().mean()
        lc = (coarse - F.avg_pool2d(pad_to_even(y), 2)).abs().mean()
        loss = l1 + self.cfg["loss_coarse"] * lc
        return loss, {"l1": float(l1.detach()), "coarse": float(lc.detach())}

    def describe(self) -> Dict:
        cfg = self.cfg
        return {"params": sm.count_parameters(self.model),
                "macs_per_pixel": sm.macs_per_pixel(self.model),
                "receptive_radius": sm.receptive_field_radius(cfg["n_blocks"], cfg["ca_window"])}


def main(argv=None) -> int:
    return texture_main(argv, Trainer, CONFIGS)


if __name__ == "__main__":
    sys.exit(main())
