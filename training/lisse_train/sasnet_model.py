# SPDX-License-Identifier: GPL-3.0-or-later
"""SASNet, the scale-aware invertible smoothing network (Li, Qin, Xu, Ji:
"Deep Scale-Aware Image Smoothing", ICASSP 2022, §2 and Fig. 1), the twin of
core/nets/sasnet.c.

The network f is invertible.  Forward, x (B, 3, H, W) in [0, 1]:

    THE SIZE RULE: where H or W is odd, one row / column is added at the
    bottom / right by repeating the last one (fan18_model.pad_to_even); the
    result is cropped back at the end.
    [a1, a2] = HT(x)                  Haar transform with IRN's scaling:
                                      a1 (3 ch) the 2×2 means, a2 (9 ch) the
                                      three detail bands, at half resolution
    for l = 1 … L:                    coupling blocks (§2.2)
        a1 = a1 + g1_l(a2)
        a2 = a2 · exp(s(g2_l(a1))) + g3_l(a1)
    y_cor = a1, z = a2                y_cor: the coarse structure (supervised
                                      against the ground truth's 2×2 means)

and the smoothed image is the inverse with the detail latent z replaced by n
(eq. 2):

    a1, a2 = y_cor, n
    for l = L … 1:
        a2 = (a2 − g3_l(a1)) · exp(−s(g2_l(a1)))
        a1 = a1 − g1_l(a2)
    y = HT⁻¹([a1, a2])

s(u) = clamp · (2σ(u) − 1) bounds the log-scale to (−clamp, clamp), as the
Invertible Rescaling Net's coupling does (the paper's eq. leaves exp(g2)
unbounded, which overflows early in training).  n: Gaussian noise of
standard deviation `noise_std` in training (the paper's), and at inference
a fixed function of the pixel position so that the result is deterministic
and tile-independent: zero (`noise = "zero"`, what the C engine runs).

Each g is "a residual block with spatial and channel attention" (Fig. 1b):

    h = ReLU(conv_in u)               3×3, Cin → F
    r = conv_2(ReLU(conv_1 h))        3×3, F → F, twice
    r = r · σ(mlp(avgpool_k r) + mlp(maxpool_k r))     channel attention
    r = r · σ(conv_7×7([mean_c r, max_c r]))           spatial attention
    g = conv_out(h + r)               3×3, F → Cout (zero at the start)

mlp = 1×1 conv F → hidden, ReLU, 1×1 conv hidden → F.  CBAM's channel
attention pools over the whole image; here it pools over a k × k window
(stride 1, `ca_window`, the image border not counted), so that the network
is local and a tile with a halo of receptive_field_radius() pixels gives the
whole-image result.  No BatchNorm anywhere.  With every conv_out at zero the
couplings are the identity and y is the 2×2 mean of x, repeated.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fan18_model import pad_to_even

PAPER_SIZES = dict(n_blocks=16)   # the paper's L; its width is not given
SA_KERNEL = 7                      # CBAM's spatial attention kernel
G_CONVS = ("conv_in", "conv_1", "conv_2", "conv_out")


# --------------------------------------------------------------------------
# Haar transform (core/ops/haar.c, LISSE_HAAR_IRN: forward × 1/4, inverse × 1)


def haar_forward(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W), H and W even → (B, 4C, H/2, W/2), band-major
    [LL | a − b + c − d | a + b − c − d | a − b − c + d] × 1/4, where a, b,
    c, d are the top-left, top-right, bottom-left, bottom-right pixels of a
    2×2 block."""
    a = x[..., 0::2, 0::2]
    b = x[..., 0::2, 1::2]
    c = x[..., 1::2, 0::2]
    d = x[..., 1::2, 1::2]
    return torch.cat([a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d], 1) * 0.25


def haar_inverse(y: torch.Tensor) -> torch.Tensor:
    """The exact inverse of haar_forward."""
    c = y.shape[1] // 4
    ll, b1, b2, b3 = y[:, :c], y[:, c:2 * c], y[:, 2 * c:3 * c], y[:, 3 * c:]
    out = y.new_empty(y.shape[0], c, 2 * y.shape[2], 2 * y.shape[3])
    out[..., 0::2, 0::2] = ll + b1 + b2 + b3
    out[..., 0::2, 1::2] = ll - b1 + b2 - b3
    out[..., 1::2, 0::2] = ll + b1 - b2 - b3
    out[..., 1::2, 1::2] = ll - b1 - b2 + b3
    return out


# --------------------------------------------------------------------------
# the coupling functions


class LocalChannelAttention(nn.Module):
    """CBAM's channel attention with the pooling over a k × k window."""

    def __init__(self, width: int, hidden: int, window: int):
        super().__init__()
        self.window = window
        self.fc1 = nn.Conv2d(width, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, width, 1)

    def forward(self, x):
        k = self.window
        avg = F.avg_pool2d(x, k, 1, k // 2, count_include_pad=False)
        mx = F.max_pool2d(x, k, 1, k // 2)
        att = self.fc2(F.relu(self.fc1(avg))) + self.fc2(F.relu(self.fc1(mx)))
        return x * torch.sigmoid(att)


class SpatialAttention(nn.Module):
    """CBAM's spatial attention: [channel mean, channel max] → 7×7 conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, SA_KERNEL, padding=SA_KERNEL // 2)

    def forward(self, x):
        m = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.conv(m))


class AttentiveResidual(nn.Module):
    """One coupling function g: Cin → Cout (see the module docstring)."""

    def __init__(self, cin: int, cout: int, width: int, hidden: int, window: int):
        super().__init__()
        self.conv_in = nn.Conv2d(cin, width, 3, padding=1)
        self.conv_1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv_2 = nn.Conv2d(width, width, 3, padding=1)
        self.ca = LocalChannelAttention(width, hidden, window)
        self.sa = SpatialAttention()
        self.conv_out = nn.Conv2d(width, cout, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, u):
        h = F.relu(self.conv_in(u))
        r = self.sa(self.ca(self.conv_2(F.relu(self.conv_1(h)))))
        return self.conv_out(h + r)


class Coupling(nn.Module):
    def __init__(self, width: int, hidden: int, window: int, clamp: float):
        super().__init__()
        self.clamp = clamp
        self.g1 = AttentiveResidual(9, 3, width, hidden, window)
        self.g2 = AttentiveResidual(3, 9, width, hidden, window)
        self.g3 = AttentiveResidual(3, 9, width, hidden, window)

    def log_scale(self, a1):
        return self.clamp * (2.0 * torch.sigmoid(self.g2(a1)) - 1.0)

    def forward(self, a1, a2):
        a1 = a1 + self.g1(a2)
        a2 = a2 * torch.exp(self.log_scale(a1)) + self.g3(a1)
        return a1, a2

    def inverse(self, a1, a2):
        a2 = (a2 - self.g3(a1)) * torch.exp(-self.log_scale(a1))
        a1 = a1 - self.g1(a2)
        return a1, a2


class SASNet(nn.Module):
    def __init__(self, width: int = 32, n_blocks: int = 4, ca_window: int = 9,
                 ca_hidden: int = 8, clamp: float = 1.0):
        super().__init__()
        if width < 1 or n_blocks < 1 or ca_hidden < 1:
            raise ValueError("width, n_blocks and ca_hidden must be ≥ 1")
        if ca_window < 1 or ca_window % 2 == 0:
            raise ValueError(f"ca_window must be odd and ≥ 1, not {ca_window}")
        if not clamp > 0:
            raise ValueError("clamp must be > 0")
        self.width, self.n_blocks, self.ca_window = width, n_blocks, ca_window
        self.ca_hidden, self.clamp = ca_hidden, float(clamp)
        self.blocks = nn.ModuleList(Coupling(width, ca_hidden, ca_window, self.clamp)
                                    for _ in range(n_blocks))

    def config(self) -> Dict:
        return dict(width=self.width, n_blocks=self.n_blocks, ca_window=self.ca_window,
                    ca_hidden=self.ca_hidden, clamp=self.clamp)

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """f: an even-sized image → (y_cor, z) at half resolution."""
        a = haar_forward(x)
        a1, a2 = a[:, :3], a[:, 3:]
        for b in self.blocks:
            a1, a2 = b(a1, a2)
        return a1, a2

    def decode(self, y_cor: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """f⁻¹: (y_cor, z) → the full-resolution image."""
        a1, a2 = y_cor, z
        for b in reversed(self.blocks):
            a1, a2 = b.inverse(a1, a2)
        return haar_inverse(torch.cat([a1, a2], 1))

    def forward_all(self, img: torch.Tensor, noise_std: float = 0.0,
                    generator: Optional[torch.Generator] = None
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(y, y_cor) for img (B, 3, H, W): the smoothed image at the input's
        size and the coarse structure at half the padded size.  The detail
        latent is replaced by N(0, noise_std²) noise (training) or by zero
        (noise_std = 0: inference, what the C engine computes)."""
        h, w = img.shape[-2:]
        x = pad_to_even(img)
        y_cor, z = self.encode(x)
        if noise_std > 0:
            n = torch.randn(z.shape, generator=generator, dtype=z.dtype).to(z.device) * noise_std
        else:
            n = torch.zeros_like(z)
        y = self.decode(y_cor, n)
        return y[..., :h, :w], y_cor

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.forward_all(img)[0]


# --------------------------------------------------------------------------
# export: the tensors of the model file (core/nets/sasnet.c)


def g_names(n_blocks: int) -> List[Tuple[str, str]]:
    """(model-file prefix, module path) of every coupling function, in
    forward order: b{l}.g1, b{l}.g2, b{l}.g3."""
    return [(f"b{i}.g{j}", f"blocks.{i}.g{j}") for i in range(n_blocks) for j in (1, 2, 3)]


def tensor_shapes(width: int, n_blocks: int, ca_hidden: int) -> Dict[str, Tuple[int, ...]]:
    """Every tensor of the model file with its shape."""
    out: Dict[str, Tuple[int, ...]] = {}
    for prefix, path in g_names(n_blocks):
        j = int(prefix[-1])
        cin, cout = (9, 3) if j == 1 else (3, 9)
        for conv, ci, co in (("conv_in", cin, width), ("conv_1", width, width),
                             ("conv_2", width, width), ("conv_out", width, cout)):
            out[f"{prefix}.{conv}.weight"] = (co, ci, 3, 3)
            out[f"{prefix}.{conv}.bias"] = (co,)
        out[f"{prefix}.ca.fc1.weight"] = (ca_hidden, width, 1, 1)
        out[f"{prefix}.ca.fc1.bias"] = (ca_hidden,)
        out[f"{prefix}.ca.fc2.weight"] = (width, ca_hidden, 1, 1)
        out[f"{prefix}.ca.fc2.bias"] = (width,)
        out[f"{prefix}.sa.weight"] = (1, 2, SA_KERNEL, SA_KERNEL)
        out[f"{prefix}.sa.bias"] = (1,)
    return out


@torch.no_grad()
def export_state(model: SASNet) -> Dict[str, torch.Tensor]:
    """float64 tensors by model-file name (the twin's own, renamed)."""
    sd = {k: v.detach().to("cpu", torch.float64) for k, v in model.state_dict().items()}
    out = {}
    for prefix, path in g_names(model.n_blocks):
        for conv in G_CONVS:
            for kind in ("weight", "bias"):
                out[f"{prefix}.{conv}.{kind}"] = sd[f"{path}.{conv}.{kind}"].clone()
        for fc in ("fc1", "fc2"):
            for kind in ("weight", "bias"):
                out[f"{prefix}.ca.{fc}.{kind}"] = sd[f"{path}.ca.{fc}.{kind}"].clone()
        for kind in ("weight", "bias"):
            out[f"{prefix}.sa.{kind}"] = sd[f"{path}.sa.conv.{kind}"].clone()
    return out


# --------------------------------------------------------------------------
# geometry and cost


def g_radius(ca_window: int) -> int:
    """Half-resolution pixels on each side that one g looks at: conv_in,
    conv_1, conv_2 (1 each), the channel attention's window, the spatial
    attention's 7×7, conv_out."""
    return 3 + ca_window // 2 + SA_KERNEL // 2 + 1


def receptive_field_radius(n_blocks: int, ca_window: int) -> int:
    """Full-resolution pixels on each side that influence one output pixel.
    Every coupling (forward and inverse) applies two g in sequence, so the
    half-resolution reach is 4·L·g_radius; a half-resolution pixel covers
    two full-resolution ones, and the Haar pair adds one."""
    return 2 * (4 * n_blocks * g_radius(ca_window)) + 1


def macs_per_pixel(model: SASNet) -> float:
    """Multiply-adds of the convolutions per full-resolution pixel: every g
    runs once in the forward pass and once in the inverse, at a quarter of
    the pixels (the pooling and the Haar transform not counted)."""
    per_half = 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            per_half += m.weight.numel()
    return 2 * per_half / 4


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
