#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mean colour shift of a Fan 2018 model on held-out photos: what the model
cards quote.

    tools/dev exec python3 tools/eval/fan18-colour-shift.py [--model fan18-smooth] [--count 8]

For the first COUNT photos of the corpus manifest's val split (extracted in
build-corpus/extract by training/corpus/build.py), each shrunk to at most
256 px: `lisse run --depth 32` at λf 1 and 4 (λe 0.1), and the mean of
output − input per RGB channel.  Prints, per λf, the mean shift over the
photos (×255) and the largest |shift| of one channel of one photo (×255).
A smoothing network should not move the mean colour: the data term of the
energy penalises it, so a shift is a training defect (the detail model's
base layer shift is multiplied by gain − 1 in Magnify Detail).

With --magnify GAIN it also runs the Magnify Detail effect itself (`lisse
effect magnify-detail --set gain=GAIN`, the model given by --model, 8-bit
output as a user gets it) and reports its mean brightness shift: the shift
of the base layer times gain − 1, plus what clamping the magnified detail at
0 and 255 adds.  --per-photo also prints each photo's mean input colour and
its shift at each λf.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import tifffile
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="fan18-smooth")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--lisse", default="lisse")
    ap.add_argument("--magnify", type=float, metavar="GAIN",
                    help="also measure Magnify Detail's output at this gain")
    ap.add_argument("--per-photo", action="store_true", help="print every photo's shift too")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "training", "corpus", "manifest.json")) as f:
        manifest = json.load(f)
    photos = [i for i in manifest["images"] if i["split"] == "val"][: args.count]
    shifts = {1: [], 4: []}
    magnified = {lf: [] for lf in shifts}
    with tempfile.TemporaryDirectory(dir=os.path.join(ROOT, "build")) as tmp:
        src, out = os.path.join(tmp, "in.png"), os.path.join(tmp, "out.tif")
        for p in photos:
            path = os.path.join(ROOT, "build-corpus", "extract", p["package"] + p["path"])
            im = Image.open(path).convert("RGB")
            im.thumbnail((256, 256))
            im.save(src)
            a = np.asarray(im).astype(np.float64) / 255
            for lf in shifts:
                subprocess.run([args.lisse, "run", "--model", args.model, "--set", f"lambda-f={lf}",
                                "--depth", "32", src, out], check=True)
                o = tifffile.imread(out)[..., :3].astype(np.float64)
                shifts[lf].append((o - a).mean((0, 1)))
                if args.per_photo:
                    print(f"{p['package']}{p['path']} (mean colour ×255 "
                          f"{np.round(a.mean((0, 1)) * 255).astype(int)}) λf {lf}: "
                          f"RGB shift ×255 {np.round(shifts[lf][-1] * 255, 2)}")
                if args.magnify is not None:
                    png = os.path.join(tmp, "magnified.png")
                    subprocess.run([args.lisse, "effect", "magnify-detail", "--set", f"model={args.model}",
                                    "--set", f"lambda-f={lf}", "--set", f"gain={args.magnify}",
                                    "--depth", "8", src, png], check=True)
                    m = np.asarray(Image.open(png).convert("RGB")).astype(np.float64) / 255
                    magnified[lf].append((m - a).mean((0, 1)))
    for lf, s in shifts.items():
        s = np.array(s)
        print(f"{args.model} λf {lf}: mean RGB shift ×255 {np.round(s.mean(0) * 255, 2)}, "
              f"largest |shift| of one channel of one photo ×255 {np.abs(s).max() * 255:.2f} "
              f"({len(s)} photos)")
    for lf, s in magnified.items():
        if not s:
            continue
        s = np.array(s)
        print(f"magnify-detail gain {args.magnify:g} λf {lf}: mean RGB shift ×255 "
              f"{np.round(s.mean(0) * 255, 2)}, mean brightness shift ×255 {s.mean() * 255:.2f}, "
              f"largest |brightness shift| of one photo ×255 {np.abs(s.mean(1)).max() * 255:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
