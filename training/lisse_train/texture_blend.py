# SPDX-License-Identifier: GPL-3.0-or-later
"""Texture blending for supervised texture-removal pairs: one function used by
the pack builder (fixed validation pairs) and by training (pairs drawn on the
fly), so both see exactly the same kind of input.

The blend is NKS's and VOC-smooth's (CSGIS-Net eq. 14–16, as
../shared/eval/nksmini/README.md reproduces it): a mean-free grey texture
layer added to every colour channel of the structure image,

    input = round(clip(GT + a·(g − mean g), 0, 1) · 255) / 255,
    g = 0.299 R + 0.587 G + 0.114 B of the texture,

with the texture first transformed at random (BlendParams): scaled by a
log-uniform factor, rotated (any angle, periodic tiling first so the
rotated field has no border), its amplitude set to a random RMS in grey
levels (NKS-mini's is 10.3), and, for a share of the pairs, a mild colour
tint (per-channel gains on the layer) — real textures are not always grey.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class BlendParams:
    scale: Tuple[float, float] = (0.5, 2.0)      # log-uniform texture zoom
    rms: Tuple[float, float] = (4.0, 22.0)       # layer RMS, grey levels of 255
    rotate_p: float = 0.5                        # share rotated by a free angle
    tint_p: float = 0.25                         # share with per-channel layer gains
    tint: float = 0.3                            # gains in 1 ± tint


def gray(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an H×W×3 float array (as eq. 14); H×W passes through."""
    if rgb.ndim == 2:
        return rgb.astype(np.float32)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.float32)


def tile_to(g: np.ndarray, h: int, w: int, oy: int = 0, ox: int = 0) -> np.ndarray:
    """The periodic extension of g cut at (oy, ox), h×w."""
    th, tw = g.shape
    ys = (np.arange(h) + oy) % th
    xs = (np.arange(w) + ox) % tw
    return g[ys][:, xs]


def texture_layer(texture: np.ndarray, h: int, w: int, rng: np.random.Generator,
                  p: BlendParams = BlendParams()) -> np.ndarray:
    """An h×w×3 float32 mean-free layer (values in [0,1] units) from a texture
    image (H×W×3 or H×W, uint8 or float in [0,1])."""
    t = texture.astype(np.float32)
    if texture.dtype == np.uint8:
        t /= 255.0
    g = gray(t)
    z = math.exp(rng.uniform(math.log(p.scale[0]), math.log(p.scale[1])))
    if abs(z - 1) > 1e-3:
        nh, nw = max(2, round(g.shape[0] * z)), max(2, round(g.shape[1] * z))
        g = cv2.resize(g, (nw, nh), interpolation=cv2.INTER_AREA if z < 1 else cv2.INTER_CUBIC)
    k = int(rng.integers(4))
    g = np.rot90(g, k)
    if rng.random() < 0.5:
        g = g[:, ::-1]
    oy, ox = int(rng.integers(g.shape[0])), int(rng.integers(g.shape[1]))
    if rng.random() < p.rotate_p:
        side = int(math.ceil(math.hypot(h, w))) + 2
        big = tile_to(np.ascontiguousarray(g), side, side, oy, ox)
        angle = rng.uniform(0, 90)
        m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
        big = cv2.warpAffine(big, m, (side, side), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        y0, x0 = (side - h) // 2, (side - w) // 2
        field = big[y0:y0 + h, x0:x0 + w]
    else:
        field = tile_to(np.ascontiguousarray(g), h, w, oy, ox)
    field = field - field.mean()
    rms = float(np.sqrt(np.mean(field * field)))
    target = rng.uniform(*p.rms) / 255.0
    field = field * (target / rms if rms > 1e-6 else 0.0)
    gains = np.ones(3, np.float32)
    if rng.random() < p.tint_p:
        gains = (1 + rng.uniform(-p.tint, p.tint, size=3)).astype(np.float32)
    return (field[..., None] * gains[None, None, :]).astype(np.float32)


def blend(gt: np.ndarray, texture: np.ndarray, rng: np.random.Generator,
          p: BlendParams = BlendParams()) -> np.ndarray:
    """The textured input (uint8 H×W×3) for a structure image gt (uint8
    H×W×3, RGB)."""
    h, w = gt.shape[:2]
    layer = texture_layer(texture, h, w, rng, p)
    x = gt.astype(np.float32) / 255.0 + layer
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
