# SPDX-License-Identifier: GPL-3.0-or-later
"""MGPNet, multi-scale global perception (He, Quan, Xu, Xu: "Image Smoothing
via Multiscale Global Perception", §II and Fig. 2), the twin of
core/nets/mgpnet.c.

Forward, x (B, 3, H, W) in [0, 1]:

    THE SIZE RULE: x is padded at the bottom / right to the next multiple of
    `multiple` (64) by reflection (reflect_index: "reflect" mode, repeated
    for images smaller than the padding), the results cropped back.
    y1 = x, y2 = avgpool2(y1), y3 = avgpool2(y2)    the ×0.5 and ×0.25 copies
    e1 = EB1(y1)
    e2 = EB2(cat(in2(y2), down1(e1)))                in_t: 3×3 conv 3 → F_in
    e3 = EB3(cat(in3(y3), down2(e2)))                down_t: 2×2 conv, stride 2
    m_t = fuse_t(cat(resize_t(e1), resize_t(e2), resize_t(e3)))   t = 1, 2 (MSFB)
    d3 = DB3(e3)
    d2 = DB2(cat(m2, up3(d3)))                       up_t: 2×2 transposed conv, stride 2
    d1 = DB1(cat(m1, up2(d2)))
    X_t = y_t + out_t(d_t)                           out_t: 3×3 conv C_t → 3

X1 is the result; X2 and X3 enter the loss (eq. 3): Σ_t ‖X_t − avgpool(gt)‖₁.

resize_t brings a feature map to level t's size: 2×2 / 4×4 average pooling
down, bilinear interpolation (half-pixel centres, edges clamped) up.
fuse_t = 1×1 conv (C1 + C2 + C3 → C_t), then 3×3 conv (C_t → C_t) (Fig. 2d).

Every EB and DB is a Stage (§II-A): h = proj(in) (1×1 conv → C_t), then two
[GPB, RCAB] pairs, and a skip over them: out = h + pairs(h).

GPB, the global processing block (Fig. 2b; MAXIM's residual split-head
multi-axis gMLP), at width C:

    y = GELU(conv1×1(LN(x)))                   C → 2C
    a, b = y[:C], y[C:]
    a = gMLP_grid(a), b = gMLP_block(b)        the global and the local branch
    out = x + conv1×1(cat(a, b))               2C → C

gMLP (Fig. 2c) at width C, on one axis: u = GELU(conv1×1(LN(v))) (C → 2C);
p, q = u[:C], u[C:]; q = LN(q); q = spatial(q); u = p · (q + 1);
out = v + conv1×1(u) (C → C).  `spatial` is one dense layer (n × n weights
and n biases) over the positions of a group:
  block (local):  the b × b pixels of one window (b = `blocks[t]`), n = b²;
  grid (global):  the d × d pixels (gy·H/d + oy, gx·W/d + ox) that share the
                  offset (oy, ox) within the d × d grid's cells, n = d²
                  (d = `grid`): each group spans the whole image, whatever
                  its size.
Position index within a group: row-major (iy·b + ix, gy·d + gx).

RCAB (MAXIM's): out = x + CA(conv3×3(LReLU₀.₂(conv3×3(LN(x))))); CA(r) =
r · σ(fc2(ReLU(fc1(mean_hw r)))), fc 1×1 convs C → C/4 → C.  The mean over
the image is global too.

LN is the per-pixel LayerNorm over channels (core/ops/norm.c,
lisse_layer_norm_channels), eps 1e-6; GELU the exact (erf) one.  No
BatchNorm.  Because of the grid branch and the attention means the result
depends on the whole (padded) image: the network does not tile.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-6
PAPER_SIZES = dict(widths=(32, 64, 128), blocks=(8, 8, 16), grid=16)


# --------------------------------------------------------------------------
# The size rule


def reflect_index(i: torch.Tensor, n: int) -> torch.Tensor:
    """The source index of position i (0 ≤ i) in a reflect-padded axis of n
    samples: 0 1 … n−1 n−2 … 1 0 1 …, period 2(n − 1); n = 1 gives 0."""
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i < n, i, period - i)


def pad_reflect_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return x
    iy = reflect_index(torch.arange(h + ph), h)
    ix = reflect_index(torch.arange(w + pw), w)
    return x.index_select(-2, iy).index_select(-1, ix)


# --------------------------------------------------------------------------
# Layers


class LayerNormC(nn.Module):
    """LayerNorm over channels at each pixel (B, C, H, W)."""

    def __init__(self, c: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + LN_EPS) * self.weight[:, None, None] \
            + self.bias[:, None, None]


def to_groups(x: torch.Tensor, kind: str, size: int) -> torch.Tensor:
    """(B, C, H, W) → (B, C, groups, n): the last axis runs over the n = size²
    positions of one group (module docstring)."""
    b, c, h, w = x.shape
    s = size
    if kind == "block":      # windows of s × s: y = wy·s + iy
        t = x.reshape(b, c, h // s, s, w // s, s)            # b c wy iy wx ix
        return t.permute(0, 1, 2, 4, 3, 5).reshape(b, c, (h // s) * (w // s), s * s)
    if kind == "grid":       # an s × s grid of cells: y = gy·(h/s) + oy
        t = x.reshape(b, c, s, h // s, s, w // s)            # b c gy oy gx ox
        return t.permute(0, 1, 3, 5, 2, 4).reshape(b, c, (h // s) * (w // s), s * s)
    raise ValueError(kind)


def from_groups(t: torch.Tensor, kind: str, size: int, h: int, w: int) -> torch.Tensor:
    b, c = t.shape[:2]
    s = size
    if kind == "block":
        t = t.reshape(b, c, h // s, w // s, s, s).permute(0, 1, 2, 4, 3, 5)
    else:
        t = t.reshape(b, c, h // s, w // s, s, s).permute(0, 1, 4, 2, 5, 3)
    return t.reshape(b, c, h, w)


class Gmlp(nn.Module):
    """One axis's gMLP (module docstring): width C, spatial dense over n =
    size² positions of a block or grid group."""

    def __init__(self, c: int, kind: str, size: int):
        super().__init__()
        self.kind, self.size = kind, size
        self.norm = LayerNormC(c)
        self.fc_in = nn.Conv2d(c, 2 * c, 1)
        self.gate_norm = LayerNormC(c)
        self.spatial = nn.Linear(size * size, size * size)
        self.fc_out = nn.Conv2d(c, c, 1)
        # The gate starts as the identity (u = p · 1): spatial weights small,
        # bias zero (gMLP's initialisation).
        nn.init.normal_(self.spatial.weight, std=1e-3)
        nn.init.zeros_(self.spatial.bias)

    def forward(self, v):
        h, w = v.shape[-2:]
        c = v.shape[1]
        u = F.gelu(self.fc_in(self.norm(v)))
        p, q = u[:, :c], u[:, c:]
        q = self.gate_norm(q)
        q = from_groups(self.spatial(to_groups(q, self.kind, self.size)), self.kind,
                        self.size, h, w)
        return v + self.fc_out(p * (q + 1.0))


class GPB(nn.Module):
    def __init__(self, c: int, block: int, grid: int):
        super().__init__()
        self.norm = LayerNormC(c)
        self.fc_in = nn.Conv2d(c, 2 * c, 1)
        self.grid_branch = Gmlp(c, "grid", grid)
        self.block_branch = Gmlp(c, "block", block)
        self.fc_out = nn.Conv2d(2 * c, c, 1)

    def forward(self, x):
        c = x.shape[1]
        y = F.gelu(self.fc_in(self.norm(x)))
        a = self.grid_branch(y[:, :c])
        b = self.block_branch(y[:, c:])
        return x + self.fc_out(torch.cat([a, b], 1))


class RCAB(nn.Module):
    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.norm = LayerNormC(c)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.fc1 = nn.Conv2d(c, max(1, c // reduction), 1)
        self.fc2 = nn.Conv2d(max(1, c // reduction), c, 1)

    def forward(self, x):
        r = self.conv2(F.leaky_relu(self.conv1(self.norm(x)), 0.2))
        a = torch.sigmoid(self.fc2(F.relu(self.fc1(r.mean((2, 3), keepdim=True)))))
        return x + r * a


class Stage(nn.Module):
    """An encoder or decoder block: 1×1 projection, [GPB, RCAB] × n_pairs, skip."""

    def __init__(self, cin: int, c: int, block: int, grid: int, n_pairs: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, c, 1)
        layers: List[nn.Module] = []
        for _ in range(n_pairs):
            layers += [GPB(c, block, grid), RCAB(c)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        h = self.proj(x)
        return h + self.layers(h)


def resize_to(x: torch.Tensor, level_from: int, level_to: int) -> torch.Tensor:
    if level_to > level_from:
        f = 2 ** (level_to - level_from)
        return F.avg_pool2d(x, f)
    if level_to < level_from:
        f = 2 ** (level_from - level_to)
        return F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)
    return x


class MGPNet(nn.Module):
    def __init__(self, widths: Sequence[int] = (16, 32, 64), in_feat: int = 16,
                 blocks: Sequence[int] = (8, 8, 16), grid: int = 16, n_pairs: int = 2,
                 multiple: int = 64):
        super().__init__()
        c1, c2, c3 = (int(c) for c in widths)
        self.widths, self.in_feat = (c1, c2, c3), int(in_feat)
        self.blocks, self.grid = tuple(int(b) for b in blocks), int(grid)
        self.n_pairs, self.multiple = int(n_pairs), int(multiple)
        for t, b in enumerate(self.blocks):
            if self.multiple % (2 ** t * b) or self.multiple % (2 ** t * self.grid):
                raise ValueError(f"multiple {multiple} must be divisible by 2^t × block "
                                 f"and 2^t × grid at level {t + 1}")
        sz = dict(grid=self.grid, n_pairs=self.n_pairs)
        self.eb1 = Stage(3, c1, self.blocks[0], **sz)
        self.in2 = nn.Conv2d(3, in_feat, 3, padding=1)
        self.down1 = nn.Conv2d(c1, c1, 2, stride=2)
        self.eb2 = Stage(in_feat + c1, c2, self.blocks[1], **sz)
        self.in3 = nn.Conv2d(3, in_feat, 3, padding=1)
        self.down2 = nn.Conv2d(c2, c2, 2, stride=2)
        self.eb3 = Stage(in_feat + c2, c3, self.blocks[2], **sz)
        self.fuse1_a = nn.Conv2d(c1 + c2 + c3, c1, 1)
        self.fuse1_b = nn.Conv2d(c1, c1, 3, padding=1)
        self.fuse2_a = nn.Conv2d(c1 + c2 + c3, c2, 1)
        self.fuse2_b = nn.Conv2d(c2, c2, 3, padding=1)
        self.db3 = Stage(c3, c3, self.blocks[2], **sz)
        self.up3 = nn.ConvTranspose2d(c3, c2, 2, stride=2)
        self.db2 = Stage(2 * c2, c2, self.blocks[1], **sz)
        self.up2 = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.db1 = Stage(2 * c1, c1, self.blocks[0], **sz)
        self.out1 = nn.Conv2d(c1, 3, 3, padding=1)
        self.out2 = nn.Conv2d(c2, 3, 3, padding=1)
        self.out3 = nn.Conv2d(c3, 3, 3, padding=1)

    def config(self) -> Dict:
        return dict(widths=list(self.widths), in_feat=self.in_feat, blocks=list(self.blocks),
                    grid=self.grid, n_pairs=self.n_pairs, multiple=self.multiple)

    def forward_all(self, img: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three outputs X1, X2, X3 at the padded size (their inputs' sizes)."""
        y1 = img
        y2 = F.avg_pool2d(y1, 2)
        y3 = F.avg_pool2d(y2, 2)
        e1 = self.eb1(y1)
        e2 = self.eb2(torch.cat([self.in2(y2), self.down1(e1)], 1))
        e3 = self.eb3(torch.cat([self.in3(y3), self.down2(e2)], 1))
        es = (e1, e2, e3)
        m1 = self.fuse1_b(self.fuse1_a(torch.cat([resize_to(e, t, 0) for t, e in enumerate(es)], 1)))
        m2 = self.fuse2_b(self.fuse2_a(torch.cat([resize_to(e, t, 1) for t, e in enumerate(es)], 1)))
        d3 = self.db3(e3)
        d2 = self.db2(torch.cat([m2, self.up3(d3)], 1))
        d1 = self.db1(torch.cat([m1, self.up2(d2)], 1))
        return y1 + self.out1(d1), y2 + self.out2(d2), y3 + self.out3(d3)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        return self.forward_all(pad_reflect_to(img, self.multiple))[0][..., :h, :w]


def multiscale_l1(outputs, gt: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """Eq. 3 with every λ_t = 1: Σ_t mean |X_t − avgpool_{2^(t−1)}(gt)|."""
    terms = []
    g = gt
    for t, x in enumerate(outputs):
        if t:
            g = F.avg_pool2d(g, 2)
        terms.append((x - g).abs().mean())
    return sum(terms), terms


def export_state(model: MGPNet) -> Dict[str, torch.Tensor]:
    """The model file's tensors: the state dict as it is (every name and
    shape is mgpnet_model.tensor_shapes's)."""
    return {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}


def tensor_shapes(widths: Sequence[int], in_feat: int, blocks: Sequence[int], grid: int,
                  n_pairs: int) -> Dict[str, Tuple[int, ...]]:
    """Every tensor of the model file and its shape, from the configuration
    alone (what core/nets/mgpnet.c checks)."""
    c1, c2, c3 = widths
    out: Dict[str, Tuple[int, ...]] = {}

    def conv(name, cout, cin, k):
        out[f"{name}.weight"] = (cout, cin, k, k)
        out[f"{name}.bias"] = (cout,)

    def ln(name, c):
        out[f"{name}.weight"] = (c,)
        out[f"{name}.bias"] = (c,)

    def gmlp(p, c, size):
        ln(f"{p}.norm", c)
        conv(f"{p}.fc_in", 2 * c, c, 1)
        ln(f"{p}.gate_norm", c)
        out[f"{p}.spatial.weight"] = (size * size, size * size)
        out[f"{p}.spatial.bias"] = (size * size,)
        conv(f"{p}.fc_out", c, c, 1)

    def stage(p, cin, c, block):
        conv(f"{p}.proj", c, cin, 1)
        for i in range(n_pairs):
            g = f"{p}.layers.{2 * i}"
            ln(f"{g}.norm", c)
            conv(f"{g}.fc_in", 2 * c, c, 1)
            gmlp(f"{g}.grid_branch", c, grid)
            gmlp(f"{g}.block_branch", c, block)
            conv(f"{g}.fc_out", c, 2 * c, 1)
            r = f"{p}.layers.{2 * i + 1}"
            ln(f"{r}.norm", c)
            conv(f"{r}.conv1", c, c, 3)
            conv(f"{r}.conv2", c, c, 3)
            conv(f"{r}.fc1", max(1, c // 4), c, 1)
            conv(f"{r}.fc2", c, max(1, c // 4), 1)

    stage("eb1", 3, c1, blocks[0])
    conv("in2", in_feat, 3, 3)
    conv("down1", c1, c1, 2)
    stage("eb2", in_feat + c1, c2, blocks[1])
    conv("in3", in_feat, 3, 3)
    conv("down2", c2, c2, 2)
    stage("eb3", in_feat + c2, c3, blocks[2])
    conv("fuse1_a", c1, c1 + c2 + c3, 1)
    conv("fuse1_b", c1, c1, 3)
    conv("fuse2_a", c2, c1 + c2 + c3, 1)
    conv("fuse2_b", c2, c2, 3)
    stage("db3", c3, c3, blocks[2])
    out["up3.weight"] = (c3, c2, 2, 2)    # ConvTranspose2d: [Cin, Cout, k, k]
    out["up3.bias"] = (c2,)
    stage("db2", 2 * c2, c2, blocks[1])
    out["up2.weight"] = (c2, c1, 2, 2)
    out["up2.bias"] = (c1,)
    stage("db1", 2 * c1, c1, blocks[0])
    conv("out1", 3, c1, 3)
    conv("out2", 3, c2, 3)
    conv("out3", 3, c3, 3)
    return out


def macs_per_pixel(model: MGPNet, size: int = 256) -> float:
    """Multiply-adds per input pixel of convolutions, dense layers and the
    spatial projections, counted with forward hooks on a size² image."""
    total = [0]

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, nn.ConvTranspose2d):
            total[0] += inp[0].numel() // inp[0].shape[1] * m.in_channels * m.out_channels * k
        else:
            total[0] += out.numel() // out.shape[1] * m.out_channels * m.in_channels * k

    def lin_hook(m, inp, out):
        total[0] += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return total[0] / (size * size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
