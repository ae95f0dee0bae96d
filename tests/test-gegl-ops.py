#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of Lisse's GEGL operations for the classical filters, through the
`gegl` command-line tool.

Usage: test-gegl-ops.py PATH/TO/lisse PATH/TO/lisse-gegl.so GEGL-PLUGINS-DIR

GEGL_PATH is set to GEGL's own operations plus the directory of the built
module.  For every op (lisse:l0, lisse:rtv, lisse:wls, lisse:guided,
lisse:rolling-guidance, lisse:bilateral) it checks:
  - `gegl --exists` (all six in one call);
  - `gegl --info`: the GIMP menu keys, and the properties with the names,
    types and defaults that `lisse filter --list` (the core's parameter
    specs) gives; with PyGObject, the value ranges as well;
  - a run on a procedural image (shapes, noise, an alpha gradient) with
    non-default properties: same size, alpha untouched, colour equal to
    `lisse filter` with the same settings within 1/255, and changed;
  - zoomed-out rendering (GEGL_MIPMAP_RENDERING=1, `gegl -s 0.5`, GEGL
    level 1): the result equals `lisse filter` on the half-size image GEGL
    feeds the op, with lengths halved (WLS's λ quartered), within 1/255.
The gegl and lisse processes run side by side; the test takes about 25 s
on two cores, most of it GEGL's start-up.  Prints TAP (the plan comes last).
"""

import os
import re
import shutil
import sys
import tempfile

from lisse_testlib import Tap, check_output, close, gegl_api, gegl_setup, import_or_skip, \
    parse_gegl_info, read_unit, run, run_all, shapes_rgba8

_, cv2 = import_or_skip("numpy", "cv2")
LISSE, GEGL = gegl_setup("test-gegl-ops.py")
TMP = tempfile.mkdtemp(prefix="lisse-gegl-test-")

# op -> (core filter, properties to set for the run, lengths scaled at level 1)
OPS = {
    "l0": ("l0", {"lambda": "0.03"}, {"lambda": 0.5}),
    "rtv": ("rtv", {"sigma": "2", "iterations": "2"}, {"sigma": 0.5}),
    "wls": ("wls", {"lambda": "2", "alpha": "1.5"}, {"lambda": 0.25}),
    "guided": ("guided", {"radius": "6", "epsilon": "0.02"}, {"radius": 0.5}),
    "rolling-guidance": ("rolling-guidance", {"sigma-s": "2", "iterations": "3"},
                         {"sigma-s": 0.5}),
    "bilateral": ("joint-bilateral", {"sigma-s": "3", "sigma-r": "0.15"}, {"sigma-s": 0.5}),
}
LEVEL_OPS = ["l0", "wls", "guided", "bilateral"]

tap = Tap()


def parse_lisse_list(text):
    """`lisse filter --list` -> {filter: {param: (min, max, default, integer)}}."""
    specs, current = {}, None
    head = re.compile(r"^(\S+)\s")
    param = re.compile(r"^\s+(\S+)\s+.*? in \[([^,\]]+), ([^\]]+)\], default ([^\s,]+)"
                       r"(, whole numbers)?")
    for line in text.splitlines():
        m = param.match(line)
        if m and current:
            specs[current][m.group(1)] = (float(m.group(2)), float(m.group(3)),
                                          float(m.group(4)), bool(m.group(5)))
            continue
        m = head.match(line)
        if m:
            current = m.group(1)
            specs[current] = {}
    return specs


def check_ranges(specs):
    """Exact minimum, maximum and default of every property via GEGL's API."""
    Gegl = gegl_api(tap)
    if Gegl is None:
        return
    for op, (core, _, _) in OPS.items():
        bad = []
        pspecs = {p.name: p for p in Gegl.Operation.list_properties(f"lisse:{op}")}
        for name, (lo, hi, default, _) in specs[core].items():
            p = pspecs.get(name)
            if p is None:
                bad.append(f"{name}: missing")
            elif not (close(p.minimum, lo) and close(p.maximum, hi)
                      and close(p.default_value, default)):
                bad.append(f"{name}: [{p.minimum}, {p.maximum}] default {p.default_value}, "
                           f"core [{lo}, {hi}] default {default}")
        tap(not bad, f"lisse:{op} value ranges and defaults equal the core's (GEGL API)",
            "\n".join(bad))


def compare(op, produced, expected, source, what):
    a, b, src = read_unit(produced), read_unit(expected), read_unit(source)
    if a is None or b is None:
        tap(False, f"lisse:{op} {what}: both outputs written",
            f"gegl: {produced if a is not None else 'missing'}; "
            f"lisse: {expected if b is not None else 'missing'}")
        return
    check_output(tap, f"lisse:{op} {what}", a, b, src, "`lisse filter`", "lisse", "smoothed")


def check_info(op, spec, r):
    keys, props = parse_gegl_info(r.stdout)
    tap(keys.get("name") == f"lisse:{op}"
        and keys.get("gimp:menu-path") == "<Image>/Filters/Lisse/Classic"
        and keys.get("gimp:menu-label", "").endswith("…")
        and keys.get("title") and keys.get("categories") and keys.get("description"),
        f"gegl --info lisse:{op}: name, title, categories, description, GIMP menu keys",
        r.stdout + r.stderr)
    tap(set(props) == set(spec), f"lisse:{op} properties are the core's {sorted(spec)}",
        f"gegl --info: {sorted(props)}")
    bad = []
    for name, (lo, hi, default, integer) in spec.items():
        if name not in props:
            continue
        ptype, shown = props[name]
        if ptype != ("gint" if integer else "gdouble"):
            bad.append(f"{name}: type {ptype}")
        # --info prints %f: compare to 6 decimals (every default is >= 1e-5).
        if shown is None or abs(float(shown) - default) > 5e-7 * max(1.0, default):
            bad.append(f"{name}: default {shown}, core {default}")
    tap(not bad, f"lisse:{op} property types and defaults equal the core's", "\n".join(bad))


def level_sets(sets, scaled):
    """The settings `lisse filter` needs on the half-size image."""
    out = {}
    for k, v in sets.items():
        value = float(v) * scaled.get(k, 1.0)
        if k == "radius":
            value = max(1, round(value))
        out[k] = f"{value:g}"
    return out


def main():
    src = os.path.join(TMP, "in.png")
    half_in = os.path.join(TMP, "half-in.png")
    cv2.imwrite(src, shapes_rgba8())
    r = run(LISSE, "filter", "--list")
    specs = parse_lisse_list(r.stdout)
    if not tap(r.returncode == 0 and all(core in specs for core, _, _ in OPS.values()),
               "lisse filter --list names every filter", r.stdout + r.stderr):
        tap.plan()
        return 1
    r = run(GEGL, "--exists", *[f"lisse:{op}" for op in OPS])
    if not tap(r.returncode == 0, "gegl --exists " + " ".join(f"lisse:{op}" for op in OPS),
               r.stderr):
        tap.plan()
        return 1

    mip = {"GEGL_MIPMAP_RENDERING": "1"}
    jobs = {}
    for op, (core, sets, _) in OPS.items():
        props = [f"{k}={v}" for k, v in sets.items()]
        jobs[("info", op)] = ([GEGL, "--info", f"lisse:{op}"], None)
        jobs[("gegl", op)] = ([GEGL, src, "-o", os.path.join(TMP, f"gegl-{op}.png"), "--",
                               f"lisse:{op}", *props], None)
        sets_args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
        jobs[("lisse", op)] = ([LISSE, "filter", core, "--depth", "16", *sets_args, src,
                                os.path.join(TMP, f"lisse-{op}.png")], None)
        if op in LEVEL_OPS:
            # GEGL level 1: `gegl -s 0.5` with mipmap rendering on.
            jobs[("gegl-half", op)] = ([GEGL, src, "-s", "0.5", "-o",
                                        os.path.join(TMP, f"half-gegl-{op}.png"), "--",
                                        f"lisse:{op}", *props], mip)
    # The half-size image GEGL hands an op at level 1.
    jobs[("half-in", None)] = ([GEGL, src, "-s", "0.5", "-o", half_in, "--", "gegl:nop"], mip)
    done = run_all(jobs)
    r = done[("half-in", None)]
    half_ok = tap(r.returncode == 0 and os.path.exists(half_in),
                  "gegl renders the level-1 mipmap of the test image", r.stderr)
    if half_ok:
        later = {}
        for op in LEVEL_OPS:
            core, sets, scaled = OPS[op]
            sets_args = [a for k, v in level_sets(sets, scaled).items()
                         for a in ("--set", f"{k}={v}")]
            later[("lisse-half", op)] = ([LISSE, "filter", core, *sets_args, half_in,
                                          os.path.join(TMP, f"half-lisse-{op}.png")], None)
        done.update(run_all(later))

    for op, (core, _, _) in OPS.items():
        check_info(op, specs[core], done[("info", op)])
    check_ranges(specs)
    for op, (core, sets, scaled) in OPS.items():
        rg, rl = done[("gegl", op)], done[("lisse", op)]
        ok = tap(rg.returncode == 0, f"gegl runs lisse:{op} "
                 + " ".join(f"{k}={v}" for k, v in sets.items()), rg.stderr)
        ok &= tap(rl.returncode == 0, f"lisse filter {core} runs with the same settings",
                  rl.stderr)
        if ok:
            compare(op, os.path.join(TMP, f"gegl-{op}.png"),
                    os.path.join(TMP, f"lisse-{op}.png"), src, "full size")
    for op in LEVEL_OPS:
        core, sets, scaled = OPS[op]
        rg = done[("gegl-half", op)]
        ok = tap(rg.returncode == 0, f"gegl runs lisse:{op} at level 1", rg.stderr)
        if not half_ok:
            continue
        rl = done[("lisse-half", op)]
        ok &= tap(rl.returncode == 0, f"lisse filter {core} runs on the half-size image with "
                  + " ".join(f"{k}={v}" for k, v in level_sets(sets, scaled).items()),
                  rl.stderr)
        if ok:
            compare(op, os.path.join(TMP, f"half-gegl-{op}.png"),
                    os.path.join(TMP, f"half-lisse-{op}.png"), half_in, "level 1")
    return tap.finish()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
