# SPDX-License-Identifier: GPL-3.0-or-later
"""Held-out evaluation of a Fan et al. 2018 model: energy of the network's
output against the input and against per-image Adam minimisation (§5 of the
paper), with timings and a contact sheet.

    tools/dev exec env PYTHONPATH=training python3 training/eval.py \
        --model fan18-smooth --out docs/fan18-eval-smooth \
        --sheet docs/fan18-contact-sheet.png

What it does (docs/fan18-eval.md has the numbers and the reasons):

* Images: the photos of training/corpus/manifest.json with split "val",
  read from build-corpus/extract/<package>/<path>, 8-bit, gray ones as
  R' = G' = B', shrunk as the corpus builder does (longest side at most the
  manifest's max_side, 1024, cv2.INTER_AREA), then a centre crop of
  --size × --size.  --count photos, spread evenly over the list sorted by
  manifest id (--count 21: all).
* Energy: lisse_train.fan18_energy of the preset (--preset, default the
  model's training preset from its metadata) at λe = 0.1 and λf = 0.25, 1
  and 4, evaluated on float outputs (no clamping, no 8-bit rounding).
* The network, twice: the C engine (`lisse run --depth 32`, 8-bit PNG in,
  float TIFF out, so nothing is rounded) and the PyTorch twin holding the
  same weights (the .safetensors loaded into a BatchNorm-free Fan18Net), or
  a training checkpoint with --checkpoint.  Both energies are reported, and
  the largest |C − twin|.
* L0 (the classical peer; --no-l0 skips it): Lisse's own L0 smoothing,
  `lisse filter l0 --depth 32`, at the λ that fan18_distill.MAP matches to
  each λf (fitted on training crops); the contact sheet shows it at λf 1.
* Adam (§5's baseline): the output image itself is the variable, starting
  at the input, lr 0.01 (values in [0, 1]; the paper's learning rate, the
  training script's too), default betas, --adam-iters 100 steps, at λf = 1
  only (the expensive part).  The energy's p-selection mask (eq. 8) is
  re-evaluated every step, as in training.  Reported: the energy of the
  final iterate.
* Times, per image, at --threads N for both (torch.set_num_threads(N) and
  `lisse run --threads N`): the wall time of one `lisse run` process (start,
  model load, PNG read, network, float TIFF write) at λf = 1, the twin's
  forward pass, and Adam's --adam-iters steps; medians over the images.

Outputs: PREFIX.json (settings, every per-image number, summary), PREFIX.md
(the summary table), and the contact sheet PNG (input | network at λf
0.25, 1, 4 | L0 | Adam at λf 1, for the --sheet-count most detailed crops: the
largest flattening energy of the input), shrunk until it is at most
--sheet-max-bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import cv2
import numpy as np
import torch

from . import fan18_energy as fe
from . import fan18_model as fm
from .fan18_distill import MAP

_REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MANIFEST = os.path.join(_REPO, "training", "corpus", "manifest.json")
EXTRACT = os.path.join(_REPO, "build-corpus", "extract")
LAMBDA_FS = (0.25, 1.0, 4.0)
ADAM_LAMBDA_F = 1.0
ADAM_LR = 0.01


# --------------------------------------------------------------------------
# model files


def resolve_model(name_or_path: str) -> str:
    """The model file for a name or path, by the rules of core/model/model.h
    (lisse_model_resolve): a path with a separator or an existing
    *.safetensors file is taken as is; a bare name is looked up as
    NAME.safetensors in the directories of $LISSE_MODEL_PATH."""
    if os.sep in name_or_path or "/" in name_or_path:
        if not os.path.isfile(name_or_path):
            raise FileNotFoundError(f"model file '{name_or_path}' does not exist")
        return name_or_path
    if name_or_path.endswith(".safetensors") and os.path.isfile(name_or_path):
        return name_or_path
    fname = name_or_path if name_or_path.endswith(".safetensors") else name_or_path + ".safetensors"
    dirs = [d for d in os.environ.get("LISSE_MODEL_PATH", "").replace(";", ":").split(":") if d]
    for d in dirs:
        p = os.path.join(d, fname)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(f"no model named '{name_or_path}' (searched: {':'.join(dirs)})")


def read_safetensors(path: str):
    """(metadata dict, {name: float32 ndarray}) of a safetensors file of F32
    tensors (what export.py writes)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        a, b = entry["data_offsets"]
        tensors[name] = np.frombuffer(blob[base + a:base + b], dtype="<f4").reshape(entry["shape"])
    return meta, tensors


def twin_from_safetensors(path: str, dtype=torch.float32) -> fm.Fan18Net:
    """The PyTorch twin holding a model file's weights: BatchNorm is folded
    in the file, so a Fan18Net without BatchNorm (every conv with a bias)
    takes the tensors under the same names."""
    meta, tensors = read_safetensors(path)
    if meta.get("architecture") != "fan18":
        raise ValueError(f"{path}: architecture {meta.get('architecture')!r}, expected 'fan18'")
    if meta.get("conditioning") != "input-channels-log-lambda":
        raise ValueError(f"{path}: conditioning {meta.get('conditioning')!r} is not the twin's")
    dil = tuple(int(d) for d in meta.get("dilations", "").split(",") if d)
    net = fm.Fan18Net(int(meta["width"]), "input", batchnorm=False, dilations=dil or fm.DILATIONS)
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    net.load_state_dict(state, strict=True)
    return net.to(dtype).eval()


def model_preset(meta: Dict[str, str]) -> str:
    """The energy preset a model was trained with (metadata training_config),
    else guessed from its name; 'smooth' if neither says."""
    try:
        p = json.loads(meta.get("training_config", "{}")).get("preset")
        if p in fe.PRESETS:
            return p
    except (ValueError, AttributeError):
        pass
    return "detail" if "detail" in meta.get("name", "") else "smooth"


# --------------------------------------------------------------------------
# images


def val_photos(manifest: str = MANIFEST, extract: str = EXTRACT):
    """(the manifest's held-out photos sorted by id, each with 'file' set;
    the manifest's settings)."""
    with open(manifest) as f:
        doc = json.load(f)
    out = []
    for rec in sorted(doc["images"], key=lambda r: r["id"]):
        if rec.get("split") != "val":
            continue
        rec = dict(rec)
        rec["file"] = os.path.join(extract, rec["package"], rec["path"].lstrip("/"))
        out.append(rec)
    return out, doc.get("settings", {})


def spread(items: List, count: int) -> List:
    """count items evenly spaced over the list (first and last included)."""
    n = len(items)
    if count >= n:
        return list(items)
    if count == 1:
        return [items[0]]
    return [items[round(i * (n - 1) / (count - 1))] for i in range(count)]


def centre_crop(path: str, size: int, max_side: int) -> np.ndarray:
    """8-bit RGB (size × size × 3, uint8) centre crop after the corpus's
    shrink; gray photos come back with three equal channels."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read {path} (run training/corpus/build.py first)")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    if min(h, w) < size:
        raise ValueError(f"{path}: {w}×{h} after shrinking, smaller than the crop {size}")
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(rgb[y:y + size, x:x + size])


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """H×W×3 (uint8 or float) → 1×3×H×W float32 in [0, 1] scale."""
    a = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(np.transpose(a, (2, 0, 1))))[None]


def to_image(t: torch.Tensor) -> np.ndarray:
    return np.transpose(t[0].detach().cpu().numpy(), (1, 2, 0))


def write_png(path: str, rgb8: np.ndarray) -> None:
    if not cv2.imwrite(path, cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def read_float_tiff(path: str) -> np.ndarray:
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None or a.dtype != np.float32 or a.ndim != 3:
        raise ValueError(f"{path}: expected a 3-channel float TIFF")
    return cv2.cvtColor(a, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------
# the three ways to an output


def run_engine(lisse: str, model: str, png_in: str, tiff_out: str, lambda_f: float,
               lambda_e: float, threads: int, tile: int = 0):
    """`lisse run` → (H×W×3 float32 output, wall seconds of the process)."""
    cmd = [lisse, "run", "--model", model, "--set", f"lambda-f={lambda_f:g}",
           "--set", f"lambda-e={lambda_e:g}", "--threads", str(threads), "--depth", "32"]
    if tile:
        cmd += ["--tile", str(tile)]
    cmd += [png_in, tiff_out]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return read_float_tiff(tiff_out), dt


def run_l0(lisse: str, png_in: str, tiff_out: str, lambda_f: float, threads: int):
    """Lisse's own L0 smoothing (`lisse filter l0`) at the λ that λf maps to
    (fan18_distill.MAP, fitted on training crops): the classical peer under
    the same energy, and the distillation target the training can start
    from.  → (H×W×3 float32 output, the L0 λ)."""
    lam = MAP[0] * lambda_f ** MAP[1]
    cmd = [lisse, "filter", "--set", f"lambda={lam:.6g}", "--threads", str(threads),
           "--depth", "32", "l0", png_in, tiff_out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return read_float_tiff(tiff_out), lam


@torch.no_grad()
def run_twin(net: fm.Fan18Net, x: torch.Tensor, lambda_f: float, lambda_e: float):
    t0 = time.perf_counter()
    y = net(x, lambda_f, lambda_e)
    return y, time.perf_counter() - t0


def adam_minimise(x: torch.Tensor, params: fe.Fan18Params, lambda_f: float, lambda_e: float,
                  iters: int, lr: float = ADAM_LR):
    """§5: minimise E(T; I) over the image T itself, T₀ = I.  Returns
    (T, seconds for the iters steps, [E(T_k) for k = 0 … iters − 1])."""
    t = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([t], lr=lr)
    curve = []
    t0 = time.perf_counter()
    for _ in range(iters):
        opt.zero_grad(set_to_none=True)
        e = fe.fan18_energy(t, x, params, lambda_f=lambda_f, lambda_e=lambda_e).total.sum()
        e.backward()
        curve.append(float(e))
        opt.step()
    return t.detach(), time.perf_counter() - t0, curve


@torch.no_grad()
def mean_shift(out: torch.Tensor, x: torch.Tensor) -> List[float]:
    """Mean of output − input per RGB channel: a smoother should not move the
    mean colour (the colour drift of issue 15)."""
    return [float(v) for v in (out.to(x.dtype) - x)[0].mean(dim=(1, 2))]


@torch.no_grad()
def energy(out: torch.Tensor, x: torch.Tensor, params: fe.Fan18Params, lambda_f: float,
           lambda_e: float) -> Dict[str, float]:
    t = fe.fan18_energy(out.to(x.dtype), x, params, lambda_f=lambda_f, lambda_e=lambda_e)
    return {"total": float(t.total[0]), "data": float(t.data[0]), "flat": float(t.flat[0]),
            "edge": float(t.edge[0]), "large_fraction": float(t.large_fraction[0])}


# --------------------------------------------------------------------------
# reports


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarise(records: List[Dict], has_twin: bool) -> Dict:
    rows = []
    for lf in LAMBDA_FS:
        key = f"{lf:g}"
        row = {"lambda_f": lf,
               "input": _mean(r["energy"][key]["input"]["total"] for r in records),
               "net_c": _mean(r["energy"][key]["net_c"]["total"] for r in records)}
        if has_twin:
            row["net_twin"] = _mean(r["energy"][key]["net_twin"]["total"] for r in records)
        if "adam" in records[0]["energy"][key]:
            row["adam"] = _mean(r["energy"][key]["adam"]["total"] for r in records)
            row["adam_best_iterate"] = _mean(r["energy"][key]["adam"]["best_total"]
                                             for r in records)
            row["adam_above_input"] = sum(r["energy"][key]["adam"]["total"] >
                                          r["energy"][key]["input"]["total"] for r in records)
            row["net_over_adam"] = _mean(r["energy"][key]["net_c"]["total"] /
                                         r["energy"][key]["adam"]["total"] for r in records)
        row["net_over_input"] = _mean(r["energy"][key]["net_c"]["total"] /
                                      r["energy"][key]["input"]["total"] for r in records)
        if "l0" in records[0]["energy"][key]:
            row["l0"] = _mean(r["energy"][key]["l0"]["total"] for r in records)
            row["l0_lambda"] = records[0]["energy"][key]["l0"]["lambda"]
            row["l0_over_input"] = _mean(r["energy"][key]["l0"]["total"] /
                                         r["energy"][key]["input"]["total"] for r in records)
        rows.append(row)
    times = {"c_engine_s": _median(r["time"]["c_engine_s"] for r in records),
             "twin_forward_s": _median(r["time"].get("twin_forward_s") for r in records),
             "adam_s": _median(r["time"].get("adam_s") for r in records)}
    if times["c_engine_s"] and times["adam_s"]:
        times["adam_over_c"] = times["adam_s"] / times["c_engine_s"]
    diff = max((r["max_abs_c_minus_twin"] for r in records
                if r.get("max_abs_c_minus_twin") is not None), default=None)
    # Mean colour shift per λf and method, RGB ×255, and the largest |shift|
    # of one channel of one photo.
    shifts = []
    for lf in LAMBDA_FS:
        key = f"{lf:g}"
        for method in ("net_c", "l0", "adam"):
            per = [r["shift"][key][method] for r in records
                   if method in r.get("shift", {}).get(key, {})]
            if per:
                shifts.append({"lambda_f": lf, "method": method,
                               "mean_255": [255 * _mean(p[c] for p in per) for c in range(3)],
                               "max_abs_255": 255 * max(abs(v) for p in per for v in p)})
    return {"energy": rows, "time_median_per_image": times, "max_abs_c_minus_twin": diff,
            "colour_shift": shifts}


def _fmt(v, digits=4):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown(doc: Dict) -> str:
    s = doc["settings"]
    summ = doc["summary"]
    twin = s["twin"]
    lines = [
        f"### Fan 2018 `{s['model_name']}` on the held-out photos",
        "",
        f"Model `{s['model_file']}` (steps {s['model_steps']}), energy preset "
        f"`{s['preset']}` (L2 window radius "
        f"{s['energy_params'].get('large_window_radius') or s['energy_params']['window_radius']}), "
        f"λe = {s['lambda_e']:g}; {len(doc['images'])} val photos, "
        f"centre crops {s['size']}×{s['size']} (after shrinking to ≤ {s['max_side']} px); "
        f"Adam {s['adam_iters']} iterations, lr {s['adam_lr']:g}, from the input; "
        f"{s['threads']} thread(s) for both the engine and PyTorch; {s['date']}.",
        "",
        "Mean energy E = Ed + λf·Ef + λe·Ee per image (lower is better):",
        "",
    ]
    head = ["λf", "input", "network (C)"]
    if twin:
        head.append(f"network ({twin})")
    with_adam = any(r.get("adam") is not None for r in summ["energy"])
    with_l0 = any(r.get("l0") is not None for r in summ["energy"])
    if with_l0:
        head.append("L0 (λ)")
    if with_adam:
        head.append(f"Adam {s['adam_iters']} it")
    head.append("network / input")
    if with_l0:
        head.append("L0 / input")
    if with_adam:
        head.append("network / Adam")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in summ["energy"]:
        cells = [f"{r['lambda_f']:g}", _fmt(r["input"]), _fmt(r["net_c"])]
        if twin:
            cells.append(_fmt(r.get("net_twin")))
        if with_l0:
            cells.append(f"{_fmt(r.get('l0'))} ({r['l0_lambda']:.4g})" if r.get("l0") else "—")
        if with_adam:
            cells.append(_fmt(r.get("adam")))
        cells.append(_fmt(r["net_over_input"], 3))
        if with_l0:
            cells.append(_fmt(r.get("l0_over_input"), 3))
        if with_adam:
            cells.append(_fmt(r.get("net_over_adam"), 3))
        lines.append("| " + " | ".join(cells) + " |")
    t = summ["time_median_per_image"]
    lines += [
        "",
        "Ratios are means of the per-image ratios.  Median time per image "
        f"({s['size']}×{s['size']}, {s['threads']} thread(s)): C engine "
        f"{_fmt(t['c_engine_s'], 3)} s (one `lisse run` process, I/O included; the same "
        f"command on an 8×8 image takes {_fmt(s['c_engine_startup_s'], 3)} s), "
        f"PyTorch twin forward {_fmt(t['twin_forward_s'], 3)} s"
        + (f", Adam {_fmt(t['adam_s'], 3)} s ({t['adam_over_c']:.3g}× the C engine)."
           if t.get("adam_over_c") else "."),
    ]
    adam = [r for r in summ["energy"] if r.get("adam") is not None]
    for r in adam:
        lines.append(f"Adam at λf {r['lambda_f']:g}: mean energy of its best iterate "
                     f"{_fmt(r['adam_best_iterate'])} (the table gives the last); its last "
                     f"iterate is above the input's energy on {r['adam_above_input']} of "
                     f"{len(doc['images'])} photos.")
    names = {"net_c": "network (C)", "l0": "L0", "adam": "Adam"}
    for c in summ.get("colour_shift", []):
        lines.append(f"Mean colour shift, {names[c['method']]} at λf {c['lambda_f']:g}: "
                     + " / ".join(f"{v:+.2f}" for v in c["mean_255"])
                     + f" (R / G / B, output − input, ×255; one channel of one photo at most "
                     f"{c['max_abs_255']:.2f}).")
    if summ["max_abs_c_minus_twin"] is not None:
        lines.append(f"Largest |C − twin| over all outputs: {summ['max_abs_c_minus_twin']:.2e}.")
    return "\n".join(lines) + "\n"


def contact_sheet(rows: List[List[np.ndarray]], labels: List[str], path: str,
                  max_bytes: int) -> Dict:
    """Rows of equal-size float RGB images → one 8-bit PNG with a label strip,
    shrunk (INTER_AREA) until the file is at most max_bytes."""
    gap = 4
    scale = 1.0
    while True:
        tiles = []
        for row in rows:
            ims = []
            for im in row:
                a = np.clip(np.rint(np.clip(im, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)
                if scale != 1.0:
                    h, w = a.shape[:2]
                    a = cv2.resize(a, (max(1, round(w * scale)), max(1, round(h * scale))),
                                   interpolation=cv2.INTER_AREA)
                ims.append(a)
            tiles.append(ims)
        th, tw = tiles[0][0].shape[:2]
        ncol = len(labels)
        strip = 22
        sheet = np.full((strip + len(rows) * (th + gap), ncol * (tw + gap) - gap, 3), 255,
                        np.uint8)
        font_scale = max(0.3, min(0.5, tw / 400))
        for c, text in enumerate(labels):
            cv2.putText(sheet, text, (c * (tw + gap) + 4, strip - 7), cv2.FONT_HERSHEY_SIMPLEX,
                        font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        for r, ims in enumerate(tiles):
            y = strip + r * (th + gap)
            for c, a in enumerate(ims):
                x = c * (tw + gap)
                sheet[y:y + th, x:x + tw] = a
        ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            raise OSError("PNG encoding failed")
        if len(buf) <= max_bytes or tw < 48:
            break
        scale *= 0.85
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.tobytes())
    os.replace(tmp, path)
    return {"path": path, "bytes": len(buf), "tile": [tw, th], "scale": scale}


# --------------------------------------------------------------------------
# main


def evaluate(args) -> Dict:
    torch.set_num_threads(args.threads)
    model_file = resolve_model(args.model)
    meta, _ = read_safetensors(model_file)
    preset = args.preset or model_preset(meta)
    params = fe.preset(preset)
    # The L2 window the model was trained with (training_config.energy), unless
    # --large-window-radius says otherwise (-1: the preset's, i.e. the paper's).
    lw = args.large_window_radius
    if lw is None:
        try:
            lw = json.loads(meta.get("training_config", "{}")).get("energy", {}).get(
                "large_window_radius")
        except (ValueError, AttributeError):
            lw = None
    if lw is not None and lw >= 0:
        params = params.replace(large_window_radius=int(lw))
    if args.param:
        params = params.replace(**fe.parse_overrides(args.param))
    lisse = shutil.which(args.lisse) or args.lisse
    if not os.path.isfile(lisse):
        raise FileNotFoundError(f"no lisse executable '{args.lisse}' (give --lisse PATH)")

    twin_kind = None
    twin = None
    if args.checkpoint:
        from . import export as ex
        twin, _ = ex.load_checkpoint(args.checkpoint, allow_stale_bn=True)
        twin = twin.float().eval()
        twin_kind = "twin, checkpoint"
    elif not args.no_twin:
        twin = twin_from_safetensors(model_file)
        twin_kind = "twin, same file"

    photos, settings = val_photos(args.manifest, args.extract)
    if not photos:
        raise ValueError(f"{args.manifest}: no photos with split 'val'")
    max_side = int(settings.get("max_side", 1024))
    chosen = spread(photos, args.count)
    le = args.lambda_e

    records = []
    sheet_rows = []
    work = tempfile.mkdtemp(prefix="lisse-eval-", dir=args.work)
    t_start = time.perf_counter()
    try:
        # What a `lisse run` costs besides the network: the same command on
        # an 8×8 image (process start, GEGL, model load, files).
        tiny = os.path.join(work, "tiny.png")
        write_png(tiny, np.full((8, 8, 3), 128, np.uint8))
        startup = _median([run_engine(lisse, model_file, tiny, os.path.join(work, "tiny.tif"),
                                      1.0, le, args.threads)[1] for _ in range(3)])
        for k, rec in enumerate(chosen):
            crop = centre_crop(rec["file"], args.size, max_side)
            x = to_tensor(crop)
            png = os.path.join(work, f"in-{k}.png")
            write_png(png, crop)
            r = {"id": rec["id"], "package": rec["package"], "path": rec["path"],
                 "energy": {}, "time": {}, "shift": {}}
            outs = {}
            diffs = []
            for lf in LAMBDA_FS:
                key = f"{lf:g}"
                y_c, dt = run_engine(lisse, model_file, png, os.path.join(work, f"out-{k}.tif"),
                                     lf, le, args.threads)
                yc = to_tensor(y_c)
                outs[key] = y_c
                e = {"input": energy(x, x, params, lf, le), "net_c": energy(yc, x, params, lf, le)}
                r["shift"][key] = {"net_c": mean_shift(yc, x)}
                if not args.no_l0:
                    y_l0, lam_l0 = run_l0(lisse, png, os.path.join(work, f"l0-{k}.tif"), lf,
                                          args.threads)
                    e["l0"] = energy(to_tensor(y_l0), x, params, lf, le)
                    e["l0"]["lambda"] = lam_l0
                    r["shift"][key]["l0"] = mean_shift(to_tensor(y_l0), x)
                    if lf == ADAM_LAMBDA_F:
                        outs["l0"] = y_l0
                if lf == ADAM_LAMBDA_F:
                    r["time"]["c_engine_s"] = dt
                if twin is not None:
                    yt, dtt = run_twin(twin, x, lf, le)
                    e["net_twin"] = energy(yt, x, params, lf, le)
                    diffs.append(float((yt - yc).abs().max()))
                    if lf == ADAM_LAMBDA_F:
                        r["time"]["twin_forward_s"] = dtt
                r["energy"][key] = e
            if diffs:
                r["max_abs_c_minus_twin"] = max(diffs)
            adam_img = None
            if args.adam_iters > 0:
                ya, dta, curve = adam_minimise(x, params, ADAM_LAMBDA_F, le, args.adam_iters,
                                               args.adam_lr)
                ea = energy(ya, x, params, ADAM_LAMBDA_F, le)
                # The final iterate is what is reported; the curve shows
                # whether Adam had settled (E(T_k) at k = 0, 1, 2, 5, 10, …).
                ea["curve"] = {str(i): curve[i] for i in (0, 1, 2, 5, 10, 20, 50)
                               if i < len(curve)}
                ea["best_total"] = min(curve + [ea["total"]])
                r["energy"][f"{ADAM_LAMBDA_F:g}"]["adam"] = ea
                r["shift"][f"{ADAM_LAMBDA_F:g}"]["adam"] = mean_shift(ya, x)
                r["time"]["adam_s"] = dta
                adam_img = to_image(ya)
            records.append(r)
            row = [crop.astype(np.float32) / 255.0] + [outs[f"{lf:g}"] for lf in LAMBDA_FS]
            if "l0" in outs:
                row.append(outs["l0"])
            row.append(adam_img if adam_img is not None else np.ones_like(row[0]))
            sheet_rows.append((r["energy"]["1"]["input"]["total"], k, row))
            el = time.perf_counter() - t_start
            e1 = r["energy"]["1"]
            print(f"[{k + 1}/{len(chosen)}] {rec['package']}{rec['path']}: "
                  f"E(input) {e1['input']['total']:.4g}  E(net) {e1['net_c']['total']:.4g}"
                  + (f"  E(Adam) {e1['adam']['total']:.4g}" if "adam" in e1 else "")
                  + f"  C {r['time']['c_engine_s']:.2f} s"
                  + (f"  Adam {r['time']['adam_s']:.1f} s" if "adam_s" in r["time"] else "")
                  + f"  (elapsed {el / 60:.1f} min, about "
                  f"{el / (k + 1) * (len(chosen) - k - 1) / 60:.1f} min left)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    doc = {
        "format": "lisse-fan18-eval-1",
        "settings": {
            "model": args.model, "model_file": model_file,
            "model_name": meta.get("name", os.path.basename(model_file)),
            "model_steps": meta.get("steps", "unknown"),
            "model_git_commit": meta.get("git_commit", "unknown"),
            "checkpoint": args.checkpoint, "twin": twin_kind,
            "preset": preset, "energy_params": {k: (v if not isinstance(v, float) or
                                                    math.isfinite(v) else str(v))
                                                for k, v in vars(params).items()},
            "lambda_fs": list(LAMBDA_FS), "lambda_e": le,
            "size": args.size, "count": len(chosen), "max_side": max_side,
            "adam_iters": args.adam_iters, "adam_lr": args.adam_lr,
            "adam_lambda_f": ADAM_LAMBDA_F, "threads": args.threads,
            "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
            "wall_s": time.perf_counter() - t_start,
            "c_engine_startup_s": startup,
        },
        "images": records,
    }
    doc["summary"] = summarise(records, twin is not None)
    if sheet_rows and args.sheet and args.sheet_count > 0:
        # The most detailed crops (largest Ef of the input, i.e. E(input) at
        # λf = 1): a flat crop shows nothing.  In manifest order.
        best = sorted(sheet_rows, key=lambda t: -t[0])[:args.sheet_count]
        sheet_rows = [row for _, _, row in sorted(best, key=lambda t: t[1])]
        doc["settings"]["sheet_images"] = [records[k]["path"] for _, k, _ in
                                           sorted(best, key=lambda t: t[1])]
        labels = ["input"] + [f"network lf={lf:g}" for lf in LAMBDA_FS] + \
                 ([] if args.no_l0 else ["L0, lambda for lf=1"]) + \
                 [f"Adam lf=1, {args.adam_iters} it"]
        doc["contact_sheet"] = contact_sheet(sheet_rows, labels, args.sheet, args.sheet_max_bytes)
    return doc


def write_text(path: str, text: str) -> None:
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="training/eval.py",
        description="Energy of a Fan 2018 model's outputs on the held-out photos, against the "
                    "input and per-image Adam (see docs/fan18-eval.md).")
    ap.add_argument("--model", required=True, help="model name (LISSE_MODEL_PATH) or .safetensors")
    ap.add_argument("--checkpoint", help="training checkpoint for the PyTorch twin (default: the "
                                         "model file's own weights)")
    ap.add_argument("--no-twin", action="store_true", help="skip the PyTorch twin")
    ap.add_argument("--no-l0", action="store_true",
                    help="skip the L0 baseline (`lisse filter l0` at the λ matched to λf)")
    ap.add_argument("--out", required=True, help="output prefix: writes PREFIX.json and PREFIX.md")
    ap.add_argument("--sheet", help="contact sheet PNG (default PREFIX-sheet.png; '' for none)")
    ap.add_argument("--sheet-count", type=int, default=4, help="photos on the sheet (4)")
    ap.add_argument("--sheet-max-bytes", type=int, default=1_500_000)
    ap.add_argument("--large-window-radius", type=int, default=None,
                    help="window radius of eq. 8's L2 term (default: the model's training "
                         "setting; -1: the preset's)")
    ap.add_argument("--preset", choices=sorted(fe.PRESETS),
                    help="energy preset (default: the model's training preset)")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="override an energy parameter of the preset, e.g. --param c2=5")
    ap.add_argument("--size", type=int, default=192, help="centre crop edge (192)")
    ap.add_argument("--count", type=int, default=12, help="val photos, spread evenly (12; 21 = all)")
    ap.add_argument("--adam-iters", type=int, default=100, help="Adam steps per image (100; 0: none)")
    ap.add_argument("--adam-lr", type=float, default=ADAM_LR)
    ap.add_argument("--lambda-e", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=2, help="threads for lisse and torch (2)")
    ap.add_argument("--lisse", default="lisse", help="the lisse executable (default: on PATH)")
    ap.add_argument("--manifest", default=MANIFEST)
    ap.add_argument("--extract", default=EXTRACT, help="build-corpus/extract")
    ap.add_argument("--work", help="scratch directory (default: the system's)")
    args = ap.parse_args(argv)
    if args.sheet is None:
        args.sheet = args.out + "-sheet.png"
    if args.size < 16 or args.count < 1 or args.threads < 1 or args.adam_iters < 0:
        ap.error("--size ≥ 16, --count ≥ 1, --threads ≥ 1, --adam-iters ≥ 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        doc = evaluate(args)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        print(f"eval: {e}", file=sys.stderr)
        return 1
    write_text(args.out + ".json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    md = markdown(doc)
    write_text(args.out + ".md", md)
    print(md)
    return 0
