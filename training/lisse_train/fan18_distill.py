# SPDX-License-Identifier: GPL-3.0-or-later
"""Distillation targets for the Fan 2018 network: Lisse's own L0 smoothing at a
λ matched to λf (issue 15, "a training route that reaches the energy").

Why
---
Trained on the energy alone, the CPU-trained network leaves the identity
slowly: on the 74 held-out crops it reaches E/E_input 0.87 at λf = 1, where
Lisse's L0 smoothing (Xu et al. 2011, core/classic) at λ = 0.005 reaches
0.66 and the best of the five test λ per crop 0.63 (``--fit`` prints the
table).  L0 minimises a different energy, but the one it flattens towards
is close to this one: a gradient-sparse image.  So a network first pulled
towards L0's output (a plain per-pixel loss, whose gradient is large and
direct, unlike |d|^0.8 at the identity) starts where the energy alone does
not get in a CPU budget, and the energy term (on from the start, alone at
the end) then makes it the paper's smoother, not a copy of L0.

The targets
-----------
``training/corpus/build_filter_targets.py --filters l0 --grid N --range LO,HI
--out build-fan18-targets`` filters every crop of the pack at the same N
log-spaced λ.  λf maps to λ_L0 = c·λf^k (``MAP``, fitted on training crops
by ``--fit``: per λf the λ_L0 whose output has the lowest mean E/E_input);
between two grid values the target is the blend of their outputs in log λ,
per pixel, so λf maps (content-aware editing) get per-pixel targets too.

    PYTHONPATH=training python3 -m lisse_train.fan18_distill --fit \\
        [--targets build-fan18-targets] [--crops build-corpus] [--count 40]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch

from . import fan18_energy as fe

FILTER = "l0"
# λ_L0 = MAP[0] · λf ** MAP[1]: fitted by --fit on 40 training crops (the
# numbers it printed are in training/README.md, section "Fan 2018 by
# distillation").
MAP: Tuple[float, float] = (0.0056, 0.87)


def _read_rgb(path: str) -> np.ndarray:
    a = cv2.imread(path, cv2.IMREAD_COLOR)
    if a is None:
        raise OSError(f"cannot read {path} (make the targets: training/corpus/"
                      "build_filter_targets.py --filters l0 --grid …)")
    return cv2.cvtColor(a, cv2.COLOR_BGR2RGB)


class DistillTargets:
    """The grid of L0 outputs of one split's crops, in the crop pack's order
    (the order of train.load_crops)."""

    def __init__(self, targets_dir: str, crops_index: str, split: str,
                 mapping: Sequence[float] = MAP):
        with open(os.path.join(targets_dir, "index.json")) as f:
            entries = [e for e in json.load(f)["targets"]
                       if e["filter"] == FILTER and e["split"] == split]
        with open(crops_index) as f:
            crops = [c["file"] for c in json.load(f)["crops"] if c["split"] == split]
        by_crop: Dict[str, List[Dict]] = {}
        for e in entries:
            by_crop.setdefault(e["crop"], []).append(e)
        lams = None
        self.stacks: List[torch.Tensor] = []
        for c in crops:
            es = sorted(by_crop.get(c, []), key=lambda e: e["lambda"])
            ls = [round(e["lambda"], 9) for e in es]
            if lams is None:
                lams = ls
            if not es or ls != lams:
                raise ValueError(f"{targets_dir}: crop {c} lacks the grid's L0 targets "
                                 "(every crop needs the same --grid values)")
            imgs = [_read_rgb(os.path.join(targets_dir, e["file"])) for e in es]
            self.stacks.append(torch.from_numpy(np.ascontiguousarray(
                np.concatenate(imgs, 2))).permute(2, 0, 1).contiguous())
        if len(lams) < 2:
            raise ValueError(f"{targets_dir}: the grid needs at least two λ values")
        self.log_lambdas = torch.tensor([math.log(v) for v in lams], dtype=torch.float64)
        self.mapping = (float(mapping[0]), float(mapping[1]))

    @property
    def levels(self) -> int:
        return int(self.log_lambdas.numel())

    def level_of(self, lambda_f: torch.Tensor) -> torch.Tensor:
        """Fractional grid position of λ_L0(λf), clamped to the grid."""
        c, k = self.mapping
        ll = math.log(c) + k * lambda_f.double().log()
        lo, hi = float(self.log_lambdas[0]), float(self.log_lambdas[-1])
        step = (hi - lo) / (self.levels - 1)
        # The grid is log-spaced (build_filter_targets --grid), so the
        # position is linear in log λ.
        return ((ll - lo) / step).clamp(0.0, self.levels - 1.0)

    def blend(self, levels: torch.Tensor, lambda_f) -> torch.Tensor:
        """levels: (B, L·3, H, W) float, the augmented grid outputs;
        lambda_f: (B,) or (B, 1, H, W).  Returns the (B, 3, H, W) targets."""
        b, c, h, w = levels.shape
        lv = levels.view(b, self.levels, 3, h, w)
        lf = lambda_f if torch.is_tensor(lambda_f) else torch.tensor([float(lambda_f)] * b)
        if lf.dim() == 1:
            lf = lf.view(b, 1, 1, 1).expand(b, 1, h, w)
        pos = self.level_of(lf).float()                      # (B, 1, H, W)
        i0 = pos.floor().clamp(max=self.levels - 2).long()
        t = (pos - i0.float()).unsqueeze(2)                  # (B, 1, 1, H, W)
        g0 = torch.gather(lv, 1, i0.unsqueeze(2).expand(b, 1, 3, h, w))
        g1 = torch.gather(lv, 1, (i0 + 1).unsqueeze(2).expand(b, 1, 3, h, w))
        return ((1.0 - t) * g0 + t * g1)[:, 0]


# --------------------------------------------------------------------------
# --fit: the λf → λ_L0 map, and the L0 baseline's energy


def fit(targets_dir: str, crops_root: str, count: int, lambda_fs: Sequence[float],
        params: fe.Fan18Params) -> Dict:
    """Per training crop (``count`` evenly spaced) and grid λ: the energy
    terms of the L0 output, λf factored out (E = Ed + λf·Ef + λe·Ee is
    linear in λf and λe, and eq. 8's mask does not depend on them)."""
    idx = os.path.join(crops_root, "index.json")
    dt = DistillTargets(targets_dir, idx, "train")
    with open(idx) as f:
        files = [c["file"] for c in json.load(f)["crops"] if c["split"] == "train"]
    pick = sorted(set(np.linspace(0, len(files) - 1, min(count, len(files))).round()
                      .astype(int).tolist()))
    terms = []   # per crop: [[data, flat, edge] of the input, then of each grid level]
    for i in pick:
        x = torch.from_numpy(_read_rgb(os.path.join(crops_root, files[i]))).permute(2, 0, 1)
        x = x[None].float() / 255.0
        st = dt.stacks[i].float().div(255.0).view(dt.levels, 3, *x.shape[2:])
        row = []
        for y in [x[0]] + list(st):
            with torch.no_grad():
                t = fe.fan18_energy(y[None], x, params, lambda_f=1.0, lambda_e=1.0)
            row.append([float(t.data[0]), float(t.flat[0]), float(t.edge[0])])
        terms.append(row)
    a = np.array(terms)                                      # (crops, 1 + L, 3)
    lams = np.exp(dt.log_lambdas.numpy())
    out = {"crops": len(pick), "lambdas": lams.tolist(), "rows": []}
    for lf in lambda_fs:
        e = a[..., 0] + lf * a[..., 1] + fe.Fan18Params().lambda_e * a[..., 2]
        ratio = (e[:, 1:] / e[:, :1]).mean(0)                # mean over crops, per level
        j = int(ratio.argmin())
        out["rows"].append({"lambda_f": lf, "ratios": ratio.tolist(), "best_level": j,
                            "best_lambda": float(lams[j]), "best_ratio": float(ratio[j])})
    # least squares of log λ_best on log λf, the interior choices only (a
    # choice at the grid's end says the grid is too short there)
    pts = [(math.log(r["lambda_f"]), math.log(r["best_lambda"])) for r in out["rows"]
           if 0 < r["best_level"] < len(lams) - 1]
    if len(pts) >= 2:
        k, b = np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)
        out["map"] = [float(math.exp(b)), float(k)]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", required=True)
    ap.add_argument("--targets", default="build-fan18-targets")
    ap.add_argument("--crops", default="build-corpus")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--preset", default="smooth", choices=sorted(fe.PRESETS))
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                    help="override an energy parameter, e.g. --param c2=5 (the L2 window "
                         "is 2, as the shipped models were trained)")
    ap.add_argument("--json", help="also write the result here")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = a.crops if os.path.isfile(os.path.join(a.crops, "index.json")) \
        else os.path.join(a.crops, "crops")
    over = {"large_window_radius": 2, **fe.parse_overrides(a.param)}
    params = fe.preset(a.preset, **over)
    r = fit(a.targets, root, a.count, (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0), params)
    print(f"{r['crops']} training crops; E/E_input of L0 at each grid λ (preset {a.preset}, "
          f"{', '.join(f'{k} {v}' for k, v in over.items())}, λe 0.1)")
    print("λf    " + " ".join(f"{v:8.5f}" for v in r["lambdas"]) + "   best")
    for row in r["rows"]:
        print(f"{row['lambda_f']:<5g} " + " ".join(f"{v:8.3f}" for v in row["ratios"])
              + f"   λ {row['best_lambda']:.5f} → {row['best_ratio']:.3f}")
    if "map" in r:
        print(f"fit: λ_L0 = {r['map'][0]:.4g} · λf^{r['map'][1]:.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
