# SPDX-License-Identifier: GPL-3.0-or-later
"""What the supervised trainers (train_csgis, train_fang19) share: the
checkpoint — its dict, an atomic save, a load that checks the format — and
the state that makes a resumed run continue bit for bit (optimiser, NumPy
and torch generators, step, best validation).

A trainer sets model, opt, rng, cfg, out, config_name, step, best, last_val
and the class attribute CHECKPOINT_FORMAT; it may extend config_record()
(what the checkpoint's "config" holds) and check() (refuse a checkpoint
that is of the format but not for this run).
"""
from __future__ import annotations

import os
from typing import Dict

import torch


class CheckpointedTrainer:
    CHECKPOINT_FORMAT = ""

    def config_record(self) -> Dict:
        return {"model": self.model.config(), "train": self.cfg, "name": self.config_name}

    def check(self, ck: Dict, path: str, full: bool):
        """Raise SystemExit when @ck (of the right format) does not fit this
        run: resumed (@full) or its weights taken as a start."""

    def state(self) -> Dict:
        return {"format": self.CHECKPOINT_FORMAT, "model": self.model.state_dict(),
                "config": self.config_record(),
                "step": self.step, "optimizer": self.opt.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "val": self.last_val, "best_psnr": self.best}

    def save(self, name: str):
        path = os.path.join(self.out, name)
        torch.save(self.state(), path + ".tmp")
        os.replace(path + ".tmp", path)

    def load(self, path: str, full: bool):
        """The weights of @path; with @full also the optimiser, generators,
        step and best validation (a resume)."""
        ck = torch.load(path, map_location=self.device, weights_only=False)
        if ck.get("format") != self.CHECKPOINT_FORMAT:
            raise SystemExit(f"{path}: not a {self.CHECKPOINT_FORMAT} checkpoint")
        self.check(ck, path, full)
        self.model.load_state_dict(ck["model"])
        if full:
            self.opt.load_state_dict(ck["optimizer"])
            self.rng.bit_generator.state = ck["rng"]
            torch.set_rng_state(ck["torch_rng"])
            self.step = ck["step"]
            self.best = ck.get("best_psnr", -1.0)
            self.last_val = ck.get("val", {})
