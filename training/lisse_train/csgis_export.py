# SPDX-License-Identifier: GPL-3.0-or-later
"""CSGIS-Net checkpoint → safetensors model file for core/nets/csgis.c.

    PYTHONPATH=training python3 -m lisse_train.csgis_export CHECKPOINT OUT.safetensors \\
        [--name NAME]

Model file contract (core/nets/csgis.c reads exactly this):
  metadata  architecture "csgis", colour_encoding "srgb-nonlinear-0-1",
            width, n_desc, n_smooth, n_refine (decimal strings),
            receptive_radius (decimal; csgis_model.receptive_field_radius),
            plus provenance (name, steps, git_commit, data_manifest_sha256,
            training_config, final_losses);
  tensors   float32 "NAME.weight" [Cout, Cin, k, k] and "NAME.bias" [Cout] for
            every NAME of csgis_model.layer_list(), BatchNorm folded in:
              head [F,3,3,3]; desc{i}.c{0,1,2} [F,F,3,3] (dilation 1,2,3);
              edge.c0, edge.c1 [F,F,3,3]; edge.out [1,F,1,1];
              smooth.in [F,F+1,3,3]; smooth{i}.c{0,1,2}; smooth.mid [F,F,3,3];
              smooth.out [3,F,3,3]; refine.in [F,F+4,3,3]; refine{i}.c{0,1,2};
              refine.out [3,F,3,3].
"""
from __future__ import annotations

import os
import sys
from typing import Dict, Optional

import numpy as np

from . import csgis_model as cm
from .export import (git_commit, manifest_sha256, supervised_checkpoint,
                     supervised_export_main, write_model_file)

ARCHITECTURE = "csgis"
CHECKPOINT_FORMAT = "lisse-csgis-train/1"
_TEXTURE_MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus",
                                 "texture-manifest.json")


def export_csgis(model: cm.CSGISNet, path: str, metadata_extra: Optional[dict] = None) -> Dict[str, str]:
    state = cm.folded_state(model)
    tensors = {k: np.ascontiguousarray(v.numpy().astype(np.float32)) for k, v in state.items()}
    meta = {
        "architecture": ARCHITECTURE,
        "colour_encoding": "srgb-nonlinear-0-1",
        "width": str(model.width),
        "n_desc": str(model.n_desc),
        "n_smooth": str(model.n_smooth),
        "n_refine": str(model.n_refine),
        "receptive_radius": str(cm.receptive_field_radius(model.n_desc, model.n_smooth,
                                                          model.n_refine)),
        "git_commit": git_commit(),
        "data_manifest_sha256": manifest_sha256(_TEXTURE_MANIFEST),
        "steps": "unknown",
        "final_losses": "{}",
        "training_config": "{}",
    }
    return write_model_file(path, tensors, meta, metadata_extra,
                            ("architecture", "width", "n_desc", "n_smooth", "n_refine",
                             "receptive_radius"))


def load_checkpoint(path: str) -> dict:
    return supervised_checkpoint(path, CHECKPOINT_FORMAT, "CSGIS-Net")


def model_from_checkpoint(ckpt: dict) -> cm.CSGISNet:
    model = cm.CSGISNet(**ckpt["config"]["model"])
    model.load_state_dict(ckpt["model"])
    return model.eval()


def main(argv=None) -> int:
    return supervised_export_main(argv, __doc__.split("\n")[0], "csgis_export",
                                  load_checkpoint, model_from_checkpoint, export_csgis,
                                  ("architecture", "width", "n_desc", "n_smooth", "n_refine",
                                   "receptive_radius", "steps"))


if __name__ == "__main__":
    sys.exit(main())
