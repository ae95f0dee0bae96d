#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Training targets for Fang et al. 2019's learned filters: Lisse's own WLS,
L0 and RTV applied to the photo crops of build.py's crop pack.

    python3 training/corpus/build_filter_targets.py [--crops build-corpus/crops]
        [--out build-filter-targets] [--filters wls,l0,rtv] [--per-crop 7]

For every training crop and filter: --per-crop λ values drawn log-uniform
over the filter's range (RANGES, the ranges of the paper's Table 1), from a
seed fixed by (seed, filter, crop, j); for every validation crop (held out
by photo, as build.py splits them): the paper's five test values of Table 1
(EVAL_LAMBDAS).  Every other parameter at the filter's default.  The
filters run through build/tools/eval/classic-batch (one process, one
thread), exactly as `lisse filter` runs them.  Writes

  OUT/FILTER/{train,val}/STEM-J.png   the filtered crop (8-bit, as the crop)
  OUT/index.json                      per target: filter, λ, crop, file, split
                                      (written first: --index-only stops there)
  OUT/manifest.json                   the crop pack's index SHA-256, the git
                                      commit of the filters, the settings

With --grid N (and --range LO,HI) every crop of both splits gets the same N
λ values, log-spaced: the distillation targets of Fan 2018's training
(training/lisse_train/fan18_distill.py; `--filters l0 --grid 12 --range
0.0004,0.064 --out build-fan18-targets`).  Give a grid its own --out: a
file already there is kept whatever λ made it.

Resumable: a target already written is kept (its λ is a function of the
seed, so a rerun draws the same ones); classic-batch writes each file whole
before it answers, and a file that does not decode is made again.  Images: the crop pack's photos, with
the licences in training/corpus/manifest.json.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from debpkg import CorpusError, seed_int, sha256_file  # noqa: E402

FORMAT = "lisse-filter-targets-1"
# λ ranges for training (log-uniform) and the five test values per filter
# of Fang et al. 2019, Table 1.
RANGES = {"wls": (0.2, 5.0), "l0": (0.002, 0.05), "rtv": (0.002, 0.05)}
EVAL_LAMBDAS = {"wls": (0.2, 0.45, 1.0, 2.24, 5.0),
                "l0": (0.002, 0.005, 0.01, 0.02, 0.05),
                "rtv": (0.002, 0.0045, 0.01, 0.0224, 0.05)}
BATCH = REPO / "build" / "tools" / "eval" / "classic-batch"



def read_json(path: Path) -> dict:
    """A JSON file's object, or {} when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}

def log(msg):
    print(f"filter-targets: {msg}", flush=True)


def lambdas(filt, crop_file, split, per_crop, seed, grid=0, lam_range=None):
    if grid:
        # The same log-spaced values for every crop (distillation targets,
        # training/lisse_train/fan18_distill.py): a target at any λ between
        # two of them is their blend.
        lo, hi = lam_range or RANGES[filt]
        if grid == 1:
            return [lo]
        return [float(math.exp(math.log(lo) + j * (math.log(hi) - math.log(lo)) / (grid - 1)))
                for j in range(grid)]
    if split != "train":
        return list(EVAL_LAMBDAS[filt])
    lo, hi = RANGES[filt]
    out = []
    for j in range(per_crop):
        r = np.random.default_rng(seed_int(seed, "filter-target", filt, crop_file, j))
        out.append(float(math.exp(r.uniform(math.log(lo), math.log(hi)))))
    return out


def readable(path):
    if not path.is_file():
        return False
    import cv2
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is not None


def git_commit():
    r = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def build(a):
    crops_dir = Path(a.crops)
    if (crops_dir / "crops" / "index.json").is_file():
        crops_dir = crops_dir / "crops"
    idx_path = crops_dir / "index.json"
    if not idx_path.is_file():
        raise CorpusError(f"no crop pack at {crops_dir}: build it with training/corpus/build.py")
    if not os.access(BATCH, os.X_OK):
        raise CorpusError(f"{BATCH} is missing: build the repository first (tools/dev build)")
    crops = json.loads(idx_path.read_text())["crops"]
    out = Path(a.out)
    filters = [f for f in a.filters.split(",") if f]
    for f in filters:
        if f not in RANGES:
            raise CorpusError(f"unknown filter {f!r} (one of {', '.join(RANGES)})")
    lam_range = None
    if a.range:
        try:
            lam_range = tuple(float(v) for v in a.range.split(","))
        except ValueError:
            lam_range = ()
        if len(lam_range) != 2 or not 0 < lam_range[0] < lam_range[1]:
            raise CorpusError(f"--range wants LO,HI with 0 < LO < HI, not {a.range!r}")
    entries, jobs = [], []
    for filt in filters:
        for c in crops:
            stem = Path(c["file"]).stem
            for j, lam in enumerate(lambdas(filt, c["file"], c["split"], a.per_crop, a.seed,
                                          a.grid, lam_range)):
                rel = f"{filt}/{c['split']}/{stem}-{j}.png"
                entries.append({"filter": filt, "lambda": lam, "crop": c["file"],
                                "split": c["split"], "file": rel})
                dst = out / rel
                if not readable(dst):
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    jobs.append(f"{filt} {crops_dir / c['file']} {dst} lambda={lam:.6g}\n")
    log(f"{len(entries)} targets, {len(jobs)} to make")
    # The index first: it is a function of the seed and the crops, and a
    # trainer can start on the targets made so far (it skips missing files).
    # Filters not made in this run keep their entries (one filter at a time
    # must not drop the others').
    out.mkdir(parents=True, exist_ok=True)
    old = read_json(out / "index.json")
    kept = [e for e in old.get("targets", []) if e["filter"] not in filters] \
        if old.get("format") == FORMAT else []
    (out / "index.json").write_text(json.dumps({"format": FORMAT, "targets": kept + entries},
                                               indent=0))
    if a.index_only:
        return 0
    t0 = time.time()
    if jobs:
        env = dict(os.environ, LISSE_THREADS="1", OMP_NUM_THREADS="1")
        p = subprocess.Popen([str(BATCH), "--threads", "1", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
        # Jobs go in from a thread while the results are read here: written
        # at once, they would fill the pipe while the answers fill the other.
        def feed():
            for j in jobs:
                p.stdin.write(j)
            p.stdin.close()
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        done = failed = 0
        for line in p.stdout:
            done += 1
            if line.startswith("error"):
                failed += 1
                log(line.strip())
            if done % 200 == 0:
                log(f"{done}/{len(jobs)} in {time.time() - t0:.0f} s")
        p.wait()
        writer.join()
        if failed:
            raise CorpusError(f"{failed} targets failed")
    prev = read_json(out / "manifest.json")
    prev = prev if prev.get("format") == FORMAT and prev.get("settings", {}).get("seed") == a.seed \
        and prev.get("settings", {}).get("per_crop") == a.per_crop else {}
    kept_filters = [f for f in prev.get("settings", {}).get("filters", []) if f not in filters]
    all_filters = kept_filters + list(filters)
    manifest = {"format": FORMAT, "generator": "training/corpus/build_filter_targets.py",
                "crop_index_sha256": sha256_file(idx_path), "git_commit": git_commit(),
                "settings": {"seed": a.seed, "per_crop": a.per_crop, "filters": all_filters,
                             "grid": a.grid, "grid_range": list(lam_range) if lam_range else None,
                             "ranges": {f: RANGES[f] for f in all_filters},
                             "eval_lambdas": {f: EVAL_LAMBDAS[f] for f in all_filters}},
                "counts": {**{f: prev["counts"][f] for f in kept_filters},
                           **{f: {s: sum(e["filter"] == f and e["split"] == s for e in entries)
                                  for s in ("train", "val")} for f in filters}}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log(f"done: {manifest['counts']} ({time.time() - t0:.0f} s)")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crops", default="build-corpus/crops")
    ap.add_argument("--out", default="build-filter-targets")
    ap.add_argument("--filters", default="wls,l0,rtv")
    ap.add_argument("--per-crop", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", type=int, default=0,
                    help="instead of random λ: N values log-spaced over --range, the same "
                         "for every crop of both splits")
    ap.add_argument("--range", default="",
                    help="LO,HI of --grid (default: the filter's training range)")
    ap.add_argument("--index-only", action="store_true",
                    help="write OUT/index.json and stop (no filtering)")
    a = ap.parse_args(argv)
    try:
        return build(a)
    except CorpusError as e:
        print(f"filter-targets: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
