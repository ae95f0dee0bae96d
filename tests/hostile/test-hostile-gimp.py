#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile images through GIMP, in ONE Script-Fu batch run of
gimp-console: every effect's plug-in procedure (plug-in-lisse-NAME, its
default arguments; Joint Filter with a guide layer of the same size) and
every filter's GEGL operation (gimp-drawable-merge-new-filter, its default
properties), read from the registries.

Usage: test-hostile-gimp.py PATH/TO/plugin/lisse PATH/TO/lisse PATH/TO/lisse-gegl.so GEGL-PLUGINS-DIR

The plug-in and a private profile are set up as test-gimp-batch.py does;
GEGL_PATH names GIMP's GEGL and the built module; models are tiny random
ones made here; LISSE_MEMORY_BUDGET is 768M for the whole session (every
case but the budget ones fits: the largest, RTV on the strip, needs 539 MiB;
every filter on the 6000×6000 layer needs 969 MiB or more).
Each case is ONE image, loaded once, with a copy of its layer per method
side by side and exported once: GIMP's time goes to the plug-in processes
(every load, export and procedure call is one).

Each method gets:
  - sizes 1×1, 1×17, 17×1, 2×2 and 24×20 gray, gray + alpha, RGBA with a
    fully transparent block and 16-bit RGB (PNG files): the run succeeds,
    the layer keeps its type (gimp-drawable-type), alpha is unchanged, and
    the pixels equal `lisse` on the same file within 1/255 (one engine);
  - a tall 64×20000 gray strip (guide: a gray strip of the same size), with
    the same checks;
  - a float RGBA image (float TIFF) holding NaN, +inf, -inf and 3e38, and
    the same image with those values replaced by core/finite.h's rule: both
    runs succeed, the colour is finite, and the two results are equal;
  - indexed (a palette PNG): every plug-in procedure refuses with a message
    naming it, and the image's pixels are as they were; a filter op on an
    indexed layer is GIMP's to run (it converts to RGB and back): it is
    only required not to crash;
and the memory budget: each procedure on a 30000×30000 layer (no pixel
memory until written) fails with a message naming the budget before it
reads a pixel, the image clean and its pixels (a 16×16 crop) as they were;
each filter op on a 6000×6000 checkerboard (beyond 768 MiB for every
filter) logs one warning naming itself and the budget, and the layer's
histogram is unchanged (GIMP still records the merge as an undo step: an
op cannot fail).
Prints TAP.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lisse_testlib import SCRIPT_FU_PRELUDE, Tap, gimp_test_profile, import_or_skip, skip_all  # noqa: E402

np, _, _, _ = import_or_skip("numpy", "cv2", "tifffile", "safetensors.numpy")
import hostile_images as hi  # noqa: E402
import hostile_methods as hm  # noqa: E402

# Measures a command's own peak resident size (see there).
PEAK_RSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak_rss.py")

if len(sys.argv) < 5:
    skip_all("usage: test-hostile-gimp.py PLUGIN LISSE GEGL-MODULE GEGL-PLUGINS-DIR")
GIMP = shutil.which("gimp-console-3.0")
if not GIMP:
    skip_all("gimp-console-3.0 is not installed")
PLUGIN, LISSE, MODULE = (os.path.abspath(a) for a in sys.argv[1:4])
GEGL_SYS = sys.argv[4]
FW, FH = 24, 20
SIZES = {"1x1": (1, 1), "1x17": (1, 17), "17x1": (17, 1), "2x2": (2, 2)}
STRIP = (64, 20000)
BUDGET = "768M"
BIG_FILTER = 6000         # a side beyond 768 MiB for every filter on a gray layer
tap = Tap()


# lisse_testlib's Script-Fu prelude and this test's helpers: export under
# a file name, a copy of a layer placed k widths to the right, a histogram.
SCHEME_PRELUDE = SCRIPT_FU_PRELUDE + r"""
(define (export img name) (gimp-file-save RUN-NONINTERACTIVE img (string-append "%(tmp)s/" name) -1))
(define (place img l0 k w)
  (let ((l (car (gimp-layer-copy l0))))
    (gimp-image-insert-layer img l 0 0)
    (gimp-layer-set-offsets l (* k w) 0)
    l))
(define (histogram l)
  (gimp-drawable-histogram l HISTOGRAM-VALUE 0.0 1.0))
"""


Run = collections.namedtuple("Run", "kind name aux op")   # op: a filter's GEGL op


def call(m, guide_var="guide"):
    """Script-Fu that applies @m to layer `l` of image `img`."""
    if m.kind == "effect":
        args = "#:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector l)"
        if m.aux == "guide":
            args += f" #:guide {guide_var}"
        return f"(plug-in-lisse-{m.name} {args})"
    return f'(gimp-drawable-merge-new-filter l "{m.op}" "lisse" LAYER-MODE-REPLACE 1.0)'


def filter_ops(lisse, methods):
    """Each filter Method with .op, its GEGL op (the one whose description
    names the filter's title), found with PyGObject's GEGL or the tool."""
    listing = subprocess.run([lisse, "filter", "--list"], capture_output=True, text=True,
                             errors="replace").stdout
    gegl = shutil.which("gegl")
    env = dict(os.environ, GEGL_PATH=os.pathsep.join([GEGL_SYS, os.path.dirname(MODULE)]))
    ops = [o for o in subprocess.run([gegl, "--list-all"], capture_output=True, text=True,
                                     errors="replace", env=env).stdout.split()
           if o.startswith("lisse:")]
    infos = {o: subprocess.run([gegl, "--info", o], capture_output=True, text=True,
                               errors="replace", env=env).stdout.replace("\n", " ") for o in ops}
    out = []
    for m in methods:
        if m.kind != "filter":
            continue
        line = next(x for x in listing.splitlines() if x.startswith(m.name + " "))
        title = line[len(m.name):].strip().split(" (")[0]
        op = next((o for o, text in infos.items() if title in re.sub(r"\s+", " ", text)), None)
        out.append((m, op))
    return out


def main():
    profile = gimp_test_profile(PLUGIN, "test-hostile-gimp")

    tmp = tempfile.mkdtemp(prefix="lisse-hostile-gimp-")
    models = os.path.join(tmp, "models")
    _, note = hm.make_models(models)
    methods = hm.registry(LISSE)
    effects = [m for m in methods if m.kind == "effect" and m.default]   # default arguments
    fops = filter_ops(LISSE, methods)
    missing = [m.name for m, op in fops if op is None]
    if not tap(not missing and len(effects) >= 7 and len(fops) >= 6,
               f"{len(effects)} plug-in procedures and {len(fops)} filter ops to run",
               f"no GEGL op for {missing}"):
        return tap.finish()
    # The procedures first, then the filter ops: what `call` applies.
    runs = [Run("effect", m.name, m.aux, None) for m in effects] + \
        [Run("filter", m.name, None, op) for m, op in fops]

    # Input files: one per case; a gray guide for the gray cases, so that
    # GIMP (which converts a layer to its image's mode) and `lisse` see the
    # same guide.
    inputs = {}
    for tag, (w, h) in SIZES.items():
        hi.write_png(os.path.join(tmp, f"{tag}.png"), hi.scene(h, w, 4, seed=w * 100 + h))
        hi.write_png(os.path.join(tmp, f"guide-{tag}.png"), hi.scene(h, w, 3, seed=9))
        inputs[tag] = (f"{tag}.png", f"guide-{tag}.png")
    base = hi.scene(FH, FW, 4, seed=11)
    hi.write_png(os.path.join(tmp, "guide.png"), hi.scene(FH, FW, 3, seed=9))
    hi.write_png(os.path.join(tmp, "guide-gray.png"), hi.scene(FH, FW, 1, seed=9))
    hi.write_png(os.path.join(tmp, "gray.png"), hi.scene(FH, FW, 1))
    hi.write_png(os.path.join(tmp, "graya.png"), hi.scene(FH, FW, 2))
    hi.write_png(os.path.join(tmp, "rgba-t.png"), hi.with_transparent_block(base))
    hi.write_png(os.path.join(tmp, "rgb16.png"), base[..., :3], bits=16)
    hi.write_indexed_png(os.path.join(tmp, "indexed.png"), base)
    sw, sh = STRIP
    hi.write_png(os.path.join(tmp, "strip.png"), hi.scene(sh, sw, 1, seed=3))
    hi.write_png(os.path.join(tmp, "guide-strip.png"), hi.scene(sh, sw, 1, seed=4))
    bad, _ = hi.with_non_finite(base)
    hi.write_float_tiff(os.path.join(tmp, "nan.tif"), bad)
    hi.write_float_tiff(os.path.join(tmp, "nan-rule.tif"), hi.finite_rule(bad, 3))
    inputs.update({"gray": ("gray.png", "guide-gray.png"),
                   "gray-alpha": ("graya.png", "guide-gray.png"),
                   "rgba-transparent": ("rgba-t.png", "guide.png"), "rgb16": ("rgb16.png", "guide.png"),
                   "nan": ("nan.tif", "guide.png"), "nan-rule": ("nan-rule.tif", "guide.png"),
                   "strip": ("strip.png", "guide-strip.png")})
    n = len(runs)

    # The Script-Fu: per case ONE image, loaded once, holding one copy of
    # the layer per method side by side (offset i × width), each method
    # applied to its own copy, exported once: a plug-in process per load,
    # export and procedure call is what GIMP's time goes to.
    results_path = os.path.join(tmp, "results.txt")
    lines = [SCHEME_PRELUDE % {"tmp": tmp, "results": results_path}]

    def side_by_side(case, file, guide_file, methods, export_to, before=None):
        lines.append(f'(let* ((img (load-image "{file}")) (l0 (first-layer img))'
                     " (w (car (gimp-drawable-get-width l0)))"
                     " (h (car (gimp-drawable-get-height l0)))"
                     f' (guide (add-hidden-layer img "{guide_file}")))')
        lines.append(f"  (gimp-image-resize img (* {len(methods)} w) h 0 0)")
        places = " ".join(f"(place img l0 {k} w)" for k in range(len(methods)))
        lines.append(f"  (let ((ls (vector {places})))")
        lines.append("    (gimp-image-remove-layer img l0) (gimp-image-clean-all img)")
        if before:
            lines.append(f'    (export img "{before}") (gimp-image-clean-all img)')
        for k, m in enumerate(methods):
            name = f"{m.kind}:{m.name}:{case}"
            lines.append(f"    (let ((l (vector-ref ls {k})))"
                         f' (run-case "{name}" img (lambda () {call(m)}))'
                         f' (note (string-append "@layer {name} " (->string (gimp-drawable-type l)))))')
        lines.append(f'  (note (string-append "@dirty {case} " (->string (dirty img)))))')
        # One layer to export: TIFF would keep each layer as a page.
        lines.append("  (gimp-image-remove-layer img guide)"
                     " (gimp-image-merge-visible-layers img CLIP-TO-IMAGE)"
                     f' (export img "{export_to}")')
        lines.append("  (gimp-image-delete img))")

    for case, (file, guide_file) in inputs.items():
        side_by_side(case, file, guide_file, runs, f"out-{case}.{file.rsplit('.', 1)[1]}")
    # Indexed: every procedure must refuse, leaving the image clean and its
    # pixels as they were; the filter ops are GIMP's to run (a second image).
    side_by_side("indexed", "indexed.png", "guide.png", effects, "out-indexed.png",
                 before="out-indexed-before.png")
    side_by_side("indexed", "indexed.png", "guide.png", runs[len(effects):], "out-indexed-ops.png")
    # Beyond the budget: the procedures on 30000×30000 layers (no pixel
    # memory until written), each refusing before it reads a pixel.
    big = 30000
    lines.append(f"(let* ((img (car (gimp-image-new {big} {big} RGB)))"
                 f' (guide (car (gimp-layer-new img "guide" {big} {big} RGBA-IMAGE 100'
                 " LAYER-MODE-NORMAL))))")
    lines.append("  (gimp-image-insert-layer img guide 0 0)")
    for m in effects:
        name = f"effect:{m.name}:budget"
        lines.append(f'  (let ((l (car (gimp-layer-new img "big" {big} {big} RGBA-IMAGE 100'
                     " LAYER-MODE-NORMAL))))"
                     f" (gimp-image-insert-layer img l 0 0) (gimp-image-clean-all img)"
                     f' (run-case "{name}" img (lambda () {call(m)})))')
    lines.append("  (gimp-image-crop img 16 16 0 0)")
    lines.append('  (export img "out-budget.png")')
    lines.append("  (gimp-image-delete img))")
    # The filter ops on 6000×6000 checkerboards: one warning each, pixels kept.
    nb = BIG_FILTER
    lines.append(f"(let* ((img (car (gimp-image-new {nb} {nb} GRAY))))")
    for m in runs[len(effects):]:
        name = f"filter:{m.name}:budget"
        lines.append(f'  (let ((l (car (gimp-layer-new img "big" {nb} {nb} GRAY-IMAGE 100'
                     " LAYER-MODE-NORMAL))))"
                     " (gimp-image-insert-layer img l 0 0)"
                     ' (gimp-drawable-merge-new-filter l "gegl:checkerboard" "c" LAYER-MODE-REPLACE 1.0'
                     ' "x" 8 "y" 8)'
                     f' (note (string-append "@hist-before {name} " (->string (histogram l))))'
                     f' (run-case "{name}" img (lambda () {call(m)}))'
                     f' (note (string-append "@hist-after {name} " (->string (histogram l)))))')
    lines.append("  (gimp-image-delete img))")
    lines.append('(display "@END" out) (newline out) (close-output-port out)')
    script = os.path.join(tmp, "test.scm")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")

    env = dict(os.environ)
    env.update({"GIMP3_DIRECTORY": profile, "LISSE_MODEL_PATH": models, "LISSE_THREADS": "1",
                "LISSE_MEMORY_BUDGET": BUDGET,
                "GEGL_PATH": os.pathsep.join([GEGL_SYS, os.path.dirname(MODULE)])})
    t0 = time.monotonic()
    with tempfile.NamedTemporaryFile("r") as rss:
        proc = subprocess.run([sys.executable, PEAK_RSS, rss.name, GIMP, "-i", "--quit",
                               "--batch-interpreter=plug-in-script-fu-eval",
                               "-b", '(load "%s")' % script],
                              capture_output=True, text=True, errors="replace", env=env,
                              timeout=900)
        peak = int(rss.read() or 0) / 1024.0
    log = proc.stdout + proc.stderr
    # gimp-console's usage covers the plug-in processes it waited for.
    print(f"# gimp-console ran for {time.monotonic() - t0:.1f} s; the largest process of the "
          f"session (GIMP or a plug-in) peaked at {peak:.0f} MiB resident")
    try:
        with open(results_path) as f:
            text = f.read()
    except OSError:
        text = ""
    results, notes = {}, {}
    for line in text.splitlines():
        m = re.match(r'^@(\S+) (ok|error) (\S+)(?: "(.*)")?$', line)
        if m:
            results[m.group(1)] = (m.group(2), m.group(3), (m.group(4) or "").replace('\\"', '"'))
        m = re.match(r"^@(hist-before|hist-after|layer|dirty) (\S+) (.*)$", line)
        if m:
            notes[(m.group(1), m.group(2))] = m.group(3)
    if not tap("@END" in text, "gimp-console ran the whole Script-Fu batch",
               f"rc {proc.returncode}\n" + log[-3000:]):
        return tap.finish()

    def read(name):
        p = os.path.join(tmp, name)
        return hi.read_tiff(p) if p.endswith(".tif") else hi.read_png(p)

    # References: `lisse` on the same files.
    cli_env = dict(os.environ, LISSE_MODEL_PATH=models, LISSE_THREADS="1",
                   GEGL_PATH=GEGL_SYS)
    cli_env.pop("LISSE_MEMORY_BUDGET", None)
    refs = {}
    for m in runs:
        for case, (file, guide_file) in inputs.items():
            if file.endswith(".tif"):
                continue
            args = [LISSE, m.kind, m.name]
            if m.aux == "guide":
                args += ["--aux", os.path.join(tmp, guide_file)]
            o = os.path.join(tmp, f"cli-{m.kind}-{m.name}-{case}.png")
            subprocess.run(args + [os.path.join(tmp, file), o], capture_output=True, env=cli_env)
            refs[(m.name, case)] = hi.read_png(o)

    types = {1: "GRAY", 2: "GRAYA", 3: "RGB", 4: "RGBA"}
    for case, (file, _) in inputs.items():
        src = read(file)
        got_all = read(f"out-{case}.{file.rsplit('.', 1)[1]}")
        h, w = src.shape[:2]
        nc = hi.n_color(src.shape[2])
        for k, m in enumerate(runs):
            name = f"{m.kind}:{m.name}:{case}"
            status, _, msg = results.get(name, ("missing", "?", "no result logged"))
            if not tap(status == "ok", f"{name}: runs", msg or status):
                continue
            layer_type = notes.get(("layer", name), "")
            want = types[src.shape[2]] + "-IMAGE"
            tap(re.findall(r"\d+", layer_type) == [str(gimp_type_code(want))],
                f"{name}: the layer keeps its type ({want})", f"gimp-drawable-type gave {layer_type}")
            if got_all is None or got_all.shape[:2] != (h, w * len(runs)):
                tap(False, f"{name}: exported", f"{None if got_all is None else got_all.shape}")
                continue
            got = got_all[:, k * w:(k + 1) * w]
            if src.shape[2] in (2, 4):
                a_in = src[..., -1].astype(np.float64)
                a_out = got[..., -1].astype(np.float64)
                both_nan = np.isnan(a_in) & np.isnan(a_out)
                vis = ~np.isnan(a_in)
                d = float(np.abs(a_out - a_in)[vis & ~both_nan].max()) if vis.any() else 0.0
                tap(d <= 1e-6, f"{name}: alpha unchanged", f"max |Δ| {d}")
            col = got[..., :nc].astype(np.float64)
            visible = (np.nan_to_num(src[..., -1]) > 0) if src.shape[2] in (2, 4) \
                else np.ones((h, w), bool)
            tap(np.isfinite(col[visible]).all(), f"{name}: colour finite",
                f"{int((~np.isfinite(col[visible])).sum())} non-finite values")
            ref = refs.get((m.name, case))
            if file.endswith(".tif"):
                continue
            if ref is None or ref.shape[:2] != (h, w):
                tap(False, f"{name}: `lisse` wrote a reference",
                    f"{None if ref is None else ref.shape}")
                continue
            d = float(np.abs(col - ref[..., :nc])[visible].max()) if visible.any() else 0.0
            tap(d <= 1.0 / 255 + 1e-6, f"{name}: equals `lisse` within 1/255 "
                f"(max |Δ| {d * 255:.2f}/255)", f"max |Δ| {d * 255:.3f}/255")

    a, b = read("out-nan.tif"), read("out-nan-rule.tif")
    w = a.shape[1] // len(runs) if a is not None else 0
    for k, m in enumerate(runs):
        if a is None or b is None or a.shape != b.shape:
            tap(False, f"{m.kind}:{m.name}:nan exported", "")
            continue
        x = a[:, k * w:(k + 1) * w, :3].astype(np.float64)
        y = b[:, k * w:(k + 1) * w, :3].astype(np.float64)
        d = float(np.abs(x - y)[np.isfinite(x - y) | True].max())
        tap(d <= 1e-5, f"{m.kind}:{m.name}:nan equals the run on the image with NaN/inf replaced "
            f"(max |Δ| {d:.2g})", f"max |Δ| {d}")

    before, after = read("out-indexed-before.png"), read("out-indexed.png")
    for m in effects:
        name = f"effect:{m.name}:indexed"
        status, _, msg = results.get(name, ("missing", "?", "no result logged"))
        tap(status == "error" and "indexed" in msg, f"{name}: refused with a message naming it",
            f"{status}: {msg}")
    tap(notes.get(("dirty", "indexed")) is not None and before is not None and after is not None
        and np.array_equal(before, after),
        "indexed: after every procedure refused, the image's pixels are as they were",
        f"dirty notes {[v for k, v in notes.items() if k[0] == 'dirty']}")
    for m in runs[len(effects):]:
        name = f"filter:{m.name}:indexed"
        status, _, msg = results.get(name, ("missing", "?", "no result logged"))
        tap(status in ("ok", "error"), f"{name}: GIMP's own handling of an op on an indexed "
            f"layer ({status}), no crash", msg)

    crop = read("out-budget.png")
    for m in effects:
        name = f"effect:{m.name}:budget"
        status, dirty, msg = results.get(name, ("missing", "?", "no result logged"))
        tap(status == "error" and "memory budget" in msg and dirty == "0",
            f"{name}: 30000×30000 refused with a message naming the budget, the image clean",
            f"{status} dirty={dirty}: {msg}")
    tap(crop is not None and np.abs(crop).max() == 0,
        "budget: the 30000×30000 layers' pixels are as they were (a 16×16 crop)")
    for m in runs[len(effects):]:
        name = f"filter:{m.name}:budget"
        status, dirty, msg = results.get(name, ("missing", "?", "no result logged"))
        hb, ha = notes.get(("hist-before", name)), notes.get(("hist-after", name))
        warns = [x for x in log.splitlines() if m.op + ":" in x and "memory budget" in x]
        tap(status == "ok" and hb is not None and hb == ha and len(warns) == 1,
            f"{name}: {BIG_FILTER}×{BIG_FILTER} beyond the budget: one warning, pixels unchanged",
            f"{status}: {msg}; histogram {hb} -> {ha}; warnings {warns}")

    if tap.failed:
        print("# GIMP's output (end):")
        for line in log[-4000:].splitlines():
            print("# " + line)
    shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


def gimp_type_code(name):
    """GimpImageType's value for "RGBA-IMAGE" etc. (Script-Fu prints numbers)."""
    return {"RGB-IMAGE": 0, "RGBA-IMAGE": 1, "GRAY-IMAGE": 2, "GRAYA-IMAGE": 3,
            "INDEXED-IMAGE": 4, "INDEXEDA-IMAGE": 5}[name]


if __name__ == "__main__":
    sys.exit(main())
