# SPDX-License-Identifier: GPL-3.0-or-later
"""What Lisse's TAP test scripts share: the TAP stream, skipping when a
Python module is missing, running commands, the GEGL environment, reading
images and `gegl --info`.

The scripts run as `python3 tests/NAME.py …` (so meson runs them), which
puts this directory on sys.path; `import lisse_testlib` needs nothing more.
Not a unittest module: the fan18-twin discovery finds nothing in it.
"""

import concurrent.futures
import importlib
import json
import math
import os
import re
import shutil
import subprocess
import sys


class Tap:
    """A TAP stream: numbered "ok" / "not ok" lines, the plan printed last.

    A failure's diagnostic is printed as "# " lines: its first
    @diag_lines lines, or with @diag_tail its last ones (a log's end says
    more than its start)."""

    def __init__(self, diag_lines=20, diag_tail=False):
        self.count = 0
        self.failed = 0
        self.diag_lines = diag_lines
        self.diag_tail = diag_tail

    def __call__(self, ok, description, diag=None):
        """One test point; returns @ok, so that a test can stop on failure."""
        self.count += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.count} - {description}")
        if not ok and diag:
            lines = str(diag).splitlines()
            lines = lines[-self.diag_lines:] if self.diag_tail else lines[:self.diag_lines]
            for line in lines:
                print(f"# {line}")
        sys.stdout.flush()
        return ok

    def skip(self, reason):
        """A test point that could not be run, and says why."""
        self.count += 1
        print(f"ok {self.count} # SKIP {reason}")

    def plan(self):
        print(f"1..{self.count}")

    def finish(self):
        """Prints the plan; the exit status: 1 when a test point failed."""
        self.plan()
        return 1 if self.failed else 0


def skip_all(reason):
    """The whole script cannot run here: an empty plan that says why."""
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


def import_or_skip(*names):
    """The named modules, imported; where one is missing, skips the whole
    script (the dev root has them all; elsewhere the test says why)."""
    try:
        return [importlib.import_module(name) for name in names]
    except ImportError as e:
        skip_all(f"missing Python module: {e.name}")


def run(*args, env=None, timeout=120):
    """Runs a command with extra @env variables; its CompletedProcess."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, errors="replace",
                          env=e, timeout=timeout)


def run_all(commands, timeout=120):
    """{key: (args, env)} -> {key: CompletedProcess}, run concurrently."""
    workers = max(2, os.cpu_count() or 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {k: pool.submit(run, *args, env=env, timeout=timeout)
                   for k, (args, env) in commands.items()}
        return {k: f.result() for k, f in futures.items()}


def gegl_setup(usage):
    """For the tests of the GEGL ops: LISSE MODULE GEGL-PLUGINS-DIR from
    argv, the environment set for them; returns (lisse, gegl tool).
    Skips the script without its arguments or the gegl tool."""
    if len(sys.argv) < 4:
        skip_all(f"usage: {usage} LISSE MODULE GEGL-PLUGINS-DIR")
    lisse = os.path.abspath(sys.argv[1])
    module_dir = os.path.dirname(os.path.abspath(sys.argv[2]))
    gegl = shutil.which("gegl")
    if not gegl:
        skip_all("the gegl command-line tool is not installed")
    # GEGL_PATH replaces GEGL's default search path, so it names the system
    # operations (png-load, png-save) as well as ours.
    os.environ["GEGL_PATH"] = os.pathsep.join([sys.argv[3], module_dir])
    os.environ.pop("GEGL_MIPMAP_RENDERING", None)
    os.environ.pop("G_MESSAGES_DEBUG", None)
    # The processes run side by side (each is mostly GEGL's start-up); one
    # engine thread each keeps them from fighting over the cores.  Results
    # do not depend on the thread count.
    os.environ["LISSE_THREADS"] = "1"
    return lisse, gegl


def read_unit(path):
    """An image (8- or 16-bit PNG) as float in [0,1], OpenCV's channel
    order, or None."""
    import numpy as np
    import cv2
    x = cv2.imread(path, cv2.IMREAD_UNCHANGED) if os.path.exists(path) else None
    if x is None:
        return None
    scale = 65535.0 if x.dtype == np.uint16 else 255.0
    return x.astype(np.float64) / scale


def shapes_rgba8(w=128, h=96):
    """Flat shapes with sharp edges, noise, and alpha rising left to right:
    an 8-bit BGRA array for cv2.imwrite."""
    import numpy as np
    import cv2
    rng = np.random.default_rng(5)
    img = np.zeros((h, w, 4), np.float32)
    img[..., :3] = (0.35, 0.4, 0.3)
    cv2.rectangle(img, (10, 12), (58, 70), (0.9, 0.2, 0.1, 0), -1)
    cv2.circle(img, (94, 48), 24, (0.1, 0.65, 0.9, 0), -1)
    cv2.line(img, (0, 90), (127, 80), (0.95, 0.95, 0.2, 0), 3)
    img[..., :3] += rng.normal(0.0, 0.05, (h, w, 3))
    img[..., 3] = np.linspace(0.25, 1.0, w)[None, :]
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def check_output(tap, what, a, b, src, reference, reference_short, change_word=None):
    """A gegl output @a (float RGBA, OpenCV's order) against @b, made from
    @src by @reference (shown as @reference_short in diagnostics): same
    size, alpha unchanged, colour within 1/255 and, with @change_word,
    visibly changed from @src."""
    import numpy as np
    if not tap(a.shape == src.shape and b.shape == src.shape,
               f"{what}: output size equals input size",
               f"input {src.shape}, gegl {a.shape}, {reference_short} {b.shape}"):
        return
    alpha = np.abs(a[..., 3] - src[..., 3]).max()
    tap(alpha < 1e-9, f"{what}: alpha unchanged", f"max alpha change {alpha}")
    diff = np.abs(a[..., :3] - b[..., :3]).max()
    tap(diff <= 1.0 / 255 + 1e-9, f"{what}: equals {reference} within 1/255",
        f"max difference {diff * 255:.3f}/255")
    if change_word:
        # 0.5/255: far above rounding (a pass-through gives 0), below what the
        # shipped CPU-trained fan18 models do to the small test image at
        # level 1 (≈ 1/255; they smooth mildly, see their model cards).
        change = np.abs(a[..., :3] - src[..., :3]).mean()
        tap(change > 0.002, f"{what}: the image is {change_word}", f"mean change {change:.5f}")


def parse_gegl_info(text):
    """`gegl --info OP` -> (keys, {property: (type, default)})."""
    keys, props = {}, {}
    lines = text.splitlines()
    try:
        split = lines.index("Properties:")
    except ValueError:
        split = len(lines)
    key = None
    for line in lines[:split]:
        m = re.match(r"^(\S+)\s+(.*)$", line)
        if m:
            key = m.group(1)
            keys[key] = m.group(2).strip()
        elif key and line.strip():
            keys[key] += " " + line.strip()
    blocks, name = {}, None
    for line in lines[split + 1:]:
        m = re.match(r"^(\S+)\s+\[(\w+)\]\s*(.*)$", line)
        if m:
            name = m.group(1)
            blocks[name] = [m.group(2), m.group(3)]
        elif name:
            blocks[name][1] += " " + line.strip()
    for name, (ptype, rest) in blocks.items():
        m = re.search(r"\(default: ([^)]+)\)", rest)
        props[name] = (ptype, m.group(1) if m else None)
    return keys, props


def close(a, b):
    """Equal but for float rounding."""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def gegl_api(tap):
    """GEGL through PyGObject, initialised to load the GPL3+ ops; None,
    with a skipped test point, where it is not available."""
    try:
        import gi
        gi.require_version("Gegl", "0.4")
        from gi.repository import Gegl
    except (ImportError, ValueError) as e:
        tap.skip(f"PyGObject with Gegl 0.4 is not available: {e}")
        return None
    # The ops declare "license" GPL3+, which GEGL hides from applications
    # that have not accepted GPL3 (the gegl tool and GIMP have); say so
    # before GEGL loads its modules.
    Gegl.config().props.application_license = "GPL3"
    Gegl.init(None)
    return Gegl


def tiny_fan18_model(path, seed):
    """Writes a width-4 fan18 file with random weights (layout:
    core/nets/fan18.c) to @path: a network as cheap as possible that the
    engine runs through its whole fan18 path (tests, effect benchmarks)."""
    import numpy as np
    from safetensors.numpy import save_file
    rng = np.random.default_rng(seed)
    f = 4
    shapes = {"conv0": (f, 5, 3, 3), "conv1": (f, f, 3, 3), "down": (f, f, 3, 3)}
    for i in range(10):
        shapes[f"res{i}.conv_a"] = (f, f, 3, 3)
        shapes[f"res{i}.conv_b"] = (f, f, 3, 3)
    shapes.update({"up": (f, f, 4, 4), "conv_out1": (f, f, 3, 3), "conv_out2": (3, f, 1, 1)})
    tensors = {}
    for layer, shape in shapes.items():
        fan_in = shape[1] * shape[2] * shape[3]
        scale = (0.5 if layer == "conv_out2" else 1.0) / np.sqrt(fan_in)
        w = rng.uniform(-scale, scale, shape).astype(np.float32)
        if layer == "conv0":
            w[:, 3:] *= 4  # the λ features matter
        tensors[layer + ".weight"] = w
        bias_n = shape[1] if layer == "up" else shape[0]
        tensors[layer + ".bias"] = rng.uniform(-0.05, 0.05, bias_n).astype(np.float32)
    save_file(tensors, path, metadata={"architecture": "fan18"})
    return path


def random_csgis_twin(seed, width=4, n_desc=1, n_smooth=1, n_refine=1):
    """A CSGIS-Net twin (training/lisse_train/csgis_model.py) with random
    weights, in eval mode, float32: He-scaled convolutions, random
    BatchNorm running statistics and affine terms (so that the export's
    folding matters), and non-zero smooth.out / refine.out (the twin starts
    them at zero, which would make it the identity).  The residual
    branches and the two output layers are scaled down so that the output
    stays near [0, 1], where a tolerance of 1e-4 means what it says."""
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "training"))
    from lisse_train import csgis_model as cm
    g = torch.Generator().manual_seed(seed)
    model = cm.CSGISNet(width, n_desc, n_smooth, n_refine)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.2 * (torch.rand(n, generator=g) - 0.5))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.rand(n, generator=g) - 0.1)
            elif isinstance(m, nn.Conv2d):
                scale = (2.0 / m.weight[0].numel()) ** 0.5
                if name.endswith("convs.2"):
                    scale *= 0.3
                if name in ("smooth_out", "refine_out"):
                    scale *= 0.1
                m.weight.copy_(scale * torch.randn(m.weight.shape, generator=g))
                if m.bias is not None:
                    m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def tiny_csgis_model(path, seed, **sizes):
    """Writes a small random-weight csgis file (random_csgis_twin, exported
    by lisse_train.csgis_export, the contract core/nets/csgis.c reads) to
    @path: for tests of the effects that run CSGIS-Net (there is no
    trained csgis-texture model yet).  Needs PyTorch."""
    model = random_csgis_twin(seed, **sizes)   # puts training/ on sys.path
    from lisse_train import csgis_export
    csgis_export.export_csgis(model, path, {"name": "test-random"})
    return path


def random_sasnet_twin(seed, width=6, n_blocks=2, ca_window=5, ca_hidden=3, clamp=1.0):
    """A SASNet twin (training/lisse_train/sasnet_model.py) with random
    weights, eval mode, float32: He-scaled convolutions, the couplings'
    conv_out (zero at initialisation, which makes every coupling the
    identity) made non-zero and small, so that every g matters while the
    output stays near [0, 1], where a tolerance of 1e-4 means what it says."""
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "training"))
    from lisse_train import sasnet_model as sm
    g = torch.Generator().manual_seed(seed)
    model = sm.SASNet(width, n_blocks, ca_window, ca_hidden, clamp)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                scale = (2.0 / m.weight[0].numel()) ** 0.5
                if name.endswith("conv_out"):
                    scale *= 0.2
                m.weight.copy_(scale * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def random_mgpnet_twin(seed, widths=(4, 6, 8), in_feat=3, blocks=(2, 2, 4), grid=4,
                       n_pairs=1, multiple=16):
    """An MGPNet twin (training/lisse_train/mgpnet_model.py) with random
    weights, eval mode, float32: He-scaled convolutions and spatial
    projections (which start near zero when trained), LayerNorm gains and
    shifts away from 1 and 0, the three output convolutions small so that
    the result stays near [0, 1], where a tolerance of 1e-4 means what it
    says."""
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "training"))
    from lisse_train import mgpnet_model as mm
    g = torch.Generator().manual_seed(seed)
    model = mm.MGPNet(widths, in_feat, blocks, grid, n_pairs, multiple)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in = m.weight[0].numel() if not isinstance(m, nn.ConvTranspose2d) \
                    else m.weight.shape[0] * m.weight.shape[2] * m.weight.shape[3]
                scale = (1.0 / fan_in) ** 0.5
                if name in ("out1", "out2", "out3"):
                    scale *= 0.3
                m.weight.copy_(scale * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, mm.LayerNormC):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def tiny_mgpnet_model(path, seed, **sizes):
    """Writes a small random-weight mgpnet file (random_mgpnet_twin,
    exported by lisse_train.mgpnet_export, the contract core/nets/mgpnet.c
    reads) to path: what the effect tests run as mgpnet-texture, so that
    they run the learned method's code whatever model ships.  Needs
    PyTorch."""
    model = random_mgpnet_twin(seed, **sizes)   # puts training/ on sys.path
    from lisse_train import mgpnet_export
    mgpnet_export.export_mgpnet(model, path, {"name": "test-random"})
    return path


def random_fang19_twin(seed, width=8, n_layers=2, offset_bound=3.0, dilations=(1, 2),
                       lambda_ref=0.01):
    """A Fang 2019 twin (training/lisse_train/fang19_model.py) with random
    weights, float32, eval mode: the λ terms, the residual blocks' second
    convolutions and the offsets (all zero at initialisation) made
    non-zero, so that λ, every block and the deformable sampling matter;
    the offsets' logits scaled to a few pixels, the features to unit size
    (its float32 and float64 forms then agree to about 1e-6)."""
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "training"))
    from lisse_train import fang19_model as fm
    g = torch.Generator().manual_seed(seed)
    model = fm.Fang19Net(width=width, n_layers=n_layers, offset_bound=offset_bound,
                         lambda_ref=lambda_ref, dilations=dilations)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, fm.CondConv2d):
                scale = (2.0 / (m.cin * 9)) ** 0.5
                if name.endswith(".1"):
                    scale *= 0.3
                m.weight.copy_(scale * torch.randn(m.weight.shape, generator=g))
                m.a_weight.copy_(0.2 * scale * torch.randn(m.a_weight.shape, generator=g))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
                m.a_bias.copy_(0.02 * torch.randn(m.a_bias.shape, generator=g))
        model.c5.weight[fm.FEATURE_DIM:] *= 4.0
        # Features of unit size: with larger ones the softmax over ‖ΔF‖²
        # is so sharp that float32 rounding flips weights (the float32 and
        # float64 twins then differ by 1e-2).
        model.c5.weight[:fm.FEATURE_DIM] *= 0.15
        model.c5.a_weight[:, :fm.FEATURE_DIM] *= 0.15
    return model.eval()


def tiny_fang19_model(path, seed, filt="rtv"):
    """Writes a small random-weight fang19 file (random_fang19_twin,
    exported by lisse_train.fang19_export as a model of @filt: RTV λ
    0.002–0.05, WLS 0.2–5, the contract core/nets/fang19.c reads) to @path,
    under the name the effects look for (fang19-rtv, fang19-wls): for tests
    of Fast Filter and Joint Filter's learned method.  Needs PyTorch."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "training"))
    from lisse_train import fang19_export
    lo, hi = fang19_export.LAMBDA_RANGES[filt]
    # λ_ref in the middle of the range, as the trainer's (train_fang19.LAMBDA_REF)
    model = random_fang19_twin(seed, lambda_ref=round(math.sqrt(lo * hi), 6))
    fang19_export.export_fang19(model, path, filt, {"name": "test-random"})
    return path


# ---- float64 NumPy references of the guided filter and fast guided upsampling

def box_mirror(a, r):
    """Mean over (2r+1)^2 windows, half-sample mirrored borders (box.h)."""
    import numpy as np
    p = np.pad(a, [(r, r), (r, r)] + [(0, 0)] * (a.ndim - 2), mode="symmetric")
    c = np.cumsum(np.cumsum(p, axis=0), axis=1)
    c = np.pad(c, [(1, 0), (1, 0)] + [(0, 0)] * (a.ndim - 2))
    n = 2 * r + 1
    s = c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]
    return s / (n * n)


def guided_coefficients_numpy(I, p, r, eps):
    """He et al. 2010, colour-guide form (any number of guide channels):
    the averaged coefficients ā (H×W×C×G) and b̄ (H×W×C) with which the
    filter gives q_c = Σ_i ā_ci I_i + b̄_c (guided.h)."""
    import numpy as np
    I = I.astype(np.float64)
    if I.ndim == 2:
        I = I[:, :, None]
    p = p.astype(np.float64)
    if p.ndim == 2:
        p = p[:, :, None]
    H, W, G = I.shape
    mI = box_mirror(I, r)
    S = np.empty((H, W, G, G))
    for i in range(G):
        for j in range(G):
            S[:, :, i, j] = box_mirror(I[:, :, i] * I[:, :, j], r) - mI[:, :, i] * mI[:, :, j]
    S += eps * np.eye(G)
    Sinv = np.linalg.inv(S)
    A = np.empty((H, W, p.shape[2], G))
    B = np.empty((H, W, p.shape[2]))
    for c in range(p.shape[2]):
        mp = box_mirror(p[:, :, c], r)
        cov = box_mirror(I * p[:, :, c:c + 1], r) - mI * mp[:, :, None]
        a = np.einsum("hwij,hwj->hwi", Sinv, cov)
        b = mp - (a * mI).sum(2)
        A[:, :, c] = box_mirror(a, r)
        B[:, :, c] = box_mirror(b, r)
    return A, B


def guided_numpy(I, p, r, eps):
    """The guided filter of p under I (He et al. 2010), float32."""
    import numpy as np
    A, B = guided_coefficients_numpy(I, p, r, eps)
    I = I.astype(np.float64)
    if I.ndim == 2:
        I = I[:, :, None]
    out = np.einsum("hwcg,hwg->hwc", A, I) + B
    return out.reshape(p.shape).astype(np.float32)


def box_downscale_numpy(img, f):
    """H×W×C averaged over f×f blocks, edge blocks over the pixels they
    have (guided-upsample.h's lisse_box_downscale); float64."""
    import numpy as np
    H, W = img.shape[:2]
    h, w = -(-H // f), -(-W // f)
    p = np.full((h * f, w * f) + img.shape[2:], np.nan)
    p[:H, :W] = img
    blocks = p.reshape((h, f, w, f) + img.shape[2:])
    return np.nanmean(blocks, axis=(1, 3))


def bilinear_up_numpy(P, f, H, W):
    """h×w×… planes P interpolated to H×W as guided-upsample.c samples its
    coefficients: bilinear, align_corners off, clamped at the edges."""
    import numpy as np
    h, w = P.shape[:2]

    def taps(n_full, n_small):
        s = np.clip((np.arange(n_full) + 0.5) / f - 0.5, 0, n_small - 1)
        k0 = np.floor(s).astype(int)
        return k0, np.minimum(k0 + 1, n_small - 1), s - k0

    y0, y1, wy = taps(H, h)
    x0, x1, wx = taps(W, w)
    flat = P.reshape(h, w, -1)
    wx, wy = wx[None, :, None], wy[:, None, None]
    top = flat[y0][:, x0] * (1 - wx) + flat[y0][:, x1] * wx
    bot = flat[y1][:, x0] * (1 - wx) + flat[y1][:, x1] * wx
    return (top * (1 - wy) + bot * wy).reshape((H, W) + P.shape[2:])


def guided_upsample_numpy(image, small, small_result, f, r, eps):
    """Fast guided upsampling (He & Sun 2015; guided-upsample.h): the fit
    between small and small_result, its coefficients interpolated
    bilinearly (bilinear_up_numpy) to image's size and applied to image.
    H×W×C arrays; float64."""
    import numpy as np
    A, B = guided_coefficients_numpy(small, small_result, r, eps)
    H, W = image.shape[:2]
    return (np.einsum("hwcg,hwg->hwc", bilinear_up_numpy(A, f, H, W), image.astype(np.float64))
            + bilinear_up_numpy(B, f, H, W))

def _bgr(a):
    """RGB(A) ↔ OpenCV's BGR(A): the colour channels reversed, alpha kept
    last; one channel as it is."""
    return a[..., [2, 1, 0, 3]] if a.shape[-1] == 4 else a[..., ::-1]


def write_float_tiff(path, img):
    """An H×W×C float RGB(A) array as an uncompressed 32-bit float TIFF
    (what `lisse run --depth 32` reads and writes); returns path."""
    import cv2
    import numpy as np
    data = np.ascontiguousarray(_bgr(img).astype(np.float32))
    assert cv2.imwrite(path, data, [cv2.IMWRITE_TIFF_COMPRESSION, 1]), path
    return path


def read_float_tiff(path):
    """A float TIFF as H×W×C RGB(A), or None when it cannot be read."""
    import cv2
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None:
        return None
    if a.ndim == 2:
        a = a[..., None]
    return _bgr(a)


class ModelFileHarness:
    """What the network parity tests share: a scratch folder, `lisse` run
    with no model search path (LISSE_MODEL_PATH pointing nowhere), `lisse
    run --depth 32` on float TIFFs, the largest difference of two outputs,
    a model file's metadata, variants of a model file with tensors or
    metadata edited, and the check that a bad file gives one clear error
    line and no output."""

    def __init__(self, tap, lisse_exe, prefix):
        import tempfile
        self.tap, self.lisse = tap, lisse_exe
        self.tmp = tempfile.mkdtemp(prefix=prefix)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, *args, threads=None):
        env = dict(os.environ, LISSE_MODEL_PATH=self.path("no-models"))
        if threads:
            env["LISSE_THREADS"] = str(threads)
        p = subprocess.run([self.lisse, *map(str, args)], capture_output=True, text=True,
                           env=env, timeout=300)
        return p.returncode, p.stdout, p.stderr

    def write_tiff(self, name, img):
        return write_float_tiff(self.path(name), img)

    def lisse_run(self, model, inp, out, *extra, threads=None):
        """(the output as H×W×C float, or None; stderr)."""
        if os.path.exists(out):
            os.remove(out)
        rc, _, err = self.run("run", "--model", model, "--depth", "32", *extra, inp, out,
                              threads=threads)
        return (read_float_tiff(out) if rc == 0 else None), err

    @staticmethod
    def twin_output(twin, img, *args):
        """The twin (float64, eval mode) on an H×W×3 image, as H×W×3 float64;
        @args follow the image (fang19's λ)."""
        import numpy as np
        import torch
        x = torch.from_numpy(np.transpose(img.astype(np.float64), (2, 0, 1)))[None]
        with torch.no_grad():
            y = twin(x, *args)
        return np.transpose(y[0].numpy(), (1, 2, 0))

    @staticmethod
    def max_err(a, b):
        """max |a − b| in float64, None when a is missing or of another shape."""
        import numpy as np
        if a is None or a.shape != b.shape:
            return None
        return float(np.max(np.abs(a.astype(np.float64) - b)))

    @staticmethod
    def metadata(model):
        with open(model, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            return json.loads(f.read(n))["__metadata__"]

    def variant(self, name, tensors, meta, edit_tensors=None, edit_meta=None):
        """A copy of a model file's @tensors and @meta, edited, written as @name."""
        from lisse_train.export import write_safetensors
        t, m = dict(tensors), dict(meta)
        if edit_tensors:
            edit_tensors(t)
        if edit_meta:
            edit_meta(m)
        write_safetensors(self.path(name), t, m)
        return self.path(name)

    def expect_bad(self, desc, model, needle, image, *extra):
        out = self.path("bad.tif")
        rc, _, err = self.run("run", "--model", model, *extra, image, out)
        lines = err.strip().splitlines()
        self.tap(rc != 0 and len(lines) == 1 and lines[0].startswith("lisse: ") and needle in err
                 and not os.path.exists(out), f"{desc}: one clear error line naming '{needle}'",
                 err)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def gimp_plugin_dirs():
    """GIMP's own plug-in folder (pkg-config's gimplibdir, else Debian's)."""
    try:
        libdir = subprocess.run(["pkg-config", "--variable=gimplibdir", "gimp-3.0"],
                                capture_output=True, text=True, errors="replace").stdout.strip()
    except OSError:
        libdir = ""
    return os.path.join(libdir or "/usr/lib/x86_64-linux-gnu/gimp/3.0", "plug-ins")


def gimp_test_profile(plugin, name):
    """A private GIMP profile next to the built @plugin, in NAME/profile:
    the plug-in copied to NAME/plug-ins/lisse/lisse (copy2 keeps the time
    stamp, so GIMP re-queries only a changed binary) and a gimprc whose
    plug-in path is that folder then GIMP's own.  Returns the profile
    folder (GIMP3_DIRECTORY)."""
    home = os.path.join(os.path.dirname(plugin), name)
    plug_ins = os.path.join(home, "plug-ins")
    profile = os.path.join(home, "profile")
    os.makedirs(os.path.join(plug_ins, "lisse"), exist_ok=True)
    os.makedirs(profile, exist_ok=True)
    shutil.copy2(plugin, os.path.join(plug_ins, "lisse", "lisse"))
    with open(os.path.join(profile, "gimprc"), "w") as f:
        f.write('(plug-in-path "%s%s%s")\n' % (plug_ins, os.pathsep, gimp_plugin_dirs()))
    return profile


# Script-Fu for the GIMP batch tests (the v2 dialect: every PDB result
# wrapped in a list); %(results)s is the results file, %(tmp)s the folder
# the images are in.  run-case evaluates a thunk under `catch`, with
# *error-hook* keeping the error's text, and logs "@NAME ok DIRTY" or
# "@NAME error DIRTY \"message\"", where DIRTY is gimp-image-is-dirty
# afterwards; note logs a line of its own.  Each test adds its export.
SCRIPT_FU_PRELUDE = r"""
(define out (open-output-file "%(results)s"))
(define saved-hook *error-hook*)
(define last-err #f)
(define (->string x) (let ((p (open-output-string))) (display x p) (get-output-string p)))
(define (dirty img) (car (gimp-image-is-dirty img)))
(define (run-case name img thunk)
  (set! last-err #f)
  (set! *error-hook* (lambda args (set! last-err args) (throw)))
  (let ((r (catch #f (thunk) #t)))
    (set! *error-hook* saved-hook)
    (display "@" out) (display name out)
    (if r
        (begin (display " ok " out) (display (dirty img) out))
        (begin (display " error " out) (display (dirty img) out) (display " " out)
               (write (->string last-err) out)))
    (newline out)))
(define (note text) (display text out) (newline out))
(define (load-image file) (car (gimp-file-load RUN-NONINTERACTIVE (string-append "%(tmp)s/" file))))
(define (first-layer img) (vector-ref (car (gimp-image-get-layers img)) 0))
(define (add-hidden-layer img file)
  (let ((l (car (gimp-file-load-layer RUN-NONINTERACTIVE img (string-append "%(tmp)s/" file)))))
    (gimp-image-insert-layer img l 0 1)
    (gimp-item-set-visible l FALSE)
    l))
"""
