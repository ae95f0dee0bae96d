#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile images through the command line: `lisse effect`, `lisse filter`
and `lisse run`, the methods read from the registries (hostile_methods.py:
every filter, every effect at its default choice and at each other choice
that is not just a classical filter under another name) and a tiny
random-weight model per architecture for `lisse run`.

Usage: test-hostile-cli.py PATH/TO/lisse GEGL-PLUGINS-DIR

Each method gets, each case in one process:
  - sizes 1×1, 1×17, 17×1, 2×2 (RGBA float TIFF): same size, channels and
    float depth; alpha bit for bit; colour finite (effects: in [0,1]); for
    the methods that are classical filters throughout, a 1×1 image left as
    it is (a constant image is), and 1×17 and 17×1 equal, within the
    solvers' tolerance, to the middle of the image repeated to three pixels
    (what mirrored or replicated borders and normalised windows mean; RTV,
    whose windows are zero outside the image by design, is left out);
  - a 64×20000 gray float strip, for every effect, filter and `lisse run`
    (the solvers' and the tiler's case): the same checks, and for `lisse
    run` the tiled result (512 tiles with their halo) equal to one
    whole-image tile within float rounding;
  - 24×20 files: gray, gray + alpha, indexed with a transparent index (read
    as RGBA: the documented conversion), RGBA with a fully transparent
    block, 16-bit RGB: channels and bit depth kept (indexed: RGBA 8-bit),
    alpha bit for bit, colour finite;
  - NaN, +inf, -inf, 3e38 (and a NaN alpha) in a float RGBA image, and the
    same in a gray one: colour finite everywhere, alpha keeping its NaN at
    its own pixel only, and the result exactly that of the image with the
    values replaced by core/finite.h's rule (so a NaN neither spreads nor
    silently turns its surroundings black); the replaced image is the
    float case;
  - beyond the memory budget (2048×2048 under LISSE_MEMORY_BUDGET=16M):
    refused with one "lisse: … memory budget …" line, exit 1, no output
    file, before any work (effects and filters; `lisse run` streams);
and once for the first effect and the first filter, a 30000×30000 image
under the default budget (half the physical memory; 8G where the machine
has 64 GiB or more): refused with one line, no output, the peak resident
size printed and held below 2 GiB (the image alone as floats is 3.4 GiB).
Errors leave no output file and no temporary file.  Prints TAP.
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lisse_testlib import Tap, import_or_skip, skip_all  # noqa: E402

np, _, _, _ = import_or_skip("numpy", "cv2", "tifffile", "safetensors.numpy")
import hostile_images as hi  # noqa: E402
import hostile_methods as hm  # noqa: E402

# Measures a command's own peak resident size (see there).
PEAK_RSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak_rss.py")

if len(sys.argv) < 3:
    skip_all("usage: test-hostile-cli.py PATH/TO/lisse GEGL-PLUGINS-DIR")
LISSE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="lisse-hostile-cli-")
MODELS = os.path.join(TMP, "models")
# GEGL's own loaders and savers only: the command line needs no GEGL op of
# ours, and a module being rebuilt beside it must not break its start-up.
ENV = {"LISSE_MODEL_PATH": MODELS, "LISSE_THREADS": "1", "GEGL_PATH": sys.argv[2]}
tap = Tap()

SIZES = {"1x1": (1, 1), "1x17": (1, 17), "17x1": (17, 1), "2x2": (2, 2)}   # w, h
STRIP = (64, 20000)
FW, FH = 24, 20
# 1e-3: the iterative solvers (RTV, WLS) stop at a relative residual; the
# direct methods agree to float rounding.
STACK_TOL = 1e-3
# Classical methods whose result on a 1-pixel-thick image is, by design, not
# that of the image repeated: RTV sums its Gaussian windows over the image's
# own pixels only, zero outside (core/classic/rtv.c), so a thicker copy has
# more pixels in each window.  Matched against a filter's name or an
# effect's choice.
NOT_STACKABLE = {"rtv"}


def path(name):
    return os.path.join(TMP, name)


def run_one(args, env=None, measure=False):
    """A `lisse` process; (CompletedProcess, its peak resident MiB or None,
    seconds).  LISSE_MEMORY_BUDGET is unset unless @env gives it."""
    e = dict(os.environ)
    e.pop("LISSE_MEMORY_BUDGET", None)
    e.update(ENV)
    e.update(env or {})
    t0 = time.monotonic()
    if not measure:
        p = subprocess.run([LISSE, *map(str, args)], capture_output=True, text=True,
                           errors="replace", env=e)
        return p, None, time.monotonic() - t0
    with tempfile.NamedTemporaryFile("r") as rss:
        p = subprocess.run([sys.executable, PEAK_RSS, rss.name, LISSE, *map(str, args)],
                           capture_output=True, text=True, errors="replace", env=e)
        peak = int(rss.read() or 0) / 1024.0
    return p, peak, time.monotonic() - t0


def run_many(jobs):
    """{key: args} -> {key: CompletedProcess}, two at a time."""
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {k: pool.submit(run_one, a) for k, a in jobs.items()}
        return {k: f.result()[0] for k, f in futures.items()}


def leftovers():
    return [f for f in os.listdir(TMP) if ".lisse-" in f]


def one_line_error(p):
    lines = p.stderr.strip().splitlines()
    return p.returncode != 0 and len(lines) == 1 and lines[0].startswith("lisse: ")


# ---------------------------------------------------------------------------
# Inputs

def method_args(m, inp, out, aux=None):
    if m.kind == "run":
        return ["run", "--model", m.choice, inp, out]
    args = hm.cli_args(m)
    if m.aux == "guide" and aux:
        args += ["--aux", aux]
    return args + [inp, out]


def stack(img, w, h):
    """@img (1 pixel thick in at least one direction) repeated to three
    pixels in each 1-pixel direction; (stacked, index of the original)."""
    ys = 3 if h == 1 else 1
    xs = 3 if w == 1 else 1
    return np.tile(img, (ys, xs, 1)), (slice(1, 2) if h == 1 else slice(None),
                                       slice(1, 2) if w == 1 else slice(None))


def make_inputs():
    files = {}
    for tag, (w, h) in SIZES.items():
        img = hi.scene(h, w, 4, seed=w * 100 + h).astype(np.float32)
        guide = hi.scene(h, w, 3, seed=7).astype(np.float32)
        files[tag] = (hi.write_float_tiff(path(f"size-{tag}.tif"), img), img,
                      hi.write_float_tiff(path(f"guide-{tag}.tif"), guide))
        if (w == 1) != (h == 1):      # 1×N, N×1: a 1×1 is checked against itself
            s_img, _ = stack(img, w, h)
            s_guide, _ = stack(guide, w, h)
            files[tag + "-stack"] = (hi.write_float_tiff(path(f"size-{tag}-stack.tif"), s_img),
                                     s_img,
                                     hi.write_float_tiff(path(f"guide-{tag}-stack.tif"), s_guide))
    w, h = STRIP
    strip = hi.scene(h, w, 1, seed=3).astype(np.float32)
    files["strip"] = (hi.write_float_tiff(path("strip.tif"), strip), strip,
                      hi.write_float_tiff(path("guide-strip.tif"),
                                          hi.scene(h, w, 3, seed=4).astype(np.float32)))
    guide8 = path("guide8.png")
    hi.write_png(guide8, hi.scene(FH, FW, 3, seed=9))
    base = hi.scene(FH, FW, 4, seed=11)
    files["gray"] = (path("gray.png"), hi.write_png(path("gray.png"), hi.scene(FH, FW, 1)), guide8)
    files["gray-alpha"] = (path("graya.png"), hi.write_png(path("graya.png"), hi.scene(FH, FW, 2)),
                           guide8)
    files["indexed"] = (path("indexed.png"), hi.write_indexed_png(path("indexed.png"), base), guide8)
    files["rgba-transparent"] = (path("rgba-t.png"),
                                 hi.write_png(path("rgba-t.png"), hi.with_transparent_block(base)),
                                 guide8)
    files["rgb16"] = (path("rgb16.png"), hi.write_png(path("rgb16.png"), base[..., :3], bits=16),
                      guide8)
    bad, _ = hi.with_non_finite(base)
    files["nan"] = (hi.write_float_tiff(path("nan.tif"), bad), bad, guide8)
    files["nan-rule"] = (hi.write_float_tiff(path("nan-rule.tif"), hi.finite_rule(bad, 3)),
                         hi.finite_rule(bad, 3), guide8)
    gbad, _ = hi.with_non_finite(hi.scene(FH, FW, 1, seed=12))
    files["nan-gray"] = (hi.write_float_tiff(path("nan-gray.tif"), gbad), gbad, guide8)
    files["nan-gray-rule"] = (hi.write_float_tiff(path("nan-gray-rule.tif"), hi.finite_rule(gbad, 1)),
                              hi.finite_rule(gbad, 1), guide8)
    # What the output must look like: (channels, bit depth).
    expect = {"gray": (1, 8), "gray-alpha": (2, 8), "indexed": (4, 8),
              "rgba-transparent": (4, 8), "rgb16": (3, 16)}
    return files, expect


def read_any(p):
    """(H×W×C array, bit depth) of an output, or (None, None)."""
    if p.endswith(".tif"):
        a = hi.read_tiff(p)
        return (a, 32) if a is not None else (None, None)
    head = hi.png_header(p)
    a = hi.read_png(p)
    return (a, head[2]) if a is not None else (None, None)


def out_name(key, case, inp):
    return path(f"out-{key.replace(':', '_')}-{case}{'.tif' if inp.endswith('.tif') else '.png'}")


# ---------------------------------------------------------------------------
# Checks

def check_common(m, key, case, src, res, depth, want_depth, proc):
    """Size, channels, depth, alpha, finite colour (effects: in [0,1])."""
    if not tap(res is not None, f"{key} {case}: runs and writes its output",
               f"rc {proc.returncode}: {proc.stderr.strip()}"):
        return False
    ok = tap(res.shape == src.shape and depth == want_depth and not proc.stderr.strip(),
             f"{key} {case}: {src.shape[1]}×{src.shape[0]}×{src.shape[2]}, {want_depth}-bit, "
             "as the input",
             f"got shape {res.shape} depth {depth}, stderr {proc.stderr.strip()!r}")
    if not ok:
        return False
    nc = hi.n_color(src.shape[2])
    if src.shape[2] in (2, 4):
        a_in, a_out = src[..., -1], res[..., -1]
        differ = ~((a_in == a_out) | (np.isnan(a_in) & np.isnan(a_out)))
        tap(np.array_equal(a_in.astype(res.dtype), a_out, equal_nan=True),
            f"{key} {case}: alpha unchanged, bit for bit", f"{int(differ.sum())} alpha values differ")
    col = res[..., :nc].astype(np.float64)
    finite = np.isfinite(col).all()
    in_range = m.kind != "effect" or (col.min() >= 0 and col.max() <= 1)
    tap(finite and in_range,
        f"{key} {case}: colour finite" + (" and in [0,1]" if m.kind == "effect" else ""),
        f"{int((~np.isfinite(col)).sum())} non-finite values, "
        f"range [{np.nanmin(col)}, {np.nanmax(col)}]")
    return True


def name_of(m):
    return hm.key(m) if m.kind != "run" else f"run:{m.name}"


def stackable(m):
    return m.classical and m.name not in NOT_STACKABLE and m.choice not in NOT_STACKABLE


def main():
    paths, note = hm.make_models(MODELS)
    methods = hm.every_path(hm.registry(LISSE))
    if not tap(len({m.name for m in methods if m.kind == "effect"}) >= 7
               and len([m for m in methods if m.kind == "filter"]) >= 6,
               f"the registries list {len(methods)} methods",
               "\n".join(map(str, methods))):
        return tap.finish()
    if note:
        tap.skip(note)
        methods = [m for m in methods if m.choice not in ("csgis", "mgpnet")]
    runs = [hm.Method("run", arch, None, p, None, False, True) for arch, p in sorted(paths.items())]
    files, expect = make_inputs()

    # Every case of every method, two processes at a time.
    jobs = {}
    for m in methods + runs:
        k = name_of(m)
        for case, (inp, _, aux) in files.items():
            if case.endswith("-stack") and not stackable(m):
                continue
            jobs[(k, case)] = method_args(m, inp, out_name(k, case, inp), aux)
        if m.kind == "run":
            inp = files["strip"][0]
            jobs[(k, "strip-whole")] = ["run", "--model", m.choice, "--tile", "100000", inp,
                                        out_name(k, "strip-whole", inp)]
    t0 = time.monotonic()
    results = run_many(jobs)
    print(f"# {len(jobs)} runs in {time.monotonic() - t0:.1f} s")

    for m in methods + runs:
        k = name_of(m)
        outs = {}
        for case in list(files) + ["strip-whole"]:
            if (k, case) not in results:
                continue
            inp = files[case if case != "strip-whole" else "strip"][0]
            outs[case] = read_any(out_name(k, case, inp))[0]
        for case in files:
            if (k, case) not in results or case.endswith("-stack"):
                continue
            inp, src, _ = files[case]
            res, depth = read_any(out_name(k, case, inp))
            want_channels, want_depth = expect.get(case, (src.shape[2], 32))
            shown = src if src.shape[2] == want_channels else \
                np.concatenate([src, np.ones(src.shape[:2] + (1,))], -1)
            check_common(m, k, case, shown, res, depth, want_depth, results[(k, case)])

        # A classical filter leaves a constant image as it is: so a 1×1 one.
        if m.classical and outs.get("1x1") is not None:
            d = float(np.abs(outs["1x1"][..., :3] - files["1x1"][1][..., :3]).max())
            tap(d <= STACK_TOL, f"{k} 1x1: the pixel is left as it is (|Δ| {d:.2g})", f"|Δ| {d}")
        # Tiny sizes against the stacked image (classical methods).
        for tag, (w, h) in SIZES.items():
            if not stackable(m) or outs.get(tag) is None or (w == 1) == (h == 1):
                continue
            ref = outs.get(tag + "-stack")
            if ref is None:
                tap(False, f"{k} {tag}: the stacked reference ran", results[(k, tag + "-stack")].stderr)
                continue
            _, (ys, xs) = stack(files[tag][1], w, h)
            d = float(np.abs(outs[tag][..., :3] - ref[ys, xs][..., :3]).max())
            tap(d <= STACK_TOL, f"{k} {tag}: equals the image repeated to 3 pixels (max |Δ| {d:.2g})",
                f"max |Δ| {d}")

        # NaN and infinities: finite, and exactly the rule's image's result.
        for case in ("nan", "nan-gray"):
            got, rule = outs.get(case), outs.get(case + "-rule")
            if got is None or rule is None:
                continue
            same = np.array_equal(got, rule, equal_nan=True)
            d = float(np.nanmax(np.abs(got.astype(np.float64) - rule)))
            tap(same or d <= 1e-6,
                f"{k} {case}: equals the run on the image with NaN/inf replaced (core/finite.h)",
                f"max |Δ| {d}")

        if m.kind == "run":
            a, b = outs.get("strip"), outs.get("strip-whole")
            d = float(np.abs(a - b).max()) if a is not None and b is not None else None
            tap(d is not None and d <= 1e-4,
                f"{k} strip: tiled equals one whole-image tile (max |Δ| {d})", f"max |Δ| {d}")

    # Beyond the memory budget: refused before any work, one line, no output.
    big = path("big2048.png")
    hi.write_png(big, np.zeros((2048, 2048)))
    jobs = {}
    for m in methods:
        k = hm.key(m)
        out = out_name(k, "budget", big)
        aux = path("guide2048.png") if m.aux == "guide" else None
        if aux and not os.path.exists(aux):
            hi.write_png(aux, np.zeros((2048, 2048, 3)))
        jobs[k] = (method_args(m, big, out, aux), out)
    for k, (args, out) in jobs.items():
        p, peak, secs = run_one(args, env={"LISSE_MEMORY_BUDGET": "16M"}, measure=True)
        tap(one_line_error(p) and "memory budget" in p.stderr and not os.path.exists(out)
            and secs < 20,
            f"{k} 2048×2048 beyond a 16 MiB budget: refused with one line, no output "
            f"({secs:.1f} s, peak RSS {peak:.0f} MiB)",
            f"rc {p.returncode} in {secs:.1f} s: {p.stderr.strip()}")

    # 30000×30000, the default budget: one effect and one filter.
    huge = path("huge.png")
    hi.write_huge_gray_png(huge, 30000, 30000)
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    env = {} if mem_total < (64 << 30) else {"LISSE_MEMORY_BUDGET": "8G"}
    for m in [next(m for m in methods if m.kind == "effect" and not m.aux),
              next(m for m in methods if m.kind == "filter")]:
        k = hm.key(m)
        out = out_name(k, "30000", huge)
        p, peak, secs = run_one(method_args(m, huge, out), env=env, measure=True)
        print(f"# {k} 30000×30000: {secs:.1f} s, peak RSS {peak:.0f} MiB: {p.stderr.strip()}")
        tap(one_line_error(p) and "memory budget" in p.stderr and not os.path.exists(out)
            and peak < 2048,
            f"{k} 30000×30000: refused with one line, no output, peak RSS {peak:.0f} MiB",
            f"rc {p.returncode}, peak {peak:.0f} MiB: {p.stderr.strip()}")

    tap(not leftovers(), "no temporary output file is left behind", str(leftovers()))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
