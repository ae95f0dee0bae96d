# SPDX-License-Identifier: GPL-3.0-or-later
"""Export a trained Fan 2018 twin to a Lisse model file (safetensors).

    PYTHONPATH=training python3 -m lisse_train.export CHECKPOINT OUT.safetensors [--name NAME]

What is written (read by core/nets/fan18.c):

  * the network with every BatchNorm folded into the convolution before it
    (eval-mode running statistics, fan18_model.fold_batchnorm), computed in
    float64 and stored as float32, under the twin's plain names:
    conv0, conv1, down, res{0..9}.conv_a, res{0..9}.conv_b, up, conv_out1,
    conv_out2, each with ".weight" and ".bias" — 52 tensors;
  * "__metadata__", every value a string (JSON where structured):

      architecture          "fan18"
      conditioning          "input-channels-log-lambda"  (φ1 = ln max(λf, 1e-3),
                            φ2 = ln(max(λe, 1e-3) / 0.1) as input channels 4, 5)
      colour_encoding       "srgb-nonlinear-0-1"
      receptive_radius      "254"
      alignment             "2"
      width                 e.g. "64"
      dilations             "2,2,4,4,8,8,16,16,1,1"
      params                JSON list of {"name", "min", "max", "default"} for
                            "lambda-f" and "lambda-e": the slider ranges
      name                  display name (--name; default: OUT's stem)
      training_config       JSON object (the training settings)
      git_commit            `git rev-parse HEAD` of this checkout, else "unknown"
      data_manifest_sha256  sha256 of training/corpus/manifest.json, else "unknown"
      steps                 training steps, e.g. "200000"
      final_losses          JSON object (last losses / validation record)

The file is byte-for-byte deterministic: the same checkpoint in the same
checkout gives the same file.  (safetensors' own writer orders the metadata
by a hash map, so it differs between runs; this module writes the format
itself — an 8-byte little-endian header length, the JSON header with sorted
keys padded with spaces to a multiple of 8, then the tensors in name order —
and the tests read the result back with the safetensors package.)

Checkpoints (torch.save of a dict; both load with torch.load(weights_only=True)):

    {
      "format":       "lisse-fan18-checkpoint-1",
      "model":        Fan18Net.state_dict()  (BatchNorm running statistics included),
      "config":       Fan18Net.config()      (width, conditioning, batchnorm,
                                              film_hidden, dilations),
      "step":         int,                   training steps done,
      "losses":       {name: float},         final losses (optional),
      "train_config": {...},                 JSON-serialisable settings (optional),
      "params":       [{"name", "min", "max", "default"}, ...]  (optional: the
                                              λ ranges training covered),
    }

(make_checkpoint() builds one), or the training script's own
"lisse-fan18-train/1" checkpoints (lisse_train.train: the same "model",
"config" and "step"; there "losses" is a history, of which the last train
and validation records are kept; "config" minus the constructor arguments
becomes training_config; the slider ranges come from config["lambda_ranges"]
with defaults λf = 1, λe = 0.1; a checkpoint with bn_recalibrated false is
refused unless --allow-stale-bn).  Without stated ranges: DEFAULT_PARAMS.
A whole pickled Fan18Net (torch.save(model)) is accepted too with
--allow-pickle, since unpickling runs arbitrary code.

Only the configuration the C engine implements can be exported:
conditioning "input" and the paper's dilations.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
from typing import Dict, List, Mapping, Optional

import numpy as np
import torch

from . import fan18_model as fm

CHECKPOINT_FORMAT = "lisse-fan18-checkpoint-1"
RECEPTIVE_RADIUS = 254
ALIGNMENT = 2

# Slider ranges when the checkpoint states none.  They bracket what the
# conditioning measurement trained on (λf 0.15 … 6, λe 0.05 … 0.2) with room
# for the full training run; a training run may narrow them by storing
# "params" in its checkpoint.
DEFAULT_PARAMS = [
    {"name": "lambda-f", "min": 0.05, "max": 20.0, "default": 1.0},
    {"name": "lambda-e", "min": 0.005, "max": 2.0, "default": 0.1},
]

_REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
_MANIFEST = os.path.join(_REPO, "training", "corpus", "manifest.json")

# Keys export_fan18 derives from the network itself: metadata_extra may not
# contradict them.
_STRUCTURAL = ("architecture", "conditioning", "colour_encoding", "receptive_radius",
               "alignment", "width", "dilations")


def layer_names(n_blocks: int = len(fm.DILATIONS)) -> List[str]:
    """The convolutions of the folded network, input to output."""
    names = ["conv0", "conv1", "down"]
    for i in range(n_blocks):
        names += [f"res{i}.conv_a", f"res{i}.conv_b"]
    return names + ["up", "conv_out1", "conv_out2"]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", _REPO, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def manifest_sha256(path: str = _MANIFEST) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return "unknown"


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def supervised_checkpoint(path: str, fmt: str, what: str) -> dict:
    """A checkpoint of the supervised trainers (trainer_base), refused
    unless its format is @fmt."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("format") != fmt:
        raise ValueError(f"{path}: not a {what} training checkpoint "
                         f"(format {ckpt.get('format')!r}, expected {fmt!r})")
    return ckpt


def write_model_file(path: str, tensors, meta: Dict[str, str], metadata_extra,
                     derived) -> Dict[str, str]:
    """Writes a model file: @meta (what the network fixes) with
    @metadata_extra merged in (provenance: name, steps, …; a value that is
    not a string stored as JSON), refusing any key of @derived, which only
    the network may state.  Returns the metadata written."""
    meta = dict(meta)
    for k, v in (metadata_extra or {}).items():
        if k in derived:
            raise ValueError(f"metadata {k!r} is derived from the network")
        meta[k] = v if isinstance(v, str) else _json(v)
    write_safetensors(path, tensors, meta)
    return meta


def read_model_file(path: str, architecture: str):
    """(metadata, {name: float32 ndarray}) of a model file that must declare
    @architecture: the start of every exporter's inverse (load_fang19,
    load_sasnet, load_mgpnet), which tools/bench compares the C engine with."""
    from .eval import read_safetensors
    meta, tensors = read_safetensors(path)
    if meta.get("architecture") != architecture:
        raise ValueError(f"{path}: not a {architecture} model file")
    return meta, tensors


def supervised_export_main(argv, description: str, tool: str, load, build, export,
                           shown) -> int:
    """The command line of a supervised network's exporter: CHECKPOINT OUT
    [--name NAME].  @load(path) reads the checkpoint, @build(ckpt) makes the
    model, @export(model, out, extra) writes the file and returns its
    metadata, of which the keys @shown are printed."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--name", default=None)
    a = ap.parse_args(argv)
    try:
        ckpt = load(a.checkpoint)
        model = build(ckpt)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"{tool}: {e}", file=sys.stderr)
        return 1
    extra = {"steps": str(ckpt.get("step", "unknown")),
             "training_config": ckpt["config"],
             "final_losses": ckpt.get("val", {})}
    if a.name:
        extra["name"] = a.name
    meta = export(model, a.out, extra)
    print(json.dumps({k: meta[k] for k in shown if k in meta}))
    return 0


def check_params(params) -> List[Dict]:
    """Validates a params list (as the C loader will) and returns it normalised."""
    if not isinstance(params, (list, tuple)) or len(params) != 2:
        raise ValueError("params must list exactly lambda-f and lambda-e")
    out = []
    for p, name in zip(params, ("lambda-f", "lambda-e")):
        if not isinstance(p, Mapping) or p.get("name") != name:
            raise ValueError(f"params: expected an entry for {name!r}, got {p!r}")
        lo, hi, de = (float(p[k]) for k in ("min", "max", "default"))
        if not all(math.isfinite(v) for v in (lo, hi, de)) or not 0 < lo <= de <= hi:
            raise ValueError(f"params: {name} needs 0 < min <= default <= max, got {p!r}")
        out.append({"name": name, "min": lo, "max": hi, "default": de})
    return out


def folded_tensors(model: fm.Fan18Net) -> Dict[str, np.ndarray]:
    """Eval-mode network with BatchNorm folded, as float32 arrays by name.
    The fold is done in float64 so that the only rounding is the final one."""
    if model.conditioning != "input":
        raise ValueError(f"the C engine implements conditioning 'input', not "
                         f"{model.conditioning!r}")
    if tuple(model.dilations) != fm.DILATIONS:
        raise ValueError(f"the C engine implements dilations {fm.DILATIONS}, not "
                         f"{tuple(model.dilations)}")
    m64 = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    folded = fm.fold_batchnorm(m64)
    state = folded.state_dict()
    out = {}
    for name in layer_names(len(model.dilations)):
        for part in ("weight", "bias"):
            t = state[f"{name}.{part}"]
            out[f"{name}.{part}"] = np.ascontiguousarray(t.detach().numpy().astype(np.float32))
    expected = set(out)
    if set(state) != expected:
        raise ValueError(f"folded network has unexpected tensors: "
                         f"{sorted(set(state) ^ expected)}")
    return out


def write_safetensors(path: str, tensors: Mapping[str, np.ndarray],
                      metadata: Mapping[str, str]) -> None:
    """Deterministic safetensors writer for float32 tensors (see the module
    docstring for why not safetensors.numpy.save_file)."""
    header: Dict[str, object] = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        data = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)   # data section 8-byte aligned, as safetensors pads
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def export_fan18(model: fm.Fan18Net, path: str, metadata_extra: Optional[dict] = None) -> Dict[str, str]:
    """Writes `model` (a Fan18Net, any dtype/device, train or eval mode: its
    BatchNorm running statistics are what is folded) to `path`.

    metadata_extra: further metadata (name, training_config, steps,
    final_losses, params, git_commit, data_manifest_sha256, or anything
    else); strings are stored as they are, other values as JSON.  "params"
    is validated.  Keys describing the network's structure cannot be
    overridden.  Returns the metadata written."""
    extra = dict(metadata_extra or {})
    for k in _STRUCTURAL:
        if k in extra:
            raise ValueError(f"metadata {k!r} is derived from the network and cannot be set")
    tensors = folded_tensors(model)
    params = check_params(extra.pop("params", DEFAULT_PARAMS))
    meta = {
        "architecture": "fan18",
        "conditioning": "input-channels-log-lambda",
        "colour_encoding": "srgb-nonlinear-0-1",
        "receptive_radius": str(RECEPTIVE_RADIUS),
        "alignment": str(ALIGNMENT),
        "width": str(model.width),
        "dilations": ",".join(str(d) for d in model.dilations),
        "params": _json(params),
        "git_commit": git_commit(),
        "data_manifest_sha256": manifest_sha256(),
        # Provenance a caller without a checkpoint may not have; the same
        # key set in every file.
        "steps": "unknown",
        "final_losses": "{}",
        "training_config": "{}",
    }
    for k, v in extra.items():
        if not isinstance(k, str):
            raise ValueError(f"metadata keys must be strings, got {k!r}")
        meta[k] = v if isinstance(v, str) else _json(v)
    write_safetensors(path, tensors, meta)
    return meta


# --------------------------------------------------------------------------
# checkpoints


def make_checkpoint(model: fm.Fan18Net, step: int, losses: Optional[dict] = None,
                    train_config: Optional[dict] = None, params=None) -> dict:
    """The documented checkpoint dict; torch.save() it."""
    ckpt = {"format": CHECKPOINT_FORMAT, "model": model.state_dict(),
            "config": {**model.config(), "dilations": list(model.dilations)},
            "step": int(step), "losses": dict(losses or {}),
            "train_config": dict(train_config or {})}
    if params is not None:
        ckpt["params"] = check_params(params)
    return ckpt


_MODEL_KEYS = ("width", "conditioning", "batchnorm", "film_hidden", "dilations")
# The training script's own checkpoints (lisse_train.train) are a superset
# of the documented format: same "model", "config" (constructor arguments at
# its top level, plus the training settings), "step"; "losses" as a history.
TRAIN_FORMAT = "lisse-fan18-train/1"


def _plain(v):
    """JSON-safe copy: tuples as lists, non-finite floats as strings."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def _final_losses(losses) -> Dict:
    if not isinstance(losses, Mapping):
        return {}
    if isinstance(losses.get("train"), list) or isinstance(losses.get("val"), list):
        out = {}
        train = losses.get("train") or []
        if train:
            out["train_step"], out["train_loss"] = int(train[-1][0]), float(train[-1][1])
        val = losses.get("val") or []
        if val:
            out["val"] = {k: val[-1][k] for k in ("step", "ratio", "data") if k in val[-1]}
        return _plain(out)
    return _plain(dict(losses))


def _params_from_ranges(ranges) -> List[Dict]:
    out = []
    for name, key, default in (("lambda-f", "lambda_f", 1.0), ("lambda-e", "lambda_e", 0.1)):
        lo, hi = (float(v) for v in ranges[key])
        out.append({"name": name, "min": lo, "max": hi, "default": min(max(default, lo), hi)})
    return out


def load_checkpoint(path: str, allow_pickle: bool = False, allow_stale_bn: bool = False):
    """(model, metadata_extra) from a checkpoint dict (CHECKPOINT_FORMAT or
    the training script's TRAIN_FORMAT) or, with allow_pickle, a pickled
    Fan18Net.  A training checkpoint whose BatchNorm statistics were not
    recalibrated (one written on an interrupt) is refused unless
    allow_stale_bn: its running statistics lag behind its weights."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle.UnpicklingError and friends: not plain data
        if not allow_pickle:
            raise ValueError(f"{path}: not a plain checkpoint dict ({type(e).__name__}); "
                             f"pass --allow-pickle to load a pickled module") from e
        obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, fm.Fan18Net):
        return obj.eval(), {}
    if not isinstance(obj, dict) or "model" not in obj or "config" not in obj:
        raise ValueError(f"{path}: expected a checkpoint dict with 'model' and 'config'")
    fmt = obj.get("format", CHECKPOINT_FORMAT)
    if fmt not in (CHECKPOINT_FORMAT, TRAIN_FORMAT):
        raise ValueError(f"{path}: unknown checkpoint format {fmt!r}")
    if obj.get("bn_recalibrated") is False and not allow_stale_bn:
        raise ValueError(f"{path}: BatchNorm statistics were not recalibrated (an interrupted "
                         f"run?); export a regular checkpoint or pass --allow-stale-bn")
    config = dict(obj["config"])
    ctor = {k: config[k] for k in _MODEL_KEYS if k in config}
    ctor["dilations"] = tuple(ctor.get("dilations", fm.DILATIONS))
    model = fm.Fan18Net(**ctor)
    model.load_state_dict(obj["model"])
    if "train_config" in obj:
        train_config = obj["train_config"]
    else:
        train_config = {k: v for k, v in config.items() if k not in _MODEL_KEYS}
    extra = {"steps": str(int(obj.get("step", 0))),
             "final_losses": _final_losses(obj.get("losses", {})),
             "training_config": _plain(train_config)}
    if "params" in obj:
        extra["params"] = obj["params"]
    elif "lambda_ranges" in config:
        extra["params"] = _params_from_ranges(config["lambda_ranges"])
    return model.eval(), extra


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m lisse_train.export",
                                 description="Export a Fan 2018 checkpoint to a Lisse model "
                                             "file (BatchNorm folded, safetensors).")
    ap.add_argument("checkpoint", help="checkpoint dict (torch.save) or, with --allow-pickle, "
                                       "a pickled Fan18Net")
    ap.add_argument("out", help="output .safetensors file")
    ap.add_argument("--name", help="display name stored in the metadata (default: OUT's stem)")
    ap.add_argument("--allow-pickle", action="store_true",
                    help="load a whole pickled module (runs code from the file)")
    ap.add_argument("--allow-stale-bn", action="store_true",
                    help="export a checkpoint whose BatchNorm statistics were not recalibrated")
    args = ap.parse_args(argv)
    try:
        model, extra = load_checkpoint(args.checkpoint, args.allow_pickle, args.allow_stale_bn)
        name = args.name or os.path.splitext(os.path.basename(args.out))[0]
        meta = export_fan18(model, args.out, {"name": name, **extra})
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
        print(f"export: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: fan18, width {meta['width']}, steps {meta.get('steps', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
