#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C "csgis" network (core/nets/csgis.c) against its PyTorch twin
(training/lisse_train/csgis_model.py), through a file written by
lisse_train.csgis_export.

Usage: test_csgis_parity.py PATH/TO/lisse

Makes a small random-weight twin (width 8, 2 descriptor, 1 smooth and 2
refinement blocks; random BatchNorm statistics so that the export's folding
is exercised; non-zero smooth.out / refine.out, which the twin starts at
zero), exports it, and checks:
  - the file: the layer list's tensors, float32, the documented metadata,
    and `lisse info` reading the receptive radius computed from the counts;
  - `lisse run --depth 32` on float TIFFs against the eval-mode twin in
    float64: odd, even and mixed sizes, 1×1 and 2×1; max |C − PyTorch|
    ≤ 1e-4; the random network is not the identity;
  - --tile 32 against the whole image on an image larger than
    32 + 2·radius, both against the twin; one thread against two, bit for
    bit;
  - clear one-line errors, no output file, for wrong files: a missing or
    extra tensor, a wrong shape, a receptive radius that disagrees with the
    counts, absurd or missing counts, another colour encoding.
Prints TAP (the plan comes last).  Not a unittest module: the fan18-twin
test's discovery does not look at it (test_fan18*.py).
"""

import os
import sys

from lisse_testlib import ModelFileHarness, Tap, import_or_skip, random_csgis_twin

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4
SIZES = dict(width=8, n_desc=2, n_smooth=1, n_refine=2)

tap = Tap()


def main():
    np, cv2, torch, safetensors_numpy = import_or_skip(
        "numpy", "cv2", "torch", "safetensors.numpy")
    sys.path.insert(0, os.path.join(HERE, "..", "training"))
    from lisse_train import csgis_export as ce
    from lisse_train import csgis_model as cm

    lisse_exe = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
    hx = ModelFileHarness(tap, lisse_exe, "lisse-csgis-parity-")
    path, run, max_err = hx.path, hx.run, hx.max_err
    torch.set_num_threads(1)

    # ---- the model and its file ------------------------------------------
    model = random_csgis_twin(3, **SIZES)
    model_path = path("csgis-test.safetensors")
    ce.export_csgis(model, model_path, {"name": "parity"})
    twin = model.to(torch.float64).eval()
    radius = cm.receptive_field_radius(SIZES["n_desc"], SIZES["n_smooth"], SIZES["n_refine"])

    tensors = safetensors_numpy.load_file(model_path)
    names = [f"{n}.{k}" for n, _ in cm.layer_list(SIZES["n_desc"], SIZES["n_smooth"],
                                                    SIZES["n_refine"]) for k in ("weight", "bias")]
    tap(sorted(tensors) == sorted(names) and all(t.dtype == np.float32 for t in tensors.values()),
        f"the file holds the {len(names)} tensors of layer_list(), float32",
        sorted(set(tensors) ^ set(names)))
    meta = hx.metadata(model_path)
    want = {"architecture": "csgis", "colour_encoding": "srgb-nonlinear-0-1", "width": "8",
            "n_desc": "2", "n_smooth": "1", "n_refine": "2", "receptive_radius": str(radius)}
    bad = {k: meta.get(k) for k in want if meta.get(k) != want[k]}
    tap(not bad and radius == 8 + 6 * 5, f"metadata: architecture, sizes, radius {radius}",
        f"wrong: {bad}")
    rc, out, err = run("info", model_path)
    tap(rc == 0 and f"receptive radius: {radius} px" in out and "csgis" in out,
        "lisse info loads it and shows the radius computed from the block counts", out + err)

    # ---- `lisse run` against the twin -------------------------------------
    rng = np.random.default_rng(11)

    write_tiff = hx.write_tiff

    def lisse_run(inp, out, *extra, threads=None):
        return hx.lisse_run(model_path, inp, out, *extra, threads=threads)

    def reference(img):
        return hx.twin_output(twin, img)

    for h, w in ((37, 29), (64, 48), (29, 64), (33, 40), (1, 1), (2, 1)):
        img = rng.random((h, w, 3)).astype(np.float32)
        got, err = lisse_run(write_tiff(f"in-{h}x{w}.tif", img), path(f"out-{h}x{w}.tif"))
        e = max_err(got, reference(img))
        tap(e is not None and e <= TOL, f"lisse run {w}×{h}: max |C − PyTorch| = {e}", err)

    img = rng.random((24, 30, 3)).astype(np.float32)
    change = float(np.max(np.abs(reference(img) - img)))
    tap(change > 1e-2, f"the random network is not the identity (max |y − x| = {change:.3g})")

    # ---- tiles and threads --------------------------------------------------
    h, w = 130, 211                        # both above 32 + 2·38
    img = rng.random((h, w, 3)).astype(np.float32)
    big = write_tiff("big.tif", img)
    ref = reference(img)
    whole, err = lisse_run(big, path("big-whole.tif"), "--tile", "4096", threads=2)
    e = max_err(whole, ref)
    tap(e is not None and e <= TOL, f"{w}×{h} whole image vs PyTorch: {e}", err)
    tiled, err = lisse_run(big, path("big-tiled.tif"), "--tile", "32", threads=2)
    d = max_err(tiled, whole.astype(np.float64)) if whole is not None else None
    tap(d is not None and d <= TOL, f"{w}×{h} --tile 32 vs whole: {d}", err)
    e = max_err(tiled, ref)
    tap(e is not None and e <= TOL, f"{w}×{h} --tile 32 vs PyTorch: {e}", err)
    one, err = lisse_run(big, path("big-t1.tif"), "--tile", "4096", threads=1)
    tap(one is not None and whole is not None and np.array_equal(one, whole),
        "one thread and two give identical output", err)

    # ---- wrong files -----------------------------------------------------------
    small = write_tiff("small.tif", rng.random((6, 8, 3)).astype(np.float32))

    def variant(name, edit_tensors=None, edit_meta=None):
        return hx.variant(name, tensors, meta, edit_tensors, edit_meta)

    def expect_bad(desc, file, needle):
        hx.expect_bad(desc, file, needle, small)

    expect_bad("missing tensor", variant("miss.safetensors",
                                         lambda t: t.pop("refine1.c2.bias")), "refine1.c2.bias")
    expect_bad("wrong shape", variant("shape.safetensors", lambda t: t.update(
        {"refine.in.weight": np.zeros((8, 9, 3, 3), np.float32)})), "refine.in.weight")
    expect_bad("extra tensor", variant("extra.safetensors", lambda t: t.update(
        {"desc2.c0.weight": np.zeros((8, 8, 3, 3), np.float32)})), "desc2.c0.weight")
    expect_bad("block count that disagrees with the tensors", variant(
        "count.safetensors", edit_meta=lambda m: m.update(n_desc="1", receptive_radius="32")),
        "unexpected tensor 'desc1.c0.")
    expect_bad("receptive radius mismatch", variant("radius.safetensors", edit_meta=lambda m:
                                                    m.update(receptive_radius="40")),
               "receptive_radius")
    expect_bad("absurd block count", variant("absurd.safetensors", edit_meta=lambda m:
                                             m.update(n_refine="1000000")), "n_refine")
    expect_bad("negative block count", variant("negative.safetensors", edit_meta=lambda m:
                                               m.update(n_smooth="-1")), "n_smooth")
    expect_bad("absurd width", variant("width.safetensors", edit_meta=lambda m:
                                       m.update(width="100000")), "width")
    expect_bad("width that disagrees with the tensors", variant(
        "width16.safetensors", edit_meta=lambda m: m.update(width="16")), "head.weight")
    expect_bad("missing count", variant("nocount.safetensors", edit_meta=lambda m:
                                        m.pop("n_smooth")), "n_smooth")
    expect_bad("non-numeric count", variant("text.safetensors", edit_meta=lambda m:
                                            m.update(n_desc="two")), "n_desc")
    expect_bad("other colour encoding", variant("enc.safetensors", edit_meta=lambda m:
                                                m.update(colour_encoding="linear")),
               "colour_encoding")

    hx.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
