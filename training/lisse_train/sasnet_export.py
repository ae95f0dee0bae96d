# SPDX-License-Identifier: GPL-3.0-or-later
"""SASNet checkpoint → safetensors model file for core/nets/sasnet.c.

    PYTHONPATH=training python3 -m lisse_train.sasnet_export CHECKPOINT OUT.safetensors \\
        [--name NAME]

Model file contract (core/nets/sasnet.c reads exactly this):
  metadata  architecture "sasnet", colour_encoding "srgb-nonlinear-0-1",
            width F, n_blocks L, ca_window k (odd), ca_hidden h, clamp (a
            decimal float), noise "zero", receptive_radius (decimal;
            sasnet_model.receptive_field_radius), plus provenance (name,
            steps, git_commit, data_manifest_sha256, training_config,
            final_losses);
  tensors   float32, for l < L and j = 1, 2, 3 (g1: Cin 9, Cout 3; g2, g3:
            Cin 3, Cout 9), prefix P = "b{l}.g{j}":
              P.conv_in  [F,Cin,3,3]   P.conv_1, P.conv_2 [F,F,3,3]
              P.conv_out [Cout,F,3,3]  each with .weight and .bias [Cout]
              P.ca.fc1   [h,F,1,1] + bias [h]   P.ca.fc2 [F,h,1,1] + bias [F]
              P.sa       [1,2,7,7] + bias [1]   (input 0 the channel mean, 1 the max)
            and nothing else (sasnet_model.tensor_shapes).
"""
from __future__ import annotations

import sys
from typing import Dict, Optional

import numpy as np

from . import sasnet_model as sm
from .csgis_export import _TEXTURE_MANIFEST
from .export import (git_commit, manifest_sha256, read_model_file,
                     supervised_checkpoint, supervised_export_main, write_model_file)

ARCHITECTURE = "sasnet"
CHECKPOINT_FORMAT = "lisse-sasnet-train/1"
_DERIVED = ("architecture", "width", "n_blocks", "ca_window", "ca_hidden", "clamp", "noise",
            "receptive_radius")


def export_sasnet(model: sm.SASNet, path: str,
                  metadata_extra: Optional[dict] = None) -> Dict[str, str]:
    state = sm.export_state(model)
    tensors = {k: np.ascontiguousarray(v.numpy().astype(np.float32)) for k, v in state.items()}
    meta = {
        "architecture": ARCHITECTURE,
        "colour_encoding": "srgb-nonlinear-0-1",
        "width": str(model.width),
        "n_blocks": str(model.n_blocks),
        "ca_window": str(model.ca_window),
        "ca_hidden": str(model.ca_hidden),
        "clamp": repr(float(model.clamp)),
        "noise": "zero",
        "receptive_radius": str(sm.receptive_field_radius(model.n_blocks, model.ca_window)),
        "git_commit": git_commit(),
        "data_manifest_sha256": manifest_sha256(_TEXTURE_MANIFEST),
        "steps": "unknown",
        "final_losses": "{}",
        "training_config": "{}",
    }
    return write_model_file(path, tensors, meta, metadata_extra, _DERIVED)


def load_checkpoint(path: str) -> dict:
    return supervised_checkpoint(path, CHECKPOINT_FORMAT, "SASNet")


def model_from_checkpoint(ckpt: dict) -> sm.SASNet:
    model = sm.SASNet(**ckpt["config"]["model"])
    model.load_state_dict(ckpt["model"])
    return model.eval()


def load_sasnet(path: str):
    """The exporter's inverse: a model file (this module's contract) as a
    float32 SASNet in eval mode, and the file's metadata — for comparing the
    C engine with the twin on the same weights (tools/bench)."""
    import torch
    meta, tensors = read_model_file(path, ARCHITECTURE)
    model = sm.SASNet(width=int(meta["width"]), n_blocks=int(meta["n_blocks"]),
                      ca_window=int(meta["ca_window"]), ca_hidden=int(meta["ca_hidden"]),
                      clamp=float(meta["clamp"]))
    sd = model.state_dict()
    for prefix, mpath in sm.g_names(model.n_blocks):
        for kind in ("weight", "bias"):
            for conv in sm.G_CONVS:
                sd[f"{mpath}.{conv}.{kind}"] = tensors[f"{prefix}.{conv}.{kind}"]
            for fc in ("fc1", "fc2"):
                sd[f"{mpath}.ca.{fc}.{kind}"] = tensors[f"{prefix}.ca.{fc}.{kind}"]
            sd[f"{mpath}.sa.conv.{kind}"] = tensors[f"{prefix}.sa.{kind}"]
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    model.load_state_dict({k: torch.from_numpy(np.array(v, np.float32)).reshape(shapes[k])
                           for k, v in sd.items()})
    return model.eval(), meta


def main(argv=None) -> int:
    return supervised_export_main(argv, __doc__.split("\n")[0], "sasnet_export",
                                  load_checkpoint, model_from_checkpoint, export_sasnet,
                                  _DERIVED + ("steps",))


if __name__ == "__main__":
    sys.exit(main())
