#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile images through the GEGL operations, with the `gegl` tool: every
effect's op (lisse:NAME, at its default choice) and every filter's op (the
op whose description names the filter's title), read from the registries.

Usage: test-hostile-gegl.py PATH/TO/lisse PATH/TO/lisse-gegl.so GEGL-PLUGINS-DIR

Each op gets, one `gegl` process per case:
  - sizes 1×1, 1×17, 17×1, 2×2 (RGBA float TIFF): the output as large as
    the input, alpha bit for bit, colour finite;
  - 24×20 PNGs: gray, gray + alpha, indexed with a transparent index, RGBA
    with a fully transparent block, 16-bit RGB: same size, alpha as the
    input's (opaque where it has none: the ops work in Y'A / R'G'B'A and
    GEGL writes what they give), colour equal to `lisse` on the same file
    within 1/255 (the same engine behind both front ends);
  - a tall 64×20000 gray strip (8-bit PNG, a guide of the same size for
    Joint Filter): the same checks, so every op's tiling meets a layer far
    taller than any of its tiles;
  - NaN, +inf, -inf, 3e38 and a NaN alpha in a float RGBA image: colour
    finite, and equal to the op's result on the image with those values
    replaced by core/finite.h's rule;
  - beyond the memory budget (2048×2048 under LISSE_MEMORY_BUDGET=16M): one
    warning naming the op and the budget, and the input passed through
    unchanged (GEGL has no way to return an error);
and once for the first effect's op and the first filter's op, a
30000×30000 image under the default budget (8G where the machine has 64 GiB
or more), cropped to 16×16 after the op so that only the refusal is paid
for: the warning, the input's pixels, the peak resident size printed.
Prints TAP.
"""

import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lisse_testlib import Tap, gegl_setup, import_or_skip, parse_gegl_info  # noqa: E402

np, _, _, _ = import_or_skip("numpy", "cv2", "tifffile", "safetensors.numpy")
import hostile_images as hi  # noqa: E402
import hostile_methods as hm  # noqa: E402

# Measures a command's own peak resident size (see there).
PEAK_RSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak_rss.py")

LISSE, GEGL = gegl_setup("test-hostile-gegl.py")
TMP = tempfile.mkdtemp(prefix="lisse-hostile-gegl-")
MODELS = os.path.join(TMP, "models")
os.environ["LISSE_MODEL_PATH"] = MODELS
os.environ.pop("LISSE_MEMORY_BUDGET", None)
FW, FH = 24, 20
SIZES = {"1x1": (1, 1), "1x17": (1, 17), "17x1": (17, 1), "2x2": (2, 2)}
STRIP = (64, 20000)
tap = Tap()


def path(name):
    return os.path.join(TMP, name)


def run(args, env=None, measure=False):
    """A process; (CompletedProcess, its peak resident MiB or None, seconds)."""
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.monotonic()
    if not measure:
        p = subprocess.run(args, capture_output=True, text=True, errors="replace", env=e)
        return p, None, time.monotonic() - t0
    with tempfile.NamedTemporaryFile("r") as rss:
        p = subprocess.run([sys.executable, PEAK_RSS, rss.name, *args],
                           capture_output=True, text=True, errors="replace", env=e)
        peak = int(rss.read() or 0) / 1024.0
    return p, peak, time.monotonic() - t0


def run_many(jobs):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {k: pool.submit(run, a) for k, a in jobs.items()}
        return {k: f.result()[0] for k, f in futures.items()}


def ops_of(methods):
    """[(op name, Method, [gegl property arguments])] for the effects at
    their default choice and every filter."""
    listing = subprocess.run([GEGL, "--list-all"], capture_output=True, text=True,
                             errors="replace").stdout.split()
    infos = {op: parse_gegl_info(subprocess.run([GEGL, "--info", op], capture_output=True,
                                                text=True, errors="replace").stdout)[0]
             for op in listing if op.startswith("lisse:")}
    ops = []
    for m in methods:
        if m.kind == "effect":
            if m.default:
                ops.append((f"lisse:{m.name}", m, []))     # the op's default choice
        else:
            title = subprocess.run([LISSE, "filter", "--list"], capture_output=True,
                                   text=True, errors="replace").stdout
            line = next(x for x in title.splitlines() if x.startswith(m.name + " "))
            ftitle = line[len(m.name):].strip().split(" (")[0]
            op = next((o for o, keys in infos.items()
                       if ftitle in keys.get("description", "")), None)
            ops.append((op, m, []))
    return ops


def gegl_args(op, m, inp, out, aux=None):
    chain = [op]
    if m.kind == "effect" and m.aux == "guide" and aux:
        chain += ["aux=[", "gegl:load", f"path={aux}", "]"]
    return [GEGL, inp, "-o", out, "--"] + chain


def read_out(p):
    if p.endswith(".tif"):
        return hi.read_tiff(p)
    return hi.read_png(p)


def lisse_warnings(text):
    return [line for line in text.splitlines() if "lisse" in line and "WARNING" in line]


def main():
    hm.make_models(MODELS)
    methods = hm.registry(LISSE)
    ops = ops_of(methods)
    missing = [m.name for op, m, _ in ops if op is None]
    if not tap(not missing and len(ops) >= 13, f"{len(ops)} GEGL ops found for the registries' "
               "effects and filters", f"no op for {missing}"):
        return tap.finish()

    files = {}
    for tag, (w, h) in SIZES.items():
        img = hi.scene(h, w, 4, seed=w * 100 + h).astype(np.float32)
        files[tag] = (hi.write_float_tiff(path(f"size-{tag}.tif"), img), img)
    guide = path("guide.png")
    hi.write_png(guide, hi.scene(FH, FW, 3, seed=9))
    for tag, (w, h) in SIZES.items():
        hi.write_png(path(f"guide-{tag}.png"), hi.scene(h, w, 3, seed=9))
    base = hi.scene(FH, FW, 4, seed=11)
    files["gray"] = (path("gray.png"), hi.write_png(path("gray.png"), hi.scene(FH, FW, 1)))
    files["gray-alpha"] = (path("graya.png"), hi.write_png(path("graya.png"), hi.scene(FH, FW, 2)))
    files["indexed"] = (path("indexed.png"), hi.write_indexed_png(path("indexed.png"), base))
    files["rgba-transparent"] = (path("rgba-t.png"),
                                 hi.write_png(path("rgba-t.png"), hi.with_transparent_block(base)))
    files["rgb16"] = (path("rgb16.png"), hi.write_png(path("rgb16.png"), base[..., :3], bits=16))
    sw, sh = STRIP
    files["strip"] = (path("strip.png"), hi.write_png(path("strip.png"), hi.scene(sh, sw, 1, seed=3)))
    hi.write_png(path("guide-strip.png"), hi.scene(sh, sw, 1, seed=4))
    bad, _ = hi.with_non_finite(base)
    files["nan"] = (hi.write_float_tiff(path("nan.tif"), bad), bad)
    files["nan-rule"] = (hi.write_float_tiff(path("nan-rule.tif"), hi.finite_rule(bad, 3)),
                         hi.finite_rule(bad, 3))
    pngs = ("gray", "gray-alpha", "indexed", "rgba-transparent", "rgb16", "strip")

    def guide_of(case):
        return path(f"guide-{case}.png") if case in SIZES or case == "strip" else guide

    def out(op, case, ext):
        return path(f"out-{op.replace(':', '_')}-{case}.{ext}")

    jobs = {}
    for op, m, _ in ops:
        for case, (inp, _) in files.items():
            ext = "tif" if inp.endswith(".tif") else "png"
            jobs[("gegl", op, case)] = gegl_args(op, m, inp, out(op, case, ext), guide_of(case))
            if case in pngs:
                args = hm.cli_args(m)[:2]           # the default choice, as the op's
                if m.aux == "guide":
                    args += ["--aux", guide_of(case)]
                jobs[("lisse", op, case)] = [LISSE] + args + [inp, out(op, "cli-" + case, "png")]
    t0 = time.monotonic()
    results = run_many(jobs)
    print(f"# {len(jobs)} runs in {time.monotonic() - t0:.1f} s")

    for op, m, _ in ops:
        outs = {}
        for case, (inp, src) in files.items():
            ext = "tif" if inp.endswith(".tif") else "png"
            proc = results[("gegl", op, case)]
            res = read_out(out(op, case, ext))
            outs[case] = res
            warns = lisse_warnings(proc.stderr)
            if not tap(proc.returncode == 0 and res is not None and not warns,
                       f"{op} {case}: runs without a warning and writes its output",
                       f"rc {proc.returncode}: {proc.stderr.strip()[-800:]}"):
                continue
            if case == "nan-rule":
                continue
            has_alpha = src.shape[2] in (2, 4)
            want_c = (2 if src.shape[2] <= 2 else 4)
            ok = tap(res.shape[:2] == src.shape[:2] and res.shape[2] == want_c,
                     f"{op} {case}: {src.shape[1]}×{src.shape[0]}, {want_c} channels",
                     f"input {src.shape}, output {res.shape}")
            if not ok:
                continue
            nc = want_c - 1
            alpha_in = src[..., -1] if has_alpha else np.ones(src.shape[:2])
            if res.dtype == np.float32:
                same_alpha = np.array_equal(alpha_in.astype(np.float32), res[..., -1], equal_nan=True)
            else:
                same_alpha = np.abs(res[..., -1] - alpha_in).max() <= 0.5 / 255
            tap(same_alpha, f"{op} {case}: alpha as the input's")
            col = res[..., :nc].astype(np.float64)
            tap(np.isfinite(col).all(), f"{op} {case}: colour finite",
                f"{int((~np.isfinite(col)).sum())} non-finite values")
            if case in pngs:
                ref = hi.read_png(out(op, "cli-" + case, "png"))
                if ref is None:
                    tap(False, f"{op} {case}: `lisse` wrote the reference",
                        results[("lisse", op, case)].stderr)
                    continue
                vis = alpha_in > 0
                d = float(np.abs(col - ref[..., :nc])[vis].max()) if vis.any() else 0.0
                tap(d <= 1.0 / 255 + 1e-6, f"{op} {case}: equals `lisse` within 1/255 "
                    f"(max |Δ| {d * 255:.2f}/255)", f"max |Δ| {d * 255:.3f}/255")
        got, rule = outs.get("nan"), outs.get("nan-rule")
        if got is not None and rule is not None:
            d = float(np.nanmax(np.abs(got[..., :3].astype(np.float64) - rule[..., :3])))
            tap(d <= 1e-6, f"{op} nan: equals the op on the image with NaN/inf replaced "
                f"(max |Δ| {d:.2g})", f"max |Δ| {d}")

    # Beyond the memory budget: a warning, the input passed through.
    big = path("big2048.png")
    src = hi.write_png(big, np.full((2048, 2048), 0.25))
    jobs = {op: gegl_args(op, m, big, out(op, "budget", "png"), guide)
            for op, m, _ in ops}
    for op, args in jobs.items():
        p, peak, secs = run(args, env={"LISSE_MEMORY_BUDGET": "16M"}, measure=True)
        res = read_out(out(op, "budget", "png"))
        warns = [w for w in lisse_warnings(p.stderr) if "memory budget" in w]
        same = res is not None and np.abs(res[..., 0] - src[..., 0]).max() < 1e-6
        tap(p.returncode == 0 and len(warns) == 1 and op in warns[0] and same,
            f"{op} 2048×2048 beyond a 16 MiB budget: one warning, the input passed through "
            f"({secs:.1f} s)", p.stderr.strip()[-800:])

    # 30000×30000 under the default budget.
    huge = path("huge.png")
    hi.write_huge_gray_png(huge, 30000, 30000)
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    env = {} if mem_total < (64 << 30) else {"LISSE_MEMORY_BUDGET": "8G"}
    for op, m, _ in [next(o for o in ops if o[1].kind == "effect" and not o[1].aux),
                     next(o for o in ops if o[1].kind == "filter")]:
        o = out(op, "30000", "png")
        p, peak, secs = run([GEGL, huge, "-o", o, "--", op, "gegl:crop", "width=16", "height=16"],
                            env=env, measure=True)
        res = read_out(o)
        warns = [w for w in lisse_warnings(p.stderr) if "memory budget" in w]
        print(f"# {op} 30000×30000: {secs:.1f} s, peak RSS {peak:.0f} MiB: {warns}")
        tap(p.returncode == 0 and len(warns) == 1 and res is not None and res.shape[:2] == (16, 16)
            and np.abs(res[..., 0]).max() == 0,
            f"{op} 30000×30000: one warning, the input passed through, peak RSS {peak:.0f} MiB",
            p.stderr.strip()[-800:])
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
