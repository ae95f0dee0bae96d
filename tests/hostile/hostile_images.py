# SPDX-License-Identifier: GPL-3.0-or-later
"""The hostile images of tests/hostile: made here, written as PNG (8 and
16 bits; gray, gray + alpha, RGB, RGBA, indexed) and 32-bit float TIFF,
read back with their channel count and bit depth; and the non-finite value
rule of core/finite.h in NumPy, so a test can say what a method must give
for an image holding NaN or ±∞.

Arrays are H×W×C float64 in [0,1] (or beyond, for float files), channels
in file order: Y, YA, RGB, RGBA.  No third-party image is used.
"""

import os
import struct
import zlib

import numpy as np

# core/finite.h
PIXEL_LIMIT = 65504.0


# A finite stand-in for "beyond the limit": the engine clamps it to the
# limit whether a front end hands it the file's values as they are or first
# converts them from linear light (1.055 * 1e12^(1/2.4) is still above
# 65504), so the file that holds it means the same in every front end.
BEYOND = 1e12


def finite_rule(img, n_color):
    """The image as the engine must see it, written as a file: the first
    @n_color channels with NaN -> 0, +inf -> 1, -inf -> 0 and finite values
    beyond +-65504 -> +-BEYOND (which the engine clamps to +-65504); the
    rest (alpha) as they are.  float32, as the files hold."""
    out = np.array(img, np.float32, copy=True)
    c = out[..., :n_color]
    nan, pinf, ninf = np.isnan(c), np.isposinf(c), np.isneginf(c)
    big = np.isfinite(c) & (np.abs(c) > PIXEL_LIMIT)
    c[nan] = 0.0
    c[pinf] = 1.0
    c[ninf] = 0.0
    c[big] = np.sign(c[big]) * BEYOND
    return out


def n_color(channels):
    return channels - 1 if channels in (2, 4) else channels


# ---------------------------------------------------------------------------
# Content


def scene(h, w, channels, seed=0):
    """Flat regions, a sharp edge, a gradient, noise; alpha a ramp with a
    fully transparent block.  H×W×C in [0,1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    rgb = np.stack([0.2 + 0.6 * (x >= w * 0.4),
                    0.3 + 0.4 * y / max(h - 1, 1),
                    0.15 + 0.7 * (((x // 5) + (y // 5)) % 2)], -1)
    rgb += rng.normal(0.0, 0.04, rgb.shape)
    rgb = np.clip(rgb, 0.0, 1.0)
    if channels in (1, 2):
        col = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2])[..., None]
    else:
        col = rgb
    if channels in (2, 4):
        alpha = np.clip(0.2 + 0.8 * x / max(w - 1, 1), 0, 1)
        col = np.concatenate([col, alpha[..., None]], -1)
    return col


def with_transparent_block(img):
    """@img (RGBA) with a block of alpha 0 over colour that is anything but
    flat: what an editor keeps under erased pixels."""
    out = img.copy()
    h, w = out.shape[:2]
    out[h // 4:h // 2 + 1, w // 4:w // 2 + 1, 3] = 0.0
    return out


def with_non_finite(img):
    """@img (float, colour first) with NaN, +inf, -inf, a huge finite value
    and a NaN alpha (when there is alpha) at separate pixels: where each is
    is returned too, {name: (y, x)}."""
    out = np.array(img, np.float32, copy=True)
    h, w, c = out.shape
    spots = {"nan": (h // 5, w // 5), "+inf": (h // 2, w // 2), "-inf": (4 * h // 5, w // 3),
             "huge": (h // 3, 4 * w // 5)}
    values = {"nan": np.nan, "+inf": np.inf, "-inf": -np.inf, "huge": 3e38}
    for name, (y, x) in spots.items():
        out[y, x, 0] = values[name]
    if c in (2, 4):
        spots["nan-alpha"] = (h - 1, w - 1)
        out[h - 1, w - 1, c - 1] = np.nan
    return out, spots


# ---------------------------------------------------------------------------
# PNG, written here (OpenCV has no gray + alpha, indexed or streamed PNG)

PNG_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}   # channels -> PNG colour type


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))


def write_png(path, img, bits=8):
    """H×W×C in [0,1] as an 8- or 16-bit PNG of C channels (Y, YA, RGB,
    RGBA).  Returns the values as stored (quantised), H×W×C float64."""
    img = np.asarray(img, np.float64)
    if img.ndim == 2:
        img = img[..., None]
    h, w, c = img.shape
    top = 255 if bits == 8 else 65535
    q = np.round(np.clip(img, 0, 1) * top).astype(np.uint16 if bits == 16 else np.uint8)
    rows = q.astype(">u2" if bits == 16 else "u1").reshape(h, -1).view(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], 1).tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, bits, PNG_TYPES[c], 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))
    return q.astype(np.float64) / top


def write_indexed_png(path, img, n_colours=16, transparent=True):
    """@img (RGB(A) in [0,1]) as an 8-bit palette PNG of @n_colours colours
    (the nearest of a fixed palette), with a tRNS chunk making index 0
    fully transparent when @transparent.  Returns the image it holds,
    H×W×4 float64 (RGBA; alpha 1 but where index 0 is)."""
    img = np.asarray(img, np.float64)
    h, w = img.shape[:2]
    levels = np.linspace(0, 1, n_colours)
    palette = np.stack([levels, levels[::-1], (levels * 3) % 1.0], -1)
    d = ((img[..., None, :3] - palette[None, None]) ** 2).sum(-1)
    index = d.argmin(-1).astype(np.uint8)
    pal8 = np.round(palette * 255).astype(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), index], 1).tobytes()
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
              _chunk(b"PLTE", pal8.tobytes())]
    if transparent:
        chunks.append(_chunk(b"tRNS", bytes([0] + [255] * (n_colours - 1))))
    chunks += [_chunk(b"IDAT", zlib.compress(raw, 6)), _chunk(b"IEND", b"")]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"".join(chunks))
    rgba = np.concatenate([pal8[index] / 255.0, np.ones((h, w, 1))], -1)
    if transparent:
        rgba[index == 0, 3] = 0.0
    return rgba


def write_huge_gray_png(path, w, h):
    """A @w×@h 1-bit gray PNG of zeros, streamed: a 30000×30000 image in a
    file of about a hundred kilobytes, made in about a second."""
    comp = zlib.compressobj(9)
    row = bytes(1 + (w + 7) // 8)          # filter byte 0, then zero bits
    parts = []
    block = row * 1024
    for y in range(0, h, 1024):
        parts.append(comp.compress(block if h - y >= 1024 else row * (h - y)))
    parts.append(comp.flush())
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b""))


def png_header(path):
    """(width, height, bit depth, channels) from a PNG's IHDR, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(33)
    except OSError:
        return None
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    w, h, bits, ctype = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 4: 2, 2: 3, 6: 4, 3: 3}.get(ctype)
    return w, h, bits, channels


def read_png(path):
    """A PNG as H×W×C float64 in [0,1], C as the file has it (a palette
    file as RGB), or None."""
    import cv2
    head = png_header(path)
    if head is None:
        return None
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None:
        return None
    top = 65535.0 if a.dtype == np.uint16 else 255.0
    a = a.astype(np.float64) / top
    if a.ndim == 2:
        a = a[..., None]
    c = head[3]
    if a.shape[2] == 3:
        a = a[..., ::-1]
    elif a.shape[2] == 4:
        a = a[..., [2, 1, 0, 3]]
    if c == 1 and a.shape[2] >= 3:
        a = a[..., :1]
    elif c == 2 and a.shape[2] == 4:
        a = a[..., [0, 3]]
    return a


# ---------------------------------------------------------------------------
# Float TIFF


def write_float_tiff(path, img):
    """H×W×C float32 (C = 1..4, alpha unassociated) as an uncompressed
    32-bit float TIFF; NaN and inf are stored as they are."""
    import tifffile
    a = np.ascontiguousarray(np.asarray(img, np.float32))
    if a.ndim == 2:
        a = a[..., None]
    c = a.shape[2]
    tifffile.imwrite(path, a if c > 1 else a[..., 0],
                     photometric="rgb" if c >= 3 else "minisblack",
                     extrasamples=["unassalpha"] if c in (2, 4) else None,
                     planarconfig="contig" if c > 1 else None)
    return path


def read_tiff(path):
    """A TIFF as H×W×C (its own dtype: float32 for float files), or None."""
    import tifffile
    if not os.path.exists(path):
        return None
    try:
        a = tifffile.imread(path)
    except Exception:                      # noqa: BLE001 - any unreadable file
        return None
    return a[..., None] if a.ndim == 2 else a
