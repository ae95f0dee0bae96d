#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compare Lisse's classical filters with OpenCV (cv2.ximgproc) on photos.

Lisse — learned edge-preserving smoothing.

Runs L0, guided, joint bilateral and rolling guidance through the test
driver (tests/classic-driver.c, float32 .npy files) or the `lisse filter`
command line, runs OpenCV's counterparts at matching parameters, prints a
table and exits non-zero if a check fails.

Where the algorithms are the same the check is PSNR >= 40 dB.  Where they
differ the table says how and checks the property that should hold instead:

  guided     OpenCV's guidedFilter is the paper's algorithm with mirrored
             (BORDER_REFLECT) windows, as Lisse's: compared directly.  For
             eps < 0.01 OpenCV replaces a covariance determinant below 1e-6
             by 1 (a wrong inverse in flat colour regions); there the
             reference is the paper's formulas in float64 NumPy.
  joint      OpenCV sums over a disc of radius 1.5 sigma_s by default; it is
  bilateral  called with d = 2*ceil(3 sigma_s)+1, Lisse's disc.  OpenCV pads
             the image by reflection, Lisse uses only in-image pixels: the
             check leaves a 3 sigma_s margin out.  For a colour guide OpenCV's
             range distance is the L1 sum of channel differences, Lisse's the
             Euclidean one: on a grey image copied into three channels the
             two agree when OpenCV's sigma_color is sqrt(3) times sigma_r, so
             the colour path (permutohedral lattice) is checked that way; on
             real colour the fast path is checked against Lisse's own exact
             sum (driver only) and OpenCV is reported.
  rolling    OpenCV's rollingGuidanceFilter starts from the input as guide;
  guidance   the paper (and Lisse) from a Gaussian blur.  The paper's
             algorithm is built from OpenCV parts (GaussianBlur, then
             jointBilateralFilter guided by the last result) and compared,
             grey and grey-in-three-channels as above; OpenCV's own filter
             is reported.
  L0         OpenCV's l0Smooth (like the paper) has periodic boundaries,
             Lisse Neumann ones (no gradient across the image edge).  The
             check is against the paper's iteration with Neumann boundaries
             in float64 NumPy (DCT), and, on the photo framed by a 16-pixel
             constant border (where both boundary conditions nearly agree),
             against the periodic iteration in float64 NumPy (FFT).
             OpenCV's l0Smooth is reported, unchecked: it is not
             deterministic (two runs on the same input differ: 23-42 dB).

Usage:
  compare-opencv.py [--driver PATH | --cli PATH] [--images a,b,c] [--quick]

Run it where python3 has numpy and cv2 (the dev root: tools/dev exec).
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from lisse_testlib import guided_numpy

try:
    import cv2
except ImportError:  # pragma: no cover
    print("compare-opencv: python3 cv2 (OpenCV) is needed", file=sys.stderr)
    sys.exit(77)  # meson: skipped

HAVE_XIMGPROC = hasattr(cv2, "ximgproc")

IMAGE_DIRS = ["/usr/lib/python3/dist-packages/skimage/data",
              "/usr/share/lisse/test-images"]


def find_image(name):
    try:
        import skimage
        IMAGE_DIRS.insert(0, os.path.join(os.path.dirname(skimage.__file__), "data"))
    except ImportError:
        pass
    for d in IMAGE_DIRS:
        p = os.path.join(d, name + ".png")
        if os.path.exists(p):
            return p
    return None


def load(name):
    path = find_image(name)
    if path is None:
        return None
    im = cv2.imread(path, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(im[:, :, ::-1].astype(np.float32) / 255.0)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def gray(im):
    return np.ascontiguousarray(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY))


def gray3(im):
    g = gray(im)
    return np.ascontiguousarray(np.stack([g, g, g], axis=2))


# ---------------------------------------------------------------------------
# Running Lisse

class Lisse:
    """Runs a filter; images are HxW or HxWxC float32 arrays."""

    def __init__(self, driver=None, cli=None):
        self.driver, self.cli = driver, cli
        self.tmp = tempfile.mkdtemp(prefix="lisse-cmp-")

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _chw(im):
        return np.ascontiguousarray(im[None] if im.ndim == 2 else im.transpose(2, 0, 1))

    def run(self, method, im, params, guide=None):
        sets = []
        for k, v in params.items():
            sets += ["--set", "%s=%r" % (k, v)]
        if self.driver:
            inp, out = os.path.join(self.tmp, "in.npy"), os.path.join(self.tmp, "out.npy")
            np.save(inp, self._chw(im))
            cmd = [self.driver] + sets
            if guide is not None:
                gp = os.path.join(self.tmp, "guide.npy")
                np.save(gp, self._chw(guide))
                cmd += ["--guide", gp]
            cmd += [method, inp, out]
            subprocess.run(cmd, check=True)
            r = np.load(out)
            return r[0] if im.ndim == 2 else r.transpose(1, 2, 0)
        # The command line: 16-bit PNG in and out (quantisation error below
        # 1e-5, ~100 dB).  Not float TIFF: the CLI (GEGL) reads float data as
        # linear light and converts it, integer data as the R'G'B' values
        # the filters take.
        if ":" in method:
            return None
        inp, out = os.path.join(self.tmp, "in.png"), os.path.join(self.tmp, "out.png")

        def write16(path, a):
            a = np.clip(a, 0, 1)
            a = a if a.ndim == 2 else a[:, :, ::-1]     # OpenCV writes BGR
            if not cv2.imwrite(path, np.round(a * 65535).astype(np.uint16)):
                raise RuntimeError("could not write " + path)

        write16(inp, im)
        cmd = [self.cli, "filter", method] + sets
        if guide is not None:
            gp = os.path.join(self.tmp, "guide.png")
            write16(gp, guide)
            cmd += ["--guide", gp]
        cmd += ["--depth", "16", inp, out]
        subprocess.run(cmd, check=True)
        r = cv2.imread(out, cv2.IMREAD_UNCHANGED).astype(np.float32) / 65535.0
        if r.ndim == 3 and im.ndim == 2:
            r = r[:, :, 0]                 # grey saved as RGB(A)
        elif r.ndim == 3:
            r = r[:, :, 2::-1]             # BGR(A) -> RGB, alpha dropped
        return np.ascontiguousarray(r)


# ---------------------------------------------------------------------------
# Float64 NumPy references, from the papers

def l0_neumann_numpy(I, lam, kappa=2.0, beta_max=1e5):
    """Xu et al. 2011 with Neumann boundaries: forward differences, none
    leaving the image; the S step by the DCT-II (the Neumann Laplacian's
    eigenbasis), orthonormal so no scaling is needed."""
    import scipy.fft as sf
    S = I.astype(np.float64)
    if S.ndim == 2:
        S = S[:, :, None]
    H, W = S.shape[:2]
    lx = 2 - 2 * np.cos(np.pi * np.arange(W) / W)
    ly = 2 - 2 * np.cos(np.pi * np.arange(H) / H)
    den = (ly[:, None] + lx[None, :])[:, :, None]
    FI = sf.dctn(S, type=2, axes=(0, 1), norm="ortho")
    beta = 2 * lam
    while beta < beta_max:
        h = np.zeros_like(S)
        v = np.zeros_like(S)
        h[:, :-1] = S[:, 1:] - S[:, :-1]
        v[:-1] = S[1:] - S[:-1]
        m = (h ** 2 + v ** 2).sum(2) <= lam / beta
        h[m] = 0
        v[m] = 0
        div = -h - v
        div[:, 1:] += h[:, :-1]
        div[1:] += v[:-1]
        S = sf.idctn((FI + beta * sf.dctn(div, type=2, axes=(0, 1), norm="ortho"))
                     / (1 + beta * den), type=2, axes=(0, 1), norm="ortho")
        beta *= kappa
    return S.reshape(I.shape).astype(np.float32)


def l0_periodic_numpy(I, lam, kappa=2.0, beta_max=1e5):
    """Xu et al. 2011 as published (and in OpenCV): circular differences,
    the S step by the FFT."""
    S = I.astype(np.float64)
    if S.ndim == 2:
        S = S[:, :, None]
    H, W = S.shape[:2]
    kx = np.fft.fft2(np.pad(np.array([[-1.0, 1.0]]), ((0, H - 1), (0, W - 2))))
    ky = np.fft.fft2(np.pad(np.array([[-1.0], [1.0]]), ((0, H - 2), (0, W - 1))))
    den = (np.abs(kx) ** 2 + np.abs(ky) ** 2)[:, :, None]
    FI = np.fft.fft2(S, axes=(0, 1))
    beta = 2 * lam
    while beta < beta_max:
        h = np.roll(S, -1, axis=1) - S
        v = np.roll(S, -1, axis=0) - S
        m = (h ** 2 + v ** 2).sum(2) <= lam / beta
        h[m] = 0
        v[m] = 0
        div = (np.roll(h, 1, axis=1) - h) + (np.roll(v, 1, axis=0) - v)
        S = np.real(np.fft.ifft2((FI + beta * np.fft.fft2(div, axes=(0, 1)))
                                 / (1 + beta * den), axes=(0, 1)))
        beta *= kappa
    return S.reshape(I.shape).astype(np.float32)


def jbf_numpy(src, guide, ss, sr):
    """The joint bilateral filter Lisse defines: Gaussian spatial weights
    over a disc of radius ceil(3 ss), Gaussian range weights of the
    Euclidean guide distance, only in-image pixels.  Tap by tap."""
    src = src.astype(np.float64)
    g = guide.astype(np.float64)
    if g.ndim == 2:
        g = g[:, :, None]
    s3 = src if src.ndim == 3 else src[:, :, None]
    H, W = g.shape[:2]
    R = max(1, int(math.ceil(3 * ss)))
    acc = np.zeros_like(s3)
    wsum = np.zeros((H, W))
    for dy in range(-R, R + 1):
        for dx in range(-R, R + 1):
            if dx * dx + dy * dy > R * R:
                continue
            y0, y1 = max(0, -dy), min(H, H - dy)
            x0, x1 = max(0, -dx), min(W, W - dx)
            gc = g[y0:y1, x0:x1]
            gn = g[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
            wgt = np.exp(-(dx * dx + dy * dy) / (2 * ss * ss)
                         - ((gn - gc) ** 2).sum(2) / (2 * sr * sr))
            wsum[y0:y1, x0:x1] += wgt
            acc[y0:y1, x0:x1] += wgt[:, :, None] * s3[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
    out = acc / wsum[:, :, None]
    return (out if src.ndim == 3 else out[:, :, 0]).astype(np.float32)


# ---------------------------------------------------------------------------
# OpenCV counterparts

def cv_jbf(joint, src, ss, sigma_color):
    d = 2 * int(math.ceil(3 * ss)) + 1
    return cv2.ximgproc.jointBilateralFilter(joint, src, d, sigma_color, ss)


def cv_rgf_paper(im, ss, sr_cv, n):
    """The paper's rolling guidance from OpenCV parts: Gaussian (the same
    3-sigma truncation as Lisse), then n-1 joint bilateral steps."""
    k = 2 * int(math.ceil(3 * ss)) + 1
    J = cv2.GaussianBlur(im, (k, k), ss)
    for _ in range(n - 1):
        J = cv_jbf(np.ascontiguousarray(J), im, ss, sr_cv)
    return J


# ---------------------------------------------------------------------------

class Table:
    def __init__(self):
        self.rows, self.failed = [], 0

    def add(self, filt, setting, image, ref, value, bound=None, note=""):
        status = "info"
        if bound is not None:
            ok = value >= bound
            status = "ok" if ok else "FAIL"
            self.failed += not ok
        self.rows.append((filt, setting, image, ref, value, bound, status, note))
        print("%-17s %-28s %-9s %-34s %7.2f dB  %-6s %s" % (
            filt, setting, image, ref, value,
            ("≥%g" % bound) if bound is not None else "", status), flush=True)


def margin_crop(a, m):
    return a[m:a.shape[0] - m, m:a.shape[1] - m] if m > 0 else a


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", default=os.environ.get("LISSE_CLASSIC_DRIVER"),
                    help="tests/classic-driver binary")
    ap.add_argument("--cli", help="the lisse command line (lisse filter …)")
    ap.add_argument("--images", default="astronaut,coffee,chelsea")
    ap.add_argument("--quick", action="store_true", help="one image, fewer settings")
    args = ap.parse_args()
    if not args.driver and not args.cli:
        for cand in ("build/tests/classic-driver", "tests/classic-driver",
                     shutil.which("lisse") or ""):
            if cand and os.path.exists(cand):
                if cand.endswith("lisse"):
                    args.cli = cand
                else:
                    args.driver = cand
                break
    if not args.driver and not args.cli:
        print("compare-opencv: give --driver or --cli", file=sys.stderr)
        return 2

    names = args.images.split(",")[:1] if args.quick else args.images.split(",")
    images = [(n, load(n)) for n in names]
    images = [(n, im) for n, im in images if im is not None]
    if not images:
        print("compare-opencv: no test images found (skimage data)", file=sys.stderr)
        return 77
    lisse = Lisse(args.driver, args.cli)
    t = Table()
    print("OpenCV %s, ximgproc %s; Lisse via %s" % (
        cv2.__version__, "yes" if HAVE_XIMGPROC else "NO (NumPy references instead)",
        "driver " + args.driver if args.driver else "CLI " + args.cli))
    print("%-17s %-28s %-9s %-34s %10s  %-6s" % ("filter", "setting", "image", "against", "PSNR", "bound"))

    try:
        for name, im in images:
            g = gray(im)
            # --- guided ---------------------------------------------------
            for r, eps in ([(4, 0.01)] if args.quick else [(4, 0.01), (8, 0.04), (16, 0.1)]):
                p = {"radius": r, "epsilon": eps}
                out = lisse.run("guided", im, p)
                ref = cv2.ximgproc.guidedFilter(im, im, r, eps) if HAVE_XIMGPROC else guided_numpy(im, im, r, eps)
                t.add("guided", "self r=%d eps=%g" % (r, eps), name,
                      "guidedFilter" if HAVE_XIMGPROC else "NumPy (paper)", psnr(out, ref), 40)
                out = lisse.run("guided", im, p, guide=g)
                ref = cv2.ximgproc.guidedFilter(g, im, r, eps) if HAVE_XIMGPROC else guided_numpy(g, im, r, eps)
                t.add("guided", "grey guide r=%d eps=%g" % (r, eps), name,
                      "guidedFilter" if HAVE_XIMGPROC else "NumPy (paper)", psnr(out, ref), 40)
            p = {"radius": 3, "epsilon": 1e-4}
            out = lisse.run("guided", im, p)
            t.add("guided", "self r=3 eps=1e-4", name, "NumPy float64 (paper)",
                  psnr(out, guided_numpy(im, im, 3, 1e-4)), 40)
            if HAVE_XIMGPROC:
                t.add("guided", "self r=3 eps=1e-4", name, "guidedFilter (det<1e-6 -> 1)",
                      psnr(out, cv2.ximgproc.guidedFilter(im, im, 3, 1e-4)))

            # --- joint bilateral -----------------------------------------
            settings = [(4, 0.1)] if args.quick else [(2, 0.1), (4, 0.1), (8, 0.15)]
            for ss, sr in settings:
                p = {"sigma-s": ss, "sigma-r": sr}
                m = int(math.ceil(3 * ss))
                path = "exact" if ss < 3.5 else "grid"
                out = lisse.run("joint-bilateral", im, p, guide=g)
                ref = cv_jbf(g, im, ss, sr) if HAVE_XIMGPROC else jbf_numpy(im, g, ss, sr)
                t.add("joint-bilateral", "grey guide ss=%g sr=%g (%s)" % (ss, sr, path), name,
                      ("jointBilateralFilter" if HAVE_XIMGPROC else "NumPy") + ", margin %d" % m,
                      psnr(margin_crop(out, m), margin_crop(ref, m)), 40)
                # The colour path on grey-in-three-channels: L1 = sqrt(3)·L2 there.
                g3 = gray3(im)
                cpath = "exact" if ss < 5.5 else "lattice"
                out = lisse.run("joint-bilateral", g3, p)
                ref = (cv_jbf(g3.copy(), g3, ss, sr * math.sqrt(3)) if HAVE_XIMGPROC
                       else jbf_numpy(g3, g3, ss, sr))
                t.add("joint-bilateral", "grey×3 self ss=%g (%s)" % (ss, cpath), name,
                      ("jointBilateralFilter σc·√3" if HAVE_XIMGPROC else "NumPy") + ", margin %d" % m,
                      psnr(margin_crop(out, m), margin_crop(ref, m)), 40)
                # Real colour: the fast path against Lisse's exact sum.
                out = lisse.run("joint-bilateral", im, p)
                if args.driver:
                    ex = lisse.run("joint-bilateral:exact", im, p)
                    t.add("joint-bilateral", "colour self ss=%g (%s)" % (ss, cpath), name,
                          "Lisse exact sum", psnr(out, ex), 40)
                if HAVE_XIMGPROC:
                    t.add("joint-bilateral", "colour self ss=%g" % ss, name,
                          "jointBilateralFilter (L1 colour)",
                          psnr(margin_crop(out, m), margin_crop(cv_jbf(im.copy(), im, ss, sr), m)))
            if not args.quick:
                # The lattice itself (exact below σs 5.5 in auto): σs 6 on colour.
                p = {"sigma-s": 6, "sigma-r": 0.1}
                if args.driver:
                    t.add("joint-bilateral", "colour self ss=6 (lattice)", name, "Lisse exact sum",
                          psnr(lisse.run("joint-bilateral", im, p),
                               lisse.run("joint-bilateral:exact", im, p)), 40)

            # --- rolling guidance ----------------------------------------
            for ss, sr, n in ([(3, 0.1, 4)] if args.quick else [(3, 0.1, 4), (5, 0.08, 3)]):
                p = {"sigma-s": ss, "sigma-r": sr, "iterations": n}
                m = min(int(math.ceil(3 * ss)) * n, 60)
                if HAVE_XIMGPROC:
                    out = lisse.run("rolling-guidance", g, p)
                    t.add("rolling-guidance", "grey ss=%g sr=%g n=%d" % (ss, sr, n), name,
                          "paper from OpenCV parts, margin %d" % m,
                          psnr(margin_crop(out, m), margin_crop(cv_rgf_paper(g, ss, sr, n), m)), 40)
                    g3 = gray3(im)
                    out = lisse.run("rolling-guidance", g3, p)
                    t.add("rolling-guidance", "grey×3 ss=%g n=%d" % (ss, n), name,
                          "paper from OpenCV parts σc·√3",
                          psnr(margin_crop(out, m),
                               margin_crop(cv_rgf_paper(g3, ss, sr * math.sqrt(3), n), m)), 40)
                    out = lisse.run("rolling-guidance", im, p)
                    t.add("rolling-guidance", "colour ss=%g n=%d" % (ss, n), name,
                          "paper from OpenCV parts (L1)",
                          psnr(margin_crop(out, m), margin_crop(cv_rgf_paper(im, ss, sr, n), m)))
                    t.add("rolling-guidance", "colour ss=%g n=%d" % (ss, n), name,
                          "rollingGuidanceFilter (starts at I)",
                          psnr(margin_crop(out, m), margin_crop(
                              cv2.ximgproc.rollingGuidanceFilter(im, None, 2 * int(math.ceil(3 * ss)) + 1,
                                                                 sr, ss, n), m)))

            # --- L0 -------------------------------------------------------
            for lam in ([0.02] if args.quick else [0.02, 0.005]):
                p = {"lambda": lam, "kappa": 2.0}
                out = lisse.run("l0", im, p)
                t.add("l0", "lambda=%g" % lam, name, "NumPy float64, Neumann",
                      psnr(out, l0_neumann_numpy(im, lam)), 40)
                f = 16
                framed = np.ascontiguousarray(cv2.copyMakeBorder(
                    im, f, f, f, f, cv2.BORDER_CONSTANT, value=(0.5, 0.5, 0.5)))
                outf = lisse.run("l0", framed, p)
                t.add("l0", "lambda=%g, 16-px frame" % lam, name, "NumPy float64, periodic",
                      psnr(outf, l0_periodic_numpy(framed, lam)), 38)
                if HAVE_XIMGPROC:
                    c1 = cv2.ximgproc.l0Smooth(framed, None, lam, 2.0)
                    c2 = cv2.ximgproc.l0Smooth(framed, None, lam, 2.0)
                    t.add("l0", "lambda=%g, 16-px frame" % lam, name, "l0Smooth", psnr(outf, c1))
                    t.add("l0", "lambda=%g, 16-px frame" % lam, name, "l0Smooth vs l0Smooth rerun",
                          psnr(c1, c2))
                    t.add("l0", "lambda=%g, unframed" % lam, name, "l0Smooth (periodic)",
                          psnr(out, cv2.ximgproc.l0Smooth(im, None, lam, 2.0)))
    finally:
        lisse.close()

    print("\n%d check(s) failed" % t.failed if t.failed else "\nall checks passed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
