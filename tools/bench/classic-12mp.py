#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wall time and peak memory of `lisse filter` for every classical filter on a
12 MP (4000 × 3000) RGB photograph.

Lisse — learned edge-preserving smoothing.

The picture is skimage's astronaut.png (512², shipped by python3-skimage)
enlarged bicubically to 4000 × 4000, its middle 3000 rows kept, with a fixed
Gaussian grain of σ = 2 grey levels added (an enlarged 512² image alone is
smoother than any camera picture, and the solvers' iteration counts depend on
that).  It is written as an 8-bit PNG under build-eval/12mp/ (git-ignored).

Each filter runs once, with its default parameters (`lisse filter --list`),
as one `lisse filter METHOD IN OUT` process; the time is that process's wall
time (PNG decode and encode included) and its user + system CPU time, the
memory its peak resident set (ru_maxrss of that process, from os.wait4).
A separate process per filter makes every peak its own.  Linux carries the
forking parent's peak into the child's ru_maxrss, so this process stays
small: numpy and OpenCV are imported only in the child that makes the
picture, and the first row, /bin/true measured the same way, shows that
floor.

Run inside the development environment, after tools/dev build:

  tools/dev exec python3 tools/bench/classic-12mp.py [--threads N] [--only wls,rtv]
                                                     [--width 4000 --height 3000]

Prints one Markdown table row per filter.  Never run by the tests.
"""

import argparse
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILTERS = ["l0", "rtv", "wls", "guided", "joint-bilateral", "rolling-guidance"]


def make_image(path, width, height):
    import cv2
    import numpy as np

    src = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"
    im = cv2.imread(src, cv2.IMREAD_COLOR)
    if im is None:
        sys.exit("classic-12mp: %s not found (python3-skimage)" % src)
    side = max(width, height)
    big = cv2.resize(im, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    y0, x0 = (side - height) // 2, (side - width) // 2
    big = big[y0:y0 + height, x0:x0 + width]
    rng = np.random.default_rng(12)
    big += rng.normal(0.0, 2.0, big.shape[:2]).astype(np.float32)[..., None]
    cv2.imwrite(path, np.clip(big + 0.5, 0, 255).astype(np.uint8))


def run(cmd):
    """Runs cmd; returns (wall s, user+sys s, peak RSS bytes, exit status)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lisse", default="lisse")
    ap.add_argument("--threads", type=int, default=0, help="default: lisse's own (all cores)")
    ap.add_argument("--only", default=",".join(FILTERS))
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--dir", default=os.path.join(REPO, "build-eval", "12mp"))
    ap.add_argument("--make-image", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.make_image:
        make_image(a.make_image, a.width, a.height)
        return

    os.makedirs(a.dir, exist_ok=True)
    inp = os.path.join(a.dir, "astronaut-%dx%d.png" % (a.width, a.height))
    if not os.path.exists(inp):
        subprocess.run([sys.executable, os.path.abspath(__file__), "--make-image", inp,
                        "--width", str(a.width), "--height", str(a.height)], check=True)
    px = a.width * a.height
    print("image: %s (%d × %d, %.1f MP); float image tensor %.0f MiB"
          % (inp, a.width, a.height, px / 1e6, px * 3 * 4 / 2**20), flush=True)
    print("| filter | wall s | CPU s | peak RSS MiB | peak RSS B/px |")
    print("|---|---|---|---|---|", flush=True)
    wall, cpu, rss, rc = run(["/bin/true"])
    print("| (/bin/true) | %.1f | %.1f | %.0f | — |" % (wall, cpu, rss / 2**20), flush=True)
    for name in a.only.split(","):
        out = os.path.join(a.dir, "out-%s.png" % name)
        cmd = [a.lisse, "filter", name]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        wall, cpu, rss, rc = run(cmd + [inp, out])
        if rc != 0:
            print("| %s | failed (exit %d) | | | |" % (name, rc), flush=True)
            continue
        os.remove(out)
        print("| %s | %.1f | %.1f | %.0f | %.0f |"
              % (name, wall, cpu, rss / 2**20, rss / px), flush=True)


if __name__ == "__main__":
    main()
