#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of `lisse effect`.

Usage: test-effect-cli.py PATH/TO/lisse

Writes its own images (OpenCV) and tiny random-weight fan18 models
(safetensors), points LISSE_MODEL_PATH at them, and checks:
  - `lisse effect --list` names every effect with its parameters and choices;
  - each effect on a PNG: size, channels and bit depth kept, alpha bit-exact;
  - the effects agree with the commands they are built from: smooth with
    `lisse run`, remove-texture and joint-filter with `lisse filter` under
    the documented parameter mapping, remove-texture's learned methods
    csgis and mgpnet (tiny random-weight csgis-texture and mgpnet-texture
    models, made with PyTorch and lisse_train's exporters) with `lisse run`
    of that model under the strength mapping (one partial pass, one full
    pass, 2.5 passes),
    content-aware with an all-black mask with smooth at λ-background;
  - pencil-sketch (graphite) gives R=G=B; one thread equals two;
  - errors (missing guide, bad choice, unknown effect, bad --set, missing
    model — fan18-smooth, csgis-texture, mgpnet-texture —, a csgis-texture
    or mgpnet-texture of another architecture, mask of the wrong size): non-zero exit, one "lisse: …"
    line on stderr, no output file left behind;
  - the memory budget is checked per method: under 100 MiB csgis (its tile's
    400 MiB) is refused and the tiny mgpnet runs; under 256 MiB an mgpnet of
    width 64 is refused at 400×400 (its whole-image run) and rtv runs.
Prints TAP (the plan comes last).
"""

import os
import shutil
import subprocess
import sys
import tempfile

from lisse_testlib import Tap, import_or_skip
import lisse_testlib

np, cv2, _ = import_or_skip("numpy", "cv2", "safetensors.numpy")

LISSE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
TMP = tempfile.mkdtemp(prefix="lisse-effect-cli-test-")
MODELS = os.path.join(TMP, "models")
EMPTY = os.path.join(TMP, "no-models")
os.makedirs(MODELS)
os.makedirs(EMPTY)

EFFECTS = ["smooth", "magnify-detail", "remove-texture", "content-aware",
           "joint-filter", "abstraction", "pencil-sketch"]

tap = Tap()


def lisse(*args, models=MODELS, threads=None, env=None):
    e = dict(os.environ)
    e.pop("LISSE_MEMORY_BUDGET", None)
    e.update(env or {})
    e["LISSE_MODEL_PATH"] = models
    if threads:
        e["LISSE_THREADS"] = str(threads)
    p = subprocess.run([LISSE, *map(str, args)], capture_output=True, text=True, env=e,
                       timeout=600)
    return p.returncode, p.stdout, p.stderr


def path(name):
    return os.path.join(TMP, name)


def fan18_model(name, seed):
    return lisse_testlib.tiny_fan18_model(os.path.join(MODELS, name + ".safetensors"), seed)


def scene(h, w, channels, seed=0):
    """Regions, edges and texture; alpha an irregular ramp.  uint8 RGB(A) order."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rgb = np.stack([0.2 + 0.5 * x / w, 0.3 + 0.4 * y / h, 0.5 + 0.0 * x], -1)
    rgb[(x > w / 2) & (y < h / 2)] = (0.85, 0.4, 0.2)
    rgb += 0.06 * np.sin(x * 1.7)[..., None] * np.sin(y * 1.1)[..., None]
    rgb += rng.uniform(-0.02, 0.02, rgb.shape)
    img = np.clip(rgb, 0, 1)
    if channels == 4:
        img = np.concatenate([img, (((x * 7 + y * 3) % 11) / 10.0)[..., None]], -1)
    return np.round(img * 255).astype(np.uint8)


def write_png(name, rgb_or_rgba):
    p = path(name)
    a = rgb_or_rgba
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGBA2BGRA if a.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(p, a), name
    return p


def read(p):
    img = cv2.imread(p, cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return img


def expect_failure(description, args, out, models=MODELS, stderr_has=None, env=None):
    if os.path.exists(out):
        os.unlink(out)
    rc, so, se = lisse(*args, models=models, env=env)
    lines = se.strip().splitlines()
    ok = (rc != 0 and len(lines) == 1 and lines[0].startswith("lisse: ")
          and not os.path.exists(out)
          and not [f for f in os.listdir(TMP) if ".lisse-" in f]
          and (stderr_has is None or stderr_has in se))
    tap(ok, description, f"rc={rc}\nstderr={se}")


def same(a, b):
    return a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b)


fan18_model("fan18-smooth", 1)
fan18_model("fan18-detail", 2)
# Remove Texture's learned methods: small random models made here (fast, and
# the same whatever is trained and shipped).  method → (model, maker, seed)
LEARNED = {"csgis": ("csgis-texture", lisse_testlib.tiny_csgis_model, 3),
           "mgpnet": ("mgpnet-texture", lisse_testlib.tiny_mgpnet_model, 6)}
LEARNED_SKIP = {}
for method, (model, make, seed) in LEARNED.items():
    try:
        make(os.path.join(MODELS, model + ".safetensors"), seed)
    except ImportError as e:
        LEARNED_SKIP[method] = f"missing Python module for the {method} model: {e.name}"
WRONG = os.path.join(TMP, "wrong-models")       # fan18 files named like the learned models
os.makedirs(WRONG)
for model, _, _ in LEARNED.values():
    lisse_testlib.tiny_fan18_model(os.path.join(WRONG, model + ".safetensors"), 4)
H, W = 40, 56
rgba = write_png("rgba.png", scene(H, W, 4))
rgb = write_png("rgb.png", scene(H, W, 3))
guide = write_png("guide.png", scene(H, W, 3, seed=5)[:, ::-1].copy())
black = write_png("black.png", np.zeros((H, W), np.uint8))
small = write_png("small.png", np.zeros((H // 2, W), np.uint8))
src = read(rgba)

# --list ---------------------------------------------------------------------
rc, so, se = lisse("effect", "--list")
tap(rc == 0 and all(n in so for n in EFFECTS) and "lambda-f" in so and "--choice (method)" in so
    and "rolling-guidance" in so and "csgis              CSGIS-Net (learned)" in so
    and "mgpnet             MGPNet (learned)" in so
    and "rtv                RTV (classical filter) (default)" in so
    and "λf in [0.1, 10], default 1" in so,
    "effect --list names every effect, parameters and choices", so + se)

# Every effect on RGBA: shape, depth, alpha ----------------------------------
for name in EFFECTS:
    out = path(f"out-{name}.png")
    extra = ["--aux", guide] if name == "joint-filter" else []
    rc, so, se = lisse("effect", name, *extra, rgba, out)
    img = read(out) if rc == 0 else None
    tap(rc == 0 and img is not None and img.shape == src.shape and img.dtype == np.uint8
        and np.array_equal(img[..., 3], src[..., 3]) and not se,
        f"effect {name}: RGBA PNG in and out, alpha untouched", f"rc={rc} {se}")

# Agreement with the commands the effects are made of -------------------------

def fresh(*args, **kw):
    """lisse with OUT (the last argument) removed first: a failed run leaves
    no file, so `same` cannot compare stale outputs of an earlier pair."""
    if os.path.exists(args[-1]):
        os.remove(args[-1])
    return lisse(*args, **kw)

a, b = path("a.png"), path("b.png")
fresh("effect", "smooth", "--set", "lambda-f=2.5", rgb, a)
fresh("run", "--model", "fan18-smooth", "--set", "lambda-f=2.5", rgb, b)
tap(same(read(a), read(b)), "smooth equals lisse run with the same λf")

fresh("effect", "remove-texture", "--set", "texture-scale=2", "--set", "strength=2", rgb, a)
fresh("filter", "rtv", "--set", "sigma=2", "--set", "lambda=0.03", rgb, b)
tap(same(read(a), read(b)), "remove-texture (rtv) equals lisse filter rtv under the mapping")

fresh("effect", "remove-texture", "--choice", "rolling-guidance", "--set", "texture-scale=2",
      "--set", "strength=0.5", rgb, a)
fresh("filter", "rolling-guidance", "--set", "sigma-s=2", "--set", "sigma-r=0.05", rgb, b)
tap(same(read(a), read(b)),
    "remove-texture (rolling guidance) equals lisse filter rolling-guidance under the mapping")



def read_float(p):
    """A float TIFF as float64 RGB, or None."""
    img = cv2.imread(p, cv2.IMREAD_UNCHANGED) if os.path.exists(p) else None
    return None if img is None else img[..., ::-1].astype(np.float64)


def write_float(name, rgb):
    assert cv2.imwrite(path(name), np.ascontiguousarray(rgb[..., ::-1].astype(np.float32)),
                       [cv2.IMWRITE_TIFF_COMPRESSION, 1]), name
    return path(name)


def learned_mapping(model, src_png, strength):
    """remove-texture's learned method running model, from `lisse run`
    (docs/effects.md): n = ceil(s) passes, the last blended by
    t = s - (n - 1), clamped after each pass; float64 from the runs'
    float32 outputs."""
    n = int(np.ceil(strength))
    t = strength - (n - 1)
    x, inp = read(src_png).astype(np.float64) / 255.0, src_png
    for k in range(n):
        out = path(f"{model}-pass{k}.tif")
        rc, _, se = fresh("run", "--model", model, "--depth", "32", inp, out)
        y = read_float(out) if rc == 0 else None
        if y is None:
            return None, se
        if k == n - 1:
            y = x + t * (y - x)
        x = np.clip(y, 0.0, 1.0)
        inp = write_float(f"{model}-x{k}.tif", x.astype(np.float32))
        x = read_float(inp)
    return x, ""


for method, (model, _, _) in LEARNED.items():
    if method in LEARNED_SKIP:
        tap.skip(LEARNED_SKIP[method])
        continue
    for strength in (0.6, 1.0, 2.5):
        ref, err = learned_mapping(model, rgb, strength)
        rc, _, se = fresh("effect", "remove-texture", "--set", f"method={method}", "--set",
                          f"strength={strength}", "--depth", "32", rgb, path(f"{method}.tif"))
        got = read_float(path(f"{method}.tif")) if rc == 0 else None
        d = float(np.abs(got - ref).max()) if got is not None and ref is not None \
            and got.shape == ref.shape else None
        tap(d is not None and d <= 1e-5,
            f"remove-texture ({method}, strength {strength}) equals lisse run under the mapping "
            f"(max |Δ| {d})", err + se)
    # --set method=M and --choice M are one thing; the network changes the
    # image, alpha stays.
    fresh("effect", "remove-texture", "--choice", method, "--set", "texture-scale=9", rgba, a)
    fresh("effect", "remove-texture", "--set", f"method={method}", rgba, b)
    img = read(a)
    tap(same(img, read(b)) and np.array_equal(img[..., 3], src[..., 3])
        and np.abs(img[..., :3].astype(int) - src[..., :3].astype(int)).mean() > 0.5,
        f"remove-texture {method}: --choice equals --set method=, ignores texture-scale, "
        "changes the image, keeps alpha")

fresh("effect", "joint-filter", "--choice", "joint-bilateral", "--aux", guide,
      "--set", "radius=3", "--set", "range=0.2", rgb, a)
fresh("filter", "joint-bilateral", "--guide", guide, "--set", "sigma-s=3", "--set", "sigma-r=0.2",
      rgb, b)
tap(same(read(a), read(b)), "joint-filter (joint bilateral) equals lisse filter --guide")

fresh("effect", "content-aware", "--aux", black, "--set", "lambda-background=6", rgb, a)
fresh("effect", "smooth", "--set", "lambda-f=6", rgb, b)
tap(same(read(a), read(b)), "content-aware with an all-black mask equals smooth at λ-background")

rc, _, se = fresh("effect", "pencil-sketch", "--choice", "gray", rgb, a)
img = read(a)
tap(rc == 0 and img is not None and np.array_equal(img[..., 0], img[..., 1])
    and np.array_equal(img[..., 0], img[..., 2]) and img.min() < img.max(),
    "pencil-sketch graphite: R=G=B, not blank", se)

fresh("effect", "abstraction", "--set", "levels=5", rgb, a, threads=1)
fresh("effect", "abstraction", "--set", "levels=5", rgb, b, threads=2)
tap(same(read(a), read(b)), "abstraction: one thread equals two")

gray = write_png("gray.png", scene(H, W, 3)[..., 1].copy())
rc, _, se = fresh("effect", "magnify-detail", gray, a)
img = read(a)
tap(rc == 0 and img is not None and img.ndim == 2, "magnify-detail on a gray PNG stays gray", se)

# Errors -------------------------------------------------------------------------
out = path("never.png")
expect_failure("joint-filter without --aux", ["effect", "joint-filter", rgb, out], out,
               stderr_has="guide")
expect_failure("bad --choice", ["effect", "remove-texture", "--choice", "nope", rgb, out], out,
               stderr_has="rolling-guidance")
expect_failure("unknown effect", ["effect", "sharpen", rgb, out], out, stderr_has="sharpen")
expect_failure("bad --set", ["effect", "smooth", "--set", "lambda-f=99", rgb, out], out,
               stderr_has="lambda-f")
expect_failure("unknown parameter", ["effect", "smooth", "--set", "gain=2", rgb, out], out)
expect_failure("missing model", ["effect", "smooth", rgb, out], out, models=EMPTY,
               stderr_has="fan18-smooth")
for method, (model, _, _) in LEARNED.items():
    expect_failure(f"missing {method} model",
                   ["effect", "remove-texture", "--set", f"method={method}", rgb, out],
                   out, models=EMPTY, stderr_has=model)
    expect_failure(f"{model} of another architecture",
                   ["effect", "remove-texture", "--choice", method, rgb, out], out, models=WRONG,
                   stderr_has="architecture 'fan18'")
# The memory budget per method: CSGIS-Net declares about 400 MiB for its tile
# whatever the image; MGPNet its whole-image run, which grows with the image
# (40 bytes a pixel for each channel of its first width).
if not LEARNED_SKIP:
    budget = {"LISSE_MEMORY_BUDGET": "100M"}
    expect_failure("csgis beyond a 100 MiB budget", ["effect", "remove-texture", "--choice",
                   "csgis", rgb, out], out, stderr_has="memory budget", env=budget)
    rc, _, se = fresh("effect", "remove-texture", "--choice", "mgpnet", rgb, out, env=budget)
    tap(rc == 0 and os.path.exists(out), "mgpnet (tiny) within the same budget runs", se)
    WIDE = os.path.join(TMP, "wide-models")   # C1 = 64: 2560 bytes a pixel whole
    os.makedirs(WIDE)
    lisse_testlib.tiny_mgpnet_model(os.path.join(WIDE, "mgpnet-texture.safetensors"), 7,
                                    widths=(64, 8, 8))
    gray = write_png("gray400.png", scene(400, 400, 3)[..., 1].copy())
    budget = {"LISSE_MEMORY_BUDGET": "256M"}
    expect_failure("mgpnet of width 64 at 400×400 beyond a 256 MiB budget (410 MB whole)",
                   ["effect", "remove-texture", "--choice", "mgpnet", gray, out], out,
                   models=WIDE, stderr_has="memory budget", env=budget)
    rc, _, se = fresh("effect", "remove-texture", "--choice", "rtv", gray, out, models=WIDE,
                      env=budget)
    tap(rc == 0 and os.path.exists(out), "rtv at 400×400 within the same budget runs", se)
else:
    tap.skip(next(iter(LEARNED_SKIP.values())))
expect_failure("method given twice, differently",
               ["effect", "remove-texture", "--choice", "rtv", "--set", "method=csgis", rgb, out],
               out, stderr_has="method")
expect_failure("mask of the wrong size", ["effect", "content-aware", "--aux", small, rgb, out], out)
expect_failure("--aux for an effect that takes none", ["effect", "smooth", "--aux", black, rgb, out],
               out)
expect_failure("missing input", ["effect", "smooth", path("nope.png"), out], out)

status = tap.finish()
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(status)
