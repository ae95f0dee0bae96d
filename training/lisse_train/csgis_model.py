# SPDX-License-Identifier: GPL-3.0-or-later
"""The CSGIS-Net smoothing network (Wang et al., "Contrastive Semantic-Guided
Image Smoothing Network", CGF 2022, §3.2 and Fig. 2), the twin of
core/nets/csgis.c.

Layers (F = width; every 3×3 convolution pads with zeros; "BN" is a
BatchNorm2d in training, folded into the convolution before export):

    rHDC block (x):  h = ReLU(BN(conv_d1 x)); h = ReLU(BN(conv_d2 h));
                     h = ReLU(BN(conv_d3 h)); return x + h
                     (3×3 convolutions with dilations 1, 2, 3)

    descriptor:      F0 = ReLU(head I)                   head: 3 → F
                     F  = n_desc rHDC blocks (F0)
    edge interpreter:e = ReLU(BN(edge.c0 F)); e = ReLU(BN(edge.c1 e))
                     logit = edge.out e                  edge.out: F → 1, 1×1
                     E = sigmoid(logit)
    smooth interp.:  s = ReLU(BN(smooth.in [F, E]))     F+1 → F
                     s = n_smooth rHDC blocks (s)
                     s = ReLU(BN(smooth.mid s))
                     S0 = I + smooth.out s                smooth.out: F → 3
    refinement:      r = ReLU(BN(refine.in [F, E, S0])) F+1+3 → F
                     r = n_refine rHDC blocks (r)
                     S1 = S0 + refine.out r               refine.out: F → 3

S1 is the result, S0 the intermediate one the loss also sees, E the edge map.

Two choices the paper leaves open, made for short CPU training: S0 is a
residual on the input image (the paper's Fig. 2 predicts S0 directly;
starting from the identity, texture removal is learned as a correction), and
the descriptor's head has a ReLU and no BatchNorm.  The paper's sizes are
n_smooth 3, n_refine 6 and, as trained, 12 descriptor blocks at width 64.

Every layer is stride 1, so any image size works and a tile with a halo of
receptive_radius() pixels gives exactly the whole-image result.
"""
from __future__ import annotations

import copy
from typing import Dict, Iterable, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

DILATIONS = (1, 2, 3)          # one rHDC block's three convolutions
PAPER_SIZES = dict(width=64, n_desc=12, n_smooth=3, n_refine=6)


def _bn(width: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(width) if batchnorm else nn.Identity()


class RHDC(nn.Module):
    def __init__(self, width: int, batchnorm: bool):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(width, width, 3, padding=d, dilation=d, bias=not batchnorm)
            for d in DILATIONS)
        self.bns = nn.ModuleList(_bn(width, batchnorm) for _ in DILATIONS)

    def forward(self, x):
        h = x
        for conv, bn in zip(self.convs, self.bns):
            h = F.relu(bn(conv(h)))
        return x + h


class ConvBNReLU(nn.Module):
    def __init__(self, cin: int, cout: int, batchnorm: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=not batchnorm)
        self.bn = _bn(cout, batchnorm)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class CSGISNet(nn.Module):
    def __init__(self, width: int = 32, n_desc: int = 4, n_smooth: int = 3,
                 n_refine: int = 6, batchnorm: bool = True):
        super().__init__()
        if width < 1 or n_desc < 0 or n_smooth < 0 or n_refine < 0:
            raise ValueError("width ≥ 1 and block counts ≥ 0")
        self.width, self.n_desc, self.n_smooth, self.n_refine = width, n_desc, n_smooth, n_refine
        self.batchnorm = batchnorm
        f = width
        self.head = nn.Conv2d(3, f, 3, padding=1)
        self.desc = nn.ModuleList(RHDC(f, batchnorm) for _ in range(n_desc))
        self.edge_c0 = ConvBNReLU(f, f, batchnorm)
        self.edge_c1 = ConvBNReLU(f, f, batchnorm)
        self.edge_out = nn.Conv2d(f, 1, 1)
        self.smooth_in = ConvBNReLU(f + 1, f, batchnorm)
        self.smooth = nn.ModuleList(RHDC(f, batchnorm) for _ in range(n_smooth))
        self.smooth_mid = ConvBNReLU(f, f, batchnorm)
        self.smooth_out = nn.Conv2d(f, 3, 3, padding=1)
        self.refine_in = ConvBNReLU(f + 1 + 3, f, batchnorm)
        self.refine = nn.ModuleList(RHDC(f, batchnorm) for _ in range(n_refine))
        self.refine_out = nn.Conv2d(f, 3, 3, padding=1)
        # Start at the identity: both corrections begin at zero.
        for m in (self.smooth_out, self.refine_out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def config(self) -> Dict:
        return dict(width=self.width, n_desc=self.n_desc, n_smooth=self.n_smooth,
                    n_refine=self.n_refine, batchnorm=self.batchnorm)

    def forward_all(self, img: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(S1, S0, edge logits) for img = (B, 3, H, W) in [0, 1]."""
        feat = F.relu(self.head(img))
        for b in self.desc:
            feat = b(feat)
        e = self.edge_c1(self.edge_c0(feat))
        logit = self.edge_out(e)
        edge = torch.sigmoid(logit)
        s = self.smooth_in(torch.cat([feat, edge], 1))
        for b in self.smooth:
            s = b(s)
        s0 = img + self.smooth_out(self.smooth_mid(s))
        r = self.refine_in(torch.cat([feat, edge, s0], 1))
        for b in self.refine:
            r = b(r)
        s1 = s0 + self.refine_out(r)
        return s1, s0, logit

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.forward_all(img)[0]


# --------------------------------------------------------------------------
# export: the layer list of the model file (core/nets/csgis.c)


def layer_list(n_desc: int, n_smooth: int, n_refine: int) -> List[Tuple[str, str]]:
    """(model-file name, module path) of every convolution, in forward order."""
    out = [("head", "head")]
    for i in range(n_desc):
        out += [(f"desc{i}.c{k}", f"desc.{i}.convs.{k}") for k in range(3)]
    out += [("edge.c0", "edge_c0.conv"), ("edge.c1", "edge_c1.conv"), ("edge.out", "edge_out"),
            ("smooth.in", "smooth_in.conv")]
    for i in range(n_smooth):
        out += [(f"smooth{i}.c{k}", f"smooth.{i}.convs.{k}") for k in range(3)]
    out += [("smooth.mid", "smooth_mid.conv"), ("smooth.out", "smooth_out"),
            ("refine.in", "refine_in.conv")]
    for i in range(n_refine):
        out += [(f"refine{i}.c{k}", f"refine.{i}.convs.{k}") for k in range(3)]
    out += [("refine.out", "refine_out")]
    return out


def _bn_of(path: str) -> str:
    """Module path of the BatchNorm that follows the convolution at path."""
    if path.endswith(".conv"):
        return path[: -len(".conv")] + ".bn"
    if ".convs." in path:
        return path.replace(".convs.", ".bns.")
    return ""


@torch.no_grad()
def folded_state(model: CSGISNet) -> Dict[str, torch.Tensor]:
    """float64 weights/biases by model-file name, BatchNorm folded (eval
    mode: running statistics)."""
    m = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    mods = dict(m.named_modules())
    out = {}
    for name, path in layer_list(m.n_desc, m.n_smooth, m.n_refine):
        conv = mods[path]
        w = conv.weight
        b = conv.bias if conv.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
        bn = mods.get(_bn_of(path)) if _bn_of(path) else None
        if isinstance(bn, nn.BatchNorm2d):
            s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            w = w * s.view(-1, 1, 1, 1)
            b = (b - bn.running_mean) * s + bn.bias
        out[f"{name}.weight"] = w.clone()
        out[f"{name}.bias"] = b.clone()
    return out


@torch.no_grad()
def fold_batchnorm(model: CSGISNet) -> CSGISNet:
    """An equivalent network without BatchNorm (equal to model.eval())."""
    folded = CSGISNet(**{**model.config(), "batchnorm": False}).to(torch.float64)
    mods = dict(folded.named_modules())
    state = folded_state(model)
    for name, path in layer_list(model.n_desc, model.n_smooth, model.n_refine):
        mods[path].weight.copy_(state[f"{name}.weight"])
        mods[path].bias.copy_(state[f"{name}.bias"])
    return folded.eval()


def recalibrate_batchnorm(model: CSGISNet, batches: Iterable[torch.Tensor]) -> CSGISNet:
    """Re-estimate every BN's running statistics as the plain average over
    `batches` with the current weights (as fan18_model does, for the same
    reason: the tile-safe eval mode must see statistics of this network)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    with torch.no_grad():
        for x in batches:
            model.forward_all(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was)
    return model


# --------------------------------------------------------------------------
# geometry and cost


def receptive_field_radius(n_desc: int, n_smooth: int, n_refine: int) -> int:
    """Pixels on each side that influence one output pixel (see the module
    docstring's layer list; an rHDC block adds 1 + 2 + 3)."""
    blk = sum(DILATIONS)
    r_feat = 1 + blk * n_desc
    r_edge = r_feat + 2                           # edge.c0, edge.c1 (edge.out is 1×1)
    r_s0 = max(r_feat, r_edge) + 1 + blk * n_smooth + 2
    return max(r_feat, r_edge, r_s0) + 1 + blk * n_refine + 1


def macs_per_pixel(model: CSGISNet) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
