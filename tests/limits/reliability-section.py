#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/reliability.md's "Parameters at their limits" section, put together
from the parts the limits tests write with --table (`meson test --suite
limits` writes them into BUILD/tests/limits/):

  python3 tests/limits/reliability-section.py BUILD/tests/limits > section.md

A part that is missing (its test did not run) is named as such, so the
section never shows an old result as a current one."""

import os
import sys

PARTS = [
    ("cli", "Command line (`lisse effect`, `lisse filter`)",
     "tests/limits/test-cli-limits.py"),
    ("maps", "Per-pixel maps: Content-Aware's mask, the Fan 2018 λf map",
     "tests/limits/test-lambda-maps.py"),
    ("gegl", "GEGL operations", "tests/limits/test-gegl-limits.py"),
    ("gimp", "GIMP procedures (PDB, procedure configs, Script-Fu)",
     "tests/limits/test-gimp-limits.py"),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: reliability-section.py BUILD/tests/limits")
    folder = sys.argv[1]
    out = ["## Parameters at their limits", "",
           "Every parameter of every effect and classical filter, read from the registries, "
           "at its minimum, at its maximum and just outside, through each front end "
           "(`meson test --suite limits`; the tables below are written by the tests).", ""]
    for key, title, test in PARTS:
        out += [f"### {title}", ""]
        path = os.path.join(folder, f"reliability-limits-{key}.md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                out.append(f.read().rstrip("\n"))
        else:
            out.append(f"*Not run here ({test} wrote no {os.path.basename(path)}).*")
        out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
