#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C "sasnet" network (core/nets/sasnet.c) against its PyTorch twin
(training/lisse_train/sasnet_model.py), through a file written by
lisse_train.sasnet_export.

Usage: test_sasnet_parity.py PATH/TO/lisse

Makes a small random-weight twin (width 6, 2 coupling blocks, channel
attention window 5; the couplings' conv_out made non-zero, which the twin
starts at zero), exports it, and checks:
  - the file: the tensors of tensor_shapes(), float32, the documented
    metadata, and `lisse info` reading the receptive radius;
  - `lisse run --depth 32` on float TIFFs against the eval-mode twin in
    float64: odd, even and mixed sizes (the size rule), 1×1 and 2×1; max
    |C − PyTorch| ≤ 1e-4; the random network is not the identity;
  - --tile 32 against the whole image on an image larger than
    32 + 2·radius, both against the twin; one thread against two, bit for
    bit;
  - clear one-line errors, no output file, for wrong files: a missing or
    extra tensor, a wrong shape, a receptive radius that disagrees with the
    sizes, absurd or missing sizes, an even window, a bad clamp, another
    noise or colour encoding.
Prints TAP (the plan comes last).  Not a unittest module: the fan18-twin
test's discovery does not look at it (test_fan18*.py).
"""

import os
import sys

from lisse_testlib import ModelFileHarness, Tap, import_or_skip, random_sasnet_twin

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4
SIZES = dict(width=6, n_blocks=2, ca_window=5, ca_hidden=3)

tap = Tap()


def main():
    np, torch, safetensors_numpy = import_or_skip("numpy", "torch", "safetensors.numpy")
    sys.path.insert(0, os.path.join(HERE, "..", "training"))
    from lisse_train import sasnet_export as se
    from lisse_train import sasnet_model as sm

    lisse_exe = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
    hx = ModelFileHarness(tap, lisse_exe, "lisse-sasnet-parity-")
    path, max_err = hx.path, hx.max_err
    torch.set_num_threads(1)

    # ---- the model and its file ------------------------------------------
    model = random_sasnet_twin(3, **SIZES)
    model_path = path("sasnet-test.safetensors")
    se.export_sasnet(model, model_path, {"name": "parity"})
    twin = model.to(torch.float64).eval()
    radius = sm.receptive_field_radius(SIZES["n_blocks"], SIZES["ca_window"])

    tensors = safetensors_numpy.load_file(model_path)
    shapes = sm.tensor_shapes(SIZES["width"], SIZES["n_blocks"], SIZES["ca_hidden"])
    tap({k: tuple(v.shape) for k, v in tensors.items()} == shapes
        and all(t.dtype == np.float32 for t in tensors.values()),
        f"the file holds the {len(shapes)} tensors of tensor_shapes(), float32",
        sorted(set(tensors) ^ set(shapes)))
    meta = hx.metadata(model_path)
    want = {"architecture": "sasnet", "colour_encoding": "srgb-nonlinear-0-1", "width": "6",
            "n_blocks": "2", "ca_window": "5", "ca_hidden": "3", "clamp": "1.0",
            "noise": "zero", "receptive_radius": str(radius)}
    bad = {k: meta.get(k) for k in want if meta.get(k) != want[k]}
    tap(not bad and radius == 2 * 4 * 2 * 9 + 1, f"metadata: architecture, sizes, radius {radius}",
        f"wrong: {bad}")
    rc, out, err = hx.run("info", model_path)
    tap(rc == 0 and f"receptive radius: {radius} px" in out and "sasnet" in out,
        "lisse info loads it and shows the radius computed from the sizes", out + err)

    # ---- `lisse run` against the twin -------------------------------------
    rng = np.random.default_rng(11)

    def lisse_run(inp, out, *extra, threads=None):
        return hx.lisse_run(model_path, inp, out, *extra, threads=threads)

    def reference(img):
        return hx.twin_output(twin, img)

    for h, w in ((37, 29), (64, 48), (29, 64), (33, 40), (1, 1), (2, 1)):
        img = rng.random((h, w, 3)).astype(np.float32)
        got, err = lisse_run(hx.write_tiff(f"in-{h}x{w}.tif", img), path(f"out-{h}x{w}.tif"))
        e = max_err(got, reference(img))
        tap(e is not None and e <= TOL, f"lisse run {w}×{h}: max |C − PyTorch| = {e}", err)

    img = rng.random((24, 30, 3)).astype(np.float32)
    change = float(np.max(np.abs(reference(img) - img)))
    tap(change > 1e-2, f"the random network is not the identity (max |y − x| = {change:.3g})")

    # ---- tiles and threads --------------------------------------------------
    h, w = 2 * radius + 60, 2 * radius + 97     # above 32 + 2·radius, odd width
    img = rng.random((h, w, 3)).astype(np.float32)
    big = hx.write_tiff("big.tif", img)
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
    small = hx.write_tiff("small.tif", rng.random((6, 8, 3)).astype(np.float32))

    def variant(name, edit_tensors=None, edit_meta=None):
        return hx.variant(name, tensors, meta, edit_tensors, edit_meta)

    def expect_bad(desc, file, needle):
        hx.expect_bad(desc, file, needle, small)

    def meta_bad(desc, needle, **changes):
        expect_bad(desc, variant(f"{needle}.safetensors", edit_meta=lambda m: m.update(changes)),
                   needle)

    expect_bad("missing tensor", variant("miss.safetensors",
                                         lambda t: t.pop("b1.g2.ca.fc1.bias")), "b1.g2.ca.fc1.bias")
    expect_bad("wrong shape", variant("shape.safetensors", lambda t: t.update(
        {"b0.g1.conv_in.weight": np.zeros((6, 3, 3, 3), np.float32)})), "b0.g1.conv_in.weight")
    expect_bad("extra tensor", variant("extra.safetensors", lambda t: t.update(
        {"b2.g1.sa.bias": np.zeros((1,), np.float32)})), "b2.g1.sa.bias")
    expect_bad("block count that disagrees with the tensors", variant(
        "count.safetensors", edit_meta=lambda m: m.update(
            n_blocks="1", receptive_radius=str(sm.receptive_field_radius(1, 5)))),
        "unexpected tensor 'b1.g")
    meta_bad("receptive radius mismatch", "receptive_radius", receptive_radius="40")
    meta_bad("absurd block count", "n_blocks", n_blocks="1000000")
    meta_bad("even window", "ca_window", ca_window="4")
    meta_bad("zero clamp", "clamp", clamp="0")
    expect_bad("non-numeric clamp", variant("clampx.safetensors", edit_meta=lambda m:
                                            m.update(clamp="one")), "clamp")
    meta_bad("absurd width", "width", width="100000")
    expect_bad("width that disagrees with the tensors", variant(
        "width8.safetensors", edit_meta=lambda m: m.update(width="8")), "b0.g1.conv_in.weight")
    expect_bad("hidden width that disagrees with the tensors", variant(
        "hidden.safetensors", edit_meta=lambda m: m.update(ca_hidden="2")), "b0.g1.ca.fc1.weight")
    expect_bad("missing size", variant("nosize.safetensors", edit_meta=lambda m:
                                       m.pop("ca_hidden")), "ca_hidden")
    meta_bad("another noise", "noise", noise="hash")
    meta_bad("other colour encoding", "colour_encoding", colour_encoding="linear")

    hx.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
