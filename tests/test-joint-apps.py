#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Joint Filter's learned applications on a scene the test makes, with the shipped fang19-rtv.

Usage: test-joint-apps.py PATH/TO/lisse

One scene of tools/eval/joint-filter-eval.py (a piecewise-planar depth map
and a textured photograph of it, seed 0, 192² px), the model fang19-rtv
from LISSE_MODEL_PATH (the test fails without it), `lisse effect joint-filter` at the settings
docs/joint-filter-eval.md chose.  Checks what each application must do
(upsampling is measured there, not here: no learned method beats bicubic
on these scenes yet, docs/joint-filter-eval.md):
  - flash / no-flash (learned-rtv, the flash photo as guide): PSNR against
    the clean photo at least 3 dB above the noisy input's;
  - colourisation (learned-colorize, strokes on the gray photo, the gray as
    guide): PSNR against the colour photo at least 3 dB above the gray's,
    and the strokes themselves kept.
Prints TAP (the plan comes last).
"""

import importlib.util
import os
import sys
import tempfile

from lisse_testlib import Tap, import_or_skip

np, cv2 = import_or_skip("numpy", "cv2")
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "joint_filter_eval", os.path.join(HERE, "..", "tools", "eval", "joint-filter-eval.py"))
jfe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jfe)
jfe.LISSE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else jfe.LISSE

# docs/joint-filter-eval.md's chosen settings (radius, range) of the learned methods.
SETTINGS = {"flash": (2.0, 0.1), "colorize": (4.0, 0.1)}
METHOD = {"flash": "learned-rtv", "colorize": "learned-colorize"}
MARGIN = {"flash": 3.0, "colorize": 3.0}

tap = Tap()
dirs = [d for d in os.environ.get("LISSE_MODEL_PATH", "").split(os.pathsep) if d]
if not tap(any(os.path.isfile(os.path.join(d, "fang19-rtv.safetensors")) for d in dirs),
           "fang19-rtv is in LISSE_MODEL_PATH", f"LISSE_MODEL_PATH={os.pathsep.join(dirs)!r}"):
    sys.exit(tap.finish())
with tempfile.TemporaryDirectory(prefix="lisse-joint-apps-") as tmp:
    for app in ("flash", "colorize"):
        for name, target, guide, score, base in jfe.cases(app, 0, 192, tmp):
            out = jfe.joint(tmp, METHOD[app], *SETTINGS[app], target, guide, 2)
            got = score(out)
            tap(got >= base + MARGIN[app],
                f"{name}: {METHOD[app]} {got:.2f} dB, baseline {base:.2f} dB (needs +{MARGIN[app]:g})")
            if app == "colorize":
                strokes = jfe.read(target)
                chroma = np.abs(strokes - strokes.mean(axis=2, keepdims=True)).sum(axis=2) > 0.05
                d = float(np.abs(out - strokes)[chroma].max())
                tap(d < 0.02, f"colourisation keeps the strokes (max |Δ| {d * 255:.1f}/255 on them)")
sys.exit(tap.finish())
