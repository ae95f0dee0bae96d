#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped Fan 2018 smoothing model responds to λf, and tiles exactly.

Usage: test-fan18-lambda.py PATH/TO/lisse

Needs the model named fan18-smooth in $LISSE_MODEL_PATH (data/models in the
repository); without it the test FAILS, saying so: a trained model is part
of what ships.  The image is skimage's camera.png (a photo that is in the
corpus's held-out "val" split, training/corpus/manifest.json, so the network
never trained on it), shrunk to 256 × 256 and given as R' = G' = B'.
Checks, with `lisse run --depth 32` (float TIFF, no rounding):
  - total variation of the output falls strictly as lambda-f rises
    0.25 → 1 → 4 (λe = 0.1), and at λf = 4 it is below the input's;
  - `--tile 128` gives the whole-image output within 1e-4 at λf = 1.
Total variation: mean over pixels and channels of |x(i+1, j) − x(i, j)| +
|x(i, j+1) − x(i, j)|, on [0, 1] values.
Prints TAP (the plan comes last).
"""

import os
import shutil
import subprocess
import sys
import tempfile

from lisse_testlib import Tap, import_or_skip

MODEL = "fan18-smooth"
PHOTO = "/usr/lib/python3/dist-packages/skimage/data/camera.png"
SIZE = 256
TILE = 128
TOL = 1e-4

tap = Tap()


def total_variation(img):
    return float(abs(img[1:] - img[:-1]).mean() + abs(img[:, 1:] - img[:, :-1]).mean())


def main():
    np, cv2 = import_or_skip("numpy", "cv2")

    lisse = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
    search = os.environ.get("LISSE_MODEL_PATH", "")
    p = subprocess.run([lisse, "info", MODEL], capture_output=True, text=True, timeout=120)
    if not tap(p.returncode == 0, f"model {MODEL} is found in LISSE_MODEL_PATH",
               f"no usable model '{MODEL}' in LISSE_MODEL_PATH={search!r}: the trained "
               f"model must ship in data/models\n{p.stderr.strip()}"):
        return tap.finish()

    gray = cv2.imread(PHOTO, cv2.IMREAD_GRAYSCALE)
    if not tap(gray is not None, f"test photo {PHOTO} is readable",
               "python3-skimage (pinned in tools/dev-root.pins) provides it"):
        return tap.finish()
    gray = cv2.resize(gray, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    rgb = np.repeat(gray[..., None], 3, axis=2)

    tmp = tempfile.mkdtemp(prefix="lisse-fan18-lambda-")
    try:
        src = os.path.join(tmp, "in.png")
        cv2.imwrite(src, rgb)

        def run(lambda_f, tile=None):
            out = os.path.join(tmp, f"out-{lambda_f:g}-{tile or 0}.tif")
            cmd = [lisse, "run", "--model", MODEL, "--set", f"lambda-f={lambda_f:g}",
                   "--set", "lambda-e=0.1", "--depth", "32"]
            if tile:
                cmd += ["--tile", str(tile)]
            p = subprocess.run(cmd + [src, out], capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                return None, p.stderr.strip()
            img = cv2.imread(out, cv2.IMREAD_UNCHANGED)
            if img is None or img.dtype != np.float32 or img.shape != (SIZE, SIZE, 3):
                return None, f"{out}: not a {SIZE}×{SIZE} 3-channel float TIFF"
            return img.astype(np.float64), ""

        tv_in = total_variation(rgb.astype(np.float64) / 255.0)
        outs, tvs = {}, {}
        for lf in (0.25, 1.0, 4.0):
            img, err = run(lf)
            if tap(img is not None and bool(np.isfinite(img).all()),
                   f"lisse run at lambda-f={lf:g} writes a finite float image", err):
                outs[lf] = img
                tvs[lf] = total_variation(img)
        if len(tvs) == 3:
            diag = (f"TV input {tv_in:.5f}, λf 0.25 {tvs[0.25]:.5f}, 1 {tvs[1.0]:.5f}, "
                    f"4 {tvs[4.0]:.5f}")
            tap(tvs[0.25] > tvs[1.0], "TV falls from lambda-f 0.25 to 1", diag)
            tap(tvs[1.0] > tvs[4.0], "TV falls from lambda-f 1 to 4", diag)
            tap(tvs[4.0] < tv_in, "TV at lambda-f 4 is below the input's", diag)
            print(f"# {diag}")

        tiled, err = run(1.0, TILE)
        if tap(tiled is not None, f"lisse run --tile {TILE} succeeds", err) and 1.0 in outs:
            d = float(np.abs(tiled - outs[1.0]).max())
            tap(d <= TOL, f"--tile {TILE} equals the whole-image output within {TOL:g}",
                f"max |tiled − whole| = {d:.3g}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
