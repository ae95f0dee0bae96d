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

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import cv2
except ImportError as e:  # the dev root has them; elsewhere say why we skip
    print(f"1..0 # SKIP missing Python module: {e.name}")
    sys.exit(0)

if len(sys.argv) < 4:
    print("1..0 # SKIP usage: test-gegl-ops.py LISSE MODULE GEGL-PLUGINS-DIR")
    sys.exit(0)

LISSE = os.path.abspath(sys.argv[1])
MODULE_DIR = os.path.dirname(os.path.abspath(sys.argv[2]))
GEGL = shutil.which("gegl")
if not GEGL:
    print("1..0 # SKIP the gegl command-line tool is not installed")
    sys.exit(0)

# GEGL_PATH replaces GEGL's default search path, so it names the system
# operations (png-load, png-save) as well as ours.
os.environ["GEGL_PATH"] = os.pathsep.join([sys.argv[3], MODULE_DIR])
os.environ.pop("GEGL_MIPMAP_RENDERING", None)
# The processes run side by side (each is mostly GEGL's start-up); one
# engine thread each keeps them from fighting over the cores.  Results do
# not depend on the thread count.
os.environ["LISSE_THREADS"] = "1"
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
TOL = 1.0 / 255

_count = 0
_failed = 0


def tap(ok, description, diag=None):
    global _count, _failed
    _count += 1
    if not ok:
        _failed += 1
    print(f"{'ok' if ok else 'not ok'} {_count} - {description}")
    if not ok and diag:
        for line in str(diag).splitlines()[:20]:
            print(f"# {line}")
    sys.stdout.flush()
    return ok


def run(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, errors="replace",
                          env=e, timeout=120)


def run_all(commands):
    """{key: (args, env)} -> {key: CompletedProcess}, run concurrently."""
    workers = max(2, os.cpu_count() or 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {k: pool.submit(run, *args, env=env) for k, (args, env) in commands.items()}
        return {k: f.result() for k, f in futures.items()}


def read(path):
    """An image as float RGBA in [0,1] (8- or 16-bit PNG)."""
    x = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if x is None:
        return None
    scale = 65535.0 if x.dtype == np.uint16 else 255.0
    return x.astype(np.float64) / scale


def make_image(path, w=128, h=96):
    """Flat shapes with sharp edges, noise, and alpha rising left to right."""
    rng = np.random.default_rng(5)
    img = np.zeros((h, w, 4), np.float32)
    img[..., :3] = (0.35, 0.4, 0.3)
    cv2.rectangle(img, (10, 12), (58, 70), (0.9, 0.2, 0.1, 0), -1)
    cv2.circle(img, (94, 48), 24, (0.1, 0.65, 0.9, 0), -1)
    cv2.line(img, (0, 90), (127, 80), (0.95, 0.95, 0.2, 0), 3)
    img[..., :3] += rng.normal(0.0, 0.05, (h, w, 3))
    img[..., 3] = np.linspace(0.25, 1.0, w)[None, :]
    cv2.imwrite(path, np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8))


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


def parse_gegl_info(text):
    """`gegl --info OP` -> (keys, {property: (type, default)})."""
    keys, props = {}, {}
    lines = text.splitlines()
    try:
        split = lines.index("Properties:")
    except ValueError:
        split = len(lines)
    key = None
    for line in lines[:split]:
        m = re.match(r"^(\S+)\s+(.*)$", line)
        if m:
            key = m.group(1)
            keys[key] = m.group(2).strip()
        elif key and line.strip():
            keys[key] += " " + line.strip()
    blocks, name = {}, None
    for line in lines[split + 1:]:
        m = re.match(r"^(\S+)\s+\[(\w+)\]\s*(.*)$", line)
        if m:
            name = m.group(1)
            blocks[name] = [m.group(2), m.group(3)]
        elif name:
            blocks[name][1] += " " + line.strip()
    for name, (ptype, rest) in blocks.items():
        m = re.search(r"\(default: ([^)]+)\)", rest)
        props[name] = (ptype, m.group(1) if m else None)
    return keys, props


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def check_ranges(specs):
    """Exact minimum, maximum and default of every property via GEGL's API."""
    try:
        import gi
        gi.require_version("Gegl", "0.4")
        from gi.repository import Gegl
    except (ImportError, ValueError) as e:
        print(f"ok {_count + 1} # SKIP PyGObject with Gegl 0.4 is not available: {e}")
        globals()["_count"] += 1
        return
    # The ops declare "license" GPL3+, which GEGL hides from applications
    # that have not accepted GPL3 (the gegl tool and GIMP have); say so
    # before GEGL loads its modules.
    Gegl.config().props.application_license = "GPL3"
    Gegl.init(None)
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
    a, b, src = read(produced), read(expected), read(source)
    if a is None or b is None:
        tap(False, f"lisse:{op} {what}: both outputs written",
            f"gegl: {produced if a is not None else 'missing'}; "
            f"lisse: {expected if b is not None else 'missing'}")
        return
    if not tap(a.shape == src.shape and b.shape == src.shape,
               f"lisse:{op} {what}: output size equals input size",
               f"input {src.shape}, gegl {a.shape}, lisse {b.shape}"):
        return
    alpha = np.abs(a[..., 3] - src[..., 3]).max()
    tap(alpha < 1e-9, f"lisse:{op} {what}: alpha unchanged", f"max alpha change {alpha}")
    diff = np.abs(a[..., :3] - b[..., :3]).max()
    tap(diff <= TOL + 1e-9, f"lisse:{op} {what}: equals `lisse filter` within 1/255",
        f"max difference {diff * 255:.3f}/255")
    change = np.abs(a[..., :3] - src[..., :3]).mean()
    tap(change > 0.005, f"lisse:{op} {what}: the image is smoothed",
        f"mean change {change:.5f}")


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
    make_image(src)
    r = run(LISSE, "filter", "--list")
    specs = parse_lisse_list(r.stdout)
    if not tap(r.returncode == 0 and all(core in specs for core, _, _ in OPS.values()),
               "lisse filter --list names every filter", r.stdout + r.stderr):
        print(f"1..{_count}")
        return 1
    r = run(GEGL, "--exists", *[f"lisse:{op}" for op in OPS])
    if not tap(r.returncode == 0, "gegl --exists " + " ".join(f"lisse:{op}" for op in OPS),
               r.stderr):
        print(f"1..{_count}")
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
    print(f"1..{_count}")
    return 1 if _failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
