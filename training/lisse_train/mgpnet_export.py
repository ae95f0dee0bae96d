# SPDX-License-Identifier: GPL-3.0-or-later
"""MGPNet checkpoint → safetensors model file for core/nets/mgpnet.c.

    PYTHONPATH=training python3 -m lisse_train.mgpnet_export CHECKPOINT OUT.safetensors \\
        [--name NAME]

Model file contract (core/nets/mgpnet.c reads exactly this):
  metadata  architecture "mgpnet", colour_encoding "srgb-nonlinear-0-1",
            width1, width2, width3 (C1, C2, C3), in_feat, block1, block2,
            block3, grid, n_pairs, multiple (decimal integers; multiple
            divisible by 2^(t−1)·block_t and by 2^(t−1)·grid at t = 1, 2, 3),
            plus provenance (name, steps, git_commit, data_manifest_sha256,
            training_config, final_losses);
  tensors   float32, the twin's state dict as it is: every name and shape of
            mgpnet_model.tensor_shapes (widths, in_feat, blocks, grid,
            n_pairs) and nothing else.  LayerNorm eps is 1e-6.
"""
from __future__ import annotations

import sys
from typing import Dict, Optional

import numpy as np

from . import mgpnet_model as mm
from .csgis_export import _TEXTURE_MANIFEST
from .export import (git_commit, manifest_sha256, read_model_file,
                     supervised_checkpoint, supervised_export_main, write_model_file)

ARCHITECTURE = "mgpnet"
CHECKPOINT_FORMAT = "lisse-mgpnet-train/1"
_DERIVED = ("architecture", "width1", "width2", "width3", "in_feat", "block1", "block2",
            "block3", "grid", "n_pairs", "multiple")


def export_mgpnet(model: mm.MGPNet, path: str,
                  metadata_extra: Optional[dict] = None) -> Dict[str, str]:
    state = mm.export_state(model)
    tensors = {k: np.ascontiguousarray(v.numpy().astype(np.float32)) for k, v in state.items()}
    meta = {
        "architecture": ARCHITECTURE,
        "colour_encoding": "srgb-nonlinear-0-1",
        "git_commit": git_commit(),
        "data_manifest_sha256": manifest_sha256(_TEXTURE_MANIFEST),
        "steps": "unknown",
        "final_losses": "{}",
        "training_config": "{}",
    }
    for t in range(3):
        meta[f"width{t + 1}"] = str(model.widths[t])
        meta[f"block{t + 1}"] = str(model.blocks[t])
    meta.update(in_feat=str(model.in_feat), grid=str(model.grid), n_pairs=str(model.n_pairs),
                multiple=str(model.multiple))
    return write_model_file(path, tensors, meta, metadata_extra, _DERIVED)


def load_checkpoint(path: str) -> dict:
    return supervised_checkpoint(path, CHECKPOINT_FORMAT, "MGPNet")


def model_from_checkpoint(ckpt: dict) -> mm.MGPNet:
    model = mm.MGPNet(**ckpt["config"]["model"])
    model.load_state_dict(ckpt["model"])
    return model.eval()


def load_mgpnet(path: str):
    """The exporter's inverse: a model file (this module's contract) as a
    float32 MGPNet in eval mode, and the file's metadata (tools/bench)."""
    import torch
    meta, tensors = read_model_file(path, ARCHITECTURE)
    model = mm.MGPNet(widths=[int(meta[f"width{t}"]) for t in (1, 2, 3)],
                      in_feat=int(meta["in_feat"]),
                      blocks=[int(meta[f"block{t}"]) for t in (1, 2, 3)],
                      grid=int(meta["grid"]), n_pairs=int(meta["n_pairs"]),
                      multiple=int(meta["multiple"]))
    model.load_state_dict({k: torch.from_numpy(tensors[k].copy()) for k in model.state_dict()})
    return model.eval(), meta


def main(argv=None) -> int:
    return supervised_export_main(argv, __doc__.split("\n")[0], "mgpnet_export",
                                  load_checkpoint, model_from_checkpoint, export_mgpnet,
                                  _DERIVED + ("steps",))


if __name__ == "__main__":
    sys.exit(main())
