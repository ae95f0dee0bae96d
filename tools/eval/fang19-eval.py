#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fang et al. 2019's Table 1 for Lisse's learned filters: how close a
fang19 model comes to the exact filter it reproduces, and how much faster.

Lisse — learned edge-preserving smoothing.

    taskset -c 1 tools/dev exec python3 tools/eval/fang19-eval.py \\
        --model data/models/fang19-rtv.safetensors [--targets build-filter-targets] \\
        [--crops build-corpus/crops] [--count 74] [--threads 2] [--timing] [--json OUT]

Quality: for each of the paper's five test λ of the model's filter, the
PSNR (8-bit, ../shared/eval/metrics.py's rule) of `lisse run --model M
--set lambda=λ` against the exact filter's output on the held-out crops
(training/corpus/build_filter_targets.py's validation targets: photographs
never seen in training), per λ and on average, beside the paper's numbers.

Speed (--timing): one run each, same threads, of the exact filter (`lisse
filter F --set lambda=λ_ref`) and the learned one (`lisse run`) on a 1 MP
image (a held-out crop scaled to 1152×864) and, with --12mp, on a 12 MP one
(4000×3000); wall seconds and peak resident memory of each process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LISSE = os.path.join(REPO, "build", "core", "cli", "lisse")
PEAK_RSS = os.path.join(REPO, "tests", "hostile", "peak_rss.py")
# The paper's Table 1 ("Ours"), per filter: λ → PSNR.
PAPER = {"wls": {0.2: 44.17, 0.45: 44.67, 1.0: 44.45, 2.24: 44.07, 5.0: 43.42},
         "l0": {0.002: 44.61, 0.005: 40.98, 0.01: 38.67, 0.02: 36.58, 0.05: 34.16},
         "rtv": {0.002: 40.40, 0.0045: 41.01, 0.01: 41.45, 0.0224: 41.04, 0.05: 39.29}}


def metadata(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def psnr8(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def run(args, threads):
    """`lisse ARGS`: (wall seconds, peak resident MiB), through
    tests/hostile/peak_rss.py so that this script's own memory is not counted."""
    env = dict(os.environ, LISSE_THREADS=str(threads))
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, PEAK_RSS, rss.name, LISSE, *args],
                           capture_output=True, text=True, env=env)
        secs = time.monotonic() - t0
        peak = int(rss.read() or 0) / 1024.0
    if p.returncode != 0:
        raise SystemExit(f"lisse {' '.join(args)}: {p.stderr.strip()}")
    return secs, peak


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--targets", default="build-filter-targets")
    ap.add_argument("--crops", default="build-corpus/crops")
    ap.add_argument("--count", type=int, default=74, help="held-out crops per λ")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--12mp", dest="twelve", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    meta = metadata(a.model)
    filt = meta.get("filter")
    if meta.get("architecture") != "fang19" or filt not in PAPER:
        raise SystemExit(f"{a.model}: not a fang19 model of wls, l0 or rtv")
    crops = a.crops if os.path.isfile(os.path.join(a.crops, "index.json")) \
        else os.path.join(a.crops, "crops")
    with open(os.path.join(a.targets, "index.json")) as f:
        entries = [e for e in json.load(f)["targets"] if e["filter"] == filt and e["split"] == "val"
                   and os.path.isfile(os.path.join(a.targets, e["file"]))]
    tmp = tempfile.mkdtemp(prefix="lisse-fang19-eval-")
    scores = {}
    seen = {}
    for e in entries:
        lam = e["lambda"]
        if seen.get(lam, 0) >= a.count:
            continue
        seen[lam] = seen.get(lam, 0) + 1
        out = os.path.join(tmp, "out.png")
        run(["run", "--model", a.model, "--set", f"lambda={lam:g}", os.path.join(crops, e["crop"]),
             out], a.threads)
        got = cv2.imread(out, cv2.IMREAD_COLOR)
        want = cv2.imread(os.path.join(a.targets, e["file"]), cv2.IMREAD_COLOR)
        scores.setdefault(lam, []).append(psnr8(got, want))
    rows = {f"{lam:g}": float(np.mean(v)) for lam, v in sorted(scores.items())}
    result = {"model": os.path.basename(a.model), "filter": filt, "steps": meta.get("steps"),
              "images_per_lambda": min(seen.values()) if seen else 0, "psnr": rows,
              "psnr_mean": float(np.mean(list(rows.values()))) if rows else None,
              "paper": {f"{k:g}": v for k, v in PAPER[filt].items()},
              "paper_mean": float(np.mean(list(PAPER[filt].values())))}
    print(f"{filt}: " + "  ".join(f"λ {k}: {v:.2f} dB" for k, v in rows.items())
          + f"  mean {result['psnr_mean']:.2f} (paper {result['paper_mean']:.2f})")

    if a.timing:
        lam_ref = json.loads(meta.get("params", "[{}]"))[0].get("default", 0.01)
        src = cv2.imread(os.path.join(crops, entries[0]["crop"]), cv2.IMREAD_COLOR)
        sizes = [("1 MP", 1152, 864)] + ([("12 MP", 4000, 3000)] if a.twelve else [])
        result["timing"] = {}
        for label, w, h in sizes:
            img = os.path.join(tmp, f"in-{w}.png")
            cv2.imwrite(img, cv2.resize(src, (w, h), interpolation=cv2.INTER_CUBIC))
            exact = run(["filter", filt, "--set", f"lambda={lam_ref:g}", img,
                         os.path.join(tmp, "exact.png")], a.threads)
            learned = run(["run", "--model", a.model, "--set", f"lambda={lam_ref:g}", img,
                           os.path.join(tmp, "learned.png")], a.threads)
            result["timing"][label] = {"exact_s": exact[0], "exact_peak_mib": exact[1],
                                       "learned_s": learned[0], "learned_peak_mib": learned[1],
                                       "threads": a.threads}
            print(f"{label}, {a.threads} threads: exact {filt} {exact[0]:.2f} s, "
                  f"learned {learned[0]:.2f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
