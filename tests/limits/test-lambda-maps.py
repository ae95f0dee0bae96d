#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-pixel maps at their limits (issue 16): the Fan 2018 network's λf map
and Content-Aware's mask, holding 0 everywhere and the maximum everywhere.

Usage: test-lambda-maps.py PATH/TO/lisse PATH/TO/test-fan18-map [--shipped-models DIR]
                           [--table FILE.md]

The network's map, through the net API (test-fan18-map; the command line
has no option for it), with the shipped fan18-smooth (cheap on a 40×32
image; without it a tiny random-weight one, and the check that needs
trained weights is skipped):
  - a map holding the model's λf minimum everywhere, and one holding its
    maximum, give exactly the scalar runs at those values;
  - a map holding 0 everywhere gives finite output that smooths no more
    than the least λf the model declares (fan18.c floors λ at 10⁻³: λf → 0
    is "no flattening"; trained weights only);
  - maps of values no caller should pass (−1, NaN, +inf, 1e30) still give
    finite output.
Content-Aware's mask, through `lisse effect content-aware --aux`, with tiny
random-weight models, outputs as 32-bit float TIFF:
  - background mode: a mask of 0 everywhere is Smooth at λf = λ-background,
    a mask of 1 everywhere Smooth at λf = λ-foreground, each at both ends
    of their range (the log-λ blend reaches the ends exactly);
  - foreground mode (I + gain·m·(I − S)): a mask of 0 everywhere gives the
    input at the largest gain, a mask of 1 everywhere gives the input at
    gain 0 and finite output in [0, 1] at the largest gain.
Prints TAP (the plan comes last).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: lisse_testlib

from lisse_testlib import Tap, import_or_skip                  # noqa: E402

np, _, _ = import_or_skip("numpy", "cv2", "safetensors.numpy")
import limits_registry as reg                                  # noqa: E402
import limits_scene                                            # noqa: E402
import lisse_testlib                                           # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("lisse")
ap.add_argument("fan18_map")
ap.add_argument("--shipped-models")
ap.add_argument("--table", help="write the checks and their outcome (markdown) here")
ARGS = ap.parse_args()
LISSE = os.path.abspath(ARGS.lisse)

TMP = tempfile.mkdtemp(prefix="lisse-limits-maps-")
MODELS = os.path.join(TMP, "models")
limits_scene.make_models(MODELS, ARGS.shipped_models)
ENV = dict(os.environ, LISSE_MODEL_PATH=MODELS, LISSE_THREADS="1", OMP_WAIT_POLICY="passive")

class RecordingTap(Tap):
    """A Tap that also keeps each check's description and outcome for --table."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def __call__(self, ok, description, diag=None):
        self.lines.append(f"- {'✓' if ok else '**✗**'} {description}")
        return super().__call__(ok, description, diag)


tap = RecordingTap()


def run(*args):
    p = subprocess.run([*map(str, args)], capture_output=True, text=True, errors="replace",
                       env=ENV, timeout=300)
    return p.returncode, p.stderr.strip()


# --- the network's λf map ----------------------------------------------------

MH, MW = 32, 40


def model_lambda_range(model):
    """The λf range the model file declares, as `lisse info` lists it."""
    p = subprocess.run([LISSE, "info", model], capture_output=True, text=True, env=ENV)
    for line in p.stdout.splitlines():
        # `lisse info` indents its parameters by two spaces, the listings by four.
        m = reg.PARAM.match("  " + line)
        if m and m.group(1) == "lambda-f":
            return float(m.group(3)), float(m.group(4)), m.group(3), m.group(4)
    return None


def net_map_checks():
    shipped = os.path.join(ARGS.shipped_models or "", "fan18-smooth.safetensors")
    trained = bool(ARGS.shipped_models) and os.path.exists(shipped)
    model = shipped if trained else lisse_testlib.tiny_fan18_model(
        os.path.join(TMP, "tiny-fan18.safetensors"), 21)
    rng = model_lambda_range(model)
    if not tap(rng is not None, f"{os.path.basename(model)} declares a λf range", "lisse info"):
        return
    lo, hi, lo_text, hi_text = rng
    image = limits_scene.scene_rgba(MH, MW)[..., :3].astype(np.float32) / 255
    planar = np.ascontiguousarray(image.transpose(2, 0, 1))
    src = os.path.join(TMP, "in.f32")
    planar.tofile(src)

    def forward(map_value=None, sets=()):
        mp = "-"
        if map_value is not None:
            mp = os.path.join(TMP, "map.f32")
            np.full((1, MH, MW), map_value, np.float32).tofile(mp)
        out = os.path.join(TMP, "out.f32")
        if os.path.exists(out):
            os.unlink(out)
        rc, err = run(ARGS.fan18_map, model, MH, MW, src, mp, 0, out, *sets)
        if rc:
            return None, err
        return np.fromfile(out, np.float32).reshape(3, MH, MW), ""

    scalar = {}
    for text, value in ((lo_text, lo), (hi_text, hi)):
        s, err = forward(sets=[f"lambda-f={text}"])
        m, err2 = forward(map_value=value)
        scalar[text] = s
        tap(s is not None and m is not None and np.array_equal(s, m),
            f"fan18 map of λf = {text} everywhere equals the scalar run at λf = {text}",
            err or err2 or (f"max |Δ| {np.abs(s - m).max():.3g}" if s is not None
                            and m is not None else ""))
    zero, err = forward(map_value=0.0)
    ok = tap(zero is not None and np.isfinite(zero).all(),
             "fan18 map of 0 everywhere: finite output", err or "not finite")
    if ok and trained and scalar[lo_text] is not None:
        change0 = float(np.abs(zero - planar).mean())
        change_lo = float(np.abs(scalar[lo_text] - planar).mean())
        tap(change0 <= change_lo, f"fan18 map of 0 everywhere smooths no more than λf = {lo_text} "
            f"(mean |Δ| to the input {change0:.5f} ≤ {change_lo:.5f})",
            f"mean |Δ| {change0:.5f} > {change_lo:.5f}")
    elif ok:
        tap.skip("map of 0 against the least λf: needs the trained fan18-smooth")
    for label, value in (("-1", -1.0), ("NaN", np.nan), ("+inf", np.inf), ("1e30", 1e30)):
        out, err = forward(map_value=value)
        tap(out is not None and np.isfinite(out).all(),
            f"fan18 map of {label} everywhere: finite output", err or "not finite")


# --- Content-Aware's mask ----------------------------------------------------

def effect(name, sets, choice=None, mask=None, tag="out"):
    out = os.path.join(TMP, f"{tag}.tif")
    if os.path.exists(out):
        os.unlink(out)
    args = [LISSE, "effect", name, "--depth", "32"]
    if choice:
        args += ["--choice", choice]
    if mask:
        args += ["--aux", mask]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    rc, err = run(*args, SCENE.rgba, out)
    return (limits_scene.read_float(out) if rc == 0 else None), err


def content_aware_checks():
    entries = {e.name: e for e in reg.read_registry(LISSE, ENV) if e.kind == "effect"}
    ca = entries["content-aware"]
    p = {x.name: x for x in ca.params}
    lam_bg, lam_fg, gain = p["lambda-background"], p["lambda-foreground"], p["gain"]
    for mask, lam, other in ((SCENE.mask_zero, lam_bg, lam_fg), (SCENE.mask_one, lam_fg, lam_bg)):
        which = "0" if mask == SCENE.mask_zero else "1"
        for text in (lam.lo_text, lam.hi_text):
            # The other λ at its far end, so a wrong blend would show.
            far = other.hi_text if text == lam.lo_text else other.lo_text
            got, err = effect("content-aware", {lam.name: text, other.name: far},
                              "background", mask, "ca")
            want, err2 = effect("smooth", {"lambda-f": text}, tag="smooth")
            tap(got is not None and want is not None and np.array_equal(got, want),
                f"content-aware background, mask of {which} everywhere, {lam.name}={text} "
                f"({other.name}={far}): equals smooth at lambda-f={text}",
                err or err2 or (f"max |Δ| {np.abs(got - want).max():.3g}"
                                if got is not None and want is not None else ""))
    src = SCENE.rgba_float
    for mask, g, identity in ((SCENE.mask_zero, gain.hi_text, True),
                              (SCENE.mask_one, gain.lo_text, True),
                              (SCENE.mask_one, gain.hi_text, False)):
        which = "0" if mask == SCENE.mask_zero else "1"
        for lam in (lam_bg.lo_text, lam_bg.hi_text):
            got, err = effect("content-aware", {"gain": g, "lambda-background": lam},
                              "foreground", mask, "ca")
            what = f"content-aware foreground, mask of {which} everywhere, gain={g}, " \
                   f"lambda-background={lam}"
            if got is None:
                tap(False, f"{what}: runs", err)
            elif identity:
                d = float(np.abs(got[..., :3] - src[..., :3]).max())
                tap(d <= 1e-6, f"{what}: output equals the input", f"max |Δ| {d:.3g}")
            else:
                c = got[..., :3]
                tap(np.isfinite(got).all() and c.min() >= 0 and c.max() <= 1
                    and np.abs(got[..., 3] - src[..., 3]).max() <= 1e-6,
                    f"{what}: finite, in [0, 1], alpha kept", f"colour [{c.min()}, {c.max()}]")


SCENE = limits_scene.write_inputs(TMP)


def main():
    net_map_checks()
    content_aware_checks()
    if ARGS.table:
        with open(ARGS.table, "w", encoding="utf-8") as f:
            f.write("<!-- Generated by tests/limits/test-lambda-maps.py --table. -->\n"
                    + "\n".join(tap.lines) + "\n")
    if not tap.failed:
        shutil.rmtree(TMP, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
