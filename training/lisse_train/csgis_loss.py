# SPDX-License-Identifier: GPL-3.0-or-later
"""CSGIS-Net's training losses (Wang et al. 2022, eq. 5–11), as far as they
can be had here.

    L = λe·Ledge(E, Egt) + Lre(S0) + Lre(S1) + LDTV(S0) + LDTV(S1) + λc·Lc

* Lre (eq. 6): L1(S, Sgt) + Σ_i (1 − SSIM(P_{2^i} S, P_{2^i} Sgt)) over the
  scales i = 0, 1, 2, P_n an n×n max pooling (the paper writes "+ SSIM"; a
  loss to minimise must use 1 − SSIM).  SSIM with the 11×11 Gaussian
  window (σ 1.5) of ../shared/eval/metrics.py, on [0,1] values.
* LDTV (eq. 7): L1 between S and Sgt on the edge pixels E+, and a TV term
  on the non-edge pixels E−.  The TV term is taken on the difference of
  gradients, |∇S − ∇Sgt|, rather than on |∇S| alone: ground truths with
  gradients (sky, shading, the gradient backgrounds of the pairs) are then
  not pulled to flat.
* Ledge (eq. 5): class-balanced binary cross entropy, α = |E−| / |E|,
  averaged over pixels (the paper sums, with λe = 0.001 on 128² patches;
  a mean with λe = 0.05 gives the term a similar share of the total).
* Lc (§3.3, eq. 8–9): the anchor S1 pulled towards the positive Sgt and
  pushed from the negatives I (the textured input) and I_over (an
  over-smoothed input), as the ratio D(S1, Sgt) / (D(S1, I) + D(S1, I_over)),
  D the L1 distance between channel Gram matrices of feature maps.  The
  paper's feature space is an ImageNet VGG16, which this project does not
  have (../shared/notes/data.md).  Gram matrices of random, untrained
  multi-scale convolution features describe texture well (Ustyuzhaninov,
  Brendel, Gatys, Bethge, "What does it take to generate natural textures?",
  ICLR 2017), so FixedFeatures is a seeded random three-stage network: the
  same features in every run, nothing trained, nothing downloaded.
  I_over is a Gaussian blur (σ 4) of the input: texture gone with the
  structure's edges, the over-smoothing the negative stands for.
* Lseg (eq. 10) needs PASCAL VOC segmentation labels and a DeepLabv3+; there
  is neither, so it is left out (λseg = 0).

Edge ground truth Egt: pixels where the structure image's largest
per-channel forward difference exceeds `edge_threshold` (its flat regions
and gentle gradients stay below).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass
class LossWeights:
    edge: float = 0.05          # λe (mean-normalised BCE; see above)
    contrast: float = 0.1       # λc
    ssim_scales: int = 3
    edge_threshold: float = 0.06
    over_sigma: float = 4.0


def _gauss1d(sigma: float, radius: int, device, dtype) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def gaussian_blur(x: torch.Tensor, sigma: float, radius: int = None) -> torch.Tensor:
    """Separable Gaussian, reflect padding, per channel."""
    r = radius if radius is not None else max(1, int(math.ceil(3 * sigma)))
    c = x.shape[1]
    g = _gauss1d(sigma, r, x.device, x.dtype)
    x = F.pad(x, (r, r, 0, 0), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode="reflect")
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) of [0,1] images, 11×11 Gaussian σ 1.5,
    valid region only (no padding)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ch = x.shape[1]
    g = _gauss1d(1.5, 5, x.device, x.dtype)
    w2 = (g[:, None] * g[None, :]).view(1, 1, 11, 11).expand(ch, 1, 11, 11)

    def f(a):
        return F.conv2d(a, w2, groups=ch)
    ux, uy = f(x), f(y)
    vx = f(x * x) - ux * ux
    vy = f(y * y) - uy * uy
    vxy = f(x * y) - ux * uy
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean()


def loss_re(s: torch.Tensor, gt: torch.Tensor, scales: int) -> torch.Tensor:
    out = (s - gt).abs().mean()
    a, b = s, gt
    for i in range(scales):
        if i:
            a, b = F.max_pool2d(a, 2), F.max_pool2d(b, 2)
        if min(a.shape[-2:]) < 11:
            break
        out = out + (1 - ssim(a, b))
    return out


def _grads(x):
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def edge_map(gt: torch.Tensor, threshold: float) -> torch.Tensor:
    """(B,1,H,W) in {0,1}: a pixel is an edge when a forward difference to its
    right or lower neighbour (or from its left/upper one) exceeds threshold in
    some channel."""
    dx, dy = _grads(gt)
    mx = dx.abs().amax(1, keepdim=True)
    my = dy.abs().amax(1, keepdim=True)
    e = torch.zeros_like(gt[:, :1])
    e[..., :, 1:] = torch.maximum(e[..., :, 1:], mx)
    e[..., :, :-1] = torch.maximum(e[..., :, :-1], mx)
    e[..., 1:, :] = torch.maximum(e[..., 1:, :], my)
    e[..., :-1, :] = torch.maximum(e[..., :-1, :], my)
    return (e > threshold).to(gt.dtype)


def loss_dtv(s: torch.Tensor, gt: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    n_e = edges.sum().clamp_min(1.0)
    l1 = ((s - gt).abs() * edges).sum() / (n_e * s.shape[1])
    sx, sy = _grads(s)
    gx, gy = _grads(gt)
    flat = 1 - edges
    fx = flat[..., :, 1:] * flat[..., :, :-1]
    fy = flat[..., 1:, :] * flat[..., :-1, :]
    tv = ((sx - gx).abs() * fx).sum() / (fx.sum().clamp_min(1.0) * s.shape[1]) \
        + ((sy - gy).abs() * fy).sum() / (fy.sum().clamp_min(1.0) * s.shape[1])
    return l1 + tv


def loss_edge(logit: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    n = edges.numel()
    alpha = (1 - edges).sum() / n      # |E−| / |E|
    w = alpha * edges + (1 - alpha) * (1 - edges)
    return F.binary_cross_entropy_with_logits(logit, edges, weight=w, reduction="mean")


class FixedFeatures(nn.Module):
    """A seeded random three-stage convolution network (never trained): the
    feature space of the contrastive loss (see the module docstring)."""

    def __init__(self, seed: int = 1234):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        specs = [(3, 32, 5), (32, 64, 3), (64, 64, 3)]
        self.weights = nn.ParameterList()
        for cin, cout, k in specs:
            w = torch.randn(cout, cin, k, k, generator=g) * math.sqrt(2.0 / (cin * k * k))
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)   # zero-mean filters: no DC response
            self.weights.append(nn.Parameter(w, requires_grad=False))

    def forward(self, x):
        feats = []
        for i, w in enumerate(self.weights):
            if i:
                x = F.avg_pool2d(x, 2)
            x = F.relu(F.conv2d(x, w.to(x.dtype), padding=w.shape[-1] // 2))
            feats.append(x)
        return feats


def gram(f: torch.Tensor) -> torch.Tensor:
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def loss_contrast(feat: FixedFeatures, s1, gt, inp, over) -> torch.Tensor:
    fa = feat(s1)
    with torch.no_grad():
        fp, fn1, fn2 = feat(gt), feat(inp), feat(over)
    num = den = 0.0
    for a, p, n1, n2 in zip(fa, fp, fn1, fn2):
        ga = gram(a)
        num = num + (ga - gram(p)).abs().mean(dim=(1, 2))
        den = den + (ga - gram(n1)).abs().mean(dim=(1, 2)) + (ga - gram(n2)).abs().mean(dim=(1, 2))
    return (num / (den + 1e-7)).mean()


def total_loss(out: Tuple[torch.Tensor, torch.Tensor, torch.Tensor], gt: torch.Tensor,
               inp: torch.Tensor, feat: FixedFeatures, w: LossWeights) -> Tuple[torch.Tensor, Dict]:
    s1, s0, logit = out
    edges = edge_map(gt, w.edge_threshold)
    terms = {
        "re0": loss_re(s0, gt, w.ssim_scales),
        "re1": loss_re(s1, gt, w.ssim_scales),
        "dtv0": loss_dtv(s0, gt, edges),
        "dtv1": loss_dtv(s1, gt, edges),
        "edge": loss_edge(logit.float(), edges),
    }
    total = terms["re0"] + terms["re1"] + terms["dtv0"] + terms["dtv1"] + w.edge * terms["edge"]
    if w.contrast > 0:
        over = gaussian_blur(inp, w.over_sigma)
        terms["contrast"] = loss_contrast(feat, s1, gt, inp, over)
        total = total + w.contrast * terms["contrast"]
    terms["l1"] = (s1 - gt).abs().mean()
    return total, {k: float(v.detach()) for k, v in terms.items()}
