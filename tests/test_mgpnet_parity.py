#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C "mgpnet" network (core/nets/mgpnet.c) against its PyTorch twin
(training/lisse_train/mgpnet_model.py), through a file written by
lisse_train.mgpnet_export.

Usage: test_mgpnet_parity.py PATH/TO/lisse

Makes a small random-weight twin (widths 4/6/8, in_feat 3, blocks 2/2/4,
grid 4, one [GPB, RCAB] pair a stage, padding to a multiple of 16), exports
it, and checks:
  - the file: the tensors of tensor_shapes(), float32, the documented
    metadata; `lisse info` loads it as a global network;
  - `lisse run --depth 32` on float TIFFs against the eval-mode twin in
    float64: sizes that are and are not multiples of 16 (the reflect
    padding), 1×1, 2×1, 5×70; max |C − PyTorch| ≤ 1e-4; the random network
    is not the identity;
  - global perception: a change to the bottom-right pixel changes the
    top-left one's result, in C as in the twin;
  - one thread against two, bit for bit;
  - tiles (`--tile N`, and automatically above the whole-image size):
    each core with 128 pixels of context against the twin on the same
    crops, colour and RGBA (alpha untouched); not the whole run; the same
    with one thread and two; a tile as large as the image runs it whole;
    `lisse info` states the automatic size;
  - clear one-line errors, no output file, for wrong files: a missing or
    extra tensor, a wrong shape, sizes that disagree with the tensors,
    absurd or missing sizes, a multiple the block or grid sizes do not
    divide, another colour encoding.
Prints TAP (the plan comes last).
"""

import os
import sys

from lisse_testlib import ModelFileHarness, Tap, import_or_skip, random_mgpnet_twin

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4
CONTEXT = 128   # net.h LISSE_NET_GLOBAL_CONTEXT
SIZES = dict(widths=(4, 6, 8), in_feat=3, blocks=(2, 2, 4), grid=4, n_pairs=1, multiple=16)

tap = Tap()


def main():
    np, torch, safetensors_numpy = import_or_skip("numpy", "torch", "safetensors.numpy")
    sys.path.insert(0, os.path.join(HERE, "..", "training"))
    from lisse_train import mgpnet_export as me
    from lisse_train import mgpnet_model as mm

    lisse_exe = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
    hx = ModelFileHarness(tap, lisse_exe, "lisse-mgpnet-parity-")
    path, max_err = hx.path, hx.max_err
    torch.set_num_threads(1)

    # ---- the model and its file ------------------------------------------
    model = random_mgpnet_twin(5, **SIZES)
    model_path = path("mgpnet-test.safetensors")
    me.export_mgpnet(model, model_path, {"name": "parity"})
    twin = model.to(torch.float64).eval()

    tensors = safetensors_numpy.load_file(model_path)
    shapes = mm.tensor_shapes(SIZES["widths"], SIZES["in_feat"], SIZES["blocks"],
                              SIZES["grid"], SIZES["n_pairs"])
    tap({k: tuple(v.shape) for k, v in tensors.items()} == shapes
        and all(t.dtype == np.float32 for t in tensors.values()),
        f"the file holds the {len(shapes)} tensors of tensor_shapes(), float32",
        sorted(set(tensors) ^ set(shapes)))
    meta = hx.metadata(model_path)
    want = {"architecture": "mgpnet", "colour_encoding": "srgb-nonlinear-0-1", "width1": "4",
            "width2": "6", "width3": "8", "in_feat": "3", "block1": "2", "block2": "2",
            "block3": "4", "grid": "4", "n_pairs": "1", "multiple": "16"}
    bad = {k: meta.get(k) for k in want if meta.get(k) != want[k]}
    tap(not bad, "metadata: architecture and sizes", f"wrong: {bad}")
    rc, out, err = hx.run("info", model_path)
    # 2 GiB / (40 bytes × C1 = 4) = 13.42 MP (mgpnet.c MGPNET_BYTES_PER_PIXEL_PER_C1)
    tap(rc == 0 and "mgpnet" in out and "global" in out and "up to 13.42 MP" in out,
        "lisse info loads it as a global network, whole up to 13.42 MP", out + err)

    # ---- `lisse run` against the twin -------------------------------------
    rng = np.random.default_rng(13)

    def lisse_run(inp, out, *extra, threads=None):
        return hx.lisse_run(model_path, inp, out, *extra, threads=threads)

    def reference(img):
        return hx.twin_output(twin, img)

    for h, w in ((37, 29), (64, 48), (29, 64), (16, 16), (1, 1), (2, 1), (5, 70)):
        img = rng.random((h, w, 3)).astype(np.float32)
        got, err = lisse_run(hx.write_tiff(f"in-{h}x{w}.tif", img), path(f"out-{h}x{w}.tif"))
        e = max_err(got, reference(img))
        tap(e is not None and e <= TOL, f"lisse run {w}×{h}: max |C − PyTorch| = {e}", err)

    img = rng.random((24, 30, 3)).astype(np.float32)
    change = float(np.max(np.abs(reference(img) - img)))
    tap(change > 1e-2, f"the random network is not the identity (max |y − x| = {change:.3g})")

    # ---- global perception ------------------------------------------------
    h, w = 48, 64
    img = rng.random((h, w, 3)).astype(np.float32)
    img2 = img.copy()
    img2[h - 1, w - 1] = 1.0 - img2[h - 1, w - 1]
    a, err_a = lisse_run(hx.write_tiff("g1.tif", img), path("g1-out.tif"))
    b, err_b = lisse_run(hx.write_tiff("g2.tif", img2), path("g2-out.tif"))
    twin_d = float(np.abs(reference(img)[0, 0] - reference(img2)[0, 0]).max())
    c_d = float(np.abs(a[0, 0] - b[0, 0]).max()) if a is not None and b is not None else None
    tap(twin_d > 1e-6 and c_d is not None and abs(c_d - twin_d) <= TOL and c_d > 1e-6,
        f"the bottom-right pixel changes the top-left result: C {c_d}, twin {twin_d:.3g}",
        err_a + err_b)

    # ---- tiles and threads --------------------------------------------------
    h, w = 90, 131
    img = rng.random((h, w, 3)).astype(np.float32)
    big = hx.write_tiff("big.tif", img)
    whole, err = lisse_run(big, path("big-whole.tif"), threads=2)
    e = max_err(whole, reference(img))
    tap(e is not None and e <= TOL, f"{w}×{h} vs PyTorch: {e}", err)
    one, err = lisse_run(big, path("big-t1.tif"), threads=1)
    tap(one is not None and whole is not None and np.array_equal(one, whole),
        "one thread and two give identical output", err)

    # ---- above the whole-image size: tiles with context ---------------------
    # A global network tiles when asked (--tile N) or above its whole-image
    # size: each N×N core runs with CONTEXT pixels of the image around it
    # (clipped at the border) and keeps its core (net.h).
    def tiled_reference(img, tile):
        h, w = img.shape[:2]
        out = np.empty(img.shape[:2] + (3,))
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
                cy0, cx0 = max(0, y0 - CONTEXT), max(0, x0 - CONTEXT)
                cy1, cx1 = min(h, y1 + CONTEXT), min(w, x1 + CONTEXT)
                crop = reference(np.ascontiguousarray(img[cy0:cy1, cx0:cx1, :3]))
                out[y0:y1, x0:x1] = crop[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return out

    h, w = 300, 420
    img = rng.random((h, w, 3)).astype(np.float32)
    big = hx.write_tiff("tiles.tif", img)
    tiled, err = lisse_run(big, path("tiles-out.tif"), "--tile", "160", threads=2)
    e = max_err(tiled, tiled_reference(img, 160))
    tap(e is not None and e <= TOL,
        f"--tile 160 on {w}×{h}: 3×2 tiles with {CONTEXT} px of context against the twin "
        f"on the same crops: {e}", err)
    whole, err = lisse_run(big, path("tiles-whole.tif"), threads=2)
    d = max_err(tiled, whole)
    tap(d is not None and d > 1e-6, f"… which differs from the whole-image run ({d}): the "
        "global branch sees one crop", err)
    one, err = lisse_run(big, path("tiles-t1.tif"), "--tile", "160", threads=1)
    tap(one is not None and tiled is not None and np.array_equal(one, tiled),
        "tiled: one thread and two give identical output", err)
    rgba = rng.random((h, w, 4)).astype(np.float32)
    ra, err = lisse_run(hx.write_tiff("tiles-rgba.tif", rgba), path("tiles-rgba-out.tif"),
                        "--tile", "160")
    e = max_err(ra[..., :3] if ra is not None else None, tiled_reference(rgba, 160))
    tap(e is not None and e <= TOL and ra.shape[2] == 4
        and np.array_equal(ra[..., 3], rgba[..., 3]),
        f"tiled RGBA: colour as without alpha ({e}), alpha untouched", err)
    big_tile, err = lisse_run(big, path("tiles-big.tif"), "--tile", "420")
    tap(big_tile is not None and whole is not None and np.array_equal(big_tile, whole),
        "a tile as large as the image runs it whole", err)

    # ---- wrong files -----------------------------------------------------------
    small = hx.write_tiff("small.tif", rng.random((6, 8, 3)).astype(np.float32))

    def variant(name, edit_tensors=None, edit_meta=None):
        return hx.variant(name, tensors, meta, edit_tensors, edit_meta)

    def expect_bad(desc, file, needle):
        hx.expect_bad(desc, file, needle, small)

    def meta_bad(desc, needle, **changes):
        expect_bad(desc, variant(f"{needle}.safetensors", edit_meta=lambda m: m.update(changes)),
                   needle)

    name = "eb2.layers.0.grid_branch.spatial.bias"
    expect_bad("missing tensor", variant("miss.safetensors", lambda t: t.pop(name)), name)
    expect_bad("wrong shape", variant("shape.safetensors", lambda t: t.update(
        {"db1.proj.weight": np.zeros((4, 7, 1, 1), np.float32)})), "db1.proj.weight")
    expect_bad("extra tensor", variant("extra.safetensors", lambda t: t.update(
        {"eb1.layers.2.norm.weight": np.zeros((4,), np.float32)})), "eb1.layers.2.norm.weight")
    expect_bad("pair count that disagrees with the tensors", variant(
        "pairs.safetensors", edit_meta=lambda m: m.update(n_pairs="2")), "eb1.layers.2")
    expect_bad("width that disagrees with the tensors", variant(
        "width.safetensors", edit_meta=lambda m: m.update(width2="8")), "eb2")
    expect_bad("block size that disagrees with the tensors", variant(
        "block.safetensors", edit_meta=lambda m: m.update(block1="4", multiple="16")),
        "block_branch.spatial")
    meta_bad("absurd width", "width3", width3="100000")
    meta_bad("zero grid", "grid", grid="0")
    meta_bad("multiple the grid does not divide", "multiple", multiple="24")
    expect_bad("missing size", variant("nosize.safetensors", edit_meta=lambda m:
                                       m.pop("in_feat")), "in_feat")
    meta_bad("other colour encoding", "colour_encoding", colour_encoding="linear")

    hx.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
