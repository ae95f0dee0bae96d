#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C "fang19" network (core/nets/fang19.c) against its PyTorch twin
(training/lisse_train/fang19_model.py), through a file written by
lisse_train.fang19_export.

Usage: test_fang19_parity.py PATH/TO/lisse

Makes a small random-weight twin (width 8, 2 blocks, 2 layers, offsets
bounded by 3 px; non-zero λ terms, second block convolutions and offsets),
exports it, and checks:
  - the file: the layer list's tensors, float32, the documented metadata,
    `lisse info` reading the halo computed from the metadata;
  - `lisse run --depth 32 --set lambda=…` on float TIFFs against the twin
    in float64, at three λ: odd, even and mixed sizes, 1×1 and 2×1; max
    |C − PyTorch| ≤ 1e-4; λ changes the result; the network is not the
    identity;
  - --tile 32 against the whole image on an image larger than 32 + 2·halo,
    both against the twin; one thread against two, bit for bit;
  - a second model whose offsets reach 64 px (beyond one of the streamed
    back end's 64-row bands), three layers, on an image of four bands;
  - clear one-line errors, no output file, for wrong files: a missing or
    extra tensor, a wrong shape, a halo that disagrees, bad dilations,
    offset bound, λ reference, params, colour encoding.
Prints TAP (the plan comes last).
"""

import os
import sys

from lisse_testlib import (ModelFileHarness, Tap, import_or_skip, random_fang19_twin,
                           read_float_tiff, write_float_tiff)

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4
SIZES = dict(width=8, n_layers=2, offset_bound=3.0, dilations=(1, 2))

tap = Tap()


def main():
    np, torch, safetensors_numpy = import_or_skip("numpy", "torch", "safetensors.numpy")
    sys.path.insert(0, os.path.join(HERE, "..", "training"))
    from lisse_train import fang19_export as fe
    from lisse_train import fang19_model as fm

    lisse_exe = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
    hx = ModelFileHarness(tap, lisse_exe, "lisse-fang19-parity-")
    path, run, max_err = hx.path, hx.run, hx.max_err
    torch.set_num_threads(1)

    # ---- the model and its file ------------------------------------------
    model = random_fang19_twin(5, **SIZES)
    model_path = path("fang19-test.safetensors")
    fe.export_fang19(model, model_path, "rtv", {"name": "parity"})
    twin = model.to(torch.float64).eval()
    halo = fm.halo_radius(SIZES["n_layers"], SIZES["offset_bound"], SIZES["dilations"])

    tensors = safetensors_numpy.load_file(model_path)
    names = [f"{n}.{k}" for n, _ in fe.layer_list(len(SIZES["dilations"]))
             for k in ("weight", "bias", "a_weight", "a_bias")]
    tap(sorted(tensors) == sorted(names) and all(t.dtype == np.float32 for t in tensors.values()),
        f"the file holds the {len(names)} tensors of layer_list(), float32",
        sorted(set(tensors) ^ set(names)))
    meta = hx.metadata(model_path)
    want = {"architecture": "fang19", "colour_encoding": "srgb-nonlinear-0-1", "width": "8",
            "n_layers": "2", "dilations": "[1, 2]", "receptive_radius": str(halo),
            "filter": "rtv"}
    bad = {k: meta.get(k) for k in want if meta.get(k) != want[k]}
    tap(not bad and halo == 9 + 4 * 3 + 2 * 5, f"metadata: architecture, sizes, halo {halo}",
        f"wrong: {bad}")
    rc, out, err = run("info", model_path)
    tap(rc == 0 and f"receptive radius: {halo} px" in out and "fang19" in out and "lambda" in out,
        "lisse info loads it, shows the halo and the λ parameter", out + err)

    # ---- `lisse run` against the twin -------------------------------------
    rng = np.random.default_rng(13)

    def lisse_run(inp, out, lam, *extra, threads=None):
        return hx.lisse_run(model_path, inp, out, "--set", f"lambda={lam}", *extra,
                            threads=threads)

    def reference(img, lam):
        return hx.twin_output(twin, img, torch.tensor([np.float32(lam)], dtype=torch.float64))

    for (h, w), lam in zip(((37, 29), (64, 48), (29, 64), (33, 40), (1, 1), (2, 1)),
                           (0.003, 0.01, 0.04, 0.01, 0.01, 0.02)):
        img = rng.random((h, w, 3)).astype(np.float32)
        inp = write_float_tiff(path(f"in-{h}x{w}.tif"), img)
        got, err = lisse_run(inp, path(f"out-{h}x{w}.tif"), lam)
        e = max_err(got, reference(img, lam))
        tap(e is not None and e <= TOL, f"lisse run {w}×{h} λ {lam}: max |C − PyTorch| = {e}", err)

    img = rng.random((24, 30, 3)).astype(np.float32)
    change = float(np.max(np.abs(reference(img, 0.01) - img)))
    by_lambda = float(np.max(np.abs(reference(img, 0.003) - reference(img, 0.04))))
    tap(change > 1e-2 and by_lambda > 1e-3,
        f"the random network is not the identity (max |y − x| = {change:.3g}) and λ matters "
        f"(max |y(0.003) − y(0.04)| = {by_lambda:.3g})")

    # ---- tiles and threads --------------------------------------------------
    h, w = 150, 211                        # both above 32 + 2·halo; taller than fang19.c's
                                           # row bands (EXTRACT_BAND, BACK_BAND): their seams
    img = rng.random((h, w, 3)).astype(np.float32)
    big = write_float_tiff(path("big.tif"), img)
    ref = reference(img, 0.02)
    whole, err = lisse_run(big, path("big-whole.tif"), 0.02, "--tile", "4096", threads=2)
    e = max_err(whole, ref)
    tap(e is not None and e <= TOL, f"{w}×{h} whole image vs PyTorch: {e}", err)
    tiled, err = lisse_run(big, path("big-tiled.tif"), 0.02, "--tile", "32", threads=2)
    d = max_err(tiled, whole.astype(np.float64)) if whole is not None else None
    tap(d is not None and d <= TOL, f"{w}×{h} --tile 32 vs whole: {d}", err)
    one, err = lisse_run(big, path("big-t1.tif"), 0.02, "--tile", "4096", threads=1)
    tap(one is not None and whole is not None and np.array_equal(one, whole),
        "one thread and two give identical output", err)

    # ---- offsets that reach further than a band ------------------------------
    # fang19.c streams its back end in bands of 64 rows (BACK_BAND) and runs
    # each layer once its input reaches the layer's reach below the band:
    # offsets bounded by 64 px (reach 66 rows) with logits large enough to
    # use it, three layers, an image of four bands.
    far = random_fang19_twin(7, width=8, n_layers=3, offset_bound=64.0, dilations=(1,))
    with torch.no_grad():
        far.c5.weight[fm.FEATURE_DIM:] *= 40.0       # Δx up to about 50 px,
        far.c5.weight[fm.FEATURE_DIM::2] *= 4.0      # Δy near the bound
    far_path = path("fang19-far.safetensors")
    fe.export_fang19(far, far_path, "rtv", {"name": "parity-far"})
    far = far.to(torch.float64).eval()
    far_img = rng.random((230, 57, 3)).astype(np.float32)
    x = torch.from_numpy(np.transpose(far_img.astype(np.float64), (2, 0, 1)))[None]
    lam = torch.tensor([np.float32(0.01)], dtype=torch.float64)
    with torch.no_grad():
        far_ref = np.transpose(far(x, lam)[0].numpy(), (1, 2, 0))
        _, offs = far.extract(x, fm.lambda_params(lam, far.lambda_ref, 1, x.device, x.dtype))
        dy_max = max(float(o[:, 0::2].abs().max()) for o in offs)
    rc, _, err = run("run", "--model", far_path, "--depth", "32", "--set", "lambda=0.01",
                     write_float_tiff(path("far-in.tif"), far_img), path("far-out.tif"))
    got = read_float_tiff(path("far-out.tif")) if rc == 0 else None
    e = max_err(got, far_ref)
    moved = float(np.max(np.abs(far_ref - far_img)))
    tap(e is not None and e <= TOL and dy_max > 64 - 2 and moved > 1e-2,
        f"57×230, offsets bounded by 64 px (largest row offset {dy_max:.1f}: reads beyond a "
        f"64-row band), three layers: max |C − PyTorch| = {e} (max |y − x| = {moved:.3g})", err)

    # ---- joint filtering: `lisse run --guide` ---------------------------------
    # The twin's forward(guide, λ, target): features and offsets from the
    # guide, the average over the target (the input file).
    target = rng.random((h, w, 3)).astype(np.float32)
    tgt = write_float_tiff(path("target.tif"), target)

    def joint_reference(guide_img, target_img, lam):
        g = torch.from_numpy(np.transpose(guide_img.astype(np.float64), (2, 0, 1)))[None]
        t = torch.from_numpy(np.transpose(target_img.astype(np.float64), (2, 0, 1)))[None]
        with torch.no_grad():
            y = twin(g, torch.tensor([np.float32(lam)], dtype=torch.float64), t)
        return np.transpose(y[0].numpy(), (1, 2, 0))

    jref = joint_reference(img, target, 0.02)
    joint, err = lisse_run(tgt, path("joint.tif"), 0.02, "--guide", big, "--tile", "4096")
    e = max_err(joint, jref)
    tap(e is not None and e <= TOL and float(np.max(np.abs(jref - ref))) > 1e-2,
        f"--guide: the target filtered under another image's kernels vs PyTorch: {e}", err)
    joint_t, err = lisse_run(tgt, path("joint-t.tif"), 0.02, "--guide", big, "--tile", "32")
    d = max_err(joint_t, jref)
    tap(d is not None and d <= TOL, f"--guide with --tile 32 vs PyTorch: {d}", err)
    self_g, err = lisse_run(big, path("self-guide.tif"), 0.02, "--guide", big, "--tile", "4096",
                            threads=2)
    tap(self_g is not None and whole is not None and np.array_equal(self_g, whole),
        "--guide IN on IN is the plain run, bit for bit", err)
    gray = rng.random((h, w)).astype(np.float32)
    gray_in = write_float_tiff(path("guide-gray.tif"), gray[..., None])
    jg, err = lisse_run(tgt, path("joint-gray.tif"), 0.02, "--guide", gray_in, "--tile", "4096")
    e = max_err(jg, joint_reference(np.repeat(gray[..., None], 3, 2), target, 0.02))
    tap(e is not None and e <= TOL, f"--guide with a gray guide (repeated to R'G'B'): {e}", err)
    odd = write_float_tiff(path("guide-small.tif"), rng.random((6, 8, 3)).astype(np.float32))
    rc, _, err = run("run", "--model", model_path, "--guide", odd, tgt, path("x.tif"))
    tap(rc != 0 and "guide is 8×6" in err and err.count("\n") == 1,
        "a guide of another size: one clear error", err)

    # ---- wrong files -----------------------------------------------------------
    small = write_float_tiff(path("small.tif"), rng.random((6, 8, 3)).astype(np.float32))

    def variant(name, edit_tensors=None, edit_meta=None):
        return hx.variant(name, tensors, meta, edit_tensors, edit_meta)

    def expect_bad(desc, file, needle, *extra):
        hx.expect_bad(desc, file, needle, small, *extra)

    expect_bad("missing tensor", variant("miss.safetensors",
                                         lambda t: t.pop("res1.b.a_bias")), "res1.b.a_bias")
    expect_bad("wrong shape", variant("shape.safetensors", lambda t: t.update(
        {"c5.weight": np.zeros((5, 8, 3, 3), np.float32)})), "c5.weight")
    expect_bad("extra tensor", variant("extra.safetensors", lambda t: t.update(
        {"res2.a.weight": np.zeros((8, 8, 3, 3), np.float32)})), "res2.a.weight")
    expect_bad("halo mismatch", variant("halo.safetensors", edit_meta=lambda m:
                                        m.update(receptive_radius="40")), "receptive_radius")
    expect_bad("dilations that disagree with the tensors", variant(
        "dil.safetensors", edit_meta=lambda m: m.update(dilations="[1]", receptive_radius="23")),
        "unexpected tensor 'res1.a.")
    expect_bad("dilations not a list", variant("dil2.safetensors", edit_meta=lambda m:
                                               m.update(dilations="1,2")), "dilations")
    expect_bad("absurd dilation", variant("dil3.safetensors", edit_meta=lambda m:
                                          m.update(dilations="[1, 100000]")), "dilations")
    expect_bad("absurd offset bound", variant("bound.safetensors", edit_meta=lambda m:
                                              m.update(offset_bound="1e9")), "offset_bound")
    expect_bad("negative λ reference", variant("lref.safetensors", edit_meta=lambda m:
                                               m.update(lambda_ref="-1")), "lambda_ref")
    expect_bad("absurd layer count", variant("layers.safetensors", edit_meta=lambda m:
                                             m.update(n_layers="1000")), "n_layers")
    expect_bad("bad params", variant("params.safetensors", edit_meta=lambda m: m.update(
        params='[{"name": "lambda", "min": 0.5, "max": 0.1, "default": 0.2}]')), "params")
    expect_bad("other colour encoding", variant("enc.safetensors", edit_meta=lambda m:
                                                m.update(colour_encoding="linear")),
               "colour_encoding")
    expect_bad("λ outside the model's range", model_path, "lambda", "--set", "lambda=5")

    hx.close()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
