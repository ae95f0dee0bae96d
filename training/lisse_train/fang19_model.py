# SPDX-License-Identifier: GPL-3.0-or-later
"""Fang et al. 2019's learned explicit smoothing kernels ("Learning Explicit
Smoothing Kernels for Joint Image Filtering", CGF 2019, §3), the twin of
core/nets/fang19.c.

Two parts.  A feature extractor reads the guide G and the parameter λ and
predicts d_F = 5 feature maps F and 2·9·L offset maps O (L = 4 layers of 3×3
points); a stack of L deformable weighted-average layers then filters the
target T (T = G for plain smoothing, another image for joint filtering):

    extractor (every convolution λ-conditioned, zero padding, ReLU after all
    but the last):
        x = c0(G); x = c1(x); x = c2(x, stride 2)           3 → F → F → F
        7 residual blocks at half size, dilations DILATIONS:
            h = ReLU(conv_d x); h = conv_d h; x = ReLU(x + h)
        x = nearest ×2 upsampling, cropped to H×W
        x = c3(x); x = c4(x); out = c5(x)                   F → F → F → 5 + 18L
        F = out[:5];  O_l = B·tanh(out[5 + 18l : 5 + 18(l+1)] / B)

    λ conditioning (eq. 4): every convolution's weight and bias are
        W = A·P + W0,   P = (t, 1/t),  t = λ / λ_ref,
    λ_ref being fixed per model (the geometric middle of its training range),
    so that the network sees values around 1 rather than 1/λ = 500.  At
    inference λ is one number: the C network folds W once per run.

    layer l (eq. 5–7), for every pixel p and the 9 points k of a 3×3 grid:
        q_k = p + g_k + O_l,k(p)                      (offset channel 2k: Δy,
                                                       2k+1: Δx, as the engine)
        w_k = softmax_k(−‖F(p) − F(q_k)‖²)
        Z_l(p) = (Σ_k w_k·Z_{l−1}(q_k) + ε·Z_{l−1}(p)) / (Σ_k w_k·1(q_k) + ε),
        Z_0 = T,  ε = BORDER_EPS,
    F and Z read at q_k with bilinear interpolation, zero outside the image;
    the division by the same average of a plane of ones (1(q) = 1 inside)
    keeps the weights summing to one at the borders, where the paper's
    formula would darken the image towards 0, and ε keeps the pixel's own
    value where every point falls outside (a bare division by a sum near 0
    made float32 and float64 differ by 1e-2 there).

Choices the paper leaves open or that Lisse changes, all for tiling (a tile
with a halo of halo_radius() pixels gives the whole-image result):
  - no normalisation layers (the paper: instance normalisation, whose
    whole-image statistics would make every tile differ); the residual
    blocks start as the identity (second convolution zero) instead;
  - offsets bounded by B (offset_bound, default 8 px) through tanh, so the
    stack reaches at most L·(B + 2) pixels;
  - nearest upsampling of an input padded to even size (replicate), as
    fan18_model.
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

DILATIONS = (1, 2, 4, 8, 16, 1, 1)     # "the dilation varies from 1 to 16"
FEATURE_DIM = 5                         # d_F (the paper's Table 2: 5 is best)
POINTS = 9                              # 3×3 points per layer
GRID = [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]   # k = 3·(i+1) + (j+1)
BORDER_EPS = 1e-3                       # the own pixel's weight in the average


class CondConv2d(nn.Module):
    """A convolution whose weight and bias are A·P + W0 for a per-image P
    (eq. 4).  The batch runs as one grouped convolution: each image gets
    its own weights at the cost of one plain convolution."""

    def __init__(self, cin: int, cout: int, n_params: int = 2, stride: int = 1,
                 dilation: int = 1, zero: bool = False):
        super().__init__()
        self.cin, self.cout, self.stride, self.dilation = cin, cout, stride, dilation
        self.weight = nn.Parameter(torch.empty(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.a_weight = nn.Parameter(torch.zeros(n_params, cout, cin, 3, 3))
        self.a_bias = nn.Parameter(torch.zeros(n_params, cout))
        if zero:
            nn.init.zeros_(self.weight)
        else:
            nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
            # The λ part starts small: the network begins as one filter.
            nn.init.normal_(self.a_weight, std=0.1 * math.sqrt(2.0 / (cin * 9)))

    def folded(self, p: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(weight [N, Cout, Cin, 3, 3], bias [N, Cout]) for P [N, n_params]."""
        w = self.weight.unsqueeze(0) + torch.einsum("np,pocij->nocij", p, self.a_weight)
        b = self.bias.unsqueeze(0) + p @ self.a_bias
        return w, b

    def forward(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        n, _, h, w_ = x.shape
        w, b = self.folded(p)
        y = F.conv2d(x.reshape(1, n * self.cin, h, w_), w.reshape(n * self.cout, self.cin, 3, 3),
                     b.reshape(-1), stride=self.stride, padding=self.dilation,
                     dilation=self.dilation, groups=n)
        return y.reshape(n, self.cout, y.shape[2], y.shape[3])


def lambda_params(lam, lambda_ref: float, n: int, device=None,
                  dtype=torch.float32) -> torch.Tensor:
    """P = (t, 1/t), t = λ/λ_ref, as an [n, 2] tensor of @dtype (λ a number or
    n values, taken as float32 first, as the C network reads it)."""
    lam = torch.as_tensor(lam, device=device).to(torch.float32).to(dtype).reshape(-1)
    if lam.numel() == 1:
        lam = lam.expand(n)
    t = lam / lambda_ref
    return torch.stack([t, 1.0 / t], 1)


def sample_points(img: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """img [N, C, H, W] read at the 9 points of every pixel, moved by
    offsets [N, 18, H, W] (channel 2k Δy, 2k+1 Δx): [N, C, 9, H, W],
    bilinear, zero outside the image (as the engine's deformable ops)."""
    n, c, h, w = img.shape
    ys = torch.arange(h, dtype=img.dtype, device=img.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=img.dtype, device=img.device).view(1, 1, 1, w)
    gy = torch.tensor([g[0] for g in GRID], dtype=img.dtype, device=img.device).view(1, POINTS, 1, 1)
    gx = torch.tensor([g[1] for g in GRID], dtype=img.dtype, device=img.device).view(1, POINTS, 1, 1)
    py = ys + gy + offsets[:, 0::2]                     # [N, 9, H, W]
    px = xs + gx + offsets[:, 1::2]
    # align_corners=False: pixel x sits at (2x + 1)/w − 1, exact for every
    # size (with True a 1-pixel axis would map every position to pixel 0).
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], -1)
    out = F.grid_sample(img, grid.reshape(n, POINTS * h, w, 2), mode="bilinear",
                        padding_mode="zeros", align_corners=False)
    return out.reshape(n, c, POINTS, h, w)


def weighted_average(target: torch.Tensor, feat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """One deformable weighted-average layer (eq. 5–7 with the border
    normalisation of the module docstring)."""
    n, c, h, w = target.shape
    ones = torch.ones(n, 1, h, w, dtype=target.dtype, device=target.device)
    s = sample_points(torch.cat([feat, target, ones], 1), offsets)
    fq, tq, inside = s[:, :FEATURE_DIM], s[:, FEATURE_DIM:FEATURE_DIM + c], s[:, -1:]
    logits = -((feat.unsqueeze(2) - fq) ** 2).sum(1, keepdim=True)     # [N, 1, 9, H, W]
    wts = torch.softmax(logits, dim=2)
    num = (wts * tq).sum(2) + BORDER_EPS * target
    den = (wts * inside).sum(2) + BORDER_EPS
    return num / den


class Fang19Net(nn.Module):
    def __init__(self, width: int = 32, n_layers: int = 4, offset_bound: float = 8.0,
                 lambda_ref: float = 0.01, dilations: Sequence[int] = DILATIONS):
        super().__init__()
        if width < 1 or n_layers < 1 or offset_bound <= 0 or lambda_ref <= 0:
            raise ValueError("width, n_layers, offset_bound and lambda_ref must be positive")
        self.width, self.n_layers = width, n_layers
        self.offset_bound, self.lambda_ref = float(offset_bound), float(lambda_ref)
        self.dilations = tuple(int(d) for d in dilations)
        f = width
        self.c0 = CondConv2d(3, f)
        self.c1 = CondConv2d(f, f)
        self.c2 = CondConv2d(f, f, stride=2)
        self.res = nn.ModuleList()
        for d in self.dilations:
            self.res.append(nn.ModuleList([CondConv2d(f, f, dilation=d),
                                           CondConv2d(f, f, dilation=d, zero=True)]))
        self.c3 = CondConv2d(f, f)
        self.c4 = CondConv2d(f, f)
        self.c5 = CondConv2d(f, FEATURE_DIM + 2 * POINTS * n_layers)
        # Offsets start at zero: a plain 3×3 feature-weighted average.
        with torch.no_grad():
            self.c5.weight[FEATURE_DIM:].zero_()
            self.c5.a_weight[:, FEATURE_DIM:].zero_()

    def config(self) -> Dict:
        return dict(width=self.width, n_layers=self.n_layers, offset_bound=self.offset_bound,
                    lambda_ref=self.lambda_ref, dilations=list(self.dilations))

    def extract(self, guide: torch.Tensor, p: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(F [N, 5, H, W], [O_l [N, 18, H, W]]) for guide [N, 3, H, W] in [0, 1]."""
        h, w = guide.shape[2:]
        x = F.pad(guide, (0, w % 2, 0, h % 2), mode="replicate")
        x = F.relu(self.c0(x, p))
        x = F.relu(self.c1(x, p))
        x = F.relu(self.c2(x, p))
        for a, b in self.res:
            x = F.relu(x + b(F.relu(a(x, p)), p))
        x = F.interpolate(x, scale_factor=2, mode="nearest")[:, :, :h, :w]
        x = F.relu(self.c3(x, p))
        x = F.relu(self.c4(x, p))
        out = self.c5(x, p)
        feat = out[:, :FEATURE_DIM]
        bnd = self.offset_bound
        offs = [bnd * torch.tanh(out[:, FEATURE_DIM + 2 * POINTS * l:
                                     FEATURE_DIM + 2 * POINTS * (l + 1)] / bnd)
                for l in range(self.n_layers)]
        return feat, offs

    def forward(self, guide: torch.Tensor, lam, target: torch.Tensor = None) -> torch.Tensor:
        """The filtered target (the guide itself when target is None)."""
        p = lambda_params(lam, self.lambda_ref, guide.shape[0], guide.device, guide.dtype)
        feat, offs = self.extract(guide, p)
        z = guide if target is None else target
        for o in offs:
            z = weighted_average(z, feat, o)
        return z


# --------------------------------------------------------------------------
# geometry and cost


def extractor_radius(dilations: Sequence[int] = DILATIONS) -> int:
    """Full-resolution pixels on each side that influence one pixel of F and O:
    c0, c1 (1 each), c2 (stride 2: one half-size pixel = 2 px, and its even
    alignment one more), the blocks (2 convolutions of dilation d: 2d
    half-size pixels each = 4d), the nearest upsampling (1), c3, c4, c5."""
    return 1 + 1 + 3 + 4 * sum(dilations) + 1 + 3


def halo_radius(n_layers: int, offset_bound: float, dilations: Sequence[int] = DILATIONS) -> int:
    """Pixels on each side that influence one output pixel: each layer reads
    up to 1 + B pixels away, bilinear adds one, and reads F there."""
    reach = n_layers * (int(math.ceil(offset_bound)) + 2)
    return reach + extractor_radius(dilations)


def macs_per_pixel(model: Fang19Net) -> float:
    """Multiply-adds per output pixel (extractor convolutions; the layers'
    sampling is 9 points × (5 + C + 1) bilinear reads, counted apart)."""
    f = model.width
    full = 3 * f * 9 + f * f * 9 + 2 * f * f * 9 + f * (FEATURE_DIM + 18 * model.n_layers) * 9
    half = (f * f * 9 + 2 * len(model.dilations) * f * f * 9) / 4.0
    return full + half


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
