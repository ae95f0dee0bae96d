# SPDX-License-Identifier: GPL-3.0-or-later
"""Train the λ-conditioned Fan et al. 2018 smoothing network on the crop pack.

    PYTHONPATH=training python3 -m lisse_train.train --config smoke|cpu|gpu \\
        --preset smooth|detail --out training/runs/NAME [--resume] [--crops build-corpus]

(inside the dev root: ``tools/dev exec env PYTHONPATH=training python3 -m
lisse_train.train …``; how-to, numbers and the GPU recipe: training/README.md).

What it does
------------
* Data: the crop pack of training/corpus (``crops/index.json`` with 256×256
  RGB PNGs, split by photograph).  Each training image is a random sub-crop
  (size drawn per batch from the config's range, from a source window up to
  ``scale_max`` times larger, shrunk with an antialiased bilinear filter),
  a random 90° rotation and horizontal flip, and a mild brightness / per-
  channel gain jitter (clamped to [0, 1]); optionally (``channel_perm``,
  ``gray_prob``) a shuffle of R, G, B and a fraction of gray images.
* Loss: the Fan 2018 energy (``fan18_energy``) of the preset, ``smooth``
  (§4) or ``detail`` (§7.2's α 15, §4's c1 20, c2 10: fan18_energy), per image divided by the
  image's mean λf (``loss_scale``; or by its input's energy) so that a batch mixing λf = 0.1 and λf = 10 does not train
  only the large ones (at λf = 1 this is the paper's loss).
* λ: for ``step < lambda_fixed_steps`` every image gets λf = 1, λe = 0.1 (a
  fresh network leaves the identity slowly and erratically — |d|^0.8 is
  steep at 0 — so it first learns one smoother; docs/fan18-conditioning.md).
  Then the log-ranges widen linearly over ``lambda_ramp_steps`` from the
  defaults to λf ∈ [0.1, 10], λe ∈ [0.01, 1], log-uniform per image; a
  fraction ``map_fraction`` of the batches gets per-pixel λf maps (two λf
  values blended in log space by a random smooth, soft or hard mask — what
  content-aware editing feeds the network).  The detail model is conditioned
  the same way (not fixed): both models then have the same five-channel input
  and the same export and C path, and λf is the natural "detail scale" slider
  (a larger λf gives a flatter base layer, so more is magnified).
* Optimiser: Adam, lr 0.01 as the paper's §4, linear warm-up then cosine
  decay to ``lr_min``; the global gradient norm clipped at ``clip_grad`` ×
  its running mean (cuts spikes only); a step whose loss or gradient is not
  finite is skipped (and counted).
* Time budget (``budget_minutes``, the gpu config): steps ``budget_probe``
  (inside the warm-up, before `steps` matters) are timed, with one
  validation and checkpoint, and `steps` is lowered so the command ends in
  time; the choice is kept in the checkpoint.
* BatchNorm: trained as usual; before every validation and checkpoint the
  running statistics are re-estimated with the current weights
  (``recalibrate_batchnorm``) on a fixed set of training batches.  Running
  statistics never enter a training-mode forward pass, so this does not
  change the training trajectory.
* Distillation (optional, ``distill_targets``): the loss adds a weighted
  mean squared difference to Lisse's L0 smoothing at the λ matched to λf
  (fan18_distill: why, and the targets); measured against the energy alone
  in training/README.md, section 9.
* ``--init`` also takes a shipped model file (.safetensors): BatchNorm is
  folded there, so the run continues without BatchNorm (``batchnorm``
  false), training exactly the network that is evaluated and exported.
* Validation on crops/val: centre crops, mean over images of E(output) /
  E(input) (E(input) = λf·Ef(I): the identity's energy) at λf ∈ {0.25, 1, 4},
  λe = 0.1, and for a per-pixel map (λf = 4 on the left half, 0.25 on the
  right); eval mode (running statistics, the tile-safe mode).

Outputs (in --out)
------------------
* ``log.jsonl`` — one JSON object a line, ``kind`` = ``start`` (config,
  device, threads), ``train`` (means over the last ``log_every`` steps: loss,
  data, flat, edge, large_fraction, grad_norm; lr, s_per_step, and counts
  skipped, clipped, map_batches; widening 0 → 1 over the λ ramp), ``val``
  (ratio and data term per λ key "0.25", "1", "4", "map"), ``checkpoint``,
  ``budget``, ``resume``, ``stop``, ``done``.  The same, shorter, on stdout.
* ``step-NNNNNN.pt`` every ``ckpt_every`` steps and at the end, ``last.pt``
  (the latest; written atomically).

Checkpoint format (torch.save of a dict; read with torch.load(path,
map_location="cpu", weights_only=False))
-------------------------------------------------------------------------
  format        "lisse-fan18-train/1"
  model         Fan18Net.state_dict() with BatchNorm (not folded), CPU
                tensors; the BN running statistics recalibrated with these
                weights when ``bn_recalibrated`` is true (every checkpoint
                except one written on SIGTERM/SIGINT).  Export with
                fold_batchnorm after loading into Fan18Net(**model_config).
  config        dict: the Fan18Net constructor arguments at the top level
                (width, conditioning, batchnorm, film_hidden, dilations as
                a list), plus "name" (smoke|cpu|gpu), "preset", "energy"
                (the Fan18Params fields of the preset; c1 may be inf),
                "train" (the whole training config, overrides applied),
                "lambda_ranges" ({"lambda_f": [lo, hi], "lambda_e": [lo, hi]})
  step          int, optimiser steps done
  optimizer     torch.optim.Adam state_dict
  losses        {"train": [[step, mean loss], …] per log interval,
                 "val": [the val records of log.jsonl]}
  preset        "smooth" | "detail"
  width         int
  conditioning  "input"
  bn_recalibrated  bool
  rng           {"data": data generator state, "torch": global CPU state,
                 "cuda": list or None}
  skipped       int, steps skipped for a non-finite loss or gradient
  grad_ema      float or None, running mean of the gradient norm (clipping)
  budget_steps  int or None, `steps` as fixed by the time budget

``--resume`` loads last.pt and continues; on the CPU with the same thread
count the result is bit-for-bit that of an uninterrupted run (the test checks
it).  On CUDA cuDNN may choose non-deterministic kernels, so it is only
statistically the same.
"""

from __future__ import annotations

import os

# On a busy machine OpenMP's spinning worker threads make PyTorch's many small
# element-wise ops (the energy's 220 shifts) 10× and more slower at 2 threads
# than at 1; sleeping workers remove that (measured in training/README.md).
# Must be set before libgomp starts, i.e. before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Dict, List, Optional, Tuple  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from . import fan18_energy as fe  # noqa: E402
from . import fan18_distill as fd  # noqa: E402
from . import fan18_model as fm  # noqa: E402

FORMAT = "lisse-fan18-train/1"
PRESETS = ("smooth", "detail")
VAL_LAMBDA_F = (0.25, 1.0, 4.0)
VAL_LAMBDA_E = 0.1

# The configurations.  Every field can be overridden with --set key=value.
_COMMON = dict(
    seed=0,
    device="cpu",
    threads=2,
    amp=False,             # bf16 autocast of the network (CUDA only); energy in fp32
    width=64,
    batchnorm=True,        # False: no BatchNorm (nothing to fold or recalibrate)
    lr=0.01,               # §4
    lr_min=1e-4,           # cosine floor
    warmup_steps=100,
    clip_grad=4.0,         # clip the global gradient norm at this × its running mean
    clip_ema=0.98,         # decay of that running mean
    crop_min=128,
    crop_max=128,          # sub-crop size per batch, drawn in steps of crop_step
    crop_step=16,
    scale_max=1.25,        # source window up to this × the crop, shrunk back
    gain_jitter=0.15,      # brightness: gain exp(U(−j, j))
    channel_jitter=0.05,   # per channel: gain exp(U(−j, j))
    # Colour balance (issue 15): the energy treats R, G and B alike.
    # channel_perm shuffles R, G, B per image; gray_prob makes that fraction
    # of images gray (R = G = B = Rec. 601 luma).  Measured alone (stage 9)
    # they did not stop the mean-colour drift; mean_weight (below) did
    # (training/README.md, section 9).
    channel_perm=False,
    gray_prob=0.0,
    lambda_f_range=(0.1, 10.0),
    lambda_e_range=(0.01, 1.0),
    lambda_fixed_steps=300,
    lambda_ramp_steps=300,
    map_fraction=0.25,
    # α (the weight of eq. 8's L2 term) is 0 for `alpha_start` steps, then
    # rises linearly to the preset's value over `alpha_ramp` steps (see
    # alpha_factor); validation and export always use the full energy.
    alpha_start=0,
    alpha_ramp=0,
    # eq. 5's window radius for the L2 (p_large) pixels; None: the preset's
    # window (fan18_energy, "L2 window").
    large_window_radius=None,
    # other energy parameters changed from the preset's, e.g. {"c2": 5} (names
    # of fan18_energy.Fan18Params; JSON, so ∞ is Infinity); the card says so.
    energy_overrides=None,
    log_every=10,
    val_every=250,
    ckpt_every=250,
    val_count=16,          # val crops used (evenly spaced in the list)
    val_size=128,          # centre crop
    val_batch=4,
    recal_batches=8,
    recal_batch=4,
    recal_size=128,
    budget_minutes=None,   # if set: choose `steps` (≤ the configured) to end within this
    # Distillation (fan18_distill): with `distill_targets` (a folder made by
    # build_filter_targets --grid) the loss adds distill_weight × the mean
    # squared difference to L0's output at the λ matched to λf, the weight
    # going linearly to distill_weight_end over the run; the energy term is
    # scaled by distill_energy (0: not computed at all, a faster step).
    distill_targets=None,
    distill_weight=0.0,
    distill_weight_end=0.0,
    distill_energy=1.0,
    budget_probe=(50, 250),  # … from the speed measured over these steps (inside warm-up)
    # What each crop's energy is divided by before the batch mean (energy_scale):
    # "lambda" its mean λf, "input" its input's energy at the same λ.
    loss_scale="lambda",
    # Mean preservation (issue 15's colour drift): every term of the energy
    # but Ed is unchanged when a constant is added to a channel of the
    # output, so at any stationary point Σ ∂Ed/∂T = 0, i.e. each channel's
    # mean equals the input's, and per-image Adam keeps it (docs/fan18-eval.md).
    # The loss adds mean_weight × Σ_c (mean_c(T) − mean_c(I))², divided like
    # the energy: a term that is zero at the energy's minimiser, so it does
    # not move the target, only pulls the network towards it in the one
    # direction it drifted (Ed alone weighs this with 1).
    mean_weight=0.0,
)

CONFIGS: Dict[str, Dict] = {
    # A test runs this end to end: seconds on one CPU.
    "smoke": {**_COMMON, **dict(
        threads=1, width=8, steps=20, batch=2, crop_min=64, crop_max=64, warmup_steps=4,
        lambda_fixed_steps=5, lambda_ramp_steps=5, map_fraction=0.5, log_every=5,
        val_every=10, ckpt_every=10, val_count=4, val_size=64, val_batch=4,
        recal_batches=2, recal_batch=2, recal_size=64)},
    # ≤ 150 min on 2 shared CPU cores at the real width, one thread so that
    # the smooth and detail models can train side by side.  Measured on the
    # 2-core host: 1.3–3 s a step (batch 2, crops 96–128) depending on the
    # other load; validation + recalibration ≈ 20–40 s.  The shipped CPU
    # models' cards give the exact commands and times.  lr 1e-3 with α
    # warm-up (alpha_factor) and the 5×5 L2 window (fan18_energy, "L2
    # window"): lr 1e-2 (the paper's), the full α from step 0 and the 21×21
    # L2 window each made the loss rise.  The shipped CPU models were made in
    # two stages with these ingredients; their cards give the exact commands.
    "cpu": {**_COMMON, **dict(
        threads=1, steps=2400, batch=2, crop_min=96, crop_max=128, lr=1e-3, lr_min=1e-5,
        warmup_steps=100, lambda_fixed_steps=400, lambda_ramp_steps=400,
        alpha_start=500, alpha_ramp=0, large_window_radius=2, val_every=500, ckpt_every=500,
        val_count=24, val_size=128, recal_batches=6, recal_batch=4, recal_size=128)},
    # ≤ 25 min on one H100/H200: NOT RUN YET (no GPU was lent when this was
    # written).  `steps` is only a cap: the time budget fixes the real count
    # from the measured speed (estimate ~0.1 s a step, training/README.md).
    "gpu": {**_COMMON, **dict(
        device="auto", threads=8, amp=True, steps=30000, budget_minutes=23.0, batch=8,
        crop_min=160, crop_max=224, scale_max=1.14, warmup_steps=300, lr=1e-3, lr_min=1e-5,
        lambda_fixed_steps=1500, lambda_ramp_steps=1500, alpha_start=1500, alpha_ramp=0,
        large_window_radius=2,
        log_every=50, val_every=1000, ckpt_every=1000, val_count=74, val_size=256,
        val_batch=8, recal_batches=32, recal_batch=8, recal_size=224)},
}


# --------------------------------------------------------------------------
# data


def crops_dir(path: str) -> str:
    """Accept the corpus build folder (…/build-corpus) or its crops/ folder."""
    if os.path.isfile(os.path.join(path, "crops", "index.json")):
        return os.path.join(path, "crops")
    if os.path.isfile(os.path.join(path, "index.json")):
        return path
    raise FileNotFoundError(f"no crops/index.json or index.json under {path!r} "
                            "(build it: python3 training/corpus/build.py --out build-corpus)")


def load_crops(path: str, split: str) -> List[torch.Tensor]:
    """The crops of one split as a list of uint8 (3, H, W) RGB tensors, in
    index order."""
    root = crops_dir(path)
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)["crops"]
    out = []
    for c in index:
        if c["split"] != split:
            continue
        fn = os.path.join(root, c["file"])
        a = cv2.imread(fn, cv2.IMREAD_COLOR)
        if a is None:
            raise OSError(f"cannot read {fn}")
        a = cv2.cvtColor(a, cv2.COLOR_BGR2RGB)
        out.append(torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous())
    if not out:
        raise ValueError(f"no {split!r} crops in {root}")
    return out


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def augment(crop: torch.Tensor, size: int, cfg: Dict, gen: torch.Generator) -> torch.Tensor:
    """One training image (3, size, size) float in [0, 1] from a uint8 crop.
    A crop of 3·n channels (the image with its distillation targets) gets
    the same draws and the same gains on every group of three.

    The random draws happen in a fixed order from `gen` alone, so a run is
    reproducible and resumable from the generator state."""
    _, h, w = crop.shape
    src = min(int(round(size * _uniform(gen, 1.0, cfg["scale_max"]))), h, w)
    if src < size:
        raise ValueError(f"crop {h}×{w} is smaller than the training size {size}")
    y = _randint(gen, 0, h - src)
    x = _randint(gen, 0, w - src)
    k = _randint(gen, 0, 3)
    flip = _randint(gen, 0, 1)
    gain = math.exp(_uniform(gen, -cfg["gain_jitter"], cfg["gain_jitter"]))
    cj = cfg["channel_jitter"]
    chan = [math.exp(_uniform(gen, -cj, cj)) for _ in range(3)]
    c = crop[:, y:y + src, x:x + src].float() / 255.0
    if src != size:
        # Shrinking only (src ≥ size), antialiased: a bit finer detail than
        # the pack's own scale, never upsampled blur.
        c = F.interpolate(c[None], size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)[0]
    c = torch.rot90(c, k, (1, 2))
    if flip:
        c = c.flip(2)
    g = torch.tensor(chan, dtype=c.dtype).view(3, 1, 1).repeat(c.shape[0] // 3, 1, 1) * gain
    # Gains keep exactly flat pairs flat (0·g = 0), which matters for |d|^0.8.
    c = (c * g).clamp_(0.0, 1.0)
    # Drawn only when enabled, so that runs without them keep their streams.
    groups = c.shape[0] // 3
    if cfg.get("gray_prob", 0.0) > 0.0 and _uniform(gen, 0.0, 1.0) < cfg["gray_prob"]:
        luma = torch.tensor([0.299, 0.587, 0.114], dtype=c.dtype).view(1, 3, 1, 1)
        y = (c.view(groups, 3, size, size) * luma).sum(1, keepdim=True)
        c = y.expand(groups, 3, size, size).reshape(3 * groups, size, size)
    if cfg.get("channel_perm", False):
        perm = torch.randperm(3, generator=gen)
        c = c.view(groups, 3, size, size)[:, perm].reshape(3 * groups, size, size)
    return c.contiguous()


def crop_size(cfg: Dict, gen: torch.Generator) -> int:
    lo, hi, st = cfg["crop_min"], cfg["crop_max"], cfg["crop_step"]
    n = (hi - lo) // st
    return lo + st * _randint(gen, 0, n) if n > 0 else lo


def sample_batch(crops: List[torch.Tensor], cfg: Dict, gen: torch.Generator,
                 batch: int, size: Optional[int] = None,
                 extra: Optional[List[torch.Tensor]] = None):
    """(batch, 3, S, S) float images; S drawn from the config unless given.
    With `extra` (per crop, a (3·n, H, W) uint8 stack: distillation
    targets) returns (images, the stacks augmented the same way)."""
    s = crop_size(cfg, gen) if size is None else size
    idx = torch.randint(0, len(crops), (batch,), generator=gen).tolist()
    if extra is None:
        return torch.stack([augment(crops[i], s, cfg, gen) for i in idx])
    both = torch.stack([augment(torch.cat([crops[i], extra[i]]), s, cfg, gen) for i in idx])
    return both[:, :3].contiguous(), both[:, 3:].contiguous()


def center_crops(crops: List[torch.Tensor], count: int, size: int) -> torch.Tensor:
    """Fixed validation images: `count` crops evenly spaced in the list,
    centre `size` × `size` (clipped to the crop)."""
    n = len(crops)
    idx = sorted(set(np.linspace(0, n - 1, min(count, n)).round().astype(int).tolist()))
    out = []
    for i in idx:
        c = crops[i]
        _, h, w = c.shape
        s = min(size, h, w) // 2 * 2
        y, x = (h - s) // 2, (w - s) // 2
        out.append(c[:, y:y + s, x:x + s].float() / 255.0)
    if len({tuple(o.shape) for o in out}) != 1:
        raise ValueError("validation crops differ in size")
    return torch.stack(out)


# --------------------------------------------------------------------------
# λ sampling


@dataclasses.dataclass(frozen=True)
class LambdaSchedule:
    """λf, λe per training image: fixed at the defaults, then log-uniform over
    ranges that widen linearly (in log space) to the full slider ranges."""
    fixed_steps: int = 300
    ramp_steps: int = 300
    lambda_f_range: Tuple[float, float] = (0.1, 10.0)
    lambda_e_range: Tuple[float, float] = (0.01, 1.0)
    map_fraction: float = 0.25
    lambda_f_default: float = 1.0
    lambda_e_default: float = fm.LAMBDA_E_REF

    @classmethod
    def from_config(cls, cfg: Dict) -> "LambdaSchedule":
        return cls(cfg["lambda_fixed_steps"], cfg["lambda_ramp_steps"],
                   tuple(cfg["lambda_f_range"]), tuple(cfg["lambda_e_range"]),
                   cfg["map_fraction"])

    def widening(self, step: int) -> float:
        """0 during the fixed phase, rising to 1 at the end of the ramp."""
        if step < self.fixed_steps:
            return 0.0
        if self.ramp_steps <= 0:
            return 1.0
        return min(1.0, (step - self.fixed_steps + 1) / self.ramp_steps)

    def bounds(self, step: int):
        """((λf lo, hi), (λe lo, hi)) at this step."""
        t = self.widening(step)

        def b(default, rng):
            ld = math.log(default)
            return (math.exp(ld + t * (math.log(rng[0]) - ld)),
                    math.exp(ld + t * (math.log(rng[1]) - ld)))

        return b(self.lambda_f_default, self.lambda_f_range), b(self.lambda_e_default,
                                                                self.lambda_e_range)

    def sample(self, step: int, batch: int, h: int, w: int, gen: torch.Generator):
        """(λf, λe, is_map): λf a (B,) tensor or a (B, 1, H, W) map, λe (B,).

        Draws a fixed number of values whatever the phase, except the map's,
        so the data stream does not depend on the schedule's numbers."""
        (flo, fhi), (elo, ehi) = self.bounds(step)
        u = torch.rand(3, batch, generator=gen, dtype=torch.float64)
        use_map = bool(torch.rand((), generator=gen, dtype=torch.float64) < self.map_fraction)

        def logu(v, lo, hi):
            return torch.exp(math.log(lo) + v * (math.log(hi) - math.log(lo))).float()

        lf = logu(u[0], flo, fhi)
        le = logu(u[2], elo, ehi)
        if use_map and self.widening(step) > 0:
            lf2 = logu(u[1], flo, fhi)
            m = random_mask(batch, h, w, gen)
            lf = torch.exp(m * lf.log().view(-1, 1, 1, 1) + (1 - m) * lf2.log().view(-1, 1, 1, 1))
            return lf, le, True
        return lf, le, False


def random_mask(batch: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) masks in [0, 1]: smooth random blobs (bicubic-upsampled
    noise on a 2–6 cell grid), half of them hard (0/1, like a thresholded
    saliency or a selection), half soft with a random edge width."""
    out = []
    for _ in range(batch):
        g = _randint(gen, 2, 6)
        noise = torch.randn(1, 1, g, g, generator=gen)
        up = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False)
        thr = _uniform(gen, -0.5, 0.5)
        hard = _randint(gen, 0, 1)
        sharp = math.exp(_uniform(gen, math.log(2.0), math.log(50.0)))
        m = (up > thr).float() if hard else torch.sigmoid(sharp * (up - thr))
        out.append(m)
    return torch.cat(out)


# --------------------------------------------------------------------------
# helpers


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_at(step: int, cfg: Dict) -> float:
    """Linear warm-up over warmup_steps, then cosine from lr to lr_min."""
    lr, lo, wu, n = cfg["lr"], cfg["lr_min"], cfg["warmup_steps"], cfg["steps"]
    if step < wu:
        return lr * (step + 1) / wu
    t = min(1.0, (step - wu) / max(1, n - wu))
    return lo + 0.5 * (lr - lo) * (1.0 + math.cos(math.pi * t))


def alpha_factor(step: int, cfg: Dict) -> float:
    """The share of eq. 8's α used at `step` (α warm-up).

    Why: the L2 term switches on per pixel when the output adds edge
    response in a flat part of the input (eq. 8), and then penalises the
    pixel's squared difference to every neighbour of its 21×21 window by
    spatial weight alone, across real edges too.  A network just leaving the
    identity adds a little noise everywhere; near edges that noise flips
    pixels to L2, whose cost (measured: 10–20× the identity's energy at 1 %
    of the pixels) and gradient (norm 10–30× the L0.8 one) then dominate, and
    their pull across edges blurs them, which flips more pixels.  Measured on
    the cpu config: with the full α from step 0 the training loss rose from
    0.07 (identity) to 0.4–1.5 within 100 steps at every learning rate tried
    (1e-4 … 2e-3, with and without BatchNorm).  Learning the L0.8 smoother
    first, which lowers edge response almost everywhere, and bringing α in
    afterwards avoids that; the objective at the end is the paper's."""
    start, ramp = cfg["alpha_start"], cfg["alpha_ramp"]
    if step < start:
        return 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, (step - start + 1) / ramp)


def distill_weight(step: int, cfg: Dict) -> float:
    """The distillation term's weight: linear from distill_weight at step 0
    to distill_weight_end at the last step."""
    t = min(1.0, step / max(1, cfg["steps"] - 1))
    return cfg["distill_weight"] + t * (cfg["distill_weight_end"] - cfg["distill_weight"])


LOSS_SCALES = ("lambda", "input")

# The "input" scale's floor, × the crop's mean λf: a crop of flat colour has
# almost no energy to lose, and dividing by it would give it the batch.  At
# λf 1 held-out photos' input energies are 0.03–0.09 (training/eval.py).
INPUT_SCALE_FLOOR = 0.005


def mean_shift_sq(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per image Σ_c (mean_c(y) − mean_c(x))²: the squared shift of the mean
    colour (the mean_weight term)."""
    return ((y - x).mean((2, 3)) ** 2).sum(1)


def energy_scale(x: torch.Tensor, lf, le, params: fe.Fan18Params, mode: str) -> torch.Tensor:
    """Per crop, what its energy is divided by in the loss.

    "lambda": the crop's mean λf, so that a batch mixing λf 0.1 and 10 does
    not learn only the large ones.  "input": the energy of the crop itself
    (the identity's energy) at the same λ, floored at INPUT_SCALE_FLOOR × λf;
    the loss is then each crop's E(T)/E(I), the ratio the evaluation reports,
    so a photo with little to flatten (low-amplitude grain) weighs as much as
    a photo of strong texture (stage 5 of fan18-smooth left such grain where
    per-image Adam removed three quarters of its energy).  Measured at equal
    time it lost to "lambda" (0.801 against 0.789 on the held-out photos;
    training/README.md, section 9): the extra energy evaluation costs 16 % of
    the steps, and the grain went as fast without it."""
    lam = lf.mean((1, 2, 3)) if torch.is_tensor(lf) and lf.dim() == 4 else lf
    if mode == "lambda":
        return lam
    if mode != "input":
        raise ValueError(f"loss_scale must be one of {LOSS_SCALES}, not {mode!r}")
    with torch.no_grad():
        e_in = fe.fan18_energy(x.float(), x.float(), params, lambda_f=lf, lambda_e=le).total
    return torch.maximum(e_in, INPUT_SCALE_FLOOR * torch.as_tensor(lam, dtype=e_in.dtype))


def parse_set(items: List[str], cfg: Dict) -> Dict:
    """--set key=value overrides; the value is JSON (numbers, true, [a, b])
    or else a plain string."""
    cfg = dict(cfg)
    for it in items:
        if "=" not in it:
            raise SystemExit(f"--set needs key=value, not {it!r}")
        k, v = it.split("=", 1)
        if k not in cfg:
            raise SystemExit(f"--set: unknown key {k!r}; known: {', '.join(sorted(cfg))}")
        try:
            val = json.loads(v)
        except json.JSONDecodeError:
            val = v
        cfg[k] = tuple(val) if isinstance(val, list) else val
    return cfg


def energy_params(preset: str) -> fe.Fan18Params:
    if preset not in PRESETS:
        raise SystemExit(f"--preset must be one of {PRESETS}")
    return fe.preset(preset)


class Logger:
    def __init__(self, path: str):
        self.path = path

    def truncate_after(self, step: int):
        """On resume: drop records logged after the checkpoint (those steps run again)."""
        if not os.path.exists(self.path):
            return
        keep = []
        with open(self.path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r.get("step", 0) <= step:
                    keep.append(line if line.endswith("\n") else line + "\n")
        with open(self.path, "w") as f:
            f.writelines(keep)

    def __call__(self, rec: Dict, text: Optional[str] = None):
        rec = {"time": round(time.time(), 1), **rec}
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if text:
            print(text, flush=True)


# --------------------------------------------------------------------------
# training


class Trainer:
    def __init__(self, cfg: Dict, preset: str, out: str, crops: str, config_name: str):
        self.t_start = time.time()
        if cfg["budget_minutes"] and cfg["budget_probe"][1] > cfg["warmup_steps"]:
            # the cosine (which depends on `steps`) must not have begun
            raise SystemExit("budget_probe must end within warmup_steps")
        if cfg["loss_scale"] not in LOSS_SCALES:
            raise SystemExit(f"loss_scale must be one of {', '.join(LOSS_SCALES)}, "
                             f"not {cfg['loss_scale']!r}")
        self.cfg = cfg
        self.preset = preset
        self.out = out
        self.name = config_name
        self.params = energy_params(preset)
        if cfg["large_window_radius"] is not None:
            self.params = self.params.replace(large_window_radius=cfg["large_window_radius"])
        if cfg["energy_overrides"]:
            over = cfg["energy_overrides"]
            try:
                self.params = self.params.replace(**over)
            except (TypeError, ValueError) as err:
                raise SystemExit(f"energy_overrides {over!r}: {err}") from None
        self.device = resolve_device(cfg["device"])
        if self.device.type == "cpu":
            torch.set_num_threads(cfg["threads"])
        else:
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.amp = bool(cfg["amp"]) and self.device.type == "cuda"
        torch.manual_seed(cfg["seed"])
        self.model = fm.Fan18Net(cfg["width"], "input", batchnorm=cfg["batchnorm"]).to(self.device)
        if not cfg["batchnorm"]:
            # Without normalisation ten residual blocks would double the
            # activations' variance each (He initialisation); starting every
            # block's second convolution at zero makes each block the identity
            # at first (SkipInit, De & Smith 2020), so the trunk starts tame.
            with torch.no_grad():
                for blk in self.model.blocks():
                    blk.conv_b.weight.zero_()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"])
        self.gen = torch.Generator().manual_seed(cfg["seed"])
        self.lam = LambdaSchedule.from_config(cfg)
        self.train_crops = load_crops(crops, "train")
        self.distill = None
        if cfg["distill_targets"]:
            self.distill = fd.DistillTargets(cfg["distill_targets"],
                                             os.path.join(crops_dir(crops), "index.json"),
                                             "train")
        self.val_images = center_crops(load_crops(crops, "val"), cfg["val_count"],
                                       cfg["val_size"])
        self.step = 0
        self.skipped = 0
        self.grad_ema: Optional[float] = None
        self.budget_steps: Optional[int] = None
        self._probe = None
        self.history = {"train": [], "val": []}
        self.log = Logger(os.path.join(out, "log.jsonl"))
        self._val_identity = None
        self._stop = False

    # -- checkpoints ------------------------------------------------------

    def model_config(self) -> Dict:
        mc = self.model.config()
        mc["dilations"] = list(mc["dilations"])
        return mc

    def checkpoint(self, recalibrated: bool) -> Dict:
        cuda = (torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None)
        return {
            "format": FORMAT,
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "config": {**self.model_config(), "name": self.name, "preset": self.preset,
                       "energy": dataclasses.asdict(self.params), "train": dict(self.cfg),
                       "lambda_ranges": {"lambda_f": list(self.cfg["lambda_f_range"]),
                                         "lambda_e": list(self.cfg["lambda_e_range"])}},
            "step": self.step,
            "optimizer": self.opt.state_dict(),
            "losses": self.history,
            "preset": self.preset,
            "width": self.cfg["width"],
            "conditioning": "input",
            "bn_recalibrated": recalibrated,
            "rng": {"data": self.gen.get_state(), "torch": torch.get_rng_state(), "cuda": cuda},
            "skipped": self.skipped,
            "grad_ema": self.grad_ema,
            "budget_steps": self.budget_steps,
        }

    def save(self, recalibrated: bool, numbered: bool):
        ck = self.checkpoint(recalibrated)
        paths = [os.path.join(self.out, "last.pt")]
        if numbered:
            paths.insert(0, os.path.join(self.out, f"step-{self.step:06d}.pt"))
        for p in paths:
            tmp = p + ".tmp"
            torch.save(ck, tmp)
            os.replace(tmp, p)  # a kill mid-write never leaves a broken last.pt
        self.log({"kind": "checkpoint", "step": self.step, "paths": paths,
                  "bn_recalibrated": recalibrated})

    def resume(self, path: str):
        ck = torch.load(path, map_location="cpu", weights_only=False)
        if ck.get("format") != FORMAT:
            raise SystemExit(f"{path}: not a {FORMAT} checkpoint")
        if ck["preset"] != self.preset or ck["config"]["name"] != self.name:
            raise SystemExit(f"{path} is a {ck['config']['name']}/{ck['preset']} run, "
                             f"not {self.name}/{self.preset}")
        self.budget_steps = ck.get("budget_steps")
        if self.budget_steps:
            self.cfg["steps"] = self.budget_steps  # chosen by the time budget; keep it
        if ck["config"]["train"] != self.cfg:
            diff = sorted(k for k in self.cfg if ck["config"]["train"].get(k) != self.cfg[k])
            print(f"note: config differs from the checkpoint's in {', '.join(diff)}; "
                  "using the new values", flush=True)
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        # load_state_dict casts optimizer state to the params' device already.
        self.gen.set_state(ck["rng"]["data"])
        torch.set_rng_state(ck["rng"]["torch"])
        if ck["rng"].get("cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        self.step = int(ck["step"])
        self.skipped = int(ck.get("skipped", 0))
        self.grad_ema = ck.get("grad_ema")
        self.history = ck["losses"]
        self.log.truncate_after(self.step)
        self.log({"kind": "resume", "step": self.step, "from": path},
                 f"resumed at step {self.step} from {path}")

    # -- BatchNorm, validation --------------------------------------------

    def recalibrate(self):
        """Running statistics with the current weights, from a fixed set of
        training batches (own generator: the same batches every time, and
        the training stream is not touched)."""
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg["seed"] + 1_000_003)
        full = dataclasses.replace(self.lam, fixed_steps=0, ramp_steps=0)

        def batches():
            for _ in range(cfg["recal_batches"]):
                x = sample_batch(self.train_crops, cfg, gen, cfg["recal_batch"],
                                 cfg["recal_size"])
                lf, le, _ = full.sample(0, x.shape[0], x.shape[2], x.shape[3], gen)
                yield x.to(self.device), lf.to(self.device), le.to(self.device)

        with self._autocast():
            fm.recalibrate_batchnorm(self.model, batches())

    def _autocast(self):
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def _val_lambdas(self):
        """(key, λf) pairs: the constant values and one per-pixel map."""
        _, _, h, w = self.val_images.shape
        m = torch.full((1, 1, h, w), VAL_LAMBDA_F[0])
        m[..., : w // 2] = VAL_LAMBDA_F[-1]
        return [(f"{v:g}", v) for v in VAL_LAMBDA_F] + [("map", m)]

    @torch.no_grad()
    def validate(self) -> Dict:
        t0 = time.time()
        cfg = self.cfg
        self.model.eval()
        imgs = self.val_images
        if self._val_identity is None:
            self._val_identity = {}
            for key, lf in self._val_lambdas():
                e = []
                for i in range(0, len(imgs), cfg["val_batch"]):
                    x = imgs[i:i + cfg["val_batch"]].to(self.device)
                    e.append(fe.fan18_energy(x, x, self.params, lambda_f=_dev(lf, self.device),
                                             lambda_e=VAL_LAMBDA_E).total.cpu())
                self._val_identity[key] = torch.cat(e).double()
        ratio, data, shift = {}, {}, {}
        for key, lf in self._val_lambdas():
            tot, dat, sh = [], [], []
            for i in range(0, len(imgs), cfg["val_batch"]):
                x = imgs[i:i + cfg["val_batch"]].to(self.device)
                lfd = _dev(lf, self.device)
                with self._autocast():
                    y = self.model(x, lfd, VAL_LAMBDA_E)
                t = fe.fan18_energy(y.float(), x, self.params, lambda_f=lfd,
                                    lambda_e=VAL_LAMBDA_E)
                tot.append(t.total.cpu())
                dat.append(t.data.cpu())
                sh.append((y.float() - x).mean((2, 3)).abs().cpu())
            r = torch.cat(tot).double() / self._val_identity[key].clamp_min(1e-12)
            ratio[key] = float(r.mean())
            data[key] = float(torch.cat(dat).double().mean())
            # mean |shift of a channel's mean| over images and channels, ×255
            shift[key] = 255.0 * float(torch.cat(sh).double().mean())
        self.model.train()
        rec = {"kind": "val", "step": self.step, "ratio": ratio, "data": data,
               "colour_shift_255": shift, "images": int(len(imgs)), "size": int(imgs.shape[-1]),
               "seconds": round(time.time() - t0, 1)}
        self.history["val"].append(rec)
        self.log(rec, f"val  step {self.step:6d}  E/E_id " + "  ".join(
            f"λf={k} {v:.4f}" for k, v in ratio.items()) + f"  ({rec['seconds']:.0f} s)")
        return rec

    # -- the loop -----------------------------------------------------------

    def train_step(self, acc: Dict):
        cfg = self.cfg
        step = self.step
        if self.distill is None:
            x = sample_batch(self.train_crops, cfg, self.gen, cfg["batch"])
        else:
            x, levels = sample_batch(self.train_crops, cfg, self.gen, cfg["batch"],
                                     extra=self.distill.stacks)
        lf, le, is_map = self.lam.sample(step, x.shape[0], x.shape[2], x.shape[3], self.gen)
        target = None if self.distill is None else self.distill.blend(levels, lf)
        x, lf, le = x.to(self.device), lf.to(self.device), le.to(self.device)
        lr = lr_at(step, cfg)
        for g in self.opt.param_groups:
            g["lr"] = lr
        with self._autocast():
            y = self.model(x, lf, le)
        # The energy always in fp32: bf16 would round 1/255 differences away.
        a = alpha_factor(step, cfg)
        params = self.params if a == 1.0 else self.params.replace(alpha=self.params.alpha * a)
        e_w = cfg["distill_energy"] if target is not None else 1.0
        terms = None
        loss = y.new_zeros(())
        if e_w > 0:
            terms = fe.fan18_energy(y.float(), x, params, lambda_f=lf, lambda_e=le)
            scale = energy_scale(x, lf, le, params, cfg["loss_scale"])
            total = terms.total
            if cfg["mean_weight"] > 0:
                shift = mean_shift_sq(y.float(), x)
                total = total + cfg["mean_weight"] * shift
                acc["mean_shift"] = acc.get("mean_shift", 0.0) + float(shift.mean())
            loss = e_w * (total / scale).mean()
        if target is not None:
            d_w = distill_weight(step, cfg)
            mse = F.mse_loss(y.float(), target.to(self.device))
            loss = loss + d_w * mse
            acc["distill_mse"] = acc.get("distill_mse", 0.0) + float(mse)
        self.opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            self.skipped += 1
            acc["skipped"] = acc.get("skipped", 0) + 1
            return
        loss.backward()
        # Clip relative to the typical norm: the energy's scale (and with it
        # the gradient's) depends on crop size, window and λ, so a fixed
        # threshold would either clip every step or never; this only cuts
        # spikes (an odd crop, a λ map edge) to a few times the usual step.
        limit = (cfg["clip_grad"] * self.grad_ema if self.grad_ema is not None
                 else float("inf"))
        gn = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), limit))
        if not math.isfinite(gn):
            self.skipped += 1
            acc["skipped"] = acc.get("skipped", 0) + 1
            self.opt.zero_grad(set_to_none=True)
            return
        g_used = min(gn, limit)
        self.grad_ema = (g_used if self.grad_ema is None
                         else cfg["clip_ema"] * self.grad_ema + (1 - cfg["clip_ema"]) * g_used)
        acc["clipped"] = acc.get("clipped", 0) + int(gn > limit)
        self.opt.step()
        parts = [("loss", loss), ("grad_norm", gn)]
        if terms is not None:
            parts += [("data", terms.data.mean()), ("flat", terms.flat.mean()),
                      ("edge", terms.edge.mean()), ("large_fraction", terms.large_fraction.mean())]
        for k, v in parts:
            acc[k] = acc.get(k, 0.0) + float(v)
        acc["n"] = acc.get("n", 0) + 1
        acc["maps"] = acc.get("maps", 0) + int(is_map)
        acc["lr"] = lr

    def run(self, stop_at: Optional[int] = None):
        cfg = self.cfg
        steps = cfg["steps"]
        end = steps if stop_at is None else min(stop_at, steps)
        self.model.train()
        acc: Dict = {}
        t_int = time.time()
        steps_int = 0
        while self.step < end and not self._stop:
            self.train_step(acc)
            self.step += 1
            steps_int += 1
            if self.step % cfg["log_every"] == 0 or self.step == end:
                n = max(1, acc.get("n", 0))
                dt = (time.time() - t_int) / steps_int
                rec = {"kind": "train", "step": self.step, "s_per_step": round(dt, 4),
                       "lr": acc.get("lr", lr_at(self.step - 1, cfg)),
                       "skipped": acc.get("skipped", 0), "clipped": acc.get("clipped", 0),
                       "map_batches": acc.get("maps", 0),
                       "widening": self.lam.widening(self.step - 1)}
                for k in ("loss", "data", "flat", "edge", "large_fraction", "grad_norm",
                          "distill_mse", "mean_shift"):
                    rec[k] = acc.get(k, float("nan")) / n if k in acc else None
                self.history["train"].append([self.step, rec["loss"]])
                lstr = "nan" if rec["loss"] is None else f"{rec['loss']:.4f}"
                self.log(rec, f"step {self.step:6d}/{steps}  loss {lstr}  lr {rec['lr']:.2e}  "
                              f"{dt:.2f} s/step")
                acc, t_int, steps_int = {}, time.time(), 0
            if self.cfg["budget_minutes"] and self.budget_steps is None:
                if self.budget_probe():
                    steps = cfg["steps"]
                    end = steps if stop_at is None else min(stop_at, steps)
                    t_int, steps_int = time.time(), 0
            final = self.step == steps
            need_val = self.step % cfg["val_every"] == 0 or final
            need_ck = self.step % cfg["ckpt_every"] == 0 or final or self.step == end
            if need_val or need_ck:
                self.recalibrate()
            if need_val:
                self.validate()
            if need_ck:
                self.save(True, numbered=self.step % cfg["ckpt_every"] == 0 or final)
            if need_val or need_ck:
                t_int = time.time()  # keep s/step a training-only figure
                steps_int = 0
        if self._stop and self.step < end:
            self.save(False, numbered=False)
            self.log({"kind": "stop", "step": self.step}, f"stopped at step {self.step}; "
                     "resume with --resume")
            return False
        if self.step >= steps:
            self.log({"kind": "done", "step": self.step, "skipped": self.skipped},
                     f"done: {self.step} steps")
        return True

    def budget_probe(self) -> bool:
        """Within warm-up: time the steps of cfg["budget_probe"], one
        recalibration + validation and one checkpoint, then fix `steps` so
        that the whole command ends within budget_minutes.  Returns True
        when it has decided."""
        cfg = self.cfg
        p0, p1 = cfg["budget_probe"]
        if self.step < p0:
            return False
        if self._probe is None:
            self._probe = (time.time(), self.step)
            return False
        t0, s0 = self._probe
        if self.step - s0 < p1 - p0:
            return False
        per_step = (time.time() - t0) / (self.step - s0)
        tv = time.time()
        self.recalibrate()
        self.validate()
        self.save(True, numbered=False)
        t_val = time.time() - tv
        left = cfg["budget_minutes"] * 60.0 - (time.time() - self.t_start)
        per = per_step + t_val / min(cfg["val_every"], cfg["ckpt_every"])
        n = self.step + int(max(0.0, left - t_val) / per)  # − t_val: the final one
        low = cfg["warmup_steps"] + cfg["lambda_fixed_steps"] + cfg["lambda_ramp_steps"]
        n = max(min(n, cfg["steps"]), low, self.step + 1)
        self.budget_steps = cfg["steps"] = n
        self.log({"kind": "budget", "step": self.step, "s_per_step": round(per_step, 4),
                  "val_ckpt_seconds": round(t_val, 1), "seconds_left": round(left, 1),
                  "steps": n},
                 f"budget: {per_step:.3f} s/step, validation + checkpoint {t_val:.0f} s, "
                 f"{left / 60:.1f} min left → {n} steps")
        return True

    def request_stop(self, *_):
        self._stop = True


def _dev(v, device):
    return v.to(device) if torch.is_tensor(v) else v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), required=True)
    ap.add_argument("--preset", choices=PRESETS, default="smooth")
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--crops", default="build-corpus",
                    help="the corpus build folder or its crops/ folder (default build-corpus)")
    ap.add_argument("--init", metavar="CHECKPOINT",
                    help="start from this checkpoint's weights (fresh optimiser, step 0), "
                         "or a model file's (.safetensors, with --set batchnorm=false)")
    ap.add_argument("--resume", action="store_true",
                    help="continue from OUT/last.pt (starts fresh if there is none)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field (JSON value), e.g. --set steps=100")
    ap.add_argument("--threads", type=int, help="CPU threads (overrides the config)")
    ap.add_argument("--stop-at", type=int, metavar="STEP",
                    help="stop after this step, leaving last.pt (the schedule stays that of "
                         "the whole run)")
    args = ap.parse_args(argv)

    cfg = parse_set(args.set, CONFIGS[args.config])
    if args.threads:
        cfg["threads"] = args.threads
    os.makedirs(args.out, exist_ok=True)
    last = os.path.join(args.out, "last.pt")
    if os.path.exists(last) and not args.resume:
        print(f"error: {last} exists; use --resume to continue, or another --out",
              file=sys.stderr)
        return 2
    init_file = bool(args.init) and args.init.endswith(".safetensors") and not (
        args.resume and os.path.exists(last))
    if init_file and cfg["batchnorm"]:
        print("error: --init with a model file needs --set batchnorm=false "
              "(the file's BatchNorm is folded into its convolutions)", file=sys.stderr)
        return 2
    tr = Trainer(cfg, args.preset, args.out, args.crops, args.config)
    if args.resume and os.path.exists(last):
        tr.resume(last)
    else:
        if args.init and args.init.endswith(".safetensors"):
            # A shipped model file: its BatchNorm is folded, so it continues
            # as a network without BatchNorm (checked above).
            from .eval import twin_from_safetensors
            tr.model.load_state_dict(twin_from_safetensors(args.init).state_dict())
            cfg["init"] = args.init
        elif args.init:
            # Weights only (BatchNorm statistics included): a new run from a
            # trained starting point, e.g. the detail model from the smooth one.
            ck = torch.load(args.init, map_location="cpu", weights_only=False)
            tr.model.load_state_dict(ck["model"])
            cfg["init"] = args.init
        tr.log({"kind": "start", "step": 0, "config": args.config, "preset": args.preset,
                "train": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
                "device": str(tr.device), "threads": torch.get_num_threads(), "amp": tr.amp,
                "train_crops": len(tr.train_crops), "val_images": int(len(tr.val_images)),
                "torch": torch.__version__},
               f"start {args.config}/{args.preset} on {tr.device} "
               f"({torch.get_num_threads()} threads), {len(tr.train_crops)} training crops, "
               f"{len(tr.val_images)} val images, {cfg['steps']} steps → {args.out}")
    old = {}
    if __name__ == "__main__":  # signal handlers only for the command, not in tests
        for s in (signal.SIGTERM, signal.SIGINT):
            old[s] = signal.signal(s, tr.request_stop)
    try:
        ok = tr.run(args.stop_at)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0 if ok else 130


if __name__ == "__main__":
    sys.exit(main())
