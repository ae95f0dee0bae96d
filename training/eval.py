#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Held-out evaluation of a Fan 2018 model (issue 4): energy of the network's
output against the input and per-image Adam, times, contact sheet.  The work
is in lisse_train/eval.py; docs/fan18-eval.md says how to run it and what the
numbers mean.

    tools/dev exec env PYTHONPATH=training python3 training/eval.py \
        --model fan18-smooth --out docs/fan18-eval-smooth \
        --sheet docs/fan18-contact-sheet.png
"""

import os
import sys

# Before torch loads: spinning OpenMP workers make the energy's many small
# element-wise ops many times slower at 2 threads on a busy host
# (training/README.md, "cpu").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lisse_train.eval import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
