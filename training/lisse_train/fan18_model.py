# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch twin of the Fan et al. 2018 smoothing network, conditioned on (λf, λe).

Layers (§3.3 and the authors' code, seeds/README.md), width C = 64:

    conv0     3×3, (3 [+2]) → C, BN, ReLU          full resolution
    conv1     3×3, C → C, BN, ReLU
    down      3×3 stride 2, C → C, BN, ReLU         half resolution from here
    res0..9   [3×3 dil d conv_a, BN, ReLU, 3×3 dil d conv_b, BN] + identity, ReLU
              d = 2, 2, 4, 4, 8, 8, 16, 16, 1, 1
    up        4×4 transposed, stride 2, padding 1, C → C, BN, ReLU
    conv_out1 3×3, C → C, BN, ReLU                  full resolution
    conv_out2 1×1, C → 3
    output    = input + residual (not clamped)

Every convolution pads with zeros ("same" size: padding = dilation for the
3×3 ones), so a pixel near a tile border sees zeros exactly as a pixel near
the image border does.  The stride-2 ``down`` maps H → ceil(H/2), and ``up``
maps h → 2h; for even H, W the output is H × W.

THE SIZE RULE (the C engine must do exactly this): if H or W is odd, one row
at the bottom and/or one column at the right is added by copying the last
row/column (edge replicate), for the image and for the λ maps alike; the
network runs on the even-sized image and the result is cropped back to
H × W.  Replicate rather than reflect because it is defined for a 1-pixel
dimension too, so there is one rule with no exception.  Tiling: pad the
whole image once by this rule, then cut tiles of even size starting at even
coordinates of the padded image (every tile sees the stride-2 phase of the
whole image, and the rule never fires inside it), keeping a margin of at
least receptive_field_radius() = 254 pixels around the part of each tile
that is kept (less where the tile meets the image border); then, with
BatchNorm in eval mode (running statistics) or folded away
(fold_batchnorm), tiled output equals whole-image output.

Conditioning on λ (``conditioning``):
  * ``none``  — no λ input (baseline);
  * ``input`` — two extra input channels, the λ features below, per pixel;
  * ``film``  — per-pixel FiLM: a 1×1-conv MLP (2 → film_hidden → 2·C per
    residual block) of the half-resolution λ features gives γ, β, and each
    residual branch becomes BN(conv_b(·))·(1 + γ) + β.  A per-block MLP of
    (ln λf, ln λe) would do for constant λ; with a per-pixel λf map
    (content-aware editing) it has to be 1×1 convolutions on the map, which
    for a constant map reduce to that MLP.  The last MLP layer starts at 0
    (γ = β = 0: the unconditioned network).
  * ``wp``    — weight prediction as Fang et al. 2019, eq. 4, W = B + Σ_k A_k·φ_k,
    on both convolutions of every residual block.  Because W is affine in φ,
    conv(x, W) = conv(x, B) + Σ_k φ_k·conv(x, A_k), which also defines the
    per-pixel version (φ taken at the output pixel).  A_k start at 0.
  Default: ``input`` — on a short measured run it reached the lowest or an
  equal energy at held-out λ for +0.4 % cost, takes per-pixel maps as they
  are and needs no new op in C (docs/fan18-conditioning.md).

BatchNorm: train as usual, then recalibrate_batchnorm() (running statistics
with the final weights), then fold_batchnorm() for export and tiling.

λ features, per pixel: φ1 = ln max(λf, 1e-3), φ2 = ln(max(λe, 1e-3) / 0.1);
zero at the §4 defaults (λf = 1, λe = 0.1).  At half resolution (FiLM, wp)
they are the mean of each 2×2 block of the padded full-resolution features.

Names are plain for export: conv0/bn0, conv1/bn1, down/bn_down,
res{i}.conv_a/bn_a/conv_b/bn_b (+ conv_a_lam/conv_b_lam for wp), film_a,
film_b, up/bn_up, conv_out1/bn_out1, conv_out2.  After fold_batchnorm the bn*
entries are gone and every convolution has a bias.
"""

from __future__ import annotations

import copy
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

DILATIONS = (2, 2, 4, 4, 8, 8, 16, 16, 1, 1)
CONDITIONING = ("none", "input", "film", "wp")
LAMBDA_MIN = 1e-3
LAMBDA_E_REF = 0.1
N_LAMBDA = 2


def lambda_features(lambda_f, lambda_e, like: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) features of λf, λe; each λ a float, a (B,) tensor or a
    (B|1, 1, H, W) map, shaped like `like` (B, ·, H, W)."""
    b, _, h, w = like.shape

    def one(v, ref):
        t = torch.as_tensor(v, dtype=like.dtype, device=like.device)
        if t.dim() == 1:
            t = t.view(-1, 1, 1, 1)
        t = t.expand(b, 1, h, w) if t.dim() == 4 else t.view(1, 1, 1, 1).expand(b, 1, h, w)
        return torch.log(t.clamp_min(LAMBDA_MIN) / ref)

    return torch.cat([one(lambda_f, 1.0), one(lambda_e, LAMBDA_E_REF)], 1)


def pad_to_even(x: torch.Tensor) -> torch.Tensor:
    """THE SIZE RULE: replicate the last row / column once where H / W is odd."""
    h, w = x.shape[-2:]
    if h % 2 == 0 and w % 2 == 0:
        return x
    return F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")


def _norm(width: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(width) if batchnorm else nn.Identity()


def _mix(y: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Σ_k φ_k · y_k for y = (B, K·C, H, W) stacked k-major, φ = (B, K, H, W)."""
    b, kc, h, w = y.shape
    k = phi.shape[1]
    return (y.view(b, k, kc // k, h, w) * phi.unsqueeze(2)).sum(1)


class ResBlock(nn.Module):
    def __init__(self, width: int, dilation: int, batchnorm: bool, wp: bool):
        super().__init__()
        d = dilation
        self.dilation = d
        self.conv_a = nn.Conv2d(width, width, 3, padding=d, dilation=d, bias=not batchnorm)
        self.bn_a = _norm(width, batchnorm)
        self.conv_b = nn.Conv2d(width, width, 3, padding=d, dilation=d, bias=not batchnorm)
        self.bn_b = _norm(width, batchnorm)
        self.wp = wp
        if wp:
            k = N_LAMBDA * width
            self.conv_a_lam = nn.Conv2d(width, k, 3, padding=d, dilation=d, bias=False)
            self.conv_b_lam = nn.Conv2d(width, k, 3, padding=d, dilation=d, bias=False)

    def forward(self, x, phi=None, film=None):
        h = self.conv_a(x)
        if self.wp:
            h = h + _mix(self.conv_a_lam(x), phi)
        h = F.relu(self.bn_a(h))
        g = self.conv_b(h)
        if self.wp:
            g = g + _mix(self.conv_b_lam(h), phi)
        g = self.bn_b(g)
        if film is not None:
            gamma, beta = film
            g = g * (1.0 + gamma) + beta
        return F.relu(x + g)


class Fan18Net(nn.Module):
    def __init__(self, width: int = 64, conditioning: str = "input", batchnorm: bool = True,
                 film_hidden: int = 32, dilations: Sequence[int] = DILATIONS):
        super().__init__()
        if conditioning not in CONDITIONING:
            raise ValueError(f"conditioning must be one of {CONDITIONING}")
        self.width = width
        self.conditioning = conditioning
        self.batchnorm = batchnorm
        self.film_hidden = film_hidden
        self.dilations = tuple(dilations)
        bias = not batchnorm
        cin = 3 + (N_LAMBDA if conditioning == "input" else 0)
        self.conv0 = nn.Conv2d(cin, width, 3, padding=1, bias=bias)
        self.bn0 = _norm(width, batchnorm)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=bias)
        self.bn1 = _norm(width, batchnorm)
        self.down = nn.Conv2d(width, width, 3, stride=2, padding=1, bias=bias)
        self.bn_down = _norm(width, batchnorm)
        for i, d in enumerate(self.dilations):
            setattr(self, f"res{i}", ResBlock(width, d, batchnorm, conditioning == "wp"))
        if conditioning == "film":
            self.film_a = nn.Conv2d(N_LAMBDA, film_hidden, 1)
            self.film_b = nn.Conv2d(film_hidden, 2 * width * len(self.dilations), 1)
        self.up = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1, bias=bias)
        self.bn_up = _norm(width, batchnorm)
        self.conv_out1 = nn.Conv2d(width, width, 3, padding=1, bias=bias)
        self.bn_out1 = _norm(width, batchnorm)
        self.conv_out2 = nn.Conv2d(width, 3, 1)
        self.reset_parameters()

    def reset_parameters(self):
        # He initialisation (§4); the conditioning paths (λ input channels of
        # conv0, FiLM's last layer, wp's A_k) and the last layer start at
        # zero: the untrained network is the identity, training begins at
        # E = λf·Ef(I), and every conditioning option starts as the same
        # function, so a trunk trained without λ can be loaded into any of them.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        zero = [self.conv_out2]
        if self.conditioning == "film":
            zero.append(self.film_b)
        if self.conditioning == "wp":
            for blk in self.blocks():
                zero += [blk.conv_a_lam, blk.conv_b_lam]
        for m in zero:
            nn.init.zeros_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if self.conditioning == "input":
            with torch.no_grad():
                self.conv0.weight[:, 3:].zero_()

    def blocks(self):
        return [getattr(self, f"res{i}") for i in range(len(self.dilations))]

    def config(self) -> Dict:
        return dict(width=self.width, conditioning=self.conditioning, batchnorm=self.batchnorm,
                    film_hidden=self.film_hidden, dilations=self.dilations)

    def forward(self, x: torch.Tensor, lambda_f=1.0, lambda_e=LAMBDA_E_REF) -> torch.Tensor:
        h, w = x.shape[-2:]
        xp = pad_to_even(x)
        phi = None
        if self.conditioning != "none":
            phi = pad_to_even(lambda_features(lambda_f, lambda_e, x))
        inp = torch.cat([xp, phi], 1) if self.conditioning == "input" else xp
        f = F.relu(self.bn0(self.conv0(inp)))
        f = F.relu(self.bn1(self.conv1(f)))
        f = F.relu(self.bn_down(self.down(f)))
        phi_half = F.avg_pool2d(phi, 2) if self.conditioning in ("film", "wp") else None
        films = [None] * len(self.dilations)
        if self.conditioning == "film":
            # With λ constant over each image the MLP runs once per image
            # (1×1) and broadcasts: the same numbers, without 1×1
            # convolutions over the whole map.
            per_pixel = any(torch.as_tensor(v).dim() == 4 for v in (lambda_f, lambda_e))
            src = phi_half if per_pixel else phi_half[..., :1, :1]
            fb = self.film_b(F.relu(self.film_a(src)))
            c = self.width
            films = [(fb[:, 2 * i * c:(2 * i + 1) * c], fb[:, (2 * i + 1) * c:(2 * i + 2) * c])
                     for i in range(len(self.dilations))]
        for blk, film in zip(self.blocks(), films):
            f = blk(f, phi_half if self.conditioning == "wp" else None, film)
        f = F.relu(self.bn_up(self.up(f)))
        f = F.relu(self.bn_out1(self.conv_out1(f)))
        return (xp + self.conv_out2(f))[..., :h, :w]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_pixel(model: Fan18Net) -> float:
    """Multiply-adds per full-resolution pixel (convolutions only)."""
    c = model.width
    k = N_LAMBDA
    cin = 3 + (k if model.conditioning == "input" else 0)
    # down: computed at half resolution (1/4 of the pixels); up: each output
    # pixel gathers 2×2 taps of the 4×4 kernel from C channels.
    full = 9 * cin * c + 9 * c * c + 9 * c * c / 4 + 4 * c * c + 9 * c * c + 3 * c
    per_block = 2 * 9 * c * c * (1 + (k if model.conditioning == "wp" else 0))
    half = len(model.dilations) * per_block
    if model.conditioning == "film":
        half += k * model.film_hidden + model.film_hidden * 2 * c * len(model.dilations)
    return full + half / 4


# --------------------------------------------------------------------------
# BatchNorm: running statistics, folding


@torch.no_grad()
def recalibrate_batchnorm(model: Fan18Net, batches) -> Fan18Net:
    """Re-estimate every BN's running mean/variance as the plain average over
    `batches` (an iterable of (x, lambda_f, lambda_e)) with the weights as
    they are now.  The exponential average kept during training lags behind
    weights that are still moving, and eval mode (the only tile-safe mode)
    then sees statistics of an older network; call this before evaluating
    or exporting."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = model.training
    model.train()
    for x, lf, le in batches:
        model(x, lf, le)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)
    return model




def _fold(conv_w, conv_b, bn: nn.BatchNorm2d, out_dim: int):
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shape = [1] * conv_w.dim()
    shape[out_dim] = -1
    w = conv_w * s.view(shape)
    b = (conv_b if conv_b is not None else torch.zeros_like(bn.running_mean))
    b = (b - bn.running_mean) * s + bn.bias
    return w, b, s


@torch.no_grad()
def fold_batchnorm(model: Fan18Net) -> Fan18Net:
    """An equivalent network without BatchNorm: each BN's running statistics
    and affine factors folded into the preceding convolution's weights and
    bias.  The result equals model.eval() (up to rounding) and has no
    batch-dependent state, so it can be tiled."""
    if not model.batchnorm:
        return copy.deepcopy(model).eval()
    out = Fan18Net(**{**model.config(), "batchnorm": False}).to(
        dtype=next(model.parameters()).dtype, device=next(model.parameters()).device)
    src = dict(model.named_modules())
    dst = dict(out.named_modules())
    pairs = [("conv0", "bn0"), ("conv1", "bn1"), ("down", "bn_down"), ("up", "bn_up"),
             ("conv_out1", "bn_out1")]
    for i in range(len(model.dilations)):
        pairs += [(f"res{i}.conv_a", f"res{i}.bn_a"), (f"res{i}.conv_b", f"res{i}.bn_b")]
    done = set()
    for cname, bname in pairs:
        conv, bn = src[cname], src[bname]
        out_dim = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
        w, b, s = _fold(conv.weight, conv.bias, bn, out_dim)
        dst[cname].weight.copy_(w)
        dst[cname].bias.copy_(b)
        done.add(cname)
        lam = cname + "_lam"
        if lam in src:  # wp: BN(conv(x,B) + Σφ_k conv(x,A_k)) — A_k scale like B
            wl = src[lam].weight
            k = wl.shape[0] // s.shape[0]
            dst[lam].weight.copy_((wl.view(k, -1, *wl.shape[1:]) * s.view(1, -1, 1, 1, 1))
                                  .view_as(wl))
            done.add(lam)
    for name, m in src.items():  # everything without a BN: copied as is
        if name and name not in done and isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            dst[name].load_state_dict(m.state_dict())
    return out.eval()


# --------------------------------------------------------------------------
# receptive field


def layer_geometry(dilations: Sequence[int] = DILATIONS):
    """The main path as (kind, kernel, stride, dilation, padding), input to output."""
    layers = [("conv", 3, 1, 1, 1), ("conv", 3, 1, 1, 1), ("conv", 3, 2, 1, 1)]
    for d in dilations:
        layers += [("conv", 3, 1, d, d), ("conv", 3, 1, d, d)]
    layers += [("deconv", 4, 2, 1, 1), ("conv", 3, 1, 1, 1), ("conv", 1, 1, 1, 0)]
    return layers


def receptive_field_extent(dilations: Sequence[int] = DILATIONS) -> Dict[int, Tuple[int, int]]:
    """Exact input interval [o − left, o + right] that output pixel o depends
    on, for even and odd o (the stride-2 phase matters): {parity: (left, right)}.

    Walks the layers from the output back: a conv output q reads inputs
    s·q − p + d·t (t = 0 … k−1); a transposed-conv output q reads the inputs
    i with q = s·i − p + t."""
    res = {}
    for o in (1000, 1001):
        lo, hi = o, o
        for kind, k, s, d, p in reversed(layer_geometry(dilations)):
            if kind == "conv":
                lo, hi = s * lo - p, s * hi - p + d * (k - 1)
            else:
                lo, hi = -((-(lo + p - (k - 1))) // s), (hi + p) // s
        res[o % 2] = (o - lo, hi - o)
    return res


def receptive_field_radius(dilations: Sequence[int] = DILATIONS) -> int:
    """Largest distance (in pixels, per axis) at which an input pixel can
    change an output pixel.  Analytically: conv0, conv1, down add 1 each; each
    half-resolution 3×3 conv with dilation d adds 2d (two full-resolution
    pixels per half-resolution pixel); up adds 2; conv_out1 adds 1:
    1 + 1 + 1 + 2·2·Σd + 2 + 1 = 254 for Σd = 62.  The exact walk
    (receptive_field_extent) reaches this bound on the left of odd pixels."""
    analytic = 1 + 1 + 1 + 2 * 2 * sum(dilations) + 2 + 1
    exact = max(max(v) for v in receptive_field_extent(dilations).values())
    assert exact <= analytic
    return exact
