#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C "fan18" network against its PyTorch twin, through an exported file.

Usage: test_fan18_parity.py PATH/TO/lisse PATH/TO/test-fan18-map

Makes a small random-weight twin (width 8, random BatchNorm statistics so
that the export's folding is exercised, non-zero λ input weights), exports
it with lisse_train.export, and checks:
  - the export: deterministic bytes, readable by the safetensors package,
    the documented metadata;
  - `lisse run --depth 32` on float TIFFs against the eval-mode twin in
    float64 for constant random λ: odd, mixed and even sizes, 1×1;
    max |C − PyTorch| ≤ 1e-4;
  - a per-pixel λf map (through test-fan18-map, since the command line
    takes no map) against the twin given the same map, whole and tiled;
  - --tile 128 against the whole image on a 701×161 image (wider than
    128 + 2·254), both against the twin (and the map run with tile 129,
    whose odd core origins need the alignment to even crops); one thread
    against two, bit for bit;
  - bf16: a width-16 network whose file allows bf16 ("bf16_max_error"):
    float with LISSE_BF16=off; with AMX, bf16 taken and within the bounds
    stated there, tiled close to whole, threads bit for bit; without AMX
    the same output as float;
  - λ ranges from the file's metadata, and clear one-line errors for wrong
    files (missing tensor, wrong shape, other conditioning, bad params, a
    bad bf16_max_error).
Prints TAP (the plan comes last).  Not a unittest module: the fan18-twin
test's discovery imports it and finds nothing to run.

Not here (issue 4, deliverable 5): that larger λf smooths more
monotonically needs trained weights, not random ones.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from lisse_testlib import Tap, import_or_skip, read_float_tiff, write_float_tiff

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4

tap = Tap()


def main():
    np, cv2, torch, nn, safetensors_numpy = import_or_skip(
        "numpy", "cv2", "torch", "torch.nn", "safetensors.numpy")
    load_file = safetensors_numpy.load_file
    sys.path.insert(0, os.path.join(HERE, "..", "training"))
    from lisse_train import export as ex
    from lisse_train import fan18_model as fm

    lisse_exe = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
    map_exe = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
    tmp = tempfile.mkdtemp(prefix="lisse-fan18-parity-")
    torch.set_num_threads(2)
    D = torch.float64

    def path(name):
        return os.path.join(tmp, name)

    def run(exe, *args, threads=None, bf16=None):
        env = dict(os.environ, LISSE_MODEL_PATH=os.path.join(tmp, "no-models"))
        env.pop("LISSE_BF16", None)
        if threads:
            env["LISSE_THREADS"] = str(threads)
        if bf16:
            env["LISSE_BF16"] = bf16
        p = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, env=env,
                           timeout=300)
        return p.returncode, p.stderr

    # ---- the model ------------------------------------------------------
    def random_twin(width, seed):
        g = torch.Generator().manual_seed(seed)
        model = fm.Fan18Net(width, "input")
        with torch.no_grad():
            for name, m in model.named_modules():
                if isinstance(m, nn.BatchNorm2d):
                    n = m.num_features
                    m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                    m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                    m.weight.copy_(0.5 + torch.rand(n, generator=g))
                    m.bias.copy_(0.2 * torch.rand(n, generator=g) - 0.1)
                elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    # He-scaled; the residual branches and the output layer
                    # smaller, so that ten blocks do not blow the activations
                    # up and the output stays near [0, 1], where 1e-4 means
                    # what it says.
                    scale = (2.0 / m.weight[0].numel()) ** 0.5
                    if name.endswith("conv_b"):
                        scale *= 0.3
                    if name == "conv_out2":
                        scale *= 0.1
                    m.weight.copy_(scale * torch.randn(m.weight.shape, generator=g))
                    if m.bias is not None:
                        m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
        return model

    model = random_twin(8, 4)
    twin = model.to(D).eval()

    def reference(img, lf, le):
        """img h×w×3 float32 → twin output h×w×3 (float64); lf a float or h×w map."""
        x = torch.from_numpy(np.transpose(img.astype(np.float64), (2, 0, 1)))[None]
        if not np.isscalar(lf):
            lf = torch.from_numpy(np.asarray(lf, np.float64))[None, None]
        with torch.no_grad():
            y = twin(x, lf, le)
        return np.transpose(y[0].numpy(), (1, 2, 0))

    model_path = path("fan18-test.safetensors")
    ckpt = ex.make_checkpoint(model.float(), step=123, losses={"energy": 0.5},
                              train_config={"lr": 0.001})
    torch.save(ckpt, path("ckpt.pt"))
    twin = model.to(D).eval()
    env_py = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "training"))
    p = subprocess.run([sys.executable, "-m", "lisse_train.export", path("ckpt.pt"), model_path,
                        "--name", "parity"], capture_output=True, text=True, env=env_py,
                       timeout=120)
    tap(p.returncode == 0 and os.path.exists(model_path),
        "python3 -m lisse_train.export writes the model file", p.stderr)
    if p.returncode != 0:
        tap.plan()
        return 1

    # ---- the export ------------------------------------------------------
    second = path("again.safetensors")
    ex.export_fan18(ex.load_checkpoint(path("ckpt.pt"))[0], second, {"name": "parity",
                    "steps": "123", "final_losses": {"energy": 0.5},
                    "training_config": {"lr": 0.001}})
    with open(model_path, "rb") as a, open(second, "rb") as b:
        same = a.read() == b.read()
    tap(same, "export is deterministic (checkpoint via CLI and API give the same bytes)")

    tensors = load_file(model_path)
    folded = fm.fold_batchnorm(twin).state_dict()
    ok = set(tensors) == set(folded) and len(tensors) == 52 and all(
        tensors[k].dtype == np.float32 and tensors[k].shape == tuple(folded[k].shape)
        for k in tensors)
    tap(ok, "the file holds the folded twin's 52 tensors, float32, same shapes",
        sorted(set(tensors) ^ set(folded)))

    import json
    with open(model_path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    want = {"architecture": "fan18", "conditioning": "input-channels-log-lambda",
            "colour_encoding": "srgb-nonlinear-0-1", "receptive_radius": "254",
            "alignment": "2", "width": "8", "steps": "123", "name": "parity"}
    bad = {k: meta.get(k) for k in want if meta.get(k) != want[k]}
    params = json.loads(meta.get("params", "null"))
    keys = ("params", "training_config", "git_commit", "data_manifest_sha256", "final_losses",
            "dilations")
    tap(not bad and all(k in meta for k in keys) and [q["name"] for q in params]
        == ["lambda-f", "lambda-e"] and json.loads(meta["final_losses"]) == {"energy": 0.5},
        "metadata: architecture, conditioning, encoding, radius, alignment, params, provenance",
        f"wrong: {bad}; present: {sorted(meta)}")

    # ---- constant λ through `lisse run` ------------------------------------
    rng = np.random.default_rng(7)

    def write_tiff(name, img):
        return write_float_tiff(path(name), img)

    read_tiff = read_float_tiff

    def lisse_run(inp, out, lf, le, *extra, threads=None, model=None, bf16=None):
        if os.path.exists(out):
            os.remove(out)
        rc, err = run(lisse_exe, "run", "--model", model or model_path, "--set",
                      f"lambda-f={lf!r}", "--set", f"lambda-e={le!r}", "--depth", "32", *extra,
                      inp, out, threads=threads, bf16=bf16)
        got = read_tiff(out) if rc == 0 else None
        return got, err

    def log_uniform(lo, hi):
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

    def max_err(a, b):
        return float(np.max(np.abs(a.astype(np.float64) - b))) if a is not None else None

    for h, w in ((37, 29), (64, 48), (29, 64), (1, 1), (2, 1)):
        img = rng.random((h, w, 3)).astype(np.float32)
        lf, le = log_uniform(0.05, 20), log_uniform(0.005, 2)
        inp = write_tiff(f"in-{h}x{w}.tif", img)
        got, err = lisse_run(inp, path(f"out-{h}x{w}.tif"), lf, le)
        ref = reference(img, lf, le)
        e = max_err(got, ref) if got is not None and got.shape == ref.shape else None
        tap(e is not None and e <= TOL,
            f"lisse run {w}×{h}, λf={lf:.3g} λe={le:.3g}: max |C − PyTorch| = {e}", err)

    # Not trivially the identity or λ-blind: the parity above means something.
    img = rng.random((20, 22, 3)).astype(np.float32)
    a, b = reference(img, 0.1, 0.1), reference(img, 10.0, 0.1)
    tap(np.max(np.abs(a - img)) > 1e-2 and np.max(np.abs(a - b)) > 1e-3,
        f"the random network is neither the identity nor blind to λ "
        f"(|y − x| {np.max(np.abs(a - img)):.3g}, |Δλf| {np.max(np.abs(a - b)):.3g})")

    # ---- tiles and threads -------------------------------------------------
    h, w = 161, 701
    img = rng.random((h, w, 3)).astype(np.float32)
    lf, le = 2.5, 0.04
    big = write_tiff("big.tif", img)
    whole, err = lisse_run(big, path("big-whole.tif"), lf, le, "--tile", "4096", threads=2)
    ref = reference(img, lf, le)
    e = max_err(whole, ref) if whole is not None else None
    tap(e is not None and e <= TOL, f"{w}×{h} whole image vs PyTorch: {e}", err)
    tiled, err = lisse_run(big, path("big-tiled.tif"), lf, le, "--tile", "128", threads=2)
    d = max_err(tiled, whole) if tiled is not None and whole is not None else None
    tap(d is not None and d <= TOL, f"{w}×{h} --tile 128 vs whole: {d}", err)
    e = max_err(tiled, ref) if tiled is not None else None
    tap(e is not None and e <= TOL, f"{w}×{h} --tile 128 vs PyTorch: {e}", err)
    one, err = lisse_run(big, path("big-t1.tif"), lf, le, "--tile", "4096", threads=1)
    tap(one is not None and whole is not None and np.array_equal(one, whole),
        "one thread and two give identical output", err)

    # ---- bf16 (a model file that allows it) --------------------------------
    # Width 16: the bf16 path takes convolutions of ≥ 16 input channels.
    # With AMX the 3×3 convolutions' products are bf16: the output moves
    # from the float twin, tiles move it as much (their Winograd grids
    # differ, so other values are rounded), and threads never do.  Bounds:
    # RMS ≤ 3 % of the RMS of what the network adds to its input (|y − x|:
    # 0.19 RMS, 0.49 at most here; measured 1.0 %), largest ≤ 0.05 (measured
    # 0.016 against the twin, 0.017 tiled against whole).  This random
    # network is less tolerant than the trained ones, which stay within
    # 0.74/255 (tools/bench/bf16-gate); a wrong pair, tap or channel in the
    # bf16 path moves it by tens of percent.  Without AMX the file's
    # permission changes nothing.
    with open("/proc/cpuinfo") as f:
        amx = any(line.startswith("flags") and " amx_bf16" in line for line in f)
    wide = random_twin(16, 5)
    bf16_path = path("bf16.safetensors")
    ex.export_fan18(wide, bf16_path, {"name": "bf16", "bf16_max_error": "0.5"})
    wide = wide.to(D).eval()
    h, w = 150, 390
    img = rng.random((h, w, 3)).astype(np.float32)
    lf, le = 1.5, 0.08
    x = torch.from_numpy(np.transpose(img.astype(np.float64), (2, 0, 1)))[None]
    with torch.no_grad():
        ref16 = np.transpose(wide(x, lf, le)[0].numpy(), (1, 2, 0))
    src = write_tiff("bf16-in.tif", img)
    f32, err = lisse_run(src, path("b-f32.tif"), lf, le, model=bf16_path, bf16="off")
    e = max_err(f32, ref16)
    tap(e is not None and e <= TOL, f"bf16 allowed, LISSE_BF16=off: float, |C − PyTorch| = {e}",
        err)
    got, err = lisse_run(src, path("b-auto.tif"), lf, le, "--tile", "4096", model=bf16_path,
                         threads=2)
    e = max_err(got, ref16)
    if amx:
        added = float(np.sqrt(np.mean((ref16 - img) ** 2)))

        def bf16_close(a, b):
            if a is None or b is None:
                return None, None
            d = a.astype(np.float64) - b
            return float(np.sqrt(np.mean(d ** 2))), float(np.max(np.abs(d)))

        r, m = bf16_close(got, ref16)
        tap(r is not None and 1e-6 < m <= 0.05 and r <= 0.03 * added,
            f"bf16 allowed, AMX: |C − PyTorch| RMS {r}, largest {m} (bf16 taken; bounds "
            f"{0.03 * added:.3g}, 0.05)", err)
        tiled, err = lisse_run(src, path("b-tiled.tif"), lf, le, "--tile", "128",
                               model=bf16_path, threads=2)
        r, m = bf16_close(tiled, got.astype(np.float64) if got is not None else None)
        tap(r is not None and m <= 0.05 and r <= 0.03 * added,
            f"bf16: --tile 128 vs whole: RMS {r}, largest {m}", err)
        one, err = lisse_run(src, path("b-one.tif"), lf, le, "--tile", "4096",
                             model=bf16_path, threads=1)
        tap(one is not None and got is not None and np.array_equal(one, got),
            "bf16: one thread and two give identical output", err)
    else:
        tap(got is not None and f32 is not None and np.array_equal(got, f32),
            "bf16 allowed, no AMX: the same float output # bf16 path not on this CPU", err)

    # ---- per-pixel λf map through the net API ----------------------------
    def map_run(img, lmap, le, tile, threads=2):
        h, w = img.shape[:2]
        np.ascontiguousarray(np.transpose(img, (2, 0, 1)), np.float32).tofile(path("m-in.f32"))
        mp = "-"
        if lmap is not None:
            mp = path("m-map.f32")
            np.ascontiguousarray(lmap, np.float32).tofile(mp)
        out = path("m-out.f32")
        rc, err = run(map_exe, model_path, h, w, path("m-in.f32"), mp, tile, out,
                      f"lambda-e={le!r}", threads=threads)
        if rc != 0:
            return None, err
        y = np.fromfile(out, np.float32).reshape(3, h, w)
        return np.transpose(y, (1, 2, 0)), err

    if map_exe:
        for h, w in ((37, 29), (64, 48), (1, 1)):
            img = rng.random((h, w, 3)).astype(np.float32)
            lmap = np.exp(rng.uniform(np.log(0.05), np.log(20), (h, w))).astype(np.float32)
            le = log_uniform(0.005, 2)
            got, err = map_run(img, lmap, le, 0)
            e = max_err(got, reference(img, lmap, le))
            tap(e is not None and e <= TOL, f"per-pixel λf map {w}×{h}: max |C − PyTorch| = {e}",
                err)
        h, w = 161, 701
        img = rng.random((h, w, 3)).astype(np.float32)
        # A smooth map with a sharp step: content-aware editing's kind.
        yy, xx = np.mgrid[0:h, 0:w]
        lmap = (0.2 + 4 * (xx > 350) + 2 * np.sin(yy / 20.0) ** 2).astype(np.float32)
        ref = reference(img, lmap, 0.3)
        # Tile 129: crops of odd-origin cores, which only the alignment to
        # even coordinates keeps on the whole image's stride-2 grid.
        got, err = map_run(img, lmap, 0.3, 129)
        e = max_err(got, ref)
        tap(e is not None and e <= TOL, f"per-pixel λf map {w}×{h}, tile 129: max |C − PyTorch| = {e}",
            err)
        img = rng.random((31, 40, 3)).astype(np.float32)
        const, _ = map_run(img, np.full((31, 40), 3.0, np.float32), 0.2, 0)
        scalar, err = lisse_run(write_tiff("c.tif", img), path("c-out.tif"), 3.0, 0.2)
        d = max_err(const, scalar.astype(np.float64)) if const is not None and scalar is not None \
            else None
        tap(d is not None and d == 0.0, f"a constant λf map equals the scalar λf ({d})", err)
    else:
        tap(True, "per-pixel λf map # SKIP no test-fan18-map given")

    # ---- ranges and wrong files -------------------------------------------
    small = write_tiff("small.tif", rng.random((6, 8, 3)).astype(np.float32))
    got, err = lisse_run(small, path("r.tif"), 25.0, 0.1)
    tap(got is None and "lambda-f" in err and len(err.strip().splitlines()) == 1,
        "λf above the file's range is refused", err)

    def variant(name, edit_tensors=None, edit_meta=None):
        t = dict(tensors)
        m = dict(meta)
        if edit_tensors:
            edit_tensors(t)
        if edit_meta:
            edit_meta(m)
        ex.write_safetensors(path(name), t, m)
        return path(name)

    narrow = variant("narrow.safetensors", edit_meta=lambda m: m.update(params=json.dumps(
        [{"name": "lambda-f", "min": 0.5, "max": 5, "default": 2},
         {"name": "lambda-e", "min": 0.01, "max": 1, "default": 0.05}])))
    p = subprocess.run([lisse_exe, "info", narrow], capture_output=True, text=True, timeout=60)
    tap(p.returncode == 0 and "[0.5, 5], default 2" in p.stdout and "[0.01, 1], default 0.05"
        in p.stdout, "lisse info shows the λ ranges from the file's metadata", p.stdout + p.stderr)
    rc, err = run(lisse_exe, "run", "--model", narrow, "--set", "lambda-f=6", "--depth", "32",
                  small, path("n.tif"))
    tap(rc != 0 and "lambda-f" in err, "a value outside the file's narrower range is refused", err)

    def expect_bad(desc, file, needle):
        rc, err = run(lisse_exe, "run", "--model", file, small, path("bad.tif"))
        lines = err.strip().splitlines()
        tap(rc != 0 and len(lines) == 1 and lines[0].startswith("lisse: ") and needle in err
            and not os.path.exists(path("bad.tif")), f"{desc}: one clear error line", err)

    expect_bad("missing tensor", variant("miss.safetensors", lambda t: t.pop("res3.conv_b.bias")),
               "res3.conv_b.bias")
    expect_bad("wrong shape", variant("shape.safetensors", lambda t: t.update(
        {"up.weight": np.zeros((8, 8, 3, 3), np.float32)})), "up.weight")
    expect_bad("extra tensor", variant("extra.safetensors", lambda t: t.update(
        {"bn0.weight": np.ones(8, np.float32)})), "bn0.weight")
    expect_bad("unconditioned conv0", variant("cin3.safetensors", lambda t: t.update(
        {"conv0.weight": np.zeros((8, 3, 3, 3), np.float32)})), "3 input channels")
    expect_bad("other conditioning", variant("film.safetensors", edit_meta=lambda m: m.update(
        conditioning="film")), "conditioning")
    expect_bad("bad params", variant("params.safetensors", edit_meta=lambda m: m.update(
        params='[{"name":"lambda-f","min":0,"max":1,"default":0.5},'
               '{"name":"lambda-e","min":0.1,"max":1,"default":0.5}]')), "params")
    expect_bad("width mismatch", variant("width.safetensors", edit_meta=lambda m: m.update(
        width="16")), "width")
    expect_bad("bf16_max_error not a number", variant("bf16a.safetensors",
               edit_meta=lambda m: m.update(bf16_max_error="small")), "bf16_max_error")
    expect_bad("bf16_max_error negative", variant("bf16b.safetensors",
               edit_meta=lambda m: m.update(bf16_max_error="-1")), "bf16_max_error")

    shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
