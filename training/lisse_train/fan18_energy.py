# SPDX-License-Identifier: GPL-3.0-or-later
"""The Fan et al. 2018 smoothing energy as a differentiable PyTorch loss.

    E = Ed + λf·Ef + λe·Ee                                          (eq. 1)

Q. Fan, J. Yang, D. Wipf, B. Chen, X. Tong, "Image Smoothing via Unsupervised
Learning", ACM TOG 37(6), 2018, sections 3.1, 3.2, 4 and 7.  Written from the
paper; ``fan18_energy_literal.py`` is the same energy as plain loops, and the
unit test holds the two together.

Conventions (the paper leaves these open; each is a decision, said once here)
-----------------------------------------------------------------------------
* Images ``I`` (input) and ``T`` (output) are (B, 3, H, W) R'G'B' in [0, 1].
* Ed (eq. 2) is the mean over pixels of the squared RGB distance.
* Edge response (eq. 3):  E_i(X) = Σ_{j∈N(i)} |Σ_c (X_ic − X_jc)|, N(i) the
  3×3 neighbourhood of i without i (``edge_radius`` = 1), neighbours outside
  the image left out (no padding).  Since Σ_c X_ic − Σ_c X_jc = S_i − S_j with
  S = R + G + B, only the channel sum matters; the code uses that.
* Scale of the thresholds.  E(·) is computed on [0, 1] images, and Ee (eq. 4)
  squares differences at that scale (at 8-bit scale Ee would grow by 255²
  and swamp Ed).  The thresholds c1 = 20, c2 = 10 of eq. 8
  (§4), and τ_B of the edge map below, are read in 8-bit units: they are
  compared with 255·E.  At [0, 1] scale E never exceeds 24, so c2 = 10 would
  almost never fire and eq. 8 would be dead; at 8-bit scale "E(I) < 20" means
  a flat input neighbourhood and "E(T) − E(I) > 10" a new, spurious edge,
  which is what §3.2 describes.  (``threshold_scale``.)
* Intensity scale of eq. 5.  Ed (eq. 2) and Ee (eq. 4) are quadratic, so
  the intensity unit only scales them; the flattening term is not: |d|^0.8
  of 8-bit differences is 255^−1.2 ≈ 1/776 of those differences squared,
  relative to [0, 1] units.  The paper's balance is the 8-bit one (its
  thresholds are 8-bit numbers, and only there does α = 5 make the L2 term
  of eq. 8 outweigh the L0.8 term for small differences, as §3.2 needs).
  Measured on a held-out photo (butterfly, 256×192, Adam 100 iterations):
  with eq. 5 in [0, 1] units λf = 1 gives a posterised image (the data term
  is 1/1000 of λf·Ef); in 8-bit units it gives the moderate edge-preserving
  smoothing of the paper's figures.  So T and I enter eq. 5 in 8-bit units
  (``intensity_scale`` = 255) and the whole energy is reported divided by
  255², i.e. Ed and Ee in [0, 1] units: Σ w·|255·d|^p / 255².
* Flattening (eq. 5): Ef = 1/N Σ_i λf_i Σ_{j∈Nh(i)} w_ij Σ_c |T_ic − T_jc|^p_i,
  Nh(i) the (2r+1)×(2r+1) window around i without i (r = ``window_radius``,
  the paper's h = 2r + 1), neighbours outside the image left out.  "|·|^p" is
  the paper's footnote 1: the per-channel sum of p-th powers.
* Eq. 8 picks, per pixel i, p_i = p_large = 2 with w = α·w^s (eq. 7, the α
  amplification of §3.2) when 255·G_i(I) < c1 and 255·(E_i(T) − G_i(I)) > c2,
  else p_i = p_small = 0.8 with w = w^r (eq. 6, on the YUV of the input I,
  BT.601 matrix below).  G(I) is the guidance image: E(I) itself, or E(I) with
  some points zeroed (texture removal, content-aware; see ``guidance``).  The
  choice depends on T; it is a mask, not differentiated through.
* Per-pixel λ: λf_i multiplies pixel i's flattening sum, λe_i pixel i's edge
  term; constant maps give eq. 1 exactly.  λ may be a float, a (B,) tensor
  (one value per image, for λ-conditioned training) or a (B, 1, H, W) map.
* Ee (eq. 4) = 1/Ne Σ_i λe_i B_i (E_i(T) − E_i(I))², Ne = Σ B_i; 0 if Ne = 0.
* Energies are per image (N = that image's pixel count); the loss is the mean
  over the batch.

The edge map B (the paper defers its detector to the supplement, which we do
not have; this is Lisse's documented heuristic, built from eq. 3 itself)
-----------------------------------------------------------------------------
"Important edges" are edges that survive a small blur, i.e. structure rather
than fine detail:
  1. S = R + G + B of the input I;
  2. Sσ = S blurred with a normalised Gaussian, σ = ``structure_sigma``,
     truncated at radius ceil(3σ), separable, image borders replicated
     (σ = 0: no blur);
  3. B_i = 1  iff  255 · Σ_{j∈N(i)} |Sσ_i − Sσ_j|  ≥  τ_B (``structure_threshold``),
     N(i) as in eq. 3.
σ = 1, τ_B = 200 marks 5–24 % (mean 13 %) of the pixels of the five skimage
photos (astronaut, coffee, chelsea, motorcycle_left, rocket): object
outlines, eyes, lettering; not skin, fur or sky.  (For scale: a one-level
step in all three channels gives a pixel beside it 255·E = 9; the median of
255·E(I) on astronaut is 76.)  The texture preset uses σ = 3, τ_B = 60: a σ-3
blur wipes texture of period up to about 6 px, and the lower threshold keeps
the weakened but wider structure edges.  A caller may pass its own B.

Guidance (the §3.2/§7 "specialised guidance images")
-----------------------------------------------------
* ``raw``: G = E(I) (smoothing, stylization, detail).
* ``texture`` (§7.3): texture points get G = 0; a texture point is any pixel
  that is not a structure point, so G = E(I)·B.  Where T still carries
  texture, E(T) > c2 there and eq. 8 applies the L2 term, which erases it.
* ``background`` (§7.4, smooth the background): a binary saliency mask
  M = [saliency ≥ 0.5] (0.5 as in the authors' code); G = E(I)·M and B := B·M,
  so the background gets no edge protection and the L2 term.
* ``foreground``: the same with M = [saliency < 0.5] (smooth the salient
  object, for the foreground-enhancement effect).
Per-pixel λf maps built from the same mask (``masked_lambda``) give Lisse's
content-aware slider.

L2 window (``large_window_radius``)
-----------------------------------
Eq. 8 gives a pixel the L2 term with spatial weights only (w^s, no colour
affinity) once the output adds edge response in a flat part of the input.
Over the 21×21 window of §4 that term also reaches across real edges up to
10 px away, and its gradient pulls the far side of the edge towards the
flagged pixel: the edge blurs, which raises the edge response of more flat
pixels beside it, which flags them too.  Measured with the cpu training
config: with the full window the training loss rose from 0.06 to 0.4–8
(smooth, detail) within 100–300 steps whenever α was on, at every learning
rate tried (1e-4 … 2e-3, with or without BatchNorm, with α ramped in after
600 steps of L0.8-only training); per-image Adam is unstable on some photos
in the same way (docs/fan18-eval.md).  With the L2 term restricted to a 5×5
window (radius 2, the authors' code's default window) the same runs were
stable at full α.  Lisse's trained models therefore use
``large_window_radius`` = 2 (their model cards say so, and eval.py reports
the energy they were trained on); the L0.8 term keeps the preset's window.
``None`` gives the paper's single window.

Window size and cost
---------------------
The paper's §4 sets h = 21 (radius 10: 440 neighbours), its §7.3/§7.4 h = 5;
the authors' code states a window *radius* per effect ("window 2" = 5×5).
The presets follow that code list (seeds/README.md), which agrees with the
paper where the paper speaks: smooth and stylization radius 10 (= §4's
h = 21; the code's stylization, whose smoother is the §4 one, uses 10),
detail 10, texture 2 and background 2 (= §7's h = 5), foreground 1.
``window_radius`` overrides any preset.  Cost is linear in the neighbour
count: each unordered pair is visited once (((2r+1)² − 1)/2 shifts: 220 at
r = 10, 12 at r = 2), and the flattening term has a hand-written backward
that recomputes per shift, so memory stays O(image) whatever the window.
Measured on one CPU thread: a 224×224 image costs 0.55 s forward and 1.3 s
forward + backward at r = 10; a batch of four 96×96 crops 0.07 s at r = 2.

Gradient at zero differences: |d|^0.8 has an infinite slope at d = 0.  The
forward value is exact; the backward uses p·sign(d)·max(|d|, ε)^(p−1) for
p < 1 (ε = ``lp_eps`` = 1e-4, slope at most 5.0), so gradients stay finite;
at d = 0 exactly it is 0 (a subgradient).  Gradients flow to T only (I, λ, B
and saliency are data).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F

# BT.601 R'G'B' → YUV (analogue form); eq. 6 computes colour affinities in YUV.
RGB_TO_YUV = (
    (0.299, 0.587, 0.114),
    (-0.14713, -0.28886, 0.436),
    (0.615, -0.51499, -0.10001),
)

GUIDANCE_MODES = ("raw", "texture", "background", "foreground")


@dataclass(frozen=True)
class Fan18Params:
    """Parameters of eq. 1–8.  Defaults are §4's (with the window of the
    authors' code for the smoothing effect, radius 10 = §4's h = 21)."""
    sigma_r: float = 0.1          # eq. 6, colour (YUV) affinity
    sigma_s: float = 7.0          # eq. 7, spatial affinity
    lambda_f: float = 1.0         # eq. 1, flattening weight
    lambda_e: float = 0.1         # eq. 1, edge-preserving weight
    alpha: float = 5.0            # §3.2, amplification of the L2 (p_large) weight
    c1: float = 20.0              # eq. 8, in 8-bit units (see module doc)
    c2: float = 10.0              # eq. 8, in 8-bit units
    window_radius: int = 10       # eq. 5: h = 2·radius + 1
    # eq. 5's window for the p_large (L2) pixels; None: window_radius.  See
    # "L2 window" in the module doc: Lisse's trained models use 2.
    large_window_radius: Optional[int] = None
    p_large: float = 2.0          # eq. 8
    p_small: float = 0.8          # eq. 8
    edge_radius: int = 1          # eq. 3: N(i) = (2·edge_radius+1)² − 1 neighbours
    threshold_scale: float = 255.0   # c1, c2, τ_B are compared with this · E
    intensity_scale: float = 255.0   # eq. 5 on 8-bit intensities, / scale² (module doc)
    structure_sigma: float = 1.0     # edge map B: Gaussian blur before eq. 3
    structure_threshold: float = 200.0  # edge map B: τ_B in 8-bit units
    guidance: str = "raw"         # one of GUIDANCE_MODES
    saliency_threshold: float = 0.5  # content-aware: binary mask = saliency ≥ this
    large_p_dilation: int = 0     # §7.1: grow the p_large region by this radius (3 → 7×7)
    lp_eps: float = 1e-4          # backward of |d|^p, p < 1: slope clamp

    def __post_init__(self):
        if self.guidance not in GUIDANCE_MODES:
            raise ValueError(f"guidance must be one of {GUIDANCE_MODES}, not {self.guidance!r}")
        if self.window_radius < 1 or self.edge_radius < 1:
            raise ValueError("window_radius and edge_radius must be at least 1")
        if self.large_p_dilation < 0:
            raise ValueError("large_p_dilation must be ≥ 0")

    def replace(self, **changes) -> "Fan18Params":
        return dataclasses.replace(self, **changes)


# The per-effect settings: §4 and §7 of the paper, windows and α as listed for
# the authors' code in seeds/README.md.  Only what differs from §4 is named.
PRESETS = {
    # §4: σr 0.1, σs 7, λf 1, λe 0.1, α 5, c1 20, c2 10, h 21.
    "smooth": Fan18Params(),
    # §7.1 abstraction / pencil sketch: the §4 smoother, p_large region grown to 7×7.
    "stylization": Fan18Params(large_p_dilation=3),
    # §7.2's α 15 and the authors' code's window 10, with §4's thresholds
    # c1 20, c2 10 (the code list states no others for this effect).  §7.2's
    # text sets c1 = ∞, c2 = 0: L2 wherever the output adds any edge response,
    # strong edges included, where a step of 150 levels then costs
    # α·150² ≈ 340 000 per neighbour against 150^0.8 ≈ 55.  Measured on 8
    # held-out photos at λf 1 (training/eval.py --preset detail --param c1=inf
    # --param c2=0): the stage-3 detail network (shipped until 2026-12-07)
    # ends at 3.05× its input's energy and Adam, 100 steps from the input, at
    # 2.4× (above the input on 4 photos): a cliff no minimiser can hold.  With
    # c1 20, c2 10 the same network is at 0.95 and Adam at 0.44;
    # docs/fan18-eval.md, "Detail preset", has the table.
    "detail": Fan18Params(alpha=15.0, window_radius=10),
    # §7.3: α 20, h 5; texture points zeroed in the guidance.
    "texture": Fan18Params(alpha=20.0, window_radius=2, guidance="texture",
                           structure_sigma=3.0, structure_threshold=60.0),
    # §7.4: h 5 (code: background window 2, foreground window 1), α 5.
    "background": Fan18Params(window_radius=2, guidance="background"),
    "foreground": Fan18Params(window_radius=1, guidance="foreground"),
}


def parse_overrides(items) -> dict:
    """KEY=VALUE strings (command lines' ``--param c2=5``) → Fan18Params field
    overrides, each value converted to its field's type ("inf" allowed for
    floats, "none" for the optional window).  Unknown keys are refused."""
    kinds = {f.name: f.type for f in dataclasses.fields(Fan18Params)}
    out = {}
    for kv in items:
        k, sep, v = kv.partition("=")
        if not sep or k not in kinds:
            raise ValueError(f"energy parameter override {kv!r}: expected KEY=VALUE with KEY one "
                             f"of {', '.join(kinds)}")
        kind = str(kinds[k])
        try:
            if "Optional" in kind and v.lower() == "none":
                out[k] = None
            elif "int" in kind:
                out[k] = int(v)
            elif "float" in kind:
                out[k] = float(v)
            else:
                out[k] = v
        except ValueError:
            raise ValueError(f"energy parameter override {kv!r}: {v!r} is not a {kind}") from None
    return out


def preset(name: str, **overrides) -> Fan18Params:
    """A preset by name, with optional field overrides."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
    return base.replace(**overrides) if overrides else base


@dataclass
class Fan18Terms:
    """Per-image energies (shape (B,)), λ already applied."""
    data: torch.Tensor            # Ed
    flat: torch.Tensor            # λf·Ef (per-pixel λf inside the sum)
    edge: torch.Tensor            # λe·Ee (per-pixel λe inside the sum)
    total: torch.Tensor           # data + flat + edge
    large_fraction: torch.Tensor  # share of pixels on p_large (diagnostic)
    edge_fraction: torch.Tensor   # share of pixels with B = 1 (diagnostic)

    def loss(self) -> torch.Tensor:
        return self.total.mean()


# --------------------------------------------------------------------------
# shifts


def half_offsets(radius: int):
    """One offset of each ± pair in the (2r+1)² window, centre excluded."""
    return [(dy, dx) for dy in range(0, radius + 1) for dx in range(-radius, radius + 1)
            if dy > 0 or dx > 0]


def _overlap(h: int, w: int, dy: int, dx: int):
    """Slices (a, b) such that X[a] are pixels i and X[b] their neighbours
    i + (dy, dx), both inside the image; None if the shift leaves it."""
    if abs(dy) >= h or abs(dx) >= w:
        return None
    ya, xa = max(0, -dy), max(0, -dx)
    hh, ww = h - abs(dy), w - abs(dx)
    a = (Ellipsis, slice(ya, ya + hh), slice(xa, xa + ww))
    b = (Ellipsis, slice(ya + dy, ya + dy + hh), slice(xa + dx, xa + dx + ww))
    return a, b


def _place(x: torch.Tensor, sl, h: int, w: int) -> torch.Tensor:
    """Zero-pad x (… × hh × ww) so that it sits at slice sl of an h × w map."""
    ys, xs = sl[1], sl[2]
    return F.pad(x, (xs.start, w - xs.stop, ys.start, h - ys.stop))


def edge_response(x: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Eq. 3 on (B, C, H, W) [0, 1] images → (B, 1, H, W), [0, 1] scale."""
    s = x.sum(1, keepdim=True)
    h, w = s.shape[-2:]
    out = torch.zeros_like(s)
    for dy, dx in half_offsets(radius):
        ov = _overlap(h, w, dy, dx)
        if ov is None:
            continue
        a, b = ov
        d = (s[a] - s[b]).abs()
        # |S_i − S_j| counts for i (neighbour j) and for j (neighbour i).
        out = out + _place(d, a, h, w) + _place(d, b, h, w)
    return out


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable normalised Gaussian, radius ceil(3σ), borders replicated."""
    if sigma <= 0:
        return x
    r = int(math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    # Replicate padding one step at a time would be needed only if r ≥ size;
    # F.pad 'replicate' handles any r.
    xp = F.pad(x, (r, r, 0, 0), mode="replicate")
    x = F.conv2d(xp, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    xp = F.pad(x, (0, 0, r, r), mode="replicate")
    return F.conv2d(xp, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def structure_edge_map(image: torch.Tensor, params: Fan18Params) -> torch.Tensor:
    """The binary map B of eq. 4 by Lisse's heuristic (module doc): (B,1,H,W) bool."""
    s = image.sum(1, keepdim=True)
    e = edge_response(gaussian_blur(s, params.structure_sigma), params.edge_radius)
    return e * params.threshold_scale >= params.structure_threshold


def rgb_to_yuv(x: torch.Tensor) -> torch.Tensor:
    m = torch.tensor(RGB_TO_YUV, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,bjhw->bihw", m, x)


def as_map(value, like: torch.Tensor, name: str) -> torch.Tensor:
    """A float, a (B,) tensor or a (B|1, 1, H, W) map → (B, 1, H, W) in like's dtype."""
    b, _, h, w = like.shape
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.dim() == 0:
        return t.expand(b, 1, h, w)
    if t.dim() == 1:
        if t.shape[0] != b:
            raise ValueError(f"{name}: {t.shape[0]} values for a batch of {b}")
        return t.view(b, 1, 1, 1).expand(b, 1, h, w)
    if t.dim() == 4 and t.shape[1] == 1 and t.shape[0] in (1, b):
        return t.expand(b, 1, h, w)
    raise ValueError(f"{name}: expected a float, (B,) or (B, 1, H, W), got shape {tuple(t.shape)}")


def masked_lambda(saliency: torch.Tensor, inside: float, outside: float,
                  threshold: float = 0.5) -> torch.Tensor:
    """Per-pixel λ map from a saliency/selection mask: `inside` where
    saliency ≥ threshold, `outside` elsewhere (content-aware editing)."""
    return torch.where(saliency >= threshold, torch.as_tensor(inside, dtype=saliency.dtype),
                       torch.as_tensor(outside, dtype=saliency.dtype))


# --------------------------------------------------------------------------
# eq. 5 with its own backward


def _abspow(ad: torch.Tensor, p: float) -> torch.Tensor:
    """|d|^p from ad = |d|.  exp(p·ln|d|) rather than pow: ATen's pow with a
    fractional exponent is scalar code, exp and log are vectorised (10× here);
    ln 0 = −inf gives exactly 0."""
    if p == 2.0:
        return ad * ad
    if p == 1.0:
        return ad
    return torch.exp(p * torch.log(ad))


def _dpow(d: torch.Tensor, p: float, eps: float) -> torch.Tensor:
    """d/dd |d|^p, finite at 0 for p < 1 (slope clamped at |d| = eps)."""
    if p == 2.0:
        return 2.0 * d
    if p >= 1.0:
        return p * torch.sign(d) * _abspow(d.abs(), p - 1.0)
    return p * torch.sign(d) * _abspow(d.abs().clamp_min(eps), p - 1.0)


class _Flattening(torch.autograd.Function):
    """Σ_i λf_i Σ_{j∈Nh(i)} w_ij Σ_c |T_ic − T_jc|^p_i per image (not yet / N).

    Each unordered pair {i, j} is visited once: the difference d = T_j − T_i
    serves i's term (with i's p, w and λ) and j's term (with j's)."""

    @staticmethod
    def forward(ctx, t, lam, large, yuv, cfg):
        ctx.save_for_backward(t, lam, large, yuv)
        ctx.cfg = cfg
        total = t.new_zeros(t.shape[0])
        for d, wr, ws, la, lb, lam_a, lam_b in _pairs(t, lam, large, yuv, cfg):
            ad = d.abs()
            pl = _abspow(ad, cfg["p_large"]).sum(1, keepdim=True) * (cfg["k_large"] * ws)
            ps = _abspow(ad, cfg["p_small"]).sum(1, keepdim=True) * (cfg["k_small"] * wr)
            term = lam_a * torch.where(la, pl, ps) + lam_b * torch.where(lb, pl, ps)
            total += term.sum((1, 2, 3))
        return total

    @staticmethod
    def backward(ctx, grad_out):
        t, lam, large, yuv = ctx.saved_tensors
        cfg = ctx.cfg
        grad = torch.zeros_like(t)
        g = grad_out.view(-1, 1, 1, 1)
        h, w = t.shape[-2:]
        for d, wr, ws, la, lb, lam_a, lam_b, (a, b) in _pairs(t, lam, large, yuv, cfg, True):
            c_large = (lam_a * la + lam_b * lb) * (cfg["k_large"] * ws)
            c_small = (lam_a * ~la + lam_b * ~lb) * (cfg["k_small"] * wr)
            gd = (c_large * _dpow(d, cfg["p_large"], cfg["eps"])
                  + c_small * _dpow(d, cfg["p_small"], cfg["eps"])) * g
            grad[b] += gd        # d = T_b − T_a
            grad[a] -= gd
        return grad, None, None, None, None


def _pairs(t, lam, large, yuv, cfg, with_slices=False):
    h, w = t.shape[-2:]
    two_sr2 = 2.0 * cfg["sigma_r"] ** 2
    two_ss2 = 2.0 * cfg["sigma_s"] ** 2
    for dy, dx in half_offsets(cfg["radius"]):
        ov = _overlap(h, w, dy, dx)
        if ov is None:
            continue
        a, b = ov
        d = t[b] - t[a]
        du = yuv[b] - yuv[a]
        wr = torch.exp(-(du * du).sum(1, keepdim=True) / two_sr2)
        ws = math.exp(-(dy * dy + dx * dx) / two_ss2)
        if max(abs(dy), abs(dx)) > cfg["large_radius"]:
            ws = 0.0
        item = (d, wr, ws, large[a], large[b], lam[a], lam[b])
        yield item + ((a, b),) if with_slices else item


# --------------------------------------------------------------------------
# the energy


def fan18_energy(output: torch.Tensor, image: torch.Tensor,
                 params: Union[Fan18Params, str] = "smooth", *,
                 lambda_f=None, lambda_e=None,
                 saliency: Optional[torch.Tensor] = None,
                 edge_map: Optional[torch.Tensor] = None) -> Fan18Terms:
    """E = Ed + λf·Ef + λe·Ee of output T against input I, per image.

    output, image: (B, 3, H, W) in [0, 1].  params: a Fan18Params or a preset
    name.  lambda_f / lambda_e: None (the params' value), a float, a (B,)
    tensor, or a (B, 1, H, W) map.  saliency: (B, 1, H, W) in [0, 1], needed
    by the background/foreground guidance.  edge_map: a (B, 1, H, W) binary B
    to use instead of the structure heuristic.
    """
    p = preset(params) if isinstance(params, str) else params
    if output.shape != image.shape or output.dim() != 4 or output.shape[1] != 3:
        raise ValueError(f"output {tuple(output.shape)} and image {tuple(image.shape)} "
                         "must both be (B, 3, H, W)")
    image = image.detach().to(output.dtype)
    bsz, _, h, w = output.shape
    n = float(h * w)
    lam_f = as_map(p.lambda_f if lambda_f is None else lambda_f, image, "lambda_f").detach()
    lam_e = as_map(p.lambda_e if lambda_e is None else lambda_e, image, "lambda_e").detach()

    with torch.no_grad():
        e_in = edge_response(image, p.edge_radius)
        if edge_map is None:
            bmap = structure_edge_map(image, p)
        else:
            bmap = as_map(edge_map, image, "edge_map") > 0.5
        guide = e_in
        if p.guidance == "texture":
            guide = e_in * bmap
        elif p.guidance in ("background", "foreground"):
            if saliency is None:
                raise ValueError(f"guidance {p.guidance!r} needs a saliency map")
            sal = as_map(saliency, image, "saliency")
            keep = sal >= p.saliency_threshold
            if p.guidance == "foreground":
                keep = ~keep
            guide = e_in * keep
            bmap = bmap & keep
        e_out = edge_response(output.detach(), p.edge_radius)
        s = p.threshold_scale
        large = (guide * s < p.c1) & ((e_out - guide) * s > p.c2)
        if p.large_p_dilation > 0:
            k = p.large_p_dilation
            large = F.max_pool2d(large.to(image.dtype), 2 * k + 1, stride=1, padding=k) > 0.5
        yuv = rgb_to_yuv(image)

    data = ((output - image) ** 2).sum(1).mean((1, 2))

    # |s·d|^p / s² = s^(p−2)·|d|^p: the 8-bit-unit flattening term, divided by
    # s² like Ed and Ee (module doc, "Intensity scale").
    sc = p.intensity_scale
    large_radius = p.window_radius if p.large_window_radius is None else p.large_window_radius
    if large_radius > p.window_radius:
        raise ValueError("large_window_radius may not exceed window_radius")
    cfg = dict(radius=p.window_radius, large_radius=large_radius,
               sigma_r=p.sigma_r, sigma_s=p.sigma_s,
               k_large=p.alpha * sc ** (p.p_large - 2.0), k_small=sc ** (p.p_small - 2.0),
               p_large=p.p_large, p_small=p.p_small, eps=p.lp_eps)
    flat = _Flattening.apply(output, lam_f.contiguous(), large, yuv, cfg) / n

    bf = bmap.to(output.dtype)
    ne = bf.sum((1, 2, 3))
    diff = edge_response(output, p.edge_radius) - e_in
    edge = (lam_e * bf * diff * diff).sum((1, 2, 3)) / ne.clamp_min(1.0)

    return Fan18Terms(data=data, flat=flat, edge=edge, total=data + flat + edge,
                      large_fraction=large.to(output.dtype).mean((1, 2, 3)),
                      edge_fraction=bf.mean((1, 2, 3)))


def fan18_loss(output, image, params="smooth", **kw) -> torch.Tensor:
    """Batch mean of fan18_energy(...).total."""
    return fan18_energy(output, image, params, **kw).loss()
