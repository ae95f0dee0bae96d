# SPDX-License-Identifier: GPL-3.0-or-later
"""The tiny images the limits tests run on, and reading the float TIFFs
`lisse … --depth 32` writes.

One RGBA scene (flat regions, edges, a texture, noise, alpha varying over
the image) small enough that several hundred runs stay within seconds, one
side odd so the networks' size rule is on the path; a colour guide and a
gray guide of the same size; masks for Content-Aware: a half mask, all 0
and all 1."""

import os
from dataclasses import dataclass

import cv2
import numpy as np

H, W = 18, 25


@dataclass
class Scene:
    rgba: str             # 8-bit RGBA PNG
    guide: str            # 8-bit RGB PNG
    gray_guide: str       # 8-bit gray PNG
    mask: str             # left half 1, right half 0
    mask_zero: str
    mask_one: str
    rgba_float: np.ndarray  # H×W×4, RGBA order, the PNG's values / 255


def scene_rgba(h=H, w=W, seed=3):
    """H×W×4 uint8, RGBA order."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rgb = np.stack([0.15 + 0.6 * x / w, 0.25 + 0.5 * y / h, 0.55 + 0.0 * x], -1)
    rgb[(x > w / 2) & (y < h / 2)] = (0.9, 0.35, 0.15)
    rgb[(x < w / 3) & (y > h / 2)] = (0.05, 0.1, 0.6)
    rgb += 0.08 * (np.sin(x * 2.1) * np.sin(y * 1.7))[..., None]
    rgb += rng.uniform(-0.03, 0.03, rgb.shape)
    alpha = 0.2 + 0.8 * ((x * 3 + y * 5) % 7) / 6.0
    img = np.concatenate([np.clip(rgb, 0, 1), alpha[..., None]], -1)
    return np.round(img * 255).astype(np.uint8)


def write_png(path, rgb_or_rgba_or_gray):
    a = rgb_or_rgba_or_gray
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA if a.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(path, a):
        raise OSError(f"cannot write {path}")
    return path


def read_float(path):
    """A TIFF or PNG as float H×W×C in RGB(A) order (PNGs scaled to [0,1]);
    None when it cannot be read."""
    if not os.path.exists(path):
        return None
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None:
        return None
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535
    if a.ndim == 2:
        return a[..., None]
    if a.shape[2] == 4:
        return cv2.cvtColor(a, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(a, cv2.COLOR_BGR2RGB)


def write_inputs(folder):
    rgba = scene_rgba()
    guide = scene_rgba(seed=8)[:, ::-1, :3].copy()
    gray = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY)
    half = np.zeros((H, W), np.uint8)
    half[:, : W // 2] = 255
    return Scene(
        rgba=write_png(os.path.join(folder, "scene.png"), rgba),
        guide=write_png(os.path.join(folder, "guide.png"), guide),
        gray_guide=write_png(os.path.join(folder, "guide-gray.png"), gray),
        mask=write_png(os.path.join(folder, "mask-half.png"), half),
        mask_zero=write_png(os.path.join(folder, "mask-zero.png"), np.zeros((H, W), np.uint8)),
        mask_one=write_png(os.path.join(folder, "mask-one.png"), np.full((H, W), 255, np.uint8)),
        rgba_float=rgba.astype(np.float32) / 255,
    )


def make_models(folder, shipped=None):
    """The models the effects name, in @folder (made if missing): tiny
    random-weight fan18-smooth and fan18-detail (NumPy), and csgis-texture,
    mgpnet-texture, fang19-rtv and fang19-wls linked from @shipped (the
    repository's data/models: cheap on a tiny image) or, without it, tiny
    random ones (PyTorch).  Returns None, or why one of those is missing."""
    import lisse_testlib
    os.makedirs(folder, exist_ok=True)
    lisse_testlib.tiny_fan18_model(os.path.join(folder, "fan18-smooth.safetensors"), 11)
    lisse_testlib.tiny_fan18_model(os.path.join(folder, "fan18-detail.safetensors"), 12)
    missing = []
    def tiny_wls(path, seed):
        return lisse_testlib.tiny_fang19_model(path, seed, "wls")

    for name, make in (("csgis-texture", lisse_testlib.tiny_csgis_model),
                       ("mgpnet-texture", lisse_testlib.tiny_mgpnet_model),
                       ("fang19-rtv", lisse_testlib.tiny_fang19_model),
                       ("fang19-wls", tiny_wls)):
        path = os.path.join(folder, name + ".safetensors")
        source = os.path.join(shipped, name + ".safetensors") if shipped else None
        if source and os.path.exists(source):
            os.symlink(os.path.abspath(source), path)
            continue
        try:
            make(path, 13)
        except ImportError as e:
            missing.append(f"no {name}: no shipped model and no PyTorch ({e.name})")
    return "; ".join(missing) or None
