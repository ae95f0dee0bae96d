# SPDX-License-Identifier: GPL-3.0-or-later
"""Fan et al. 2018, eq. 1–8, as slow literal loops (NumPy, float64).

A test oracle for fan18_energy.py: every sum of the paper is a Python loop
over pixels i, neighbours j and channels c, written from the formulas and the
conventions stated in fan18_energy's module docstring (8-bit threshold scale,
neighbours outside the image left out, per-pixel λ inside the sums, Lisse's
edge-map heuristic, the guidance modes).  It shares no code with the
vectorised version, only the parameter dataclass.  Use it on tiny images.

Arrays are one image, pixel-major: I, T of shape (H, W, 3); λ maps, saliency
and B of shape (H, W).
"""

from __future__ import annotations

import math

import numpy as np

from .fan18_energy import Fan18Params, PRESETS, RGB_TO_YUV


def _inside(h, w, y, x):
    return 0 <= y < h and 0 <= x < w


def edge_response(img, radius=1):
    """Eq. 3: E_i = Σ_{j∈N(i)} |Σ_c (I_ic − I_jc)|, [0, 1] scale."""
    h, w, nc = img.shape
    e = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            tot = 0.0
            for v in range(y - radius, y + radius + 1):
                for u in range(x - radius, x + radius + 1):
                    if (v, u) == (y, x) or not _inside(h, w, v, u):
                        continue
                    s = 0.0
                    for c in range(nc):
                        s += img[y, x, c] - img[v, u, c]
                    tot += abs(s)
            e[y, x] = tot
    return e


def gaussian_blur(img, sigma):
    """Gaussian blur, radius ceil(3σ), weights normalised, coordinates
    clamped to the image (replicated border); 2-D sum of the 1-D product."""
    if sigma <= 0:
        return img.copy()
    h, w, nc = img.shape
    r = int(math.ceil(3 * sigma))
    g = [math.exp(-t * t / (2 * sigma * sigma)) for t in range(-r, r + 1)]
    z = sum(g)
    g = [v / z for v in g]
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            for c in range(nc):
                s = 0.0
                for ty in range(-r, r + 1):
                    for tx in range(-r, r + 1):
                        yy = min(max(y + ty, 0), h - 1)
                        xx = min(max(x + tx, 0), w - 1)
                        s += g[ty + r] * g[tx + r] * img[yy, xx, c]
                out[y, x, c] = s
    return out


def structure_edge_map(img, prm: Fan18Params):
    """B_i = [scale · E_i(G_σ * I) ≥ τ_B]."""
    e = edge_response(gaussian_blur(img, prm.structure_sigma), prm.edge_radius)
    h, w = e.shape
    b = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            b[y, x] = e[y, x] * prm.threshold_scale >= prm.structure_threshold
    return b


def to_yuv(img):
    h, w, _ = img.shape
    out = np.zeros((h, w, 3))
    for y in range(h):
        for x in range(w):
            for k in range(3):
                out[y, x, k] = sum(RGB_TO_YUV[k][c] * img[y, x, c] for c in range(3))
    return out


def energy(T, I, prm=PRESETS["smooth"], lambda_f=None, lambda_e=None,
           saliency=None, edge_map=None):
    """E = Ed + λf·Ef + λe·Ee (eq. 1) for one image; returns a dict with
    'data', 'flat', 'edge', 'total' and the maps 'B' and 'large'."""
    if isinstance(prm, str):
        prm = PRESETS[prm]
    T = np.asarray(T, dtype=np.float64)
    I = np.asarray(I, dtype=np.float64)
    h, w, nc = I.shape
    N = h * w
    lf = np.full((h, w), prm.lambda_f if lambda_f is None else 0.0)
    if lambda_f is not None:
        lf[:] = lambda_f
    le = np.full((h, w), prm.lambda_e if lambda_e is None else 0.0)
    if lambda_e is not None:
        le[:] = lambda_e

    # eq. 2
    Ed = 0.0
    for y in range(h):
        for x in range(w):
            for c in range(nc):
                Ed += (T[y, x, c] - I[y, x, c]) ** 2
    Ed /= N

    # eq. 3, guidance, B
    EI = edge_response(I, prm.edge_radius)
    ET = edge_response(T, prm.edge_radius)
    B = structure_edge_map(I, prm) if edge_map is None else np.asarray(edge_map) > 0.5
    G = EI.copy()
    for y in range(h):
        for x in range(w):
            if prm.guidance == "texture" and not B[y, x]:
                G[y, x] = 0.0
            elif prm.guidance in ("background", "foreground"):
                salient = saliency[y, x] >= prm.saliency_threshold
                keep = salient if prm.guidance == "background" else not salient
                if not keep:
                    G[y, x] = 0.0
                    B[y, x] = False

    # eq. 8
    s = prm.threshold_scale
    large0 = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            large0[y, x] = (G[y, x] * s < prm.c1) and ((ET[y, x] - G[y, x]) * s > prm.c2)
    large = large0.copy()
    k = prm.large_p_dilation
    if k > 0:  # §7.1: every pixel within a (2k+1)² neighbourhood of a p_large pixel
        for y in range(h):
            for x in range(w):
                large[y, x] = any(large0[v, u]
                                  for v in range(max(0, y - k), min(h, y + k + 1))
                                  for u in range(max(0, x - k), min(w, x + k + 1)))

    # eq. 5–7
    Y = to_yuv(I)
    r = prm.window_radius
    Ef = 0.0
    for y in range(h):
        for x in range(w):
            pi = prm.p_large if large[y, x] else prm.p_small
            acc = 0.0
            for v in range(y - r, y + r + 1):
                for u in range(x - r, x + r + 1):
                    if (v, u) == (y, x) or not _inside(h, w, v, u):
                        continue
                    rl = prm.window_radius if prm.large_window_radius is None \
                        else prm.large_window_radius
                    if large[y, x] and max(abs(v - y), abs(u - x)) > rl:
                        continue
                    if large[y, x]:
                        wij = prm.alpha * math.exp(-((x - u) ** 2 + (y - v) ** 2)
                                                   / (2 * prm.sigma_s ** 2))
                    else:
                        dist = sum((Y[y, x, c] - Y[v, u, c]) ** 2 for c in range(3))
                        wij = math.exp(-dist / (2 * prm.sigma_r ** 2))
                    # eq. 5 on 8-bit intensities (|s·d|^p), divided by s² like Ed and Ee
                    sc = prm.intensity_scale
                    norm = sum(abs(sc * (T[y, x, c] - T[v, u, c])) ** pi for c in range(nc))
                    acc += wij * norm / sc ** 2
            Ef += lf[y, x] * acc
    Ef /= N

    # eq. 4
    Ne = int(B.sum())
    Ee = 0.0
    for y in range(h):
        for x in range(w):
            if B[y, x]:
                Ee += le[y, x] * (ET[y, x] - EI[y, x]) ** 2
    Ee = Ee / Ne if Ne > 0 else 0.0

    return dict(data=Ed, flat=Ef, edge=Ee, total=Ed + Ef + Ee, B=B, large=large)
