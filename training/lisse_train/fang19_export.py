# SPDX-License-Identifier: GPL-3.0-or-later
"""Fang 2019 checkpoint → safetensors model file for core/nets/fang19.c.

    PYTHONPATH=training python3 -m lisse_train.fang19_export CHECKPOINT OUT.safetensors \\
        [--name NAME]

Model file contract (core/nets/fang19.c reads exactly this):
  metadata  architecture "fang19", colour_encoding "srgb-nonlinear-0-1",
            width F, n_layers L, dilations (JSON list of whole numbers, one
            per residual block), offset_bound B (decimal), lambda_ref
            (decimal), receptive_radius (fang19_model.halo_radius), filter
            (the exact filter it reproduces: "wls", "l0", "rtv"), params
            (JSON [{"name": "lambda", "min", "max", "default"}]: the λ
            slider, the training range, default λ_ref), plus provenance
            (name, steps, git_commit, data_manifest_sha256, training_config,
            final_losses);
  tensors   float32, for every NAME of layer_list() (3×3 convolutions):
              NAME.weight [Cout, Cin, 3, 3], NAME.bias [Cout],
              NAME.a_weight [2·Cout, Cin, 3, 3], NAME.a_bias [2, Cout]
            (the weight at λ is weight + t·a_weight[:Cout] +
            a_weight[Cout:]/t, t = λ/lambda_ref; the bias likewise with
            a_bias[0], a_bias[1]):
              c0 [F, 3]; c1 [F, F]; c2 [F, F] (stride 2);
              res{i}.a, res{i}.b [F, F] (dilation dilations[i]);
              c3, c4 [F, F]; c5 [5 + 18L, F].
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from . import fang19_model as fm
from .export import git_commit, manifest_sha256, read_model_file, write_model_file

ARCHITECTURE = "fang19"
CHECKPOINT_FORMAT = "lisse-fang19-train/1"
_CROP_MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus",
                              "manifest.json")
# The λ slider of each filter's model: the training range of
# training/corpus/build_filter_targets.py (RANGES).
LAMBDA_RANGES = {"wls": (0.2, 5.0), "l0": (0.002, 0.05), "rtv": (0.002, 0.05)}


def layer_list(n_blocks: int) -> List[Tuple[str, str]]:
    """(model-file name, module path) of every convolution, in forward order."""
    out = [("c0", "c0"), ("c1", "c1"), ("c2", "c2")]
    for i in range(n_blocks):
        out += [(f"res{i}.a", f"res.{i}.0"), (f"res{i}.b", f"res.{i}.1")]
    out += [("c3", "c3"), ("c4", "c4"), ("c5", "c5")]
    return out


def export_fang19(model: fm.Fang19Net, path: str, filt: str,
                  metadata_extra: Optional[dict] = None) -> Dict[str, str]:
    if filt not in LAMBDA_RANGES:
        raise ValueError(f"unknown filter {filt!r}")
    mods = dict(model.named_modules())
    tensors = {}
    for name, mpath in layer_list(len(model.dilations)):
        m = mods[mpath]
        for key in ("weight", "bias", "a_weight", "a_bias"):
            t = getattr(m, key).detach().to("cpu", torch.float32).numpy()
            if key == "a_weight":       # rank 4 for the engine: [2·Cout, Cin, 3, 3]
                t = t.reshape(-1, *t.shape[2:])
            tensors[f"{name}.{key}"] = np.ascontiguousarray(t)
    lo, hi = LAMBDA_RANGES[filt]
    meta = {
        "architecture": ARCHITECTURE,
        "colour_encoding": "srgb-nonlinear-0-1",
        "width": str(model.width),
        "n_layers": str(model.n_layers),
        "dilations": json.dumps(list(model.dilations)),
        "offset_bound": repr(model.offset_bound),
        "lambda_ref": repr(model.lambda_ref),
        "receptive_radius": str(fm.halo_radius(model.n_layers, model.offset_bound,
                                               model.dilations)),
        "filter": filt,
        "params": json.dumps([{"name": "lambda", "min": lo, "max": hi,
                               "default": model.lambda_ref}]),
        "git_commit": git_commit(),
        "data_manifest_sha256": manifest_sha256(_CROP_MANIFEST),
        "steps": "unknown",
        "final_losses": "{}",
        "training_config": "{}",
    }
    return write_model_file(path, tensors, meta, metadata_extra,
                            ("architecture", "width", "n_layers", "dilations", "offset_bound",
                             "lambda_ref", "receptive_radius", "filter", "params"))


def load_fang19(path: str) -> Tuple[fm.Fang19Net, Dict[str, str]]:
    """The exporter's inverse: a model file (this module's contract) as a
    float32 Fang19Net in eval mode, and the file's metadata — for comparing
    the C engine with the twin on shipped weights (tools/bench)."""
    meta, tensors = read_model_file(path, ARCHITECTURE)
    model = fm.Fang19Net(width=int(meta["width"]), n_layers=int(meta["n_layers"]),
                         offset_bound=float(meta["offset_bound"]),
                         lambda_ref=float(meta["lambda_ref"]),
                         dilations=json.loads(meta["dilations"]))
    mods = dict(model.named_modules())
    with torch.no_grad():
        for name, mpath in layer_list(len(model.dilations)):
            for key in ("weight", "bias", "a_weight", "a_bias"):
                param = getattr(mods[mpath], key)
                param.copy_(torch.from_numpy(tensors[f"{name}.{key}"]).reshape(param.shape))
    return model.eval(), meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--name", default=None)
    a = ap.parse_args(argv)
    try:
        ck = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
        if ck.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{a.checkpoint}: not a Fang 2019 training checkpoint")
        model = fm.Fang19Net(**ck["config"]["model"])
        model.load_state_dict(ck["model"])
        filt = ck["config"]["filter"]
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"fang19_export: {e}", file=sys.stderr)
        return 1
    extra = {"steps": str(ck.get("step", "unknown")), "training_config": ck["config"],
             "final_losses": ck.get("val", {})}
    if a.name:
        extra["name"] = a.name
    meta = export_fang19(model.eval(), a.out, filt, extra)
    print(json.dumps({k: meta[k] for k in ("architecture", "filter", "width", "n_layers",
                                           "receptive_radius", "steps")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
