#!/usr/bin/env python3
# Lisse — learned edge-preserving smoothing.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpus of the image-reader fuzz target: small valid PNG,
JPEG and TIFF files in every layout the reader takes (bit depths, channels,
alpha, palettes, interlacing, progressive JPEG, CMYK, tiles, planes,
compressions, colour profiles) and broken ones (truncations, bad CRCs, huge
and empty declared sizes, corrupt compressed data, impossible layouts), so
that the fuzzer starts next to every branch.  Every file is made here, by
the small encoders below (Python standard library only, no third-party
images), so the output is the same byte for byte on every machine.

    tests/fuzz/make-image-seeds.py [OUTDIR]   (default: tests/fuzz/seeds-image)

tests/test-image-input.py imports the encoders (png(), tiff(), jpeg(),
icc_profile(), icc_cmyk_profile(), pattern()) to make its own files.
"""

import math
import os
import struct
import sys
import zlib

# ---------------------------------------------------------------------------
# Test pattern


def pattern(width, height, channels, maxval=255, seed=0):
    """Rows of samples (lists of ints in [0, maxval]): gradients, an edge and
    a little deterministic texture, different in every channel."""
    rows = []
    for y in range(height):
        row = []
        for x in range(width):
            for c in range(channels):
                v = (x * (c + 1) * 37 + y * 53 + (x > width // 2) * 90
                     + ((x * 7 + y * 13 + c * 5 + seed) * 2654435761 >> 7) % 23)
                row.append(v * maxval // 255 % (maxval + 1))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------
# ICC profiles


def s15f16(v):
    return struct.pack(">i", int(round(v * 65536)))


def icc_profile(trc="curv", gamma=2.2, colour_space=b"RGB ", size_field=None,
                tag_offset_shift=0, curve_count=None):
    """A minimal ICC v2 monitor profile with Adobe RGB (D50) primaries, so it
    differs from sRGB.  trc: "curv" (one gamma), "curv-lut" (a 16-point
    curve) or "para" (parametric type 0).  The other arguments break it."""
    tags = []
    xyz = lambda x, y, z: b"XYZ \0\0\0\0" + s15f16(x) + s15f16(y) + s15f16(z)
    if colour_space == b"GRAY":
        tags.append((b"kTRC", b"curv\0\0\0\0" + struct.pack(">IH", 1, int(gamma * 256)) + b"\0\0"))
    else:
        tags += [(b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
                 (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
                 (b"bXYZ", xyz(0.1492, 0.0632, 0.7446))]
        if trc == "para":
            curve = b"para\0\0\0\0" + struct.pack(">HH", 0, 0) + s15f16(gamma)
        elif trc == "curv-lut":
            n = 16 if curve_count is None else curve_count
            points = [int(65535 * (i / 15) ** gamma) for i in range(16)]
            curve = b"curv\0\0\0\0" + struct.pack(">I", n) + struct.pack(">16H", *points)
        else:
            n = 1 if curve_count is None else curve_count
            curve = b"curv\0\0\0\0" + struct.pack(">IH", n, int(gamma * 256)) + b"\0\0"
        tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    tags.append((b"wtpt", xyz(0.9642, 1.0, 0.8249)))
    table_end = 128 + 4 + 12 * len(tags)
    body, entries, pos = b"", b"", table_end
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        entries += sig + struct.pack(">II", pos + tag_offset_shift, len(data))
        body += data
        pos += len(data)
    size = table_end + len(body)
    header = (struct.pack(">I", size if size_field is None else size_field) + b"lcms"
              + bytes([2, 0x10, 0, 0]) + b"mntr" + colour_space + b"XYZ " + bytes(12)
              + b"acsp" + bytes(24) + struct.pack(">I", 0)
              + s15f16(0.9642) + s15f16(1.0) + s15f16(0.8249) + bytes(48))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + entries + body


def icc_cmyk_profile(usable=True):
    """A minimal ICC v2 CMYK output profile: lut8 A2B0 (CMYK to Lab) and
    B2A0 (Lab to CMYK) tables on a 2-point grid, which Little CMS (and so
    babl) can make transforms of.  usable=False leaves the tables out: a
    profile babl once handed on to Little CMS and then crashed on."""
    def lut8(n_in, n_out, corner):
        grid = b""
        for i in range(2 ** n_in):
            bits = [(i >> (n_in - 1 - c)) & 1 for c in range(n_in)]
            grid += bytes(corner(bits))
        identity = b"".join(s15f16(1.0 if r == c else 0.0) for r in range(3) for c in range(3))
        curve = bytes(range(256))
        return (b"mft1\0\0\0\0" + bytes([n_in, n_out, 2, 0]) + identity
                + curve * n_in + grid + curve * n_out)

    def cmyk_to_lab(b):
        c, m, y, k = b
        light = 255 * (1 - k) * (1 - 0.25 * (c + m + y))
        return [int(light), 128 + 40 * (m - c), 128 + 40 * (y - m)]

    def lab_to_cmyk(b):
        light, a, bb = b
        return [255 * (1 - light), 255 * (1 - light) * a, 255 * (1 - light) * bb, 0]

    tags = [(b"wtpt", b"XYZ \0\0\0\0" + s15f16(0.9642) + s15f16(1.0) + s15f16(0.8249))]
    if usable:
        tags += [(b"A2B0", lut8(4, 3, cmyk_to_lab)), (b"B2A0", lut8(3, 4, lab_to_cmyk))]
    table_end = 128 + 4 + 12 * len(tags)
    body, entries, pos = b"", b"", table_end
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        entries += sig + struct.pack(">II", pos, len(data))
        body += data
        pos += len(data)
    size = table_end + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"prtr" + b"CMYK"
              + b"Lab " + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
              + s15f16(0.9642) + s15f16(1.0) + s15f16(0.8249) + bytes(48))
    return header + struct.pack(">I", len(tags)) + entries + body


# ---------------------------------------------------------------------------
# PNG


def png_chunk(kind, data, crc=None):
    c = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", c & 0xffffffff)


def pack_bits(samples, depth):
    """Samples of 1, 2 or 4 bits, packed MSB first, a row padded to a byte."""
    out, acc, n = bytearray(), 0, 0
    for s in samples:
        acc = acc << depth | s
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def png_row_bytes(row, depth):
    if depth < 8:
        return pack_bits(row, depth)
    if depth == 16:
        return struct.pack(">%dH" % len(row), *row)
    return bytes(row)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
         (1, 0, 2, 2), (0, 1, 1, 2)]


def png(width, height, colour_type, depth, rows=None, interlace=False, palette=None,
        trns=None, chunks_before=(), chunks_after=(), idat_split=1, ihdr=None,
        level=9, filter_byte=0):
    """A PNG: colour_type 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
    rows: lists of samples (default: pattern()).  chunks_before go between
    IHDR and IDAT, chunks_after between IDAT and IEND (lists of
    (kind, data))."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    if rows is None:
        rows = pattern(width, height, channels, (1 << depth) - 1)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        if not xs:
            continue
        for y in range(y0, height, dy):
            row = [rows[y][x * channels + c] for x in xs for c in range(channels)]
            raw += bytes([filter_byte]) + png_row_bytes(row, depth)
    data = zlib.compress(bytes(raw), level)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", ihdr if ihdr is not None else
                     struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0,
                                 1 if interlace else 0))
    for kind, payload in chunks_before:
        out += png_chunk(kind, payload)
    if palette is not None:
        out += png_chunk(b"PLTE", b"".join(bytes(p) for p in palette))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    step = -(-len(data) // idat_split)
    for i in range(0, len(data), step):
        out += png_chunk(b"IDAT", data[i:i + step])
    for kind, payload in chunks_after:
        out += png_chunk(kind, payload)
    return out + png_chunk(b"IEND", b"")


def palette_colours(n):
    return [((i * 67) % 256, (i * 139 + 40) % 256, (255 - i * 29) % 256) for i in range(n)]


# ---------------------------------------------------------------------------
# TIFF

SHORT, LONG, RATIONAL, ASCII, UNDEFINED, LONG8 = 3, 4, 5, 2, 7, 16
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 16: 8}
TYPE_CODE = {3: "H", 4: "I", 16: "Q", 1: "B", 7: "B"}


def packbits(data):
    """PackBits with literal runs only: valid, if no smaller."""
    out = bytearray()
    for i in range(0, len(data), 128):
        chunk = data[i:i + 128]
        out.append(len(chunk) - 1)
        out += chunk
    return bytes(out)


def lzw(data):
    """TIFF LZW (MSB first, 9 to 12 bits, early change as libtiff writes it)."""
    out, acc, n = bytearray(), 0, 0

    def put(code, width):
        nonlocal acc, n
        acc = acc << width | code
        n += width
        while n >= 8:
            out.append(acc >> (n - 8) & 0xff)
            n -= 8
            acc &= (1 << n) - 1

    table = {bytes([i]): i for i in range(256)}
    next_code, width = 258, 9
    put(256, width)
    w = b""
    for c in data:
        wc = w + bytes([c])
        if wc in table:
            w = wc
            continue
        put(table[w], width)
        table[wc] = next_code
        next_code += 1
        if next_code == 4094:
            put(256, width)
            table = {bytes([i]): i for i in range(256)}
            next_code, width = 258, 9
        elif next_code > (1 << width) - 1:
            width += 1
        w = bytes([c])
    if w:
        put(table[w], width)
        next_code += 1
        if next_code > (1 << width) - 1 and width < 12:
            width += 1
    put(257, width)
    if n:
        out.append(acc << (8 - n) & 0xff)
    return bytes(out)


def tiff_samples(rows, bps, order, sample_format=1):
    """Rows of samples to bytes: 1/2/4 bits packed, else in @order."""
    out = []
    for row in rows:
        if bps < 8:
            out.append(pack_bits(row, bps))
        elif bps == 8:
            out.append(bytes(row))
        elif sample_format == 3:
            code = {16: "e", 32: "f", 64: "d"}[bps]
            out.append(struct.pack(order + code * len(row), *[v / 65535 for v in row]))
        else:
            code = {16: "H", 32: "I", 64: "Q"}[bps]
            out.append(struct.pack(order + code * len(row), *row))
    return out


def predict(row_bytes, spp):
    """Horizontal differencing (Predictor 2) of 8-bit samples."""
    b = bytearray(row_bytes)
    for i in range(len(b) - 1, spp - 1, -1):
        b[i] = (b[i] - b[i - spp]) & 0xff
    return bytes(b)


def compress(data, compression):
    if compression == 1:
        return data
    if compression == 32773:
        return packbits(data)
    if compression == 8:
        return zlib.compress(data, 9)
    if compression == 5:
        return lzw(data)
    raise ValueError(compression)


def tiff_file(entries, blobs, order="<", bigtiff=False, next_ifd=0):
    """A TIFF from IFD entries [(tag, type, values)] where a value may be
    ("blob", i) for the offset of blobs[i]; blobs are placed first, then
    values that do not fit the entry, then the IFD."""
    out = bytearray(b"II" if order == "<" else b"MM")
    if bigtiff:
        out += struct.pack(order + "HHHQ", 43, 8, 0, 0)
    else:
        out += struct.pack(order + "HI", 42, 0)
    offsets = []
    for blob in blobs:
        if len(out) % 2:
            out.append(0)
        offsets.append(len(out))
        out += blob
    inline = 8 if bigtiff else 4
    packed = []
    for tag, kind, values in sorted(entries, key=lambda e: e[0]):
        values = [offsets[v[1]] if isinstance(v, tuple) else v for v in values]
        if kind == ASCII:
            raw = values[0] + b"\0"
        elif kind == RATIONAL:
            raw = b"".join(struct.pack(order + "II", *v) if isinstance(v, tuple)
                           else struct.pack(order + "II", v, 1) for v in values)
        elif kind == UNDEFINED:
            raw = values[0]
        else:
            raw = struct.pack(order + TYPE_CODE[kind] * len(values), *values)
        count = len(raw) // TYPE_SIZE[kind]
        if len(raw) > inline:
            if len(out) % 2:
                out.append(0)
            where = len(out)
            out += raw
            field = struct.pack(order + ("Q" if bigtiff else "I"), where)
        else:
            field = raw + b"\0" * (inline - len(raw))
        packed.append((tag, kind, count, field))
    if len(out) % 2:
        out.append(0)
    ifd = len(out)
    if bigtiff:
        out += struct.pack(order + "Q", len(packed))
        for tag, kind, count, field in packed:
            out += struct.pack(order + "HHQ", tag, kind, count) + field
        out += struct.pack(order + "Q", next_ifd)
        out[8:16] = struct.pack(order + "Q", ifd)
    else:
        out += struct.pack(order + "H", len(packed))
        for tag, kind, count, field in packed:
            out += struct.pack(order + "HHI", tag, kind, count) + field
        out += struct.pack(order + "I", next_ifd if next_ifd >= 0 else ifd)
        out[4:8] = struct.pack(order + "I", ifd)
    return bytes(out)


def tiff(width, height, spp=3, bps=8, photometric=2, rows=None, compression=1,
         rows_per_strip=None, tile=None, planar=False, extra=(), sample_format=1,
         colormap=None, icc=None, order="<", bigtiff=False, predictor=False,
         orientation=None, subsampling=None, override=None, drop=()):
    """A TIFF of one image.  photometric: 0 white-is-zero, 1 black-is-zero,
    2 RGB, 3 palette, 5 CMYK, 6 YCbCr, 8 CIELab.  extra: ExtraSamples values
    (1 associated alpha, 2 unassociated).  override: {tag: (type, values)}
    replaces or adds entries; drop: tags left out."""
    if rows is None:
        maxval = 65535 if (bps >= 16 or sample_format == 3) else (1 << bps) - 1
        rows = pattern(width, height, spp, maxval)
        if bps == 32 and sample_format != 3:
            rows = [[v * 65537 for v in row] for row in rows]
    sf = sample_format

    def encode(block_rows, samples_per_row):
        data = b"".join(tiff_samples(block_rows, bps, order, sf))
        if predictor:
            stride = len(data) // max(1, len(block_rows))
            data = b"".join(predict(data[i:i + stride], samples_per_row)
                            for i in range(0, len(data), stride))
        return compress(data, compression)

    planes = ([[row[s::spp] for row in rows] for s in range(spp)] if planar else [rows])
    per_pixel = 1 if planar else spp
    blobs = []
    if tile:
        tw, th = tile
        for plane in planes:
            for ty in range(0, height, th):
                for tx in range(0, width, tw):
                    block = []
                    for y in range(ty, ty + th):
                        src = plane[y] if y < height else [0] * (width * per_pixel)
                        row = src[tx * per_pixel:(tx + tw) * per_pixel]
                        block.append(row + [0] * (tw * per_pixel - len(row)))
                    blobs.append(encode(block, per_pixel))
    else:
        rps = rows_per_strip or height
        for plane in planes:
            for y in range(0, height, rps):
                blobs.append(encode(plane[y:y + rps], per_pixel))
    offset_type = LONG8 if bigtiff else LONG
    e = {
        256: (LONG, [width]), 257: (LONG, [height]),
        258: (SHORT, [bps] * spp), 259: (SHORT, [compression]),
        262: (SHORT, [photometric]), 277: (SHORT, [spp]),
        284: (SHORT, [2 if planar else 1]),
        282: (RATIONAL, [72]), 283: (RATIONAL, [72]), 296: (SHORT, [2]),
    }
    n = len(blobs)
    refs = [("blob", i) for i in range(n)]
    counts = [len(b) for b in blobs]
    if tile:
        e[322] = (LONG, [tile[0]])
        e[323] = (LONG, [tile[1]])
        e[324] = (offset_type, refs)
        e[325] = (offset_type, counts)
    else:
        e[273] = (offset_type, refs)
        e[278] = (LONG, [rows_per_strip or height])
        e[279] = (offset_type, counts)
    if extra:
        e[338] = (SHORT, list(extra))
    if sample_format != 1:
        e[339] = (SHORT, [sample_format] * spp)
    if colormap is not None:
        e[320] = (SHORT, colormap)
    if icc is not None:
        e[34675] = (UNDEFINED, [icc])
    if predictor:
        e[317] = (SHORT, [2])
    if orientation:
        e[274] = (SHORT, [orientation])
    if subsampling:
        e[530] = (SHORT, list(subsampling))
    for tag, value in (override or {}).items():
        e[tag] = value
    entries = [(tag, kind, values) for tag, (kind, values) in e.items() if tag not in drop]
    return tiff_file(entries, blobs, order, bigtiff)


def tiff_colormap(bits):
    n = 1 << bits
    cols = palette_colours(n)
    return ([c[0] * 257 for c in cols] + [c[1] * 257 for c in cols]
            + [c[2] * 257 for c in cols])


# ---------------------------------------------------------------------------
# JPEG: a baseline and (spectral-selection) progressive encoder with
# fixed-length Huffman codes (valid, if not small) and a plain quantiser.

ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
          41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22,
          15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55,
          62, 63]
# DC: categories 0-11 as 4-bit codes; AC: every run/size symbol as 8 bits.
DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [r << 4 | s for r in range(16) for s in range(1, 11)]
COS = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]


def quant_table(k):
    return [min(255, 2 + k + i // 3) for i in range(64)]     # in zigzag order


def huffman_codes(symbols, length):
    return {s: (i, length) for i, s in enumerate(symbols)}


DC_CODES = huffman_codes(DC_SYMBOLS, 4)
AC_CODES = huffman_codes(AC_SYMBOLS, 8)


class BitWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, code, length):
        self.acc = self.acc << length | code
        self.n += length
        while self.n >= 8:
            byte = self.acc >> (self.n - 8) & 0xff
            self.out.append(byte)
            if byte == 0xff:
                self.out.append(0)        # byte stuffing
            self.n -= 8
            self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def magnitude(v):
    s = abs(v).bit_length()
    return s, (v if v >= 0 else v + (1 << s) - 1)


def fdct_block(block, qt):
    """8×8 samples (row-major) to quantised coefficients in zigzag order."""
    coef = [0] * 64
    for u in range(8):
        for v in range(8):
            acc = 0.0
            for y in range(8):
                cy = COS[u][y]
                row = block[y * 8:(y + 1) * 8]
                for x in range(8):
                    acc += (row[x] - 128) * cy * COS[v][x]
            cu = 1 / math.sqrt(2) if u == 0 else 1
            cv = 1 / math.sqrt(2) if v == 0 else 1
            coef[u * 8 + v] = acc * cu * cv / 4
    return [int(round(coef[ZIGZAG[i]] / qt[i])) for i in range(64)]


def encode_band(bits, zz, start, end, dc_pred=None):
    """Codes coefficients start..end of one block (start 0: DC first)."""
    if start == 0:
        diff = zz[0] - dc_pred
        s, m = magnitude(diff)
        bits.put(*DC_CODES[s])
        if s:
            bits.put(m, s)
        start = 1
    if end < start:
        return
    run = 0
    last = max([i for i in range(start, end + 1) if zz[i]] or [start - 1])
    for i in range(start, last + 1):
        if zz[i] == 0:
            run += 1
            continue
        while run > 15:
            bits.put(*AC_CODES[0xF0])
            run -= 16
        s, m = magnitude(zz[i])
        bits.put(*AC_CODES[run << 4 | s])
        bits.put(m, s)
        run = 0
    if last < end:
        bits.put(*AC_CODES[0x00])     # EOB


def rgb_to_ycc(r, g, b):
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return (y, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
            128 + 0.5 * r - 0.418688 * g - 0.081312 * b)


def jpeg_segment(marker, payload):
    return bytes([0xff, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(width, height, kind="ycc", sampling=((1, 1), (1, 1), (1, 1), (1, 1)),
         progressive=False, restart=0, icc=None, icc_parts=1, precision=8, sof=None,
         extra_scans=0):
    """A JPEG of pattern(): kind "gray", "ycc" (from RGB), "rgb" (Adobe
    transform 0), "cmyk" (Adobe 0) or "ycck" (Adobe 2).  sampling: (h, v)
    per component (baseline only).  restart: MCUs per restart interval.
    icc: a profile split over icc_parts APP2 markers.  precision and sof
    only change the frame header (to make files the reader refuses)."""
    n_comp = {"gray": 1, "ycc": 3, "rgb": 3, "cmyk": 4, "ycck": 4}[kind]
    src = pattern(width, height, 4 if kind in ("cmyk", "ycck") else 3)
    planes = [[[0.0] * width for _ in range(height)] for _ in range(n_comp)]
    for y in range(height):
        for x in range(width):
            px = src[y][x * (len(src[0]) // width):(x + 1) * (len(src[0]) // width)]
            if kind == "gray":
                vals = [0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]]
            elif kind == "ycc":
                vals = rgb_to_ycc(*px[:3])
            elif kind == "ycck":
                vals = list(rgb_to_ycc(*px[:3])) + [px[3]]
            else:
                vals = px[:n_comp]
            for c in range(n_comp):
                planes[c][y][x] = vals[c]
    sampling = [tuple(s) for s in sampling[:n_comp]]
    if progressive:
        sampling = [(1, 1)] * n_comp
    hmax = max(h for h, v in sampling)
    vmax = max(v for h, v in sampling)
    mcux, mcuy = -(-width // (8 * hmax)), -(-height // (8 * vmax))
    if n_comp == 1:
        sampling = [(1, 1)]
        hmax = vmax = 1
        mcux, mcuy = -(-width // 8), -(-height // 8)

    # Component planes at their own resolution, padded to whole MCUs.
    blocks = []       # per component: dict (bx, by) -> zigzag coefficients
    qts = [quant_table(0), quant_table(3)]
    for c in range(n_comp):
        h, v = sampling[c]
        cw, ch = mcux * h * 8, mcuy * v * 8
        fx, fy = hmax // h, vmax // v
        plane = []
        for y in range(ch):
            row = []
            for x in range(cw):
                acc = 0.0
                for dy in range(fy):
                    for dx in range(fx):
                        sy = min(y * fy + dy, height - 1)
                        sx = min(x * fx + dx, width - 1)
                        acc += planes[c][sy][sx]
                row.append(acc / (fx * fy))
            plane.append(row)
        qt = qts[0 if c == 0 or kind in ("rgb", "cmyk") else 1]
        comp = {}
        for by in range(ch // 8):
            for bx in range(cw // 8):
                block = [plane[by * 8 + j][bx * 8 + i] for j in range(8) for i in range(8)]
                comp[(bx, by)] = fdct_block(block, qt)
        blocks.append(comp)

    out = bytearray(b"\xff\xd8")
    out += jpeg_segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0") if kind in ("gray", "ycc") else b""
    if kind in ("rgb", "cmyk", "ycck"):
        out += jpeg_segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0,
                                                          2 if kind == "ycck" else 0))
    if icc is not None:
        step = -(-len(icc) // icc_parts)
        parts = [icc[i:i + step] for i in range(0, len(icc), step)]
        for i, part in enumerate(parts):
            out += jpeg_segment(0xE2, b"ICC_PROFILE\0" + bytes([i + 1, len(parts)]) + part)
    for t, qt in enumerate(qts):
        out += jpeg_segment(0xDB, bytes([t]) + bytes(qt))
    frame = struct.pack(">BHHB", precision, height, width, n_comp)
    for c in range(n_comp):
        h, v = sampling[c]
        frame += bytes([c + 1, h << 4 | v, 0 if c == 0 or kind in ("rgb", "cmyk") else 1])
    out += jpeg_segment(sof if sof is not None else (0xC2 if progressive else 0xC0), frame)
    for cls, codes, length in ((0, DC_SYMBOLS, 4), (1, AC_SYMBOLS, 8)):
        counts = [0] * 16
        counts[length - 1] = len(codes)
        out += jpeg_segment(0xC4, bytes([cls << 4]) + bytes(counts) + bytes(codes))
    if restart:
        out += jpeg_segment(0xDD, struct.pack(">H", restart))

    def scan(comps, start, end):
        header = bytes([len(comps)]) + b"".join(bytes([c + 1, 0x00]) for c in comps)
        seg = jpeg_segment(0xDA, header + bytes([start, end, 0]))
        bits = BitWriter()
        preds = [0] * n_comp
        data = bytearray()
        if len(comps) == 1:
            c = comps[0]
            h, v = sampling[c]
            if n_comp == 1:
                bw, bh = -(-width // 8), -(-height // 8)
            else:
                bw = -(-(-(-width * h // hmax)) // 8)
                bh = -(-(-(-height * v // vmax)) // 8)
            units = [[(c, (bx, by))] for by in range(bh) for bx in range(bw)]
        else:
            units = []
            for my in range(mcuy):
                for mx in range(mcux):
                    unit = []
                    for c in comps:
                        h, v = sampling[c]
                        unit += [(c, (mx * h + i, my * v + j)) for j in range(v) for i in range(h)]
                    units.append(unit)
        for k, unit in enumerate(units):
            if restart and k and k % restart == 0:
                bits.flush()
                data += bits.out + bytes([0xff, 0xD0 + (k // restart - 1) % 8])
                bits = BitWriter()
                preds = [0] * n_comp
            for c, pos in unit:
                zz = blocks[c][pos]
                encode_band(bits, zz, start, end, preds[c])
                preds[c] = zz[0]
        bits.flush()
        return seg + bytes(data) + bytes(bits.out)

    everyone = list(range(n_comp))
    if progressive:
        out += scan(everyone, 0, 0)
        for _ in range(extra_scans):          # repeated DC scans: a bogus progression
            out += scan(everyone, 0, 0)
        for c in everyone:
            out += scan([c], 1, 5)
            out += scan([c], 6, 63)
    else:
        out += scan(everyone, 0, 63)
    return bytes(out + b"\xff\xd9")


# ---------------------------------------------------------------------------
# Breaking files


def cuts(data, fractions=(0.0, 0.1, 0.5, 0.9), extra=()):
    """Truncations of @data at fractions of its length and at given sizes."""
    sizes = sorted({int(len(data) * f) for f in fractions} | {n for n in extra if n < len(data)})
    return {n: data[:n] for n in sizes}


def flip(data, offset, xor=0xff):
    b = bytearray(data)
    b[offset] ^= xor
    return bytes(b)


def find_chunk(data, kind):
    """Offset of a PNG chunk's length field."""
    return data.index(kind) - 4


def with_crc(data, kind, delta=1):
    """The PNG with chunk @kind's CRC off by @delta."""
    at = find_chunk(data, kind)
    length = struct.unpack(">I", data[at:at + 4])[0]
    crc_at = at + 8 + length
    crc = struct.unpack(">I", data[crc_at:crc_at + 4])[0]
    return data[:crc_at] + struct.pack(">I", (crc + delta) & 0xffffffff) + data[crc_at + 4:]


# ---------------------------------------------------------------------------
# The corpus


def png_seeds():
    out = {}
    for depth in (1, 2, 4, 8, 16):
        out[f"png-gray{depth}"] = png(9, 7, 0, depth)
    out["png-gray8-trns"] = png(9, 7, 0, 8, trns=struct.pack(">H", 100))
    out["png-gray2-trns"] = png(9, 7, 0, 2, trns=struct.pack(">H", 1))
    for depth in (8, 16):
        out[f"png-graya{depth}"] = png(9, 7, 4, depth)
        out[f"png-rgb{depth}"] = png(9, 7, 2, depth)
        out[f"png-rgba{depth}"] = png(9, 7, 6, depth)
    out["png-rgb16-trns"] = png(9, 7, 2, 16, trns=struct.pack(">HHH", 1, 2, 3))
    for depth in (1, 2, 4, 8):
        n = 1 << depth
        out[f"png-palette{depth}"] = png(9, 7, 3, depth, palette=palette_colours(n))
    out["png-palette8-trns"] = png(9, 7, 3, 8, palette=palette_colours(256),
                                   trns=bytes(range(0, 256, 2)))
    out["png-rgb8-interlaced"] = png(11, 9, 2, 8, interlace=True)
    out["png-gray16-interlaced"] = png(11, 9, 0, 16, interlace=True)
    out["png-palette4-interlaced"] = png(11, 9, 3, 4, interlace=True, palette=palette_colours(16))
    out["png-rgb8-1x1"] = png(1, 1, 2, 8)
    out["png-rgb8-gama"] = png(9, 7, 2, 8, chunks_before=[(b"gAMA", struct.pack(">I", 55555))])
    chrm = struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
    out["png-rgb8-gama-chrm"] = png(9, 7, 2, 8, chunks_before=[
        (b"gAMA", struct.pack(">I", 45455)), (b"cHRM", chrm)])
    out["png-rgb8-srgb"] = png(9, 7, 2, 8, chunks_before=[(b"sRGB", b"\0"),
                                                         (b"gAMA", struct.pack(">I", 45455))])
    icc = icc_profile()
    out["png-rgb8-iccp"] = png(9, 7, 2, 8, chunks_before=[
        (b"iCCP", b"adobe-ish\0\0" + zlib.compress(icc))])
    out["png-rgb16-iccp-para"] = png(9, 7, 2, 16, chunks_before=[
        (b"iCCP", b"para\0\0" + zlib.compress(icc_profile(trc="para", gamma=1.8)))])
    out["png-gray8-iccp-gray"] = png(9, 7, 0, 8, chunks_before=[
        (b"iCCP", b"gray\0\0" + zlib.compress(icc_profile(colour_space=b"GRAY")))])
    out["png-rgb8-text-split-idat"] = png(9, 7, 2, 8, idat_split=4, chunks_before=[
        (b"tEXt", b"Comment\0made by make-image-seeds.py"),
        (b"zTXt", b"Title\0\0" + zlib.compress(b"a test pattern")),
        (b"pHYs", struct.pack(">IIB", 2835, 2835, 1))],
        chunks_after=[(b"tIME", struct.pack(">HBBBBB", 2024, 1, 2, 3, 4, 5))])

    # Broken.
    good = png(9, 7, 2, 8, idat_split=2)
    for n, cut in cuts(good, extra=(4, 8, 16, 33, len(good) - 12, len(good) - 1)).items():
        out[f"png-broken-cut-{n:03d}"] = cut
    out["png-broken-crc-ihdr"] = with_crc(good, b"IHDR")
    out["png-broken-crc-idat"] = with_crc(good, b"IDAT")
    out["png-broken-crc-text"] = with_crc(png(9, 7, 2, 8, chunks_before=[
        (b"tEXt", b"Comment\0x")]), b"tEXt")    # ancillary: dropped, image fine
    out["png-broken-huge"] = png(1, 1, 2, 8, ihdr=struct.pack(">IIBBBBB", 100000, 100000,
                                                              8, 2, 0, 0, 0))
    out["png-broken-huge-side"] = png(1, 1, 0, 8, ihdr=struct.pack(">IIBBBBB", 600000, 1,
                                                                   8, 0, 0, 0, 0))
    out["png-broken-zero-width"] = png(1, 1, 2, 8, ihdr=struct.pack(">IIBBBBB", 0, 7,
                                                                    8, 2, 0, 0, 0))
    out["png-broken-width-2g"] = png(1, 1, 2, 8, ihdr=struct.pack(">IIBBBBB", 1 << 31, 1,
                                                                  8, 2, 0, 0, 0))
    out["png-broken-bad-depth"] = png(9, 7, 2, 8, ihdr=struct.pack(">IIBBBBB", 9, 7,
                                                                   4, 2, 0, 0, 0))
    out["png-broken-palette-missing"] = png(9, 7, 3, 8)
    out["png-broken-filter-byte"] = png(9, 7, 2, 8, filter_byte=7)
    out["png-broken-too-little-data"] = png(9, 3, 2, 8, ihdr=struct.pack(">IIBBBBB", 9, 7,
                                                                        8, 2, 0, 0, 0))
    out["png-broken-too-much-data"] = png(9, 7, 2, 8, ihdr=struct.pack(">IIBBBBB", 9, 3,
                                                                      8, 2, 0, 0, 0))
    raw = png(9, 7, 2, 8)
    at = find_chunk(raw, b"IDAT")
    out["png-broken-zlib"] = raw[:at + 8] + b"\x78\x9c\xff\xff\xff" + raw[at + 13:]
    out["png-broken-no-iend"] = raw[:-12]
    out["png-broken-no-ihdr"] = raw[:8] + raw[33:]
    out["png-broken-iccp-tag-outside"] = png(9, 7, 2, 8, chunks_before=[
        (b"iCCP", b"bad\0\0" + zlib.compress(icc_profile(tag_offset_shift=4000)))])
    out["png-broken-iccp-curve-too-long"] = png(9, 7, 2, 8, chunks_before=[
        (b"iCCP", b"bad\0\0" + zlib.compress(icc_profile(curve_count=0x7fffffff)))])
    out["png-broken-iccp-size-field"] = png(9, 7, 2, 8, chunks_before=[
        (b"iCCP", b"bad\0\0" + zlib.compress(icc_profile(size_field=99)))])
    return out


def tiff_seeds():
    out = {}
    w, h = 10, 6
    out["tiff-gray8"] = tiff(w, h, 1, 8, 1)
    out["tiff-gray8-miniswhite"] = tiff(w, h, 1, 8, 0)
    out["tiff-gray16-be"] = tiff(w, h, 1, 16, 1, order=">")
    out["tiff-gray16-miniswhite"] = tiff(w, h, 1, 16, 0)
    out["tiff-graya8-miniswhite-planar"] = tiff(w, h, 2, 8, 0, extra=[2], planar=True)
    out["tiff-graya8"] = tiff(w, h, 2, 8, 1, extra=[2])
    out["tiff-graya8-assoc"] = tiff(w, h, 2, 8, 1, extra=[1])
    out["tiff-gray-double"] = tiff(w, h, 1, 64, 1, sample_format=3)
    out["tiff-rgb8-deflate-predictor"] = tiff(w, h, 3, 8, 2, compression=8, predictor=True,
                                              rows_per_strip=2)
    out["tiff-rgb8-lzw"] = tiff(w, h, 3, 8, 2, compression=5, rows_per_strip=4)
    out["tiff-rgb8-packbits-be"] = tiff(w, h, 3, 8, 2, compression=32773, order=">")
    out["tiff-rgb16-lzw"] = tiff(w, h, 3, 16, 2, compression=5)
    out["tiff-rgb-half"] = tiff(w, h, 3, 16, 2, sample_format=3)
    out["tiff-rgb-float"] = tiff(w, h, 3, 32, 2, sample_format=3, compression=8)
    out["tiff-rgb-u32"] = tiff(w, h, 3, 32, 2)
    out["tiff-rgba8-unassoc"] = tiff(w, h, 4, 8, 2, extra=[2])
    out["tiff-rgba8-assoc"] = tiff(w, h, 4, 8, 2, extra=[1])
    out["tiff-rgba16-no-extrasamples"] = tiff(w, h, 4, 16, 2)
    out["tiff-rgba8-extra-sample"] = tiff(w, h, 5, 8, 2, extra=[2, 0])
    out["tiff-rgb8-planar"] = tiff(w, h, 3, 8, 2, planar=True, rows_per_strip=3)
    out["tiff-rgba16-planar-deflate"] = tiff(w, h, 4, 16, 2, planar=True, extra=[2],
                                             compression=8)
    out["tiff-rgb8-tiled"] = tiff(20, 10, 3, 8, 2, tile=(16, 16))
    out["tiff-rgba8-tiled-planar"] = tiff(20, 10, 4, 8, 2, tile=(16, 16), planar=True,
                                          extra=[2], compression=8)
    out["tiff-cmyk8"] = tiff(w, h, 4, 8, 5)
    out["tiff-cmyka16"] = tiff(w, h, 5, 16, 5, extra=[2])
    out["tiff-palette8"] = tiff(w, h, 1, 8, 3, colormap=tiff_colormap(8))
    out["tiff-palette4-orientation"] = tiff(w, h, 1, 4, 3, colormap=tiff_colormap(4),
                                            orientation=3)
    out["tiff-bilevel-packbits"] = tiff(w, h, 1, 1, 0, compression=32773)
    out["tiff-gray4"] = tiff(w, h, 1, 4, 1)
    out["tiff-ycbcr8"] = tiff(w, h, 3, 8, 6, subsampling=(1, 1))
    out["tiff-cielab8"] = tiff(w, h, 3, 8, 8)
    out["tiff-rgb8-icc"] = tiff(w, h, 3, 8, 2, icc=icc_profile(trc="curv-lut"))
    out["tiff-cmyk8-icc"] = tiff(w, h, 4, 8, 5, icc=icc_cmyk_profile())
    out["tiff-rgb8-bigtiff"] = tiff(w, h, 3, 8, 2, bigtiff=True)
    out["tiff-rgb8-bigtiff-be-tiled"] = tiff(20, 10, 3, 8, 2, bigtiff=True, order=">",
                                             tile=(16, 16))

    # Broken.
    good = tiff(w, h, 3, 8, 2, rows_per_strip=2)
    for n, cut in cuts(good, extra=(4, 8, 12, 100, len(good) - 1)).items():
        out[f"tiff-broken-cut-{n:03d}"] = cut
    lzw_good = tiff(w, h, 3, 8, 2, compression=5)
    out["tiff-broken-lzw-cut"] = lzw_good[:60] + lzw_good[200:] if len(lzw_good) > 200 else lzw_good[:60]
    out["tiff-broken-huge"] = tiff(1, 1, 3, 8, 2, override={256: (LONG, [100000]),
                                                           257: (LONG, [100000])})
    out["tiff-broken-huge-side"] = tiff(1, 1, 1, 8, 1, override={256: (LONG, [600000])})
    out["tiff-broken-zero-width"] = tiff(1, 1, 3, 8, 2, override={256: (LONG, [0])})
    out["tiff-broken-no-height"] = tiff(w, h, 3, 8, 2, drop=(257,))
    out["tiff-broken-strip-beyond"] = tiff(w, h, 3, 8, 2, override={273: (LONG, [1 << 30])})
    out["tiff-broken-bytecount-huge"] = tiff(w, h, 3, 8, 2, override={279: (LONG, [0x7fffffff])})
    out["tiff-broken-rgb-one-sample"] = tiff(w, h, 1, 8, 2)
    out["tiff-broken-tile-zero"] = tiff(20, 10, 3, 8, 2, tile=(16, 16),
                                        override={322: (LONG, [0])})
    out["tiff-broken-tile-huge"] = tiff(20, 10, 3, 8, 2, tile=(16, 16),
                                        override={322: (LONG, [1 << 20]),
                                                  323: (LONG, [1 << 20])})
    out["tiff-broken-spp-huge"] = tiff(w, h, 3, 8, 2, override={277: (SHORT, [60000])})
    out["tiff-broken-signed"] = tiff(w, h, 1, 8, 1, sample_format=2)
    out["tiff-broken-int64"] = tiff(w, h, 1, 64, 1, rows=pattern(w, h, 1, 65535))
    out["tiff-broken-float8"] = tiff(w, h, 1, 8, 1, sample_format=3,
                                     rows=pattern(w, h, 1, 255))
    out["tiff-broken-miniswhite-float"] = tiff(w, h, 1, 32, 0, sample_format=3)
    out["tiff-broken-alpha-without-sample"] = tiff(w, h, 1, 8, 1, extra=[2],
                                                   override={338: (SHORT, [2])})
    out["tiff-broken-bad-compression"] = tiff(w, h, 3, 8, 2, override={259: (SHORT, [12345])})
    deflated = tiff(w, h, 3, 8, 2, compression=8)       # the strip starts at byte 8
    out["tiff-broken-deflate-garbage"] = deflated[:10] + b"\xff" * 6 + deflated[16:]
    out["tiff-broken-ifd-loop"] = tiff_file([(256, LONG, [1]), (257, LONG, [1]),
                                             (258, SHORT, [8]), (262, SHORT, [1]),
                                             (273, LONG, [8]), (279, LONG, [1])],
                                            [], next_ifd=-1)
    out["tiff-broken-icc-tag-outside"] = tiff(w, h, 3, 8, 2,
                                              icc=icc_profile(tag_offset_shift=4000))
    out["tiff-broken-icc-curve-too-long"] = tiff(w, h, 3, 8, 2,
                                                 icc=icc_profile(curve_count=1 << 30))
    out["tiff-broken-palette-no-colormap"] = tiff(w, h, 1, 8, 3)
    out["tiff-broken-cmyk-icc-unusable"] = tiff(w, h, 4, 8, 5, icc=icc_cmyk_profile(False))
    return out


def jpeg_seeds():
    out = {}
    out["jpeg-gray"] = jpeg(13, 9, "gray")
    out["jpeg-ycc-420"] = jpeg(21, 17, "ycc", sampling=((2, 2), (1, 1), (1, 1)))
    out["jpeg-ycc-422-restart"] = jpeg(21, 17, "ycc", sampling=((2, 1), (1, 1), (1, 1)),
                                       restart=2)
    out["jpeg-ycc-444"] = jpeg(13, 9, "ycc")
    out["jpeg-ycc-progressive"] = jpeg(13, 9, "ycc", progressive=True)
    out["jpeg-gray-progressive-restart"] = jpeg(19, 9, "gray", progressive=True, restart=1)
    out["jpeg-rgb-adobe"] = jpeg(13, 9, "rgb")
    out["jpeg-cmyk-adobe"] = jpeg(13, 9, "cmyk")
    out["jpeg-ycck-adobe"] = jpeg(13, 9, "ycck")
    out["jpeg-ycc-icc"] = jpeg(13, 9, "ycc", icc=icc_profile(), icc_parts=2)
    out["jpeg-cmyk-icc"] = jpeg(13, 9, "cmyk", icc=icc_cmyk_profile())
    out["jpeg-ycc-arithmetic"] = jpeg(13, 9, "ycc", sof=0xC9)
    out["jpeg-ycc-extended"] = jpeg(13, 9, "ycc", sof=0xC1)
    out["jpeg-1x1"] = jpeg(1, 1, "ycc")

    # Broken.
    good = jpeg(21, 17, "ycc", sampling=((2, 2), (1, 1), (1, 1)))
    sos = good.index(b"\xff\xda")
    for n, cut in cuts(good, extra=(2, 3, 20, 100, sos, sos + 14, len(good) - 2,
                                    len(good) - 1)).items():
        out[f"jpeg-broken-cut-{n:03d}"] = cut
    dht = good.index(b"\xff\xc4")
    out["jpeg-broken-dht"] = good[:dht + 5] + b"\xff" * 16 + good[dht + 21:]
    scan_data = sos + 2 + struct.unpack(">H", good[sos + 2:sos + 4])[0]
    out["jpeg-broken-scan-data"] = good[:scan_data + 5] + b"\xff\x05" + good[scan_data + 7:]
    out["jpeg-broken-precision-12"] = jpeg(13, 9, "ycc", precision=12, sof=0xC1)
    out["jpeg-broken-lossless"] = jpeg(13, 9, "ycc", sof=0xC3)
    out["jpeg-broken-hierarchical"] = jpeg(13, 9, "ycc", sof=0xC5)
    big = bytearray(jpeg(13, 9, "ycc"))
    sof = big.index(b"\xff\xc0")
    big[sof + 5:sof + 9] = struct.pack(">HH", 40000, 40000)
    out["jpeg-broken-huge"] = bytes(big)
    big[sof + 5:sof + 9] = struct.pack(">HH", 65535, 65535)
    out["jpeg-broken-huge-side"] = bytes(big)
    big[sof + 5:sof + 9] = struct.pack(">HH", 0, 13)
    out["jpeg-broken-zero-height"] = bytes(big)
    two = bytearray(jpeg(13, 9, "gray"))
    sof = two.index(b"\xff\xc0")
    out["jpeg-broken-sos-before-sof"] = bytes(two[:sof]) + bytes(two[two.index(b"\xff\xc4"):])
    out["jpeg-broken-no-eoi"] = good[:-2]
    out["jpeg-broken-tables-only"] = good[:sos] + b"\xff\xd9"
    out["jpeg-broken-too-many-scans"] = jpeg(9, 9, "gray", progressive=True, extra_scans=300)
    out["jpeg-broken-cmyk-icc-unusable"] = jpeg(13, 9, "cmyk", icc=icc_cmyk_profile(False))
    out["jpeg-broken-icc-parts"] = jpeg(13, 9, "ycc", icc=icc_profile(tag_offset_shift=4000),
                                        icc_parts=3)
    return out


def seeds():
    out = {}
    out.update(png_seeds())
    out.update(tiff_seeds())
    out.update(jpeg_seeds())
    out["not-an-image"] = b"this is not an image\n"
    out["empty"] = b""
    return out


EXTENSIONS = {"png": ".png", "tif": ".tif", "jpe": ".jpg"}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "seeds-image")
    os.makedirs(outdir, exist_ok=True)
    corpus = seeds()
    for name, blob in sorted(corpus.items()):
        ext = EXTENSIONS.get(name[:3], ".bin")
        with open(os.path.join(outdir, name + ext), "wb") as f:
            f.write(blob)
    print(f"wrote {len(corpus)} seeds to {outdir}")


if __name__ == "__main__":
    main()
