#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of the `lisse` command line.

Usage: test-cli.py PATH/TO/lisse

Makes its images procedurally (OpenCV writes them), its models with the
safetensors package, and checks:
  - `lisse filter` round trips for every method: size, channels and bit
    depth kept, alpha bit-exact, PNG / TIFF / JPEG in and out;
  - error cases: exit status non-zero, exactly one "lisse: …" line on
    stderr, no output file (and no temporary file) left behind;
  - `lisse run` with a random-weight plain-cnn model against a NumPy
    reference forward pass, compared through 32-bit float TIFF (the input's
    float depth is kept) so no quantisation hides errors; tiled versus whole
    image; one thread versus two; gray and RGBA images;
  - `lisse models` and `lisse info`.
Prints TAP (the plan comes last).
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

from lisse_testlib import Tap, import_or_skip
import zlib

np, cv2, safetensors_numpy = import_or_skip("numpy", "cv2", "safetensors.numpy")
save_file = safetensors_numpy.save_file

LISSE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
TMP = tempfile.mkdtemp(prefix="lisse-cli-test-")
EMPTY_MODELS = os.path.join(TMP, "no-models")
os.makedirs(EMPTY_MODELS)

tap = Tap()


def lisse(*args, env=None):
    e = dict(os.environ)
    e.setdefault("LISSE_MODEL_PATH", EMPTY_MODELS)
    if env:
        e.update(env)
    p = subprocess.run([LISSE, *map(str, args)], capture_output=True, text=True, env=e,
                       timeout=600)
    return p.returncode, p.stdout, p.stderr


def path(name):
    return os.path.join(TMP, name)


def leftovers():
    """Temporary output files the writer should never leave behind."""
    return [f for f in os.listdir(TMP) if ".lisse-" in f or f.startswith(".goutputstream")]


# ---------------------------------------------------------------------------
# Test images

rng = np.random.default_rng(1234)


def scene(h, w, channels):
    """Flat regions, sharp edges, a gradient and some texture: what smoothing
    filters are about, in [0,1] floats, shape h×w×channels (RGB order)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.zeros((h, w, 3))
    base[..., 0] = 0.2 + 0.6 * (x > w * 0.4)
    base[..., 1] = 0.3 + 0.5 * ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 3) ** 2)
    base[..., 2] = 0.1 + 0.8 * y / max(h - 1, 1)
    base += 0.05 * rng.standard_normal((h, w, 3))
    base = np.clip(base, 0, 1)
    if channels == 1:
        return (0.2126 * base[..., 0] + 0.7152 * base[..., 1] + 0.0722 * base[..., 2])[..., None]
    if channels == 4:
        alpha = np.clip(0.1 + 0.9 * x / max(w - 1, 1), 0, 1)
        alpha[: h // 4] = 1.0
        alpha[h // 4: h // 2, : w // 5] = 0.0
        return np.concatenate([base, alpha[..., None]], axis=2)
    return base


def to_cv(img):
    """RGB(A) h×w×c → OpenCV's BGR(A) (gray: h×w)."""
    if img.shape[2] == 1:
        return img[..., 0]
    if img.shape[2] == 3:
        return img[..., ::-1]
    return img[..., [2, 1, 0, 3]]


def from_cv(img):
    """OpenCV's array → RGB(A) h×w×c."""
    if img.ndim == 2:
        return img[..., None]
    if img.shape[2] == 3:
        return img[..., ::-1]
    return img[..., [2, 1, 0, 3]]


def write_image(name, img, dtype):
    scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    data = to_cv(img) * scale
    if dtype != np.float32:
        data = np.round(data)
    data = np.ascontiguousarray(data.astype(dtype))
    # OpenCV stores float TIFF as LogLuv unless told otherwise; plain
    # IEEE-float samples (compression none) are what we mean.
    params = [cv2.IMWRITE_TIFF_COMPRESSION, 1] if dtype == np.float32 else []
    assert cv2.imwrite(path(name), data, params), name
    return path(name)


def write_png_raw(name, arr, color_type):
    """A minimal 8-bit PNG writer, for what OpenCV cannot write (gray+alpha,
    colour type 4)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + np.ascontiguousarray(arr[y]).tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

    with open(path(name), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path(name)


def png_color_type(p):
    with open(p, "rb") as f:
        return f.read(26)[25]


def read_image(p):
    img = cv2.imread(p, cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    return from_cv(img)


H, W = 40, 48
images = {
    "rgb8.png": write_image("rgb8.png", scene(H, W, 3), np.uint8),
    "rgba8.png": write_image("rgba8.png", scene(H, W, 4), np.uint8),
    "gray8.png": write_image("gray8.png", scene(H, W, 1), np.uint8),
    "rgb16.png": write_image("rgb16.png", scene(H, W, 3), np.uint16),
    "rgba16.png": write_image("rgba16.png", scene(H, W, 4), np.uint16),
    "rgb8.tif": write_image("rgb8.tif", scene(H, W, 3), np.uint8),
    "rgb16.tif": write_image("rgb16.tif", scene(H, W, 3), np.uint16),
    "rgb8.jpg": write_image("rgb8.jpg", scene(H, W, 3), np.uint8),
    "rgbf.tif": write_image("rgbf.tif", scene(H, W, 3), np.float32),
}
_ga = scene(H, W, 4)
_ga = np.stack([0.2126 * _ga[..., 0] + 0.7152 * _ga[..., 1] + 0.0722 * _ga[..., 2], _ga[..., 3]], axis=2)
GA_PIXELS = np.round(_ga * 255).astype(np.uint8)
images["graya8.png"] = write_png_raw("graya8.png", GA_PIXELS, 4)


def expect_failure(description, args, out, env=None, stderr_has=None):
    """Non-zero exit, one 'lisse: ' line, no output, no temporary file."""
    if out and os.path.exists(out):
        os.remove(out)
    rc, so, se = lisse(*args, env=env)
    lines = se.strip("\n").split("\n") if se.strip() else []
    problems = []
    if rc == 0:
        problems.append("exit status 0")
    if rc < 0:
        problems.append(f"killed by signal {-rc}")
    if len(lines) != 1 or not lines[0].startswith("lisse: "):
        problems.append(f"stderr is not one 'lisse: ' line: {se!r}")
    if stderr_has and stderr_has not in se:
        problems.append(f"stderr lacks {stderr_has!r}: {se!r}")
    if out and os.path.exists(out):
        problems.append(f"{out} was written")
    if leftovers():
        problems.append(f"temporary files left: {leftovers()}")
    tap(not problems, description, "\n".join(problems))


# ---------------------------------------------------------------------------
# lisse --version / --help

rc, so, se = lisse("--version")
tap(rc == 0 and so.startswith("lisse ") and not se, "lisse --version", so + se)
rc, so, se = lisse("--help")
tap(rc == 0 and "run" in so and "filter" in so and not se, "lisse --help", so + se)
rc, so, se = lisse("run", "--help")
tap(rc == 0 and "--model" in so and "--tile" in so, "lisse run --help", so + se)

# ---------------------------------------------------------------------------
# lisse filter: the list, then a round trip per method

rc, so, se = lisse("filter", "--list")
methods = {}
for line in so.splitlines():
    if line and not line.startswith(" "):
        name = line.split()[0]
        methods[name] = "needs --guide" in line
tap(rc == 0 and methods and not se, f"lisse filter --list ({', '.join(methods)})", so + se)
rc2, so2, _ = lisse("filter")
tap(rc2 == 0 and so2 == so, "lisse filter without a method lists the methods")

guide = images["rgb8.png"]
for method, needs_guide in methods.items():
    extra = ["--guide", guide] if needs_guide else []
    for src, out_name, dtype, channels in [
        ("rgba8.png", f"f-{method}-rgba.png", np.uint8, 4),
        ("rgb16.png", f"f-{method}-16.png", np.uint16, 3),
        ("gray8.png", f"f-{method}-gray.png", np.uint8, 1),
    ]:
        out = path(out_name)
        rc, so, se = lisse("filter", method, *extra, images[src], out)
        got = read_image(out) if rc == 0 else None
        ref = read_image(images[src])
        problems = []
        if rc != 0 or se:
            problems.append(f"rc={rc} stderr={se!r}")
        elif got is None:
            problems.append("output unreadable")
        else:
            if got.shape != ref.shape:
                problems.append(f"shape {got.shape} != {ref.shape}")
            if got.dtype != dtype:
                problems.append(f"dtype {got.dtype} != {np.dtype(dtype)}")
            if not problems and channels == 4 and not np.array_equal(got[..., 3], ref[..., 3]):
                problems.append("alpha changed")
            if not problems and np.array_equal(got, ref):
                problems.append("output equals input: nothing was filtered")
        tap(not problems, f"filter {method}: {src} -> {out_name}", "\n".join(problems))

# Other containers, and a guide.
for src, out_name, dtype in [("rgb8.tif", "f-tif8.tif", np.uint8),
                             ("rgb16.tif", "f-tif16.tif", np.uint16),
                             ("rgb8.jpg", "f-jpg.jpg", np.uint8),
                             ("rgb8.png", "f-png.jpg", np.uint8),
                             ("rgba16.png", "f-rgba16.tif", np.uint16),
                             ("rgbf.tif", "f-float.tif", np.float32)]:
    out = path(out_name)
    rc, so, se = lisse("filter", "guided", images[src], out)
    got = read_image(out) if rc == 0 else None
    ok = rc == 0 and not se and got is not None and got.dtype == dtype \
        and got.shape == read_image(images[src]).shape
    if ok and src == "rgba16.png":
        ok = np.array_equal(got[..., 3], read_image(images[src])[..., 3])
    tap(ok, f"filter guided: {src} -> {out_name}", f"rc={rc} {se}")

# Gray + alpha stays gray + alpha, alpha bit-exact.
out = path("f-graya.png")
rc, so, se = lisse("filter", "guided", images["graya8.png"], out)
got = read_image(out) if rc == 0 else None   # OpenCV expands it to BGRA
ok = rc == 0 and not se and got is not None and png_color_type(out) == 4 \
    and np.array_equal(got[..., 3], GA_PIXELS[..., 1])
tap(ok, "filter guided: gray+alpha PNG stays gray+alpha, alpha bit-exact", se)

optional = [m for m, need in methods.items() if not need and m in ("guided", "joint-bilateral", "wls")]
if optional:
    out = path("f-guided.png")
    rc, so, se = lisse("filter", optional[0], "--guide", images["gray8.png"], images["rgb8.png"], out)
    tap(rc == 0 and not se and os.path.exists(out), f"filter {optional[0]} --guide", se)

# ---------------------------------------------------------------------------
# Error cases of filter

out = path("err.png")
expect_failure("missing input", ["filter", "guided", path("missing.png"), out], out,
               stderr_has="missing.png")
expect_failure("unknown method", ["filter", "no-such-method", images["rgb8.png"], out], out,
               stderr_has="no-such-method")
expect_failure("--set without '='", ["filter", "guided", "--set", "radius", images["rgb8.png"], out], out)
expect_failure("--set of an unknown parameter",
               ["filter", "guided", "--set", "nope=1", images["rgb8.png"], out], out,
               stderr_has="nope")
expect_failure("--set not a number",
               ["filter", "guided", "--set", "radius=abc", images["rgb8.png"], out], out)
expect_failure("--set out of range",
               ["filter", "guided", "--set", "radius=100000", images["rgb8.png"], out], out,
               stderr_has="range")
expect_failure("--threads 0", ["filter", "guided", "--threads", "0", images["rgb8.png"], out], out)
expect_failure("unknown option", ["filter", "guided", "--bogus", images["rgb8.png"], out], out)
expect_failure("unknown output extension", ["filter", "guided", images["rgb8.png"], path("err.xyz")],
               path("err.xyz"))
expect_failure("JPEG output of an image with alpha",
               ["filter", "guided", images["rgba8.png"], path("err.jpg")], path("err.jpg"),
               stderr_has="alpha")
expect_failure("PNG asked for 32 bits", ["filter", "guided", "--depth", "32", images["rgb8.png"], out], out)
expect_failure("output folder missing",
               ["filter", "guided", images["rgb8.png"], path("no/such/dir/out.png")], None)
with open(path("text.png"), "w") as f:
    f.write("this is not an image\n")
expect_failure("input that is not an image", ["filter", "guided", path("text.png"), out], out)
data = open(images["rgb8.png"], "rb").read()
open(path("trunc.png"), "wb").write(data[: len(data) // 2])
expect_failure("truncated PNG", ["filter", "guided", path("trunc.png"), out], out)
data = open(images["rgb8.jpg"], "rb").read()
open(path("trunc.jpg"), "wb").write(data[: len(data) // 2])
expect_failure("truncated JPEG", ["filter", "guided", path("trunc.jpg"), out], out)
open(path("hdr.jpg"), "wb").write(data[:200])
expect_failure("JPEG cut inside its headers", ["filter", "guided", path("hdr.jpg"), out], out)
# A structurally complete JPEG whose Huffman table is nonsense: libjpeg
# gives up with exit() inside GEGL's loader; we must still say one line.
bogus = bytearray(data)
dht = bogus.find(b"\xff\xc4")
bogus[dht + 5: dht + 21] = b"\xff" * 16
open(path("bogus-dht.jpg"), "wb").write(bytes(bogus))
expect_failure("JPEG with a bogus Huffman table", ["filter", "guided", path("bogus-dht.jpg"), out], out,
               stderr_has="Huffman")
data = open(images["rgb8.tif"], "rb").read()
open(path("trunc.tif"), "wb").write(data[: len(data) // 2])
expect_failure("truncated TIFF", ["filter", "guided", path("trunc.tif"), out], out)
open(path("empty.png"), "wb").close()
expect_failure("empty input file", ["filter", "guided", path("empty.png"), out], out)
other = write_image("other-size.png", scene(H + 3, W, 3), np.uint8)
expect_failure("guide of another size",
               ["filter", "guided", "--guide", other, images["rgb8.png"], out], out)

# A new OUT gets the usual permissions (0666 less the umask), not the
# temporary file's.
umask = os.umask(0)
os.umask(umask)
mode = os.stat(path("f-guided-rgba.png")).st_mode & 0o777 if os.path.exists(path("f-guided-rgba.png")) else None
tap(mode == 0o666 & ~umask, f"OUT has mode {oct(mode) if mode is not None else None}, umask {oct(umask)}")

# An existing OUT survives a failed run untouched.
shutil.copy(images["rgb8.png"], path("keep.png"))
before = open(path("keep.png"), "rb").read()
rc, _, _ = lisse("filter", "guided", "--set", "radius=0", images["rgb8.png"], path("keep.png"))
tap(rc != 0 and open(path("keep.png"), "rb").read() == before,
    "a failed run leaves an existing OUT as it was")

# ---------------------------------------------------------------------------
# plain-cnn models and the NumPy reference


def make_model(name, layers=3, width=8, dilations=(1, 2, 1), seed=7, metadata=None,
               tensors=None, directory=TMP):
    g = np.random.default_rng(seed)
    t = {}
    for k in range(layers):
        cin = 3 if k == 0 else width
        cout = 3 if k == layers - 1 else width
        t[f"conv{k}.weight"] = (g.standard_normal((cout, cin, 3, 3)) *
                                (0.5 / np.sqrt(cin * 9))).astype(np.float32)
        t[f"conv{k}.bias"] = (0.05 * g.standard_normal(cout)).astype(np.float32)
    if tensors is not None:
        t = tensors(t)
    meta = {"architecture": "plain-cnn", "layers": str(layers),
            "dilations": ",".join(map(str, dilations)), "title": f"test model {name}"}
    if metadata is not None:
        meta = metadata(meta)
    p = os.path.join(directory, name + ".safetensors")
    save_file(t, p, metadata=meta)
    return p, t, dilations


def conv3x3(x, w, b, d):
    """Zero-padded 'same' 3×3 convolution, dilation d: x C×H×W float64."""
    c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (d, d), (d, d)))
    out = np.zeros((w.shape[0], h, wd))
    for ky in range(3):
        for kx in range(3):
            patch = xp[:, ky * d: ky * d + h, kx * d: kx * d + wd]
            out += np.einsum("oi,ihw->ohw", w[:, :, ky, kx].astype(np.float64), patch)
    return out + b.astype(np.float64)[:, None, None]


def reference(img, tensors, dilations):
    """img h×w×3 RGB → the network's h×w×3 output (float64)."""
    x = np.transpose(img.astype(np.float64), (2, 0, 1))
    h = x
    n = len(dilations)
    for k in range(n):
        h = conv3x3(h, tensors[f"conv{k}.weight"], tensors[f"conv{k}.bias"], dilations[k])
        if k + 1 < n:
            h = np.maximum(h, 0)
    return np.transpose(x + h, (1, 2, 0))


model_path, weights, dils = make_model("cnn")
big = scene(90, 100, 3).astype(np.float32)
big_tif = write_image("big-f32.tif", big, np.float32)
ref = reference(read_image(big_tif), weights, dils)

out_whole = path("run-whole.tif")
rc, so, se = lisse("run", "--model", model_path, big_tif, out_whole)
got = read_image(out_whole) if rc == 0 else None
ok = rc == 0 and not se and got is not None and got.dtype == np.float32 and got.shape == ref.shape
err = float(np.max(np.abs(got - ref))) if ok else None
tap(ok and err <= 1e-4, f"run plain-cnn on float TIFF equals the NumPy reference (max err {err})",
    f"rc={rc} {se}")

out_tiled = path("run-tile37.tif")
rc, so, se = lisse("run", "--model", model_path, "--tile", "37", big_tif, out_tiled)
tiled = read_image(out_tiled) if rc == 0 else None
ok = rc == 0 and tiled is not None and got is not None and tiled.shape == got.shape
d = float(np.max(np.abs(tiled - got))) if ok else None
tap(ok and d <= 1e-4, f"--tile 37 equals the whole-image run (max diff {d})", se)

for tile in (5, 8):  # tiles smaller than the receptive radius of 4 … and just above it
    o = path(f"run-tile{tile}.tif")
    rc, so, se = lisse("run", "--model", model_path, "--tile", tile, big_tif, o)
    t = read_image(o) if rc == 0 else None
    ok = t is not None and got is not None and t.shape == got.shape
    d = float(np.max(np.abs(t - got))) if ok else None
    tap(ok and d <= 1e-4, f"--tile {tile} equals the whole-image run (max diff {d})", se)

outs = {}
for n in (1, 2):
    o = path(f"run-threads{n}.tif")
    rc, so, se = lisse("run", "--model", model_path, "--threads", n, big_tif, o)
    outs[n] = read_image(o) if rc == 0 else None
ok = outs[1] is not None and outs[2] is not None
d = float(np.max(np.abs(outs[1] - outs[2]))) if ok else None
tap(ok and d <= 1e-5, f"--threads 1 and --threads 2 agree (max diff {d})")

# 8-bit PNG in and out: the reference of the quantised input, quantised.
rgb8 = read_image(images["rgb8.png"]).astype(np.float64) / 255
o = path("run-rgb8.png")
rc, so, se = lisse("run", "--model", model_path, images["rgb8.png"], o)
got8 = read_image(o) if rc == 0 else None
exp8 = np.round(np.clip(reference(rgb8, weights, dils), 0, 1) * 255)
ok = got8 is not None and got8.dtype == np.uint8 and got8.shape == exp8.shape
d = float(np.max(np.abs(got8.astype(np.float64) - exp8))) if ok else None
tap(ok and d <= 1, f"run on 8-bit PNG within one level of the reference (max {d})", se)

# RGBA: colour from the network, alpha bit-exact.
rgba = read_image(images["rgba8.png"])
o = path("run-rgba.png")
rc, so, se = lisse("run", "--model", model_path, images["rgba8.png"], o)
g = read_image(o) if rc == 0 else None
ok = g is not None and g.shape == rgba.shape and np.array_equal(g[..., 3], rgba[..., 3])
if ok:
    expc = np.round(np.clip(reference(rgba[..., :3].astype(np.float64) / 255, weights, dils), 0, 1) * 255)
    ok = np.max(np.abs(g[..., :3].astype(np.float64) - expc)) <= 1
tap(ok, "run on RGBA PNG: colour matches the reference, alpha bit-exact", se)

# Gray: replicated to RGB, luma of the output back, one channel out.
gray = read_image(images["gray8.png"]).astype(np.float64) / 255
o = path("run-gray.png")
rc, so, se = lisse("run", "--model", model_path, "--depth", "16", images["gray8.png"], o)
gg = read_image(o) if rc == 0 else None
ok = gg is not None and gg.shape == gray.shape and gg.dtype == np.uint16
if ok:
    r = reference(np.repeat(gray, 3, axis=2), weights, dils)
    luma = 0.2126 * r[..., 0] + 0.7152 * r[..., 1] + 0.0722 * r[..., 2]
    expg = np.round(np.clip(luma, 0, 1) * 65535)
    d = float(np.max(np.abs(gg[..., 0].astype(np.float64) - expg)))
    ok = d <= 1
tap(ok, "run on gray PNG: one channel, luma of the reference (16-bit out via --depth)", se)

# 16-bit in and out: within one level of 65535.
rgb16 = read_image(images["rgb16.png"]).astype(np.float64) / 65535
o = path("run-rgb16.png")
rc, so, se = lisse("run", "--model", model_path, images["rgb16.png"], o)
g16 = read_image(o) if rc == 0 else None
ok = g16 is not None and g16.dtype == np.uint16 and g16.shape == rgb16.shape
d = float(np.max(np.abs(g16 - np.round(np.clip(reference(rgb16, weights, dils), 0, 1) * 65535)))) if ok else None
tap(ok and d <= 1, f"run on 16-bit PNG within one level of the reference (max {d})", se)

# Gray + alpha: luma of the network's output, alpha bit-exact, still GA.
o = path("run-graya.png")
rc, so, se = lisse("run", "--model", model_path, images["graya8.png"], o)
g = read_image(o) if rc == 0 else None
ok = g is not None and png_color_type(o) == 4 and np.array_equal(g[..., 3], GA_PIXELS[..., 1])
if ok:
    r = reference(np.repeat(GA_PIXELS[..., :1].astype(np.float64) / 255, 3, axis=2), weights, dils)
    luma = 0.2126 * r[..., 0] + 0.7152 * r[..., 1] + 0.0722 * r[..., 2]
    ok = np.max(np.abs(g[..., 0].astype(np.float64) - np.round(np.clip(luma, 0, 1) * 255))) <= 1
tap(ok, "run on gray+alpha PNG: luma of the reference, alpha bit-exact", se)

# A single-layer model (3 → 3) and a model with no 'dilations' metadata.
p1, w1, d1 = make_model("one-layer", layers=1, dilations=(3,))
o = path("run-one.tif")
rc, so, se = lisse("run", "--model", p1, "--tile", "16", big_tif, o)
g1 = read_image(o) if rc == 0 else None
ok = g1 is not None and float(np.max(np.abs(g1 - reference(read_image(big_tif), w1, d1)))) <= 1e-4
tap(ok, "run a one-layer plain-cnn, tiled", se)

p2, w2, d2 = make_model("no-dil", layers=2, width=4, dilations=(1, 1),
                        metadata=lambda m: {k: v for k, v in m.items() if k != "dilations"})
o = path("run-nodil.tif")
rc, so, se = lisse("run", "--model", p2, big_tif, o)
g2 = read_image(o) if rc == 0 else None
ok = g2 is not None and float(np.max(np.abs(g2 - reference(read_image(big_tif), w2, d2)))) <= 1e-4
tap(ok, "run a plain-cnn without 'dilations' metadata (all 1)", se)

# ---------------------------------------------------------------------------
# lisse models / lisse info

models_dir = path("models")
os.makedirs(models_dir)
make_model("listed", directory=models_dir)
shutil.copy(p1, os.path.join(models_dir, "second.safetensors"))
rc, so, se = lisse("models", env={"LISSE_MODEL_PATH": models_dir})
lines = so.splitlines()
ok = rc == 0 and not se and len(lines) == 2 and lines[0].split()[0] == "listed" \
    and "plain-cnn" in lines[0] and "test model listed" in lines[0] \
    and models_dir in lines[0] and lines[1].split()[0] == "second"
tap(ok, "lisse models lists the models in LISSE_MODEL_PATH", so + se)

rc, so, se = lisse("run", "--model", "listed", big_tif, path("run-by-name.tif"),
                   env={"LISSE_MODEL_PATH": models_dir})
tap(rc == 0 and os.path.exists(path("run-by-name.tif")), "run --model NAME via the search path", se)

rc, so, se = lisse("info", model_path)
n_params = sum(int(np.prod(t.shape)) for t in weights.values())
ok = rc == 0 and not se and "architecture: plain-cnn" in so and "layers: 3" in so \
    and all(name in so for name in weights) and f"total parameters: {n_params}" in so \
    and "[8,3,3,3]" in so and "receptive radius: 4 px" in so
tap(ok, "lisse info prints architecture, metadata, tensors and parameter count", so + se)

rc, so, se = lisse("info", "listed", env={"LISSE_MODEL_PATH": models_dir})
tap(rc == 0 and "test model listed" in so, "lisse info NAME via the search path", se)

# ---------------------------------------------------------------------------
# Hostile and broken model files: one line, no output, no crash

out = path("err-run.tif")
expect_failure("run without --model", ["run", big_tif, out], out)
expect_failure("unknown model name", ["run", "--model", "no-such-model", big_tif, out], out,
               stderr_has="no-such-model")
raw = open(model_path, "rb").read()
bad = {
    "truncated model file": raw[: len(raw) // 2],
    "model file cut inside its header": raw[:20],
    "random-garbage model file": bytes(rng.integers(0, 256, 4096, dtype=np.uint8)),
    "model file with a huge header length": (2 ** 63).to_bytes(8, "little") + b"{}",
    "empty model file": b"",
}
for desc, content in bad.items():
    p = path("bad.safetensors")
    open(p, "wb").write(content)
    expect_failure(desc, ["run", "--model", p, big_tif, out], out)
    expect_failure(desc + " (info)", ["info", p], None)

variants = {
    "model with a wrong tensor shape":
        dict(tensors=lambda t: {**t, "conv1.weight": np.zeros((8, 8, 3, 1), np.float32)}),
    "model with a missing tensor":
        dict(tensors=lambda t: {k: v for k, v in t.items() if k != "conv2.bias"}),
    "model with an extra tensor":
        dict(tensors=lambda t: {**t, "extra": np.zeros(3, np.float32)}),
    "model with no architecture metadata":
        dict(metadata=lambda m: {k: v for k, v in m.items() if k != "architecture"}),
    "model of an unknown architecture (with a newline in its name)":
        dict(metadata=lambda m: {**m, "architecture": "evil\nnet"}),
    "model with non-numeric layers":
        dict(metadata=lambda m: {**m, "layers": "three"}),
    "model with absurd layers":
        dict(metadata=lambda m: {**m, "layers": "100000000"}),
    "model with too few dilations":
        dict(metadata=lambda m: {**m, "dilations": "1,2"}),
    "model with a zero dilation":
        dict(metadata=lambda m: {**m, "dilations": "1,0,1"}),
    "model with a negative dilation":
        dict(metadata=lambda m: {**m, "dilations": "1,-2,1"}),
    "model whose layers disagree with its tensors":
        dict(metadata=lambda m: {**m, "layers": "2", "dilations": "1,1"}),
}
for desc, kw in variants.items():
    p, _, _ = make_model("variant", **kw)
    expect_failure(desc, ["run", "--model", p, big_tif, out], out)
p, _, _ = make_model("wrong-shape", tensors=lambda t: {**t, "conv0.bias": np.zeros(5, np.float32)})
rc, so, se = lisse("info", p)
tap(rc == 0 and "loads: no" in so and not se, "info on a model that does not load says why", so + se)

# Parameters: plain-cnn declares none.
expect_failure("run --set of a parameter the network lacks",
               ["run", "--model", model_path, "--set", "lambda=1", big_tif, out], out,
               stderr_has="lambda")
expect_failure("run with a negative tile", ["run", "--model", model_path, "--tile", "-3", big_tif, out], out)
expect_failure("run with a missing input", ["run", "--model", model_path, path("nope.tif"), out], out)
# --guide is for networks whose parameter map is a guide image (fang19).
expect_failure("run --guide with a network that takes no guide",
               ["run", "--model", model_path, "--guide", big_tif, big_tif, out], out,
               stderr_has="takes no guide image")

# ---------------------------------------------------------------------------

status = tap.finish()
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
