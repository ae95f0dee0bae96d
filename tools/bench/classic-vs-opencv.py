#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time Lisse's classical filters against OpenCV's at 1 MP.

Lisse — learned edge-preserving smoothing.

Lisse runs through tests/classic-driver (--repeat K: the driver times the
filter call itself, no file I/O, and prints the median); OpenCV is timed
in this process around the call.  Both use the same thread count
(cv2.setNumThreads, classic-driver --threads).  Prints the medians and the
ratio Lisse / OpenCV; the goal is a ratio <= 1 for every filter.

OpenCV's joint bilateral and rolling guidance sum over a disc of radius
1.5 sigma_s by default (d = -1), Lisse over 3 sigma_s; both are timed: the
default (what an OpenCV user gets) and d = 2*ceil(3 sigma_s)+1 (the same
filter as Lisse's).

Usage: classic-vs-opencv.py --driver build/tests/classic-driver
                            [--threads N] [--runs 5] [--size 1024] [--only NAME]
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import cv2


def load_image(size):
    for d in ("/usr/lib/python3/dist-packages/skimage/data",):
        p = os.path.join(d, "astronaut.png")
        if os.path.exists(p):
            im = cv2.imread(p, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255
            break
    else:
        rng = np.random.default_rng(0)
        im = rng.random((512, 512, 3), dtype=np.float32)
    im = cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(np.clip(im, 0, 1))


def time_cv(fn, runs):
    fn()  # warm-up (allocations, thread pool)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1000 * float(np.median(ts))


def time_lisse(driver, threads, runs, method, params, img_path, guide_path=None):
    cmd = [driver, "--threads", str(threads), "--repeat", str(runs + 1)]
    for k, v in params.items():
        cmd += ["--set", "%s=%r" % (k, v)]
    if guide_path:
        cmd += ["--guide", guide_path]
    out = os.path.join(os.path.dirname(img_path), "out.npy")
    cmd += [method, img_path, out]
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    for tok in r.stdout.split():
        if tok.startswith("median="):
            return float(tok.split("=")[1])
    raise RuntimeError("no timing from the driver: " + r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=1024, help="image side (1024: 1 MP)")
    ap.add_argument("--only", help="run the cases whose name contains this")
    args = ap.parse_args()
    if not hasattr(cv2, "ximgproc"):
        print("classic-vs-opencv: OpenCV without ximgproc (contrib)", file=sys.stderr)
        return 77
    cv2.setNumThreads(args.threads)

    im = load_image(args.size)
    g = np.ascontiguousarray(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY))
    # A separate guide image so OpenCV takes its joint path (joint == src
    # would dispatch to cv2.bilateralFilter).
    joint = im.copy()
    tmp = tempfile.mkdtemp(prefix="lisse-bench-")
    ip, gp = os.path.join(tmp, "im.npy"), os.path.join(tmp, "g.npy")
    np.save(ip, np.ascontiguousarray(im.transpose(2, 0, 1)))
    np.save(gp, g)

    def d3(ss):
        return 2 * int(math.ceil(3 * ss)) + 1

    def rgf_paper(ss, sr, n, d):
        k = d3(ss)
        J = cv2.GaussianBlur(im, (k, k), ss)
        for _ in range(n - 1):
            J = cv2.ximgproc.jointBilateralFilter(J, im, d, sr, ss)
        return J

    cases = [
        # name, lisse method, params, guide?, [(opencv label, fn)]
        ("l0 λ0.02 κ2", "l0", {"lambda": 0.02, "kappa": 2.0}, None,
         [("l0Smooth", lambda: cv2.ximgproc.l0Smooth(im, None, 0.02, 2.0))]),
        ("guided self r8 ε0.01", "guided", {"radius": 8, "epsilon": 0.01}, None,
         [("guidedFilter", lambda: cv2.ximgproc.guidedFilter(im, im, 8, 0.01))]),
        ("guided grey r8 ε0.01", "guided", {"radius": 8, "epsilon": 0.01}, gp,
         [("guidedFilter", lambda: cv2.ximgproc.guidedFilter(g, im, 8, 0.01))]),
    ]
    for ss in (2, 4, 8):
        cases.append(("jbf grey σs%d σr0.1" % ss, "joint-bilateral", {"sigma-s": ss, "sigma-r": 0.1}, gp,
                      [("jointBilateralFilter d=-1", lambda ss=ss: cv2.ximgproc.jointBilateralFilter(g, im, -1, 0.1, ss)),
                       ("jointBilateralFilter d=6σ+1", lambda ss=ss: cv2.ximgproc.jointBilateralFilter(g, im, d3(ss), 0.1, ss))]))
        cases.append(("jbf colour σs%d σr0.1" % ss, "joint-bilateral", {"sigma-s": ss, "sigma-r": 0.1}, None,
                      [("jointBilateralFilter d=-1", lambda ss=ss: cv2.ximgproc.jointBilateralFilter(joint, im, -1, 0.1, ss)),
                       ("jointBilateralFilter d=6σ+1", lambda ss=ss: cv2.ximgproc.jointBilateralFilter(joint, im, d3(ss), 0.1, ss)),
                       ("bilateralFilter d=-1 (self)", lambda ss=ss: cv2.bilateralFilter(im, -1, 0.1, ss))]))
    cases.append(("rgf σs3 σr0.1 n4", "rolling-guidance", {"sigma-s": 3, "sigma-r": 0.1, "iterations": 4}, None,
                  [("rollingGuidanceFilter d=-1", lambda: cv2.ximgproc.rollingGuidanceFilter(im, None, -1, 0.1, 3, 4)),
                   ("paper from parts d=6σ+1", lambda: rgf_paper(3, 0.1, 4, d3(3)))]))

    print("%d×%d RGB float32, %d thread(s), median of %d runs; OpenCV %s" % (
        args.size, args.size, args.threads, args.runs, cv2.__version__))
    print("%-24s %10s  %-30s %10s %7s" % ("case", "Lisse ms", "OpenCV", "ms", "ratio"))
    worst = 0.0
    for name, method, params, guide, cvs in cases:
        if args.only and args.only not in name:
            continue
        lt = time_lisse(args.driver, args.threads, args.runs, method, params, ip, guide)
        for i, (label, fn) in enumerate(cvs):
            ct = time_cv(fn, args.runs)
            ratio = lt / ct
            if i == 0:
                worst = max(worst, ratio)
            print("%-24s %10s  %-30s %10.1f %7.2f" % (name if i == 0 else "", "%.1f" % lt if i == 0 else "",
                                                     label, ct, ratio), flush=True)
    print("worst ratio against OpenCV's default call: %.2f (goal <= 1)" % worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
