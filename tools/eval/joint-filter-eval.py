#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Joint Filter's applications (Fang et al. 2019, §4.3) on synthetic scenes with ground truth.

    tools/dev exec python3 tools/eval/joint-filter-eval.py [--scenes 8] [--tune 4]
        [--size 256] [--threads 2] [--report docs/joint-filter-eval.md] [--json OUT]

Each scene is made here (seeded): a piecewise-planar depth map (a slanted
background and overlapping shapes, each a plane at its own depth) and a
colour photograph of it whose regions have their own colour, shading and
texture (stripes, noise, dots) — so the photo has edges where the depth has
them and many more (texture) where it has none.  Every method is a run of
`lisse effect joint-filter --choice METHOD` with the photo (or its gray) as
the guide, so the numbers are of what a GIMP user gets:

  - **upsampling 4× and 8×**: the depth shrunk by area averaging, brought
    back to full size by bicubic interpolation (what GIMP's Scale Layer
    gives), then filtered under the photo; RMSE against the true depth in
    grey levels (0–255), beside plain bicubic;
  - **flash / no-flash**: the photo with Gaussian noise (σ 0.06) is the
    target, a "flash" version of the same scene (other tone curve, colour
    cast and shading, no noise) the guide; PSNR against the clean photo;
  - **colourisation**: the photo's gray with colour strokes (disks of the
    true colour, 1.5 % of the pixels) painted on it, the gray as guide
    (`learned-colorize`); PSNR against the colour photo, beside the gray.

Each method's radius (and range) is chosen per application on --tune scenes
of their own seeds (the best mean), then reported on --scenes others.  With
--report, writes the tables into the file between its markers.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LISSE = os.path.join(REPO, "build", "core", "cli", "lisse")

# Per application: method → the settings tried (radius, range).
GRIDS = {
    "upsample": {
        "guided": [(r, e) for r in (4, 8, 16) for e in (0.01, 0.05)],
        "joint-bilateral": [(r, e) for r in (4, 8, 16) for e in (0.05, 0.1)],
        "wls": [(r, 0.1) for r in (4, 8, 16)],
        "learned-rtv": [(r, 0.1) for r in (2, 4, 6, 8.9)],
    },
    "flash": {
        "guided": [(r, e) for r in (2, 4, 8) for e in (0.02, 0.05, 0.1)],
        "joint-bilateral": [(r, e) for r in (2, 4, 8) for e in (0.05, 0.1, 0.2)],
        "wls": [(r, 0.1) for r in (2, 4, 8)],
        "learned-rtv": [(r, 0.1) for r in (2, 3, 4, 6)],
    },
    "colorize": {
        "learned-colorize": [(r, 0.1) for r in (2, 4, 8.9)],
    },
}


def scene(seed, size):
    """(photo H×W×3 BGR float [0,1], flash photo, depth H×W [0,1])."""
    rng = np.random.default_rng(seed)
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / size
    depth = (0.2 + 0.5 * (rng.uniform(-0.5, 0.5) * xx + rng.uniform(0.2, 0.6) * yy)).astype(np.float32)
    label = np.zeros((h, w), np.int32)
    for k in range(1, int(rng.integers(4, 8))):
        m = np.zeros((h, w), np.uint8)
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(m, c, int(rng.integers(size // 10, size // 4)), 1, -1)
        else:
            pts = np.array([[c[0] + rng.integers(-size // 4, size // 4), c[1] + rng.integers(-size // 4, size // 4)]
                            for _ in range(int(rng.integers(3, 7)))], np.int32)
            cv2.fillPoly(m, [cv2.convexHull(pts)], 1)
        sel = m > 0
        label[sel] = k
        depth[sel] = (rng.uniform(0.3, 0.95) + rng.uniform(-0.2, 0.2) * (xx[sel] - 0.5)
                      + rng.uniform(-0.2, 0.2) * (yy[sel] - 0.5))
    photo = np.zeros((h, w, 3), np.float32)
    flash = np.zeros((h, w, 3), np.float32)
    light = 0.75 + 0.25 * np.cos(3 * xx + 2 * yy + rng.uniform(0, 6))
    for k in range(label.max() + 1):
        sel = label == k
        if not sel.any():
            continue
        base = rng.uniform(0.15, 0.85, 3)
        kind = rng.integers(0, 3)
        if kind == 0:
            ang, per = rng.uniform(0, np.pi), rng.uniform(4, 12)
            tex = 0.08 * np.sin(2 * np.pi * (np.cos(ang) * xx + np.sin(ang) * yy) * size / per)
        elif kind == 1:
            tex = 0.06 * cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.0)
        else:
            tex = 0.1 * ((np.sin(xx * size / 3) * np.sin(yy * size / 3)) > 0.6)
        for c in range(3):
            photo[..., c][sel] = (base[c] + tex[sel]) * light[sel]
            flash[..., c][sel] = np.clip(base[c] * (0.8 + 0.3 * c / 2) + 0.5 * tex[sel], 0, 1) ** 0.6
    return np.clip(photo, 0, 1), np.clip(flash, 0, 1), np.clip(depth, 0, 1)


def write16(path, img):
    cv2.imwrite(path, np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16))
    return path


def read(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float32) / 65535


def joint(tmp, method, radius, rng_, target, guide, threads):
    out = os.path.join(tmp, "out.png")
    r = subprocess.run([LISSE, "effect", "joint-filter", "--choice", method, "--set", f"radius={radius:g}",
                        "--set", f"range={rng_:g}", "--aux", guide, "--depth", "16", "--threads",
                        str(threads), target, out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"joint-filter-eval: lisse failed: {r.stderr.strip()}")
    return read(out)


def psnr(a, b):
    return float(10 * np.log10(1.0 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


def rmse255(a, b):
    return float(255 * np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


def cases(app, seed, size, tmp):
    """[(name, target file, guide file, scoring function, baseline score)] for one scene."""
    photo, flash, depth = scene(seed, size)
    guide = write16(os.path.join(tmp, f"guide-{seed}.png"), photo)
    if app == "upsample":
        out = []
        for f in (4, 8):
            low = cv2.resize(depth, (size // f, size // f), interpolation=cv2.INTER_AREA)
            up = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
            t = write16(os.path.join(tmp, f"up{f}-{seed}.png"), up)
            out.append((f"{f}×", t, guide, lambda r, d=depth: rmse255(r, d), rmse255(up, depth)))
        return out
    if app == "flash":
        noisy = photo + np.random.default_rng(seed + 7).normal(0, 0.06, photo.shape).astype(np.float32)
        t = write16(os.path.join(tmp, f"noisy-{seed}.png"), noisy)
        g = write16(os.path.join(tmp, f"flash-{seed}.png"), flash)
        return [("flash", t, g, lambda r: psnr(r, photo), psnr(np.clip(noisy, 0, 1), photo))]
    gray = (0.0722 * photo[..., 0] + 0.7152 * photo[..., 1] + 0.2126 * photo[..., 2])[..., None].repeat(3, 2)
    rng = np.random.default_rng(seed + 11)
    strokes = gray.copy()
    m = np.zeros((size, size), np.uint8)
    for _ in range(int(0.015 * size * size / 50)):
        cv2.circle(m, (int(rng.integers(0, size)), int(rng.integers(0, size))), 4, 1, -1)
    strokes[m > 0] = photo[m > 0]
    t = write16(os.path.join(tmp, f"strokes-{seed}.png"), strokes)
    g = write16(os.path.join(tmp, f"gray-{seed}.png"), gray)
    return [("colour", t, g, lambda r: psnr(r, photo), psnr(gray, photo))]


def evaluate(app, seeds, size, tmp, threads, settings=None):
    """{case: {method: {setting: mean score}}} and the baselines {case: mean}."""
    scores, base = {}, {}
    for seed in seeds:
        for name, target, guide, score, b in cases(app, seed, size, tmp):
            base.setdefault(name, []).append(b)
            for method, grid in GRIDS[app].items():
                for s in ([settings[method]] if settings else grid):
                    r = joint(tmp, method, s[0], s[1], target, guide, threads)
                    scores.setdefault(name, {}).setdefault(method, {}).setdefault(s, []).append(score(r))
    mean = {n: {m: {s: float(np.mean(v)) for s, v in d.items()} for m, d in ms.items()}
            for n, ms in scores.items()}
    return mean, {n: float(np.mean(v)) for n, v in base.items()}


def choose(app, tuned):
    """The best setting per method over the application's cases (RMSE: lowest)."""
    lower = app == "upsample"
    best = {}
    for method in GRIDS[app]:
        def total(s):
            return sum(tuned[n][method][s] for n in tuned)
        best[method] = (min if lower else max)(GRIDS[app][method], key=total)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--tune", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--apps", default="upsample,flash,colorize")
    ap.add_argument("--report", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    result = {}
    with tempfile.TemporaryDirectory(prefix="lisse-joint-eval-") as tmp:
        for app in a.apps.split(","):
            tuned, _ = evaluate(app, range(1000, 1000 + a.tune), a.size, tmp, a.threads)
            best = choose(app, tuned)
            scores, base = evaluate(app, range(a.scenes), a.size, tmp, a.threads, best)
            result[app] = {"settings": {m: list(s) for m, s in best.items()},
                           "scores": {n: {m: d[best[m]] for m, d in ms.items()} for n, ms in scores.items()},
                           "baseline": base}
            print(json.dumps({app: result[app]}))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    if a.report:
        write_report(a, result)
    return 0


def write_report(a, result):
    lines = [f"Scenes: {a.scenes} (seeds 0–{a.scenes - 1}) of {a.size}² px; settings chosen on {a.tune} "
             f"others (seeds 1000–{1000 + a.tune - 1}); {a.threads} threads.", ""]
    names = {"upsample": ("Depth upsampling, RMSE in grey levels (lower is better)", "bicubic"),
             "flash": ("Flash / no-flash denoising, PSNR dB (higher is better)", "noisy input"),
             "colorize": ("Colourisation from strokes, PSNR dB (higher is better)", "gray input")}
    for app, r in result.items():
        title, base_name = names[app]
        cols = list(r["scores"])
        lines += [f"**{title}**", "", "| method | setting (radius, range) | " + " | ".join(cols) + " |",
                  "|---|---|" + "---|" * len(cols),
                  f"| {base_name} | — | " + " | ".join(f"{r['baseline'][c]:.2f}" for c in cols) + " |"]
        for m, s in r["settings"].items():
            lines.append(f"| {m} | {s[0]:g}, {s[1]:g} | " + " | ".join(f"{r['scores'][c][m]:.2f}" for c in cols) + " |")
        lines.append("")
    text = open(a.report).read()
    b, e = "<!-- joint-filter-eval: begin -->", "<!-- joint-filter-eval: end -->"
    i, j = text.index(b) + len(b), text.index(e)
    with open(a.report, "w") as f:
        f.write(text[:i] + "\n" + "\n".join(lines) + "\n" + text[j:])


if __name__ == "__main__":
    sys.exit(main())
