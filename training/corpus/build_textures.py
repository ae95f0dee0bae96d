#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build Lisse's supervised texture-removal data from pinned Debian packages.

    python3 training/corpus/build_textures.py [--out build-textures]
        [--crops build-corpus/crops] [--seed 0] [--verify] [--update-reference]

For every package in texture-packages.toml (next to this file) it downloads
the .deb at its pinned version with `apt-get download NAME=VERSION` into
OUT/debs (kept and reused), unpacks it with `dpkg-deb -x` into
OUT/extract/NAME and selects the listed files, exactly as build.py does
(same download cache rules, same refusal of the packages reserved for
evaluation).  Then it writes the pack OUT/pack/:

  textures/{train,val}/NAME.png   every texture, decoded to 8-bit RGB at its
                                  own size (GIMP .pat decoded here; alpha
                                  composited over white; ones smaller than
                                  64 px tiled up to >= 64); split by texture,
                                  per package, from the seed
  structures/{train,val}/NNNN.png 256x256 clean structure images (ground
                                  truths): openclipart pieces composited over
                                  flat colours and gradients ("clipart"), and
                                  L0-smoothed, posterised photo crops from
                                  build.py's crop pack ("photo-cartoon"),
                                  and (train only) whole training photos
                                  shrunk to thumbnail scale, posterised
                                  finer ("photo-thumb")
  structures/val-thumb/NNNN.png   the same thumbnails of the val photos
  val-pairs/{input,gt}/NNNN.png   fixed validation pairs: val structures
                                  blended with val textures through
                                  training/lisse_train/texture_blend.blend()
  val-thumb-pairs/{input,gt}/     the same for the val thumbnails
  index.json                      the list of all of them

and OUT/texture-manifest.json (package, version, .deb SHA-256, licence; per
file: path in the package, licence, SHA-256, split, kind), compared with the
committed training/corpus/texture-manifest.json (the first run, or
--update-reference, writes it).  --verify only downloads, unpacks and
compares checksums.  README.md next to this file explains every rule.

Standard library, NumPy and OpenCV; apt-get and dpkg-deb for packages; the
L0 filter of this repository (build/tools/eval/classic-batch, or `lisse
filter l0` on PATH) for the photo structures.
"""

import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import debpkg  # noqa: E402  (packages: download, unpack, select, reserved ones)
from debpkg import CorpusError, seed_int, sha256_bytes, sha256_file  # noqa: E402

try:
    import cv2
    cv2.setNumThreads(1)
except ImportError:
    cv2 = None

DEFAULT_CONFIG = HERE / "texture-packages.toml"
DEFAULT_REFERENCE = HERE / "texture-manifest.json"
MANIFEST_FORMAT = "lisse-texture-manifest-1"
PACK_FORMAT = "lisse-texture-pack-1"

PACKAGE_KEYS = {"name", "version", "role", "dir", "include", "exclude", "expect",
                "licence", "copyright", "licence_source", "note", "files"}
REQUIRED_KEYS = {"name", "version", "role", "dir", "include", "expect", "licence"}
ROLES = {"texture", "clipart"}

SIZE = 256                # structure and validation pair side
MIN_TEXTURE_SIDE = 64     # textures smaller than this are tiled up
MIN_TEXTURE_STD = 2.0     # grey-level std (0-255) below which a texture is "nearly flat"
PNG_LEVEL = 9             # flat structures compress much better at 9
# Photo thumbnails (photo_thumbs): NKS's ground truths are whole scenes
# about 250 px wide (NKS-mini's at half that), posterised finely.
THUMB_SHORT = (256, 360)        # short side of the shrunk photo, px
THUMB_L0_LAMBDA = (0.003, 0.012)
THUMB_COLOURS = (16, 40)

# Clip-art pieces (measured after cropping to the alpha bounding box and
# shrinking to at most PIECE_MEASURE px on the long side):
PIECE_MIN_SIDE = 150      # long side of the opaque bounding box, original pixels
PIECE_MIN_FILL = 0.12     # opaque share of the bounding box
PIECE_MAX_SOFT = 0.20     # share of interior pixels with a gradient in (SOFT_LO, SOFT_HI)
SOFT_LO, SOFT_HI = 3.0, 24.0
PIECE_MAX_COLOURS = 1200  # distinct 5-bit-per-channel colours in the interior
PIECE_MEASURE = 256
PIECE_MAX_UPSCALE = 1.6
PIECE_MAX_PIXELS = 16_000_000  # larger PNGs (up to 21000 x 29700) are not decoded: memory


log = debpkg.logger("textures")


# --------------------------------------------------------------- config

def check_package_config(cfg):
    """Validate one [[package]] table; return it with defaults filled in."""
    return debpkg.check_package_config(cfg, PACKAGE_KEYS, REQUIRED_KEYS, {"role": ROLES})


def load_config(path):
    """Read texture-packages.toml; return its list of checked package tables."""
    return debpkg.load_config(path, check_package_config)


def select_files(cfg, root):
    """The files of one package selected by include / exclude (below
    cfg['dir'], recursively), as records sorted by relative path ('rel',
    'path' in the package, 'file' on disk, 'role', 'licence', 'copyright',
    'licence_note'); 'expect = 0' takes any count."""
    recs = debpkg.select_files(cfg, root, noun="file", config_name="texture-packages.toml",
                               recursive=True, exclude_selected=True, expect_zero_any=True)
    for rec in recs:
        rec["role"] = cfg["role"]
    return recs


# --------------------------------------------------------------- decoding

def decode_pat(data):
    """Decode a GIMP pattern (.pat): returns (name, pixels) with pixels a
    uint8 array H x W x B, B = bytes per pixel (1 gray, 2 gray+alpha,
    3 RGB, 4 RGBA).

    Format (all big-endian u32): header_size, version (1), width, height,
    bytes per pixel, magic "GPAT", then the UTF-8 name, NUL-terminated, up
    to header_size; then width * height * bpp bytes of pixels, row-major.
    """
    if len(data) < 24:
        raise CorpusError("pattern file too short for a header")
    hsize, version, w, h, bpp = struct.unpack(">5I", data[:20])
    if data[20:24] != b"GPAT":
        raise CorpusError("not a GIMP pattern (no GPAT magic)")
    if version != 1:
        raise CorpusError(f"pattern version {version}, only 1 is known")
    if not 1 <= bpp <= 4:
        raise CorpusError(f"pattern has {bpp} bytes per pixel (1-4 expected)")
    if w < 1 or h < 1 or hsize < 24 or hsize > len(data):
        raise CorpusError("pattern header is corrupt")
    need = w * h * bpp
    if len(data) - hsize < need:
        raise CorpusError(f"pattern data truncated ({len(data) - hsize} of {need} bytes)")
    name = data[24:hsize].split(b"\0")[0].decode("utf-8", "replace")
    px = np.frombuffer(data, np.uint8, need, hsize).reshape(h, w, bpp).copy()
    return name, px


def to_rgb(px, background=255):
    """uint8 H x W x {1,2,3,4} (gray, gray+alpha, RGB, RGBA) to RGB, alpha
    composited over a flat BACKGROUND grey level."""
    if px.ndim == 2:
        px = px[..., None]
    c = px.shape[2]
    colour = px[..., :1].repeat(3, 2) if c <= 2 else px[..., :3]
    if c in (2, 4):
        a = px[..., -1:].astype(np.float32) / 255.0
        out = colour.astype(np.float32) * a + float(background) * (1 - a)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(colour)


def read_image_any(path):
    """Decode a PNG/JPEG as uint8 H x W x {1,2,3,4} in gray / RGB(A) order."""
    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise CorpusError(f"cannot decode {path}")
    if im.dtype == np.uint16:
        im = (im.astype(np.uint32) * 255 + 32767) // 65535
        im = im.astype(np.uint8)
    elif im.dtype != np.uint8:
        raise CorpusError(f"{path}: unsupported sample type {im.dtype}")
    if im.ndim == 2:
        return im[..., None]
    if im.shape[2] == 3:
        return cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
    if im.shape[2] == 4:
        return cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA)
    return im


def decode_texture(path):
    """A texture file (.pat or an image) as uint8 RGB, plus its channel
    layout ('gray', 'gray-alpha', 'rgb', 'rgba')."""
    if str(path).endswith(".pat"):
        _, px = decode_pat(Path(path).read_bytes())
    else:
        px = read_image_any(path)
    layout = {1: "gray", 2: "gray-alpha", 3: "rgb", 4: "rgba"}[px.shape[2]]
    return to_rgb(px), layout


def gray(rgb):
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def tile_up(rgb, min_side=MIN_TEXTURE_SIDE):
    """Repeat a texture smaller than MIN_SIDE (either side) a whole number of
    times so both sides reach it (textures are tileable)."""
    h, w = rgb.shape[:2]
    ry, rx = max(1, -(-min_side // h)), max(1, -(-min_side // w))
    if ry == 1 and rx == 1:
        return rgb
    return np.tile(rgb, (ry, rx, 1))


def encode_png(rgb, level=PNG_LEVEL):
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, level])
    if not ok:
        raise CorpusError("PNG encoding failed")
    return buf.tobytes()


def safe_name(text):
    out = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)
    return out.strip("-")


# --------------------------------------------------------------- splits

def split_textures(textures, val_fraction, seed):
    """Set t['split'] per texture: per package, sorted by path, shuffled
    with a generator seeded from (seed, package); the first
    round(n * val_fraction), at least 1 and at most n - 1, are 'val' when the
    package has 3 textures or more, the rest 'train'."""
    debpkg.split_per_package(textures, val_fraction, seed, "texture-split")


def piece_split(rel, seed, val_fraction):
    """'val' or 'train' for a clip-art piece, from a hash of its path: the
    split never depends on which other pieces exist or are accepted."""
    u = seed_int(seed, "piece-split", rel) / 2.0 ** 64
    return "val" if u < val_fraction else "train"


def check_disjoint(index):
    """Raise CorpusError if a texture or a clip-art piece appears in both
    splits, or a validation pair uses a training texture or structure."""
    seen = {}
    for t in index["textures"]:
        key = (t["package"], t["path"])
        if seen.setdefault(key, t["split"]) != t["split"]:
            raise CorpusError(f"texture {key} is in both splits")
    pieces = {}
    for s in index["structures"] + index.get("thumb_structures", []):
        for p in s.get("source", {}).get("pieces", []):
            if pieces.setdefault(p, s["split"]) != s["split"]:
                raise CorpusError(f"clip-art piece {p} is in both splits")
        photo = s.get("source", {}).get("photo")
        if photo and pieces.setdefault(("photo",) + tuple(photo), s["split"]) != s["split"]:
            raise CorpusError(f"photo {photo} is in both splits")
    tex_split = {t["file"]: t["split"] for t in index["textures"]}
    st_split = {s["file"]: s["split"] for s in index["structures"]}
    for p in index["val_pairs"]:
        if tex_split.get(p["texture"]) != "val":
            raise CorpusError(f"validation pair {p['input']} uses a non-validation texture")
        if st_split.get(p["structure"]) != "val":
            raise CorpusError(f"validation pair {p['input']} uses a non-validation structure")


# --------------------------------------------------------------- clip-art

def png_size(data):
    """(width, height) from a PNG's IHDR, (0, 0) when it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return 0, 0
    return struct.unpack(">II", data[16:24])


def decode_piece(data):
    """A clip-art PNG (bytes) as uint8 H x W x C, C in 1-4, gray / RGB(A) order;
    None when OpenCV cannot decode it."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    if arr.dtype == np.uint16:
        arr = (arr // 257).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    elif arr.shape[2] == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return arr


def crop_piece(rgba, box):
    """The piece cut to BOX (y0, y1, x0, x1), as RGBA."""
    y0, y1, x0, x1 = box
    crop = rgba[y0:y1, x0:x1]
    if crop.shape[2] == 2:
        crop = np.concatenate([crop[..., :1].repeat(3, 2), crop[..., 1:]], 2)
    return crop


def measure_piece(rgba):
    """Crop a piece to its alpha bounding box and measure it.  Returns
    (cropped rgba or None, stats dict with 'reject' = reason or None)."""
    if rgba.shape[2] not in (2, 4):
        return None, {"reject": "no alpha channel"}
    a = rgba[..., -1]
    ys, xs = np.nonzero(a > 16)
    if len(ys) == 0:
        return None, {"reject": "empty"}
    box = [int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1]
    crop = crop_piece(rgba, box)
    h, w = crop.shape[:2]
    st = {"w": int(w), "h": int(h), "box": box}
    if max(h, w) < PIECE_MIN_SIDE:
        st["reject"] = "tiny"
        return None, st
    s = min(1.0, PIECE_MEASURE / max(h, w))
    small = crop if s >= 1 else cv2.resize(crop, (max(1, round(w * s)), max(1, round(h * s))),
                                           interpolation=cv2.INTER_AREA)
    sa = small[..., 3]
    fill = float((sa > 128).mean())
    st["fill"] = round(fill, 3)
    if fill < PIECE_MIN_FILL:
        st["reject"] = "almost empty"
        return None, st
    inner = cv2.erode((sa == 255).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 400:
        st["reject"] = "almost empty"
        return None, st
    g = gray(small[..., :3])
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 4
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 4
    mag = np.sqrt(gx * gx + gy * gy)[inner]
    soft = float(((mag > SOFT_LO) & (mag < SOFT_HI)).mean())
    q = (small[..., :3][inner] >> 3).astype(np.int32)
    colours = len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]))
    st.update(soft=round(soft, 3), colours=int(colours))
    if soft > PIECE_MAX_SOFT or colours > PIECE_MAX_COLOURS:
        st["reject"] = "photographic"
        return None, st
    st["reject"] = None
    return crop, st


def random_colour(rng):
    """A random RGB colour (float32), mostly saturated, sometimes greyish."""
    h = rng.uniform(0, 180)
    s = rng.uniform(30, 230) if rng.random() < 0.8 else rng.uniform(0, 40)
    v = rng.uniform(60, 250)
    hsv = np.array([[[h, s, v]]], np.float32).round().astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def background(rng, size=SIZE):
    """A float32 size x size x 3 background in 0-255: flat colour, linear or
    radial gradient between two colours."""
    c0 = random_colour(rng)
    kind = rng.choice(["flat", "linear", "radial"], p=[0.4, 0.3, 0.3])
    if kind == "flat":
        return np.broadcast_to(c0, (size, size, 3)).astype(np.float32), str(kind)
    c1 = random_colour(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    if kind == "linear":
        ang = rng.uniform(0, 2 * math.pi)
        t = (xx - 0.5) * math.cos(ang) + (yy - 0.5) * math.sin(ang)
        t = (t - t.min()) / (t.max() - t.min())
    else:
        cy, cx = rng.uniform(0.1, 0.9, 2)
        r = rng.uniform(0.5, 1.2)
        t = np.clip(np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r, 0, 1)
    return (c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]).astype(np.float32), str(kind)


def paste(canvas, piece, rng, size=SIZE):
    """Composite an RGBA piece over CANVAS (float 0-255) at a random scale
    and position; returns the box (y, x, h, w)."""
    h, w = piece.shape[:2]
    target = rng.uniform(0.35, 0.9) * size
    s = min(target / max(h, w), PIECE_MAX_UPSCALE)
    nw, nh = max(2, round(w * s)), max(2, round(h * s))
    p = piece.astype(np.float32)
    p[..., :3] *= p[..., 3:] / 255.0          # premultiply: no dark fringes
    p = cv2.resize(p, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    p = np.clip(p, 0, 255)
    if rng.random() < 0.5:
        p = p[:, ::-1]
    # at least 70 % of each side inside the canvas
    y = int(rng.integers(-int(0.3 * nh), size - int(0.7 * nh) + 1))
    x = int(rng.integers(-int(0.3 * nw), size - int(0.7 * nw) + 1))
    ys, xs = max(0, y), max(0, x)
    ye, xe = min(size, y + nh), min(size, x + nw)
    sub = p[ys - y:ye - y, xs - x:xe - x]
    a = sub[..., 3:] / 255.0
    canvas[ys:ye, xs:xe] = sub[..., :3] + canvas[ys:ye, xs:xe] * (1 - a)
    return [y, x, nh, nw]


def clipart_structures(pieces, count, seed, split):
    """COUNT structure images from the accepted pieces of one split: 1-3
    pieces each, used in order (each piece once before any repeats)."""
    out = []
    k = 0
    for i in range(count):
        rng = np.random.default_rng(seed_int(seed, "clipart", split, i))
        canvas, bg = background(rng)
        canvas = canvas.copy()
        n = int(rng.integers(1, 4))
        used, boxes = [], []
        for _ in range(n):
            piece = pieces[k % len(pieces)]
            k += 1
            rgba = crop_piece(decode_piece(piece["data"]), piece["box"])
            boxes.append(paste(canvas, rgba, rng))
            used.append(piece["rel"])
        img = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        out.append((img, {"background": bg, "pieces": used, "boxes": boxes}))
    return out


def load_pieces(recs, seed, need, val_fraction):
    """Decode and measure clip-art pieces in a seeded order until NEED
    ({'train': n, 'val': n}) accepted pieces of each split are found.
    Returns (accepted by split, stats of every piece looked at)."""
    order = sorted(recs, key=lambda r: seed_int(seed, "piece-order", r["rel"]))
    accepted = {"train": [], "val": []}
    looked = []
    for rec in order:
        split = piece_split(rec["rel"], seed, val_fraction)
        if len(accepted[split]) >= need[split]:
            if all(len(accepted[s]) >= need[s] for s in need):
                break
            continue
        data = Path(rec["file"]).read_bytes()
        rec["sha256"] = sha256_bytes(data)
        w, h = png_size(data)
        arr = None if w * h > PIECE_MAX_PIXELS else decode_piece(data)
        if w * h > PIECE_MAX_PIXELS:
            st = {"w": w, "h": h, "reject": "too large"}
            crop = None
        elif arr is None:
            st = {"reject": "cannot decode"}
            crop = None
        else:
            crop, st = measure_piece(arr)
        rec["split"] = split
        rec["stats"] = st
        looked.append(rec)
        if crop is not None:
            # the PNG is kept and decoded again when pasted: decoded, 2000
            # pieces (some 3000 px) would take over 10 GB
            accepted[split].append({"rel": rec["rel"], "rec": rec, "data": data,
                                    "box": st["box"]})
    return accepted, looked


# --------------------------------------------------------------- photo structures

def find_l0_tool():
    for cand in (REPO / "build/tools/eval/classic-batch",):
        if cand.is_file() and os.access(cand, os.X_OK):
            return ("batch", str(cand))
    exe = shutil.which("lisse")
    if exe:
        return ("cli", exe)
    raise CorpusError("no L0 filter: build the repository (tools/dev build) so that "
                      "build/tools/eval/classic-batch or lisse exists")


def run_l0(jobs, tool):
    """JOBS: list of (in, out, lambda).  Runs Lisse's L0 filter on each."""
    kind, exe = tool
    env = dict(os.environ, LISSE_THREADS="1", OMP_NUM_THREADS="1")
    if kind == "batch":
        text = "".join(f"l0 {i} {o} lambda={lam:.5f}\n" for i, o, lam in jobs)
        if any(" " in str(i) or " " in str(o) for i, o, _ in jobs):
            raise CorpusError("classic-batch paths must not contain blanks")
        r = subprocess.run([exe, "--threads", "1", "-"], input=text, text=True,
                           capture_output=True, env=env)
        if r.returncode != 0:
            raise CorpusError(f"classic-batch failed: {r.stdout[-500:]} {r.stderr[-500:]}")
    else:
        for i, o, lam in jobs:
            r = subprocess.run([exe, "filter", "l0", "--set", f"lambda={lam:.5f}", str(i), str(o)],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise CorpusError(f"lisse filter l0 failed on {i}: {r.stderr.strip()}")


def kmeans_colours(rgb, k, rng, iters=12):
    """Posterise RGB (uint8) to K colours with k-means (k-means++ start from
    RNG), in float32.  Returns uint8 RGB."""
    x = rgb.reshape(-1, 3).astype(np.float32)
    sample = x[rng.choice(len(x), size=min(len(x), 4096), replace=False)]
    centres = [sample[int(rng.integers(len(sample)))]]
    d2 = ((sample - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(len(d2), 1 / len(d2))
        c = sample[int(rng.choice(len(sample), p=p))]
        centres.append(c)
        d2 = np.minimum(d2, ((sample - c) ** 2).sum(1))
    c = np.stack(centres)
    fit = x[rng.choice(len(x), size=min(len(x), 8192), replace=False)]
    for _ in range(iters):
        lab = ((fit[:, None, :] - c[None]) ** 2).sum(2).argmin(1)
        for j in range(k):
            m = lab == j
            if m.any():
                c[j] = fit[m].mean(0)
    dist = ((x[:, None, :] - c[None]) ** 2).sum(2)
    lab = dist.argmin(1).reshape(rgb.shape[:2]).astype(np.uint8)
    lab = cv2.medianBlur(lab, 3)              # drop one-pixel specks
    return np.clip(np.rint(c[lab]), 0, 255).astype(np.uint8)


def photo_thumbs(crops, extract, work, per_photo, seed):
    """Whole photos at thumbnail scale, as NKS's ground truths are: each
    photo of the crop pack shrunk (INTER_AREA) so that its short side is
    THUMB_SHORT px (log-uniform), a random SIZE×SIZE window of it, made at
    twice that size: L0 with a small λ, for half of them k-means to
    THUMB_COLOURS colours, then shrunk 2× (INTER_AREA).  Faces, figures and
    small objects stay separate regions a few pixels wide; edges are
    anti-aliased and shading steps small, as in NKS's ground truths
    (thousands of colours per image, boundary steps of about 8 grey levels,
    where the photo-cartoon posterisations have 9 colours and steps of 33.5;
    lisse_train/csgis_probe.py measures both).
    PER_PHOTO variants of each training photo, one of each val photo.
    Returns {split: [(img, source)]}."""
    photos = {}
    for c in crops:
        photos.setdefault((c["package"], c["path"]), c["split"])
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    jobs, items = [], []
    for (pkg, path), split in sorted(photos.items()):
        src = extract / pkg / path.lstrip("/")
        bgr = cv2.imread(str(src), cv2.IMREAD_COLOR)
        if bgr is None:
            raise CorpusError(f"cannot read the photo {src} (build the crop pack first)")
        for v in range(per_photo if split == "train" else 1):
            r = np.random.default_rng(seed_int(seed, "thumb", pkg, path, v))
            short = math.exp(r.uniform(math.log(THUMB_SHORT[0]), math.log(THUMB_SHORT[1])))
            f = 2 * short / min(bgr.shape[:2])
            side = 2 * SIZE
            h, w = max(side, round(bgr.shape[0] * f)), max(side, round(bgr.shape[1] * f))
            small = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
            y, x = int(r.integers(h - side + 1)), int(r.integers(w - side + 1))
            small = small[y:y + side, x:x + side]
            if r.random() < 0.5:
                small = small[:, ::-1]
            name = work / f"{len(jobs):04d}-in.png"
            cv2.imwrite(str(name), small)
            lam = float(math.exp(r.uniform(math.log(THUMB_L0_LAMBDA[0]), math.log(THUMB_L0_LAMBDA[1]))))
            dst = work / f"{len(jobs):04d}-l0.png"
            jobs.append((name, dst, lam))
            items.append((split, pkg, path, dst, lam, round(short), r))
    run_l0(jobs, find_l0_tool())
    out = {"train": [], "val": []}
    for split, pkg, path, dst, lam, short, r in items:
        img = cv2.cvtColor(cv2.imread(str(dst), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        k = int(r.integers(THUMB_COLOURS[0], THUMB_COLOURS[1] + 1)) if r.random() < 0.5 else None
        if k:
            img = kmeans_colours(img, k, r)
        img = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        out[split].append((img, {"photo": [pkg, path], "short_side": short,
                                 "l0_lambda": round(lam, 5), "colours": k}))
    return out


def cartoon(l0_rgb, rng):
    """Photo-cartoon ground truth from an L0-smoothed crop: k-means
    posterisation to 6-12 colours."""
    k = int(rng.integers(6, 13))
    return kmeans_colours(l0_rgb, k, rng), k


# --------------------------------------------------------------- build

def process_package(cfg, out, hash_only=False):
    t0 = time.time()
    deb, deb_sha, root = debpkg.fetch(cfg, out)
    recs = select_files(cfg, root)
    if cfg["role"] == "texture" or hash_only:
        for r in recs:
            r["sha256"] = sha256_file(r["file"])
    entry = debpkg.package_entry(cfg, deb, deb_sha, role=cfg["role"])
    log(f"{cfg['name']} {cfg['version']}: {len(recs)} files ({time.time() - t0:.1f} s)")
    return entry, recs


def compare_reference(ref, packages, files):
    problems = debpkg.compare_packages(ref, packages)
    ref_files = {(f["package"], f["path"]): f for f in ref.get("files", [])}
    for key, f in ref_files.items():
        now = files.get(key)
        if now is None:
            problems.append(f"{key[0]}: {key[1]} in the reference, not in the package selection now")
        elif now.get("sha256") and now["sha256"] != f["sha256"]:
            problems.append(f"{key[0]}: {key[1]} checksum differs from the reference")
    return problems


def build(args):
    t_start = time.time()
    if cv2 is None:
        raise CorpusError("OpenCV (python3-opencv) is needed")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    pkgs = load_config(args.config)
    ref_path = Path(args.reference)
    reference = json.loads(ref_path.read_text()) if ref_path.is_file() else None
    if args.verify and reference is None:
        raise CorpusError(f"--verify needs a reference manifest; {ref_path} does not exist")

    packages, texture_recs, clip_recs = [], [], []
    for cfg in pkgs:
        entry, recs = process_package(cfg, out, hash_only=args.verify)
        packages.append(entry)
        (texture_recs if cfg["role"] == "texture" else clip_recs).extend(recs)

    if args.verify:
        everything = {(r["package"], r["path"]): r for r in texture_recs + clip_recs}
        problems = compare_reference(reference, packages, everything)
        for p in problems:
            log(f"MISMATCH {p}")
        log(f"verify: {len(everything)} files in {len(packages)} packages, "
            f"{len(problems)} differences from {ref_path}")
        return 1 if problems else 0

    settings = {"seed": args.seed, "size": SIZE, "val_fraction": args.val_fraction,
                "clipart_train": args.clipart_train, "clipart_val": args.clipart_val,
                "photo_val": args.photo_val, "pairs_per_val": args.pairs_per_val,
                "piece_val_fraction": args.piece_val_fraction,
                "l0_lambda": list(args.l0_lambda), "colours": [6, 12],
                "thumbs_per_photo": args.thumbs_per_photo, "thumb_short_side": list(THUMB_SHORT),
                "thumb_l0_lambda": list(THUMB_L0_LAMBDA), "thumb_colours": list(THUMB_COLOURS),
                "min_texture_std": MIN_TEXTURE_STD, "min_texture_side": MIN_TEXTURE_SIDE,
                "piece": {"min_side": PIECE_MIN_SIDE, "min_fill": PIECE_MIN_FILL,
                          "max_soft": PIECE_MAX_SOFT, "soft_range": [SOFT_LO, SOFT_HI],
                          "max_colours": PIECE_MAX_COLOURS, "max_upscale": PIECE_MAX_UPSCALE,
                          "max_pixels": PIECE_MAX_PIXELS}}

    # Written to pack.new and swapped in at the end, so that a reader never
    # sees a half-written pack.
    final_pack = out / "pack"
    pack = out / "pack.new"
    if pack.exists():
        shutil.rmtree(pack)
    for sub in ("textures/train", "textures/val", "structures/train", "structures/val",
                "structures/val-thumb", "val-pairs/input", "val-pairs/gt",
                "val-thumb-pairs/input", "val-thumb-pairs/gt"):
        (pack / sub).mkdir(parents=True)

    # ---- textures
    t0 = time.time()
    textures, dropped = [], []
    for r in texture_recs:
        rgb, layout = decode_texture(r["file"])
        g = gray(rgb)
        std = float(g.std())
        r.update(width=int(rgb.shape[1]), height=int(rgb.shape[0]), layout=layout,
                 gray_std=round(std, 2))
        if std < MIN_TEXTURE_STD:
            r["dropped"] = "nearly flat"
            dropped.append(r)
            log(f"dropped {r['package']}: {r['rel']} (nearly flat, grey std {std:.2f})")
            continue
        r["rgb"] = tile_up(rgb)
        textures.append(r)
    split_textures(textures, args.val_fraction, args.seed)
    names = set()
    tex_index = []
    for r in textures:
        stem = safe_name(r["package"] + "-" + r["rel"].rsplit(".", 1)[0].replace("/", "-"))
        assert stem not in names, stem
        names.add(stem)
        fname = f"textures/{r['split']}/{stem}.png"
        (pack / fname).write_bytes(encode_png(r["rgb"]))
        r["pack_file"] = fname
        e = {"file": fname, "split": r["split"], "package": r["package"], "path": r["path"],
             "width": int(r["rgb"].shape[1]), "height": int(r["rgb"].shape[0])}
        if r["rgb"].shape[:2] != (r["height"], r["width"]):
            e["tiled_from"] = [r["width"], r["height"]]
        tex_index.append(e)
    log(f"textures: {sum(t['split'] == 'train' for t in textures)} train, "
        f"{sum(t['split'] == 'val' for t in textures)} val, {len(dropped)} dropped "
        f"({time.time() - t0:.1f} s)")

    # ---- photo-cartoon structures
    t0 = time.time()
    crops_dir = Path(args.crops)
    if (crops_dir / "crops" / "index.json").is_file():
        crops_dir = crops_dir / "crops"
    cidx_path = crops_dir / "index.json"
    if not cidx_path.is_file():
        raise CorpusError(f"no crop pack at {crops_dir}: build it first with "
                          "training/corpus/build.py --out build-corpus")
    crops = json.loads(cidx_path.read_text())["crops"]
    photo_train = [c for c in crops if c["split"] == "train"]
    photo_val = [c for c in crops if c["split"] == "val"]
    rng_sel = random.Random(seed_int(args.seed, "photo-val-choice"))
    if args.photo_val < len(photo_val):
        photo_val = sorted(rng_sel.sample(photo_val, args.photo_val), key=lambda c: c["file"])
    work = out / "work" / "l0"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    jobs = []
    photo_items = []
    for split, lst in (("train", photo_train), ("val", photo_val)):
        for j, c in enumerate(lst):
            r = np.random.default_rng(seed_int(args.seed, "photo", c["file"]))
            lam = float(math.exp(r.uniform(math.log(args.l0_lambda[0]), math.log(args.l0_lambda[1]))))
            dst = work / f"{split}-{j:04d}.png"
            jobs.append((crops_dir / c["file"], dst, lam))
            photo_items.append((split, c, dst, lam, r))
    run_l0(jobs, find_l0_tool())
    photo_structs = {"train": [], "val": []}
    for split, c, dst, lam, r in photo_items:
        l0 = cv2.cvtColor(cv2.imread(str(dst), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        img, k = cartoon(l0, r)
        photo_structs[split].append((img, {"crop": c["file"], "photo": [c["package"], c["path"]],
                                           "l0_lambda": round(lam, 5), "colours": k}))
    log(f"photo-cartoon structures: {len(photo_structs['train'])} train, "
        f"{len(photo_structs['val'])} val ({time.time() - t0:.1f} s)")

    # ---- photo-thumb structures: whole photos at thumbnail scale
    t0 = time.time()
    thumb_structs = photo_thumbs(crops, crops_dir.parent / "extract", out / "work" / "thumb",
                                 args.thumbs_per_photo, args.seed)
    log(f"photo-thumb structures: {len(thumb_structs['train'])} train, "
        f"{len(thumb_structs['val'])} val ({time.time() - t0:.1f} s)")

    # ---- clip-art structures
    t0 = time.time()
    need = {"train": args.clipart_train * 2, "val": args.clipart_val * 2}
    accepted, looked = load_pieces(clip_recs, args.seed, need, args.piece_val_fraction)
    for s in need:
        if not accepted[s]:
            raise CorpusError(f"no clip-art piece accepted for {s}")
    clip_structs = {"train": clipart_structures(accepted["train"], args.clipart_train, args.seed, "train"),
                    "val": clipart_structures(accepted["val"], args.clipart_val, args.seed, "val")}
    rej = {}
    for rec in looked:
        why = rec["stats"].get("reject")
        if why:
            rej[why] = rej.get(why, 0) + 1
    log(f"clip-art structures: {args.clipart_train} train, {args.clipart_val} val from "
        f"{len(accepted['train'])} + {len(accepted['val'])} pieces ({len(looked)} looked at, "
        f"rejected {rej}) ({time.time() - t0:.1f} s)")

    # ---- write structures (interleaved kinds, fixed order)
    st_index = []
    for split in ("train", "val"):
        items = [("clipart", img, src) for img, src in clip_structs[split]] + \
                [("photo-cartoon", img, src) for img, src in photo_structs[split]]
        if split == "train":     # val thumbnails have their own list (below)
            items += [("photo-thumb", img, src) for img, src in thumb_structs[split]]
        order = list(range(len(items)))
        random.Random(seed_int(args.seed, "structure-order", split)).shuffle(order)
        for n, i in enumerate(order):
            kind, img, src = items[i]
            fname = f"structures/{split}/{n + 1:04d}.png"
            (pack / fname).write_bytes(encode_png(img))
            st_index.append({"file": fname, "split": split, "kind": kind, "source": src,
                             "_img": img if split == "val" else None})
        clip_structs[split] = photo_structs[split] = items = None  # free the images

    # ---- validation pairs
    t0 = time.time()
    sys.path.insert(0, str(REPO / "training"))
    from lisse_train import texture_blend  # noqa: E402
    val_tex = [t for t in textures if t["split"] == "val"]
    val_st = [s for s in st_index if s["split"] == "val"]
    tex_order = list(range(len(val_tex)))
    random.Random(seed_int(args.seed, "pair-textures")).shuffle(tex_order)
    pairs = []
    k = 0
    for s in val_st:
        for _ in range(args.pairs_per_val):
            t = val_tex[tex_order[k % len(tex_order)]]
            k += 1
            rng = np.random.default_rng(seed_int(args.seed, "val-pair", len(pairs)))
            inp = texture_blend.blend(s["_img"], t["rgb"], rng)
            n = len(pairs) + 1
            pi, pg = f"val-pairs/input/{n:04d}.png", f"val-pairs/gt/{n:04d}.png"
            (pack / pi).write_bytes(encode_png(inp))
            (pack / pg).write_bytes(encode_png(s["_img"]))
            pairs.append({"input": pi, "gt": pg, "structure": s["file"], "texture": t["pack_file"]})
    log(f"validation pairs: {len(pairs)} ({time.time() - t0:.1f} s)")
    # Val thumbnails: kept out of "structures" and "val_pairs" so that those
    # stay as they were; one pair each, the textures continuing the cycle.
    thumb_index, thumb_pairs = [], []
    for n, (img, src) in enumerate(thumb_structs["val"], 1):
        fname = f"structures/val-thumb/{n:04d}.png"
        (pack / fname).write_bytes(encode_png(img))
        thumb_index.append({"file": fname, "split": "val", "kind": "photo-thumb", "source": src})
        t = val_tex[tex_order[k % len(tex_order)]]
        k += 1
        rng = np.random.default_rng(seed_int(args.seed, "val-thumb-pair", n))
        inp = texture_blend.blend(img, t["rgb"], rng)
        pi, pg = f"val-thumb-pairs/input/{n:04d}.png", f"val-thumb-pairs/gt/{n:04d}.png"
        (pack / pi).write_bytes(encode_png(inp))
        (pack / pg).write_bytes(encode_png(img))
        thumb_pairs.append({"input": pi, "gt": pg, "structure": fname, "texture": t["pack_file"]})
    log(f"validation thumbnail pairs: {len(thumb_pairs)}")

    for s in st_index:
        del s["_img"]
    index = {"format": PACK_FORMAT,
             "note": "Built by training/corpus/build_textures.py; licences and checksums in "
                     "../texture-manifest.json. Structures: RGB 256x256 ground truths. "
                     "Textures: RGB at their own size. Val pairs: texture_blend.blend() "
                     "of a val structure and a val texture, fixed.",
             "seed": args.seed, "structures": st_index, "textures": tex_index, "val_pairs": pairs,
             "thumb_structures": thumb_index, "val_thumb_pairs": thumb_pairs}
    check_disjoint(index)
    (pack / "index.json").write_text(debpkg.dump_json(index, {"structures", "textures", "val_pairs",
                                                               "thumb_structures", "val_thumb_pairs"}))
    pack_bytes = sum(f.stat().st_size for f in pack.rglob("*") if f.is_file())
    if pack_bytes > args.max_mb * 1_000_000:
        raise CorpusError(f"pack is {pack_bytes} bytes, over --max-mb {args.max_mb} "
                          f"(left in {pack})")

    # ---- manifest
    used_pieces = {}
    for s in st_index:
        for p in s["source"].get("pieces", []):
            used_pieces[p] = used_pieces.get(p, 0) + 1
    files = []
    for r in texture_recs:
        e = {"package": r["package"], "path": r["path"], "licence": r["licence"]}
        for key in ("copyright", "licence_note"):
            if key in r:
                e[key] = r[key]
        e.update(sha256=r["sha256"], kind="texture", layout=r["layout"],
                 width=r["width"], height=r["height"], gray_std=r["gray_std"])
        if "dropped" in r:
            e["split"] = None
            e["dropped"] = r["dropped"]
        else:
            e["split"] = r["split"]
            e["file"] = r["pack_file"]
        files.append(e)
    for r in sorted((a["rec"] for s in ("train", "val") for a in accepted[s]
                     if a["rel"] in used_pieces), key=lambda r: r["path"]):
        # the package's licence and holder apply to every piece (see "packages")
        e = {"package": r["package"], "path": r["path"], "licence": r["licence"],
             "sha256": r["sha256"], "split": r["split"], "kind": "clipart",
             "uses": used_pieces[r["rel"]]}
        files.append(e)
    for p in packages:
        mine = [f for f in files if f["package"] == p["name"]]
        p["used"] = {"train": sum(f["split"] == "train" for f in mine),
                     "val": sum(f["split"] == "val" for f in mine),
                     "dropped": sum("dropped" in f for f in mine)}
    photo_ref = HERE / "manifest.json"
    manifest = {
        "format": MANIFEST_FORMAT,
        "generator": "training/corpus/build_textures.py",
        "settings": settings,
        "photo_structures": {"crop_index_sha256": sha256_file(cidx_path),
                             "manifest": "training/corpus/manifest.json",
                             "manifest_sha256": sha256_file(photo_ref) if photo_ref.is_file() else None,
                             "train": sum(x["split"] == "train" and x["kind"] == "photo-cartoon"
                                          for x in st_index),
                             "val": sum(x["split"] == "val" and x["kind"] == "photo-cartoon"
                                        for x in st_index)},
        "packages": packages,
        "files": files,
        "pack": {"dir": "pack", "index": "pack/index.json",
                 "textures": {s: sum(t["split"] == s for t in tex_index) for s in ("train", "val")},
                 "structures": {s: {kd: sum(x["split"] == s and x["kind"] == kd
                                            for x in st_index + thumb_index)
                                    for kd in ("clipart", "photo-cartoon", "photo-thumb")}
                                for s in ("train", "val")},
                 "val_pairs": len(pairs), "val_thumb_pairs": len(thumb_pairs), "bytes": pack_bytes},
    }
    text = debpkg.dump_json(manifest, {"packages", "files"})
    problems = []
    if reference is not None:
        everything = {(f["package"], f["path"]): f for f in files}
        for r in clip_recs:
            everything.setdefault((r["package"], r["path"]), {})
        problems = compare_reference(reference, packages, everything)
        ref_crops = (reference.get("photo_structures") or {}).get("crop_index_sha256")
        if ref_crops != manifest["photo_structures"]["crop_index_sha256"]:
            problems.append(f"{cidx_path} differs from the crop pack of the reference "
                            "(rebuild it with build.py, same seed)")
        if reference.get("files") != files or reference.get("pack") != manifest["pack"]:
            problems.append("the pack's selection or counts differ from the reference")
    if problems and not args.update_reference:
        for p in problems:
            log(f"MISMATCH {p}")
        raise CorpusError(f"{len(problems)} differences from {ref_path} (the new pack is left in "
                          f"{pack}; {final_pack} is unchanged); rerun with --update-reference "
                          "if the change is intended")
    old = out / "pack.old"
    if old.exists():
        shutil.rmtree(old)
    if final_pack.exists():
        final_pack.rename(old)
    pack.rename(final_pack)
    if old.exists():
        shutil.rmtree(old)
    (out / "texture-manifest.json").write_text(text)
    if reference is None or args.update_reference:
        ref_path.write_text(text)
        log(f"wrote the reference manifest {ref_path}")
    log(f"pack: {manifest['pack']['textures']} textures, structures {manifest['pack']['structures']}, "
        f"{len(pairs)} val pairs, {pack_bytes / 1e6:.1f} MB, {time.time() - t_start:.0f} s")
    return 0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="build-textures", help="output folder (debs, extract, pack, manifest)")
    ap.add_argument("--crops", default="build-corpus/crops",
                    help="build.py's crop pack (folder with index.json), for photo structures")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.15, help="share of textures held out")
    ap.add_argument("--piece-val-fraction", type=float, default=0.1,
                    help="share of clip-art pieces held out (by a hash of the path)")
    ap.add_argument("--clipart-train", type=int, default=920)
    ap.add_argument("--clipart-val", type=int, default=66)
    ap.add_argument("--photo-val", type=int, default=34, help="val photo crops used (of the pack's)")
    ap.add_argument("--pairs-per-val", type=int, default=2, help="validation pairs per val structure")
    ap.add_argument("--l0-lambda", type=float, nargs=2, default=(0.01, 0.04))
    ap.add_argument("--thumbs-per-photo", type=int, default=4,
                    help="thumbnail structures per training photo (one per val photo)")
    ap.add_argument("--max-mb", type=float, default=120.0)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--update-reference", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    return debpkg.run_main(lambda: build(parse_args(argv)), "textures")


if __name__ == "__main__":
    sys.exit(main())
