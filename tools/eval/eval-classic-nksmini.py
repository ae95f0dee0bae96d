#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Score Lisse's classical filters on NKS-mini over a small parameter grid.

Lisse — learned edge-preserving smoothing.

For each of the six filters (l0, rtv, wls, guided, bilateral = joint-bilateral
self-guided, rolling-guidance) every setting of the grid below runs on every
NKS-mini input (../shared/eval/nksmini, 200 textured images with ground truth);
the 8-bit PNG outputs are scored against the ground truth with
../shared/eval/metrics.py (mean of per-image PSNR and SSIM) and the best single
setting by mean PSNR is reported, as the calibration table of OpenCV's filters
in nksmini/README.md was made.

The filtering is done by tools/eval/classic-batch (one process per worker,
jobs fed through a pipe, so GEGL starts once per worker, not once per image):
--workers processes with LISSE_THREADS=1 each.  Each output PNG is scored as
soon as it is written and then deleted, so the scratch folder stays small.

Run inside the development environment (tools/dev exec), after tools/dev build:

  tools/dev exec python3 tools/eval/eval-classic-nksmini.py \\
      --doc docs/classic-eval-nksmini.md

Options: --filters l0,wls (a subset), --images N (N of the inputs in a fixed
spread over the set, for trials), --grid explore / explore2 (the wider grids
the final ones were chosen from, see the doc), --json FILE (every score, per
setting), --doc FILE (rewrite the results part of FILE, between its
"eval-classic-nksmini" markers; the rest of FILE is kept).
"""

import argparse
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "..", "shared", "eval"))
import metrics  # noqa: E402  (../shared/eval/metrics.py, the set's definitions)

# --------------------------------------------------------------------------
# Grids, in Lisse's units (images in [0,1]).  Centred on the OpenCV settings
# of the calibration table converted to Lisse's units:
#  - OpenCV's 8-bit σc / 255.  OpenCV's colour bilateral (bilateralFilter,
#    and the jointBilateralFilter inside rollingGuidanceFilter) measures the
#    colour distance as |ΔB|+|ΔG|+|ΔR|, Lisse as the Euclidean norm; NKS
#    texture is one grey layer added to R, G and B, so for it the L1 distance
#    is √3 times the L2 one and OpenCV's σc corresponds to σr = σc/(255·√3):
#    bilateral σc 80 → 0.18, RGF σc 45 → 0.10.
#  - Guided ε: OpenCV's 8-bit ε / 255².  The README's row says 0.15·255²,
#    but OpenCV's guidedFilter at ε 0.15·255² scores 31.9 dB here; its
#    33.15 dB is what ε 0.03·255² gives (measured; ε = (0.15·255)² = 0.0225
#    may be what was meant), so the grid is centred on 0.0225–0.03.
#  - L0's λ is the same number in both (OpenCV scales to [0,1] too).
#  - RTV and WLS have no OpenCV row; the first round spanned the papers'
#    ranges (RTV λ 0.01–0.03, σ 1–3; WLS λ 0.125–8, α 1.2–2).
#  Every final grid was centred on the best of two exploration rounds
#  (GRIDS["explore"], then GRIDS["explore2"] past the edges where the best
#  sat) run on a 40-image subset (--images 40); see the doc.
# --------------------------------------------------------------------------


def grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, v)) for v in itertools.product(*(axes[k] for k in keys))]


GRIDS = {
    "final": {
        "l0": grid(lam=[0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.012]),
        "rtv": grid(lam=[0.0015, 0.002, 0.0025, 0.003], sigma=[0.5, 1.0]),
        "wls": grid(lam=[0.125, 0.25, 0.5], alpha=[0.6, 0.9, 1.2]),
        "guided": grid(radius=[1, 2, 3, 4], epsilon=[0.015, 0.0225, 0.03, 0.045, 0.07]),
        "bilateral": grid(sigma_s=[2, 2.5, 3, 3.5, 4], sigma_r=[0.14, 0.18, 0.22, 0.26]),
        "rolling-guidance": grid(sigma_s=[3, 3.5, 4], sigma_r=[0.025, 0.035, 0.05],
                                 iterations=[3, 4]),
    },
    # First round, on 40 images (--images 40): wide grids around the OpenCV
    # settings and the papers' ranges.
    "explore": {
        "l0": grid(lam=[0.001, 0.002, 0.004, 0.007, 0.01, 0.02, 0.04]),
        "rtv": grid(lam=[0.003, 0.006, 0.01, 0.02, 0.03], sigma=[1.0, 2.0, 3.0]),
        "wls": grid(lam=[0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], alpha=[1.2, 1.6, 2.0]),
        "guided": grid(radius=[1, 2, 3, 4, 6], epsilon=[0.01, 0.03, 0.1, 0.15, 0.3]),
        "bilateral": grid(sigma_s=[1.5, 2, 3, 4, 6], sigma_r=[0.06, 0.1, 0.18, 0.3, 0.5]),
        "rolling-guidance": grid(sigma_s=[2, 3, 4, 6], sigma_r=[0.05, 0.1, 0.2],
                                 iterations=[2, 4]),
    },
    # Second round, beyond the edges where the first round's best sat.
    "explore2": {
        "rtv": grid(lam=[0.0005, 0.001, 0.002, 0.003], sigma=[0.5, 1.0]),
        "wls": grid(lam=[0.03, 0.06, 0.125, 0.25], alpha=[0.3, 0.6, 0.9, 1.2]),
        "rolling-guidance": grid(sigma_s=[2, 2.5, 3, 3.5], sigma_r=[0.02, 0.035, 0.05, 0.07],
                                 iterations=[4, 6]),
    },
}

# Filter name in the table → (Lisse method, {grid key: Lisse parameter}).
METHODS = {
    "l0": ("l0", {"lam": "lambda"}),
    "rtv": ("rtv", {"lam": "lambda", "sigma": "sigma"}),
    "wls": ("wls", {"lam": "lambda", "alpha": "alpha"}),
    "guided": ("guided", {"radius": "radius", "epsilon": "epsilon"}),
    "bilateral": ("joint-bilateral", {"sigma_s": "sigma-s", "sigma_r": "sigma-r"}),
    "rolling-guidance": ("rolling-guidance", {"sigma_s": "sigma-s", "sigma_r": "sigma-r",
                                              "iterations": "iterations"}),
}

# The README's rows (paper NKS; OpenCV on NKS-mini with its parameters).
REFERENCE = {
    "l0": ("28.32 / 0.90", "28.30 / 0.89 (λ 0.01, κ 2); 30.71 / 0.85 on a 16-px mirror-padded "
           "copy (λ 0.007)"),
    "rtv": ("30.69 / 0.90", "not measured"),
    "wls": ("—", "— (FGS, a fast WLS: 33.55 / 0.91, λ 20, σc 12)"),
    "guided": ("28.15 / 0.83", "33.15 / 0.88 (r 2; the README says ε 0.15·255², but 33.15 is "
               "what OpenCV gives at ε 0.0225–0.03·255², see below)"),
    "bilateral": ("—", "33.39 / 0.90 (σc 80, σs 4)"),
    "rolling-guidance": ("32.56 / 0.91", "33.58 / 0.92 (σc 45, σs 4, 2 iterations)"),
}


def setting_args(name, setting):
    method, keys = METHODS[name]
    return method, ["%s=%s" % (keys[k], repr(v) if isinstance(v, float) else v)
                    for k, v in setting.items()]


def setting_label(name, setting):
    return ", ".join("%s=%s" % (METHODS[name][1][k], v) for k, v in setting.items())


def spread(items, n):
    """n of the sorted items, every 7th (mod len): with 200 = 20 GT × 10
    textures, 40 of them hold every GT (1–3 times) and every texture 4 times."""
    if n >= len(items):
        return list(items)
    return [items[i] for i in sorted(k * 7 % len(items) for k in range(n))]


class Worker:
    """One classic-batch process; jobs go one at a time through its pipes."""

    def __init__(self, batch):
        env = dict(os.environ, LISSE_THREADS="1")
        env.setdefault("OMP_WAIT_POLICY", "passive")  # as `lisse` sets for itself
        self.proc = subprocess.Popen([batch], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, env=env)

    def run(self, method, inp, out, args):
        self.proc.stdin.write(" ".join([method, inp, out] + args) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().rstrip("\n")
        if not answer.startswith("ok "):
            raise RuntimeError("classic-batch: %s" % (answer or "ended unexpectedly"))
        return float(answer.rsplit(" ", 1)[1])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def evaluate(workers, tasks, scratch, gts):
    """Runs (key, method, args, image) tasks on the workers; returns
    {key: [(psnr, ssim, ms), …]}."""
    todo = queue.Queue()
    for t in tasks:
        todo.put(t)
    results = {}
    lock = threading.Lock()
    errors = []

    def lane(i, w):
        while not errors:
            try:
                key, method, args, image = todo.get_nowait()
            except queue.Empty:
                return
            out = os.path.join(scratch, "w%d.png" % i)
            try:
                ms = w.run(method, image["input"], out, args)
                got = cv2.imread(out, cv2.IMREAD_COLOR)
                os.remove(out)
                s = (metrics.psnr(got, gts[image["gt"]]), metrics.ssim(got, gts[image["gt"]]), ms)
            except Exception as e:  # noqa: BLE001 — reported below, ends the run
                errors.append(e)
                return
            with lock:
                results.setdefault(key, []).append(s)

    threads = [threading.Thread(target=lane, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=os.path.join(REPO, "..", "shared", "eval", "nksmini"))
    ap.add_argument("--batch", default=os.path.join(REPO, "build", "tools", "eval",
                                                    "classic-batch"))
    ap.add_argument("--scratch", default=os.path.join(REPO, "build-eval", "nksmini"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--filters", default=",".join(METHODS))
    ap.add_argument("--grid", choices=sorted(GRIDS), default="final")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--json", help="write every setting's scores here")
    ap.add_argument("--doc", help="write the Markdown results table here")
    ap.add_argument("--from-json", help="only rewrite --doc from a --json file of an earlier run")
    a = ap.parse_args()
    if a.from_json:
        if not a.doc:
            ap.error("--from-json needs --doc")
        with open(a.from_json) as f:
            write_doc(a.doc, json.load(f))
        return

    names = [n for n in a.filters.split(",") if n in GRIDS[a.grid] or n not in METHODS]
    for n in names:
        if n not in METHODS:
            ap.error("unknown filter %r (known: %s)" % (n, ", ".join(METHODS)))
    os.makedirs(a.scratch, exist_ok=True)
    inputs = sorted(f for f in os.listdir(os.path.join(a.set, "input")) if f.endswith(".png"))
    inputs = spread(inputs, a.images)
    images = [{"input": os.path.join(a.set, "input", f), "gt": f.split("_")[0]} for f in inputs]
    gts = {g: cv2.imread(os.path.join(a.set, "gt", g + ".png"), cv2.IMREAD_COLOR)
           for g in sorted({im["gt"] for im in images})}

    # The input itself, as a check of the set and the metrics (README: 28.02 / 0.56).
    ins = [cv2.imread(im["input"], cv2.IMREAD_COLOR) for im in images]
    base = (float(np.mean([metrics.psnr(x, gts[im["gt"]]) for x, im in zip(ins, images)])),
            float(np.mean([metrics.ssim(x, gts[im["gt"]]) for x, im in zip(ins, images)])))
    print("input: PSNR %.2f SSIM %.3f over %d images" % (base[0], base[1], len(images)),
          flush=True)

    workers = [Worker(a.batch) for _ in range(a.workers)]
    report = {"images": len(images), "workers": a.workers, "grid": a.grid,
              "input": base, "filters": {}}
    t_all = time.time()
    try:
        for name in names:
            settings = GRIDS[a.grid][name]
            t0 = time.time()
            tasks = []
            for si, s in enumerate(settings):
                method, args = setting_args(name, s)
                tasks += [(si, method, args, im) for im in images]
            res = evaluate(workers, tasks, a.scratch, gts)
            wall = time.time() - t0
            rows = []
            for si, s in enumerate(settings):
                r = np.array(res[si])
                rows.append({"setting": s, "label": setting_label(name, s),
                             "psnr": float(r[:, 0].mean()), "ssim": float(r[:, 1].mean()),
                             "ms_per_image": float(r[:, 2].mean())})
            best = max(rows, key=lambda r: r["psnr"])
            report["filters"][name] = {"rows": rows, "best": best, "wall_s": wall,
                                       "filter_cpu_s": float(sum(np.array(res[i])[:, 2].sum()
                                                                 for i in res) / 1000)}
            for r in rows:
                print("  %-16s %-44s PSNR %.2f SSIM %.3f  %.0f ms/img%s"
                      % (name, r["label"], r["psnr"], r["ssim"], r["ms_per_image"],
                         "  <- best" if r is best else ""), flush=True)
            print("%s: %d settings × %d images in %.0f s" % (name, len(settings), len(images),
                                                           wall), flush=True)
    finally:
        for w in workers:
            w.close()
    report["wall_s"] = time.time() - t_all
    print("total %.0f s" % report["wall_s"], flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    if a.doc:
        write_doc(a.doc, report)


def write_doc(path, report):
    """The results part of the doc: between the markers, the rest kept."""
    lines = []
    lines.append("| filter | best Lisse parameters | Lisse PSNR / SSIM | paper NKS PSNR / SSIM "
                 "| OpenCV on NKS-mini (README) |")
    lines.append("|---|---|---|---|---|")
    lines.append("| input | — | %.2f / %.2f | 28.04 / 0.54 | 28.02 / 0.56 |" % tuple(report["input"]))
    for name, f in report["filters"].items():
        b = f["best"]
        lines.append("| %s | %s | %.2f / %.3f | %s | %s |"
                     % (name, b["label"], b["psnr"], b["ssim"], *REFERENCE[name]))
    lines.append("")
    lines.append("Every setting (mean over %d images; ms: filter time per image, one thread):"
                 % report["images"])
    lines.append("")
    for name, f in report["filters"].items():
        lines.append("<details><summary>%s — %d settings × %d images: %.0f s wall, "
                     "%.0f s of filtering</summary>"
                     % (name, len(f["rows"]), report["images"], f["wall_s"],
                        f["filter_cpu_s"]))
        lines.append("")
        lines.append("| parameters | PSNR | SSIM | ms/image |")
        lines.append("|---|---|---|---|")
        for r in f["rows"]:
            mark = "**" if r["label"] == f["best"]["label"] else ""
            lines.append("| %s%s%s | %.2f | %.3f | %.0f |"
                         % (mark, r["label"], mark, r["psnr"], r["ssim"], r["ms_per_image"]))
        lines.append("")
        lines.append("</details>")
        lines.append("")
    lines.append("Wall time: %.0f s for all filters (%d classic-batch workers, one thread each; "
                 "filtering, PNG writing and scoring included)."
                 % (report["wall_s"], report["workers"]))
    body = "\n".join(lines)
    begin, end = "<!-- eval-classic-nksmini: begin -->", "<!-- eval-classic-nksmini: end -->"
    text = open(path).read() if os.path.exists(path) else "%s\n%s\n" % (begin, end)
    if begin not in text or end not in text:
        text += "\n%s\n%s\n" % (begin, end)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + body + "\n" + end + tail)


if __name__ == "__main__":
    main()
