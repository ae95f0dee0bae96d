#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken image files given to the command line (issue 16).

Usage: test-image-input.py PATH/TO/lisse

Makes small valid PNG, JPEG and TIFF files with the encoders of
fuzz/make-image-seeds.py, breaks them (truncated at many offsets, bad
signatures and headers, bad CRCs, corrupt compressed data, huge and empty
declared sizes, impossible layouts) and runs `lisse effect remove-texture`
and `lisse filter guided` on each.  Every run must exit non-zero (not by a
signal), print exactly one line, "lisse: FILE: …", naming the file, and
leave no output and no temporary file behind.  The valid originals must be
read (so the breakage is what is refused), and some messages must say what
is wrong ("truncated", "too large").  Files with colour profiles the
reader cannot use (which once crashed it) must be read.
Prints TAP (the plan comes last).
"""

import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from lisse_testlib import Tap

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "make_image_seeds", os.path.join(HERE, "fuzz", "make-image-seeds.py"))
seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seeds)

LISSE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "lisse"
TMP = tempfile.mkdtemp(prefix="lisse-image-input-test-")
OUT = os.path.join(TMP, "out.png")
COMMANDS = {
    "effect": ["effect", "remove-texture"],
    "filter": ["filter", "guided"],
}

tap = Tap()


def lisse(*args):
    """(exit status, stdout, stderr); the status is None when the run took
    more than two minutes (a tiny file: the reader is stuck)."""
    env = dict(os.environ, LISSE_MODEL_PATH=os.path.join(TMP, "no-models"))
    try:
        p = subprocess.run([LISSE, *args], capture_output=True, text=True, env=env, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after 120 s\n"
    return p.returncode, p.stdout, p.stderr


def leftovers():
    return [f for f in os.listdir(TMP) if ".lisse-" in f]


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


turn = 0


def expect_refusal(name, data, says=None):
    """The file is refused in one line naming it, and nothing is written.
    Files go to `lisse effect` and `lisse filter` by turns: a run costs
    GEGL's start-up, and both read images through the same reader."""
    global turn
    command = "effect" if turn % 2 == 0 else "filter"
    turn += 1
    path = write(name, data)
    if os.path.exists(OUT):
        os.remove(OUT)
    rc, _, err = lisse(*COMMANDS[command], path, OUT)
    lines = err.splitlines()
    problems = []
    if rc is None:
        problems.append("timed out")
    elif rc == 0:
        problems.append("exit status 0")
    elif rc < 0:
        problems.append(f"killed by signal {-rc}")
    if len(lines) != 1 or not lines[0].startswith("lisse: "):
        problems.append(f"stderr is not one 'lisse: ' line: {err!r}")
    elif name not in lines[0]:
        problems.append(f"the line does not name {name}: {lines[0]!r}")
    if says and says not in err:
        problems.append(f"the line does not say {says!r}: {err!r}")
    if os.path.exists(OUT):
        problems.append("an output file was written")
    if leftovers():
        problems.append(f"temporary files left: {leftovers()}")
    if tap(not problems, f"{command}: {name} is refused", "\n".join(problems)):
        print(f"# {lines[0]}")        # what the user sees, for the log
    os.remove(path)


def expect_read(name, data):
    path = write(name, data)
    for command, args in COMMANDS.items():
        if os.path.exists(OUT):
            os.remove(OUT)
        rc, _, err = lisse(*args, path, OUT)
        tap(rc == 0 and not err and os.path.exists(OUT), f"{command}: {name} is read",
            f"rc={rc} {err}")


def cut_points(data, boundaries, n_even=10):
    """Offsets to cut @data at: evenly spread, and at and just after each
    boundary (a chunk, marker, IFD or strip start)."""
    points = {len(data) * i // n_even for i in range(1, n_even)}
    for b in boundaries:
        points |= {b, b + 1}
    points |= {1, 2, len(data) - 2, len(data) - 1}
    return sorted(p for p in points if 0 < p < len(data))


def set_bytes(data, offset, new):
    return data[:offset] + new + data[offset + len(new):]


# ---------------------------------------------------------------------------
# PNG

def png_chunk_starts(data):
    pos, starts = 8, []
    while pos + 8 <= len(data):
        starts.append(pos)
        pos += 12 + struct.unpack(">I", data[pos:pos + 4])[0]
    return starts


def with_ihdr(data, width, height, depth=8, colour=2, compression=0, filtering=0, interlace=0):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, compression, filtering, interlace)
    return set_bytes(data, 8, seeds.png_chunk(b"IHDR", ihdr))


png_files = {
    "rgb8.png": seeds.png(24, 16, 2, 8, idat_split=3),
    "gray16-interlaced.png": seeds.png(24, 16, 0, 16, interlace=True),
}
for name, good in png_files.items():
    expect_read(name, good)
    for n in cut_points(good, png_chunk_starts(good)):
        expect_refusal(f"cut-{n}-{name}", good[:n], says="truncated" if n >= 8 else None)

good = png_files["rgb8.png"]
# (A bad CRC on IEND, after the image, is one libpng lets pass: the image
# is complete.  On an ancillary chunk it drops the chunk.)
for kind in (b"IHDR", b"IDAT"):
    expect_refusal(f"bad-crc-{kind.decode()}.png", seeds.with_crc(good, kind), says="CRC")
last_idat = good.rindex(b"IDAT") - 4
expect_refusal("bad-crc-last-IDAT.png",
               good[:last_idat] + seeds.with_crc(good[last_idat:], b"IDAT"), says="CRC")
expect_refusal("bad-signature.png", set_bytes(good, 1, b"Q"))
expect_refusal("huge.png", with_ihdr(good, 100000, 100000), says="too large")
expect_refusal("huge-side.png", with_ihdr(good, 600000, 16), says="too large")
expect_refusal("zero-width.png", with_ihdr(good, 0, 16))
expect_refusal("zero-height.png", with_ihdr(good, 24, 0))
expect_refusal("bad-depth.png", with_ihdr(good, 24, 16, depth=5))
expect_refusal("bad-colour-type.png", with_ihdr(good, 24, 16, colour=7))
expect_refusal("bad-interlace-method.png", with_ihdr(good, 24, 16, interlace=2))
expect_refusal("bad-compression-method.png", with_ihdr(good, 24, 16, compression=1))
expect_refusal("bad-filter-type.png", seeds.png(24, 16, 2, 8, filter_byte=9))
expect_refusal("too-little-data.png", with_ihdr(good, 24, 17))
expect_refusal("no-idat.png", good[:33] + seeds.png_chunk(b"IEND", b""))
expect_refusal("palette-without-plte.png", seeds.png(24, 16, 3, 8))
idat = seeds.find_chunk(good, b"IDAT")
expect_refusal("bad-zlib.png", set_bytes(good, idat + 8, b"\x78\x9c\xfe\xff\xff"))

# ---------------------------------------------------------------------------
# JPEG

def jpeg_marker_starts(data):
    return [i for i in range(len(data) - 1) if data[i] == 0xff and data[i + 1] not in (0, 0xff)]


jpeg_files = {
    "ycc420-restarts.jpg": seeds.jpeg(40, 32, "ycc", sampling=((2, 2), (1, 1), (1, 1)),
                                      restart=2),
    "progressive.jpg": seeds.jpeg(24, 16, "ycc", progressive=True),
}
for name, good in jpeg_files.items():
    expect_read(name, good)
    for n in cut_points(good, jpeg_marker_starts(good)):
        expect_refusal(f"cut-{n}-{name}", good[:n], says="truncated" if n >= 3 else None)

good = jpeg_files["ycc420-restarts.jpg"]
sof = good.index(b"\xff\xc0")
dht = good.index(b"\xff\xc4")
dqt = good.index(b"\xff\xdb")
sos = good.index(b"\xff\xda")
scan = sos + 2 + struct.unpack(">H", good[sos + 2:sos + 4])[0]
expect_refusal("bad-signature.jpg", set_bytes(good, 2, b"\x00"))
expect_refusal("huge.jpg", set_bytes(good, sof + 5, struct.pack(">HH", 40000, 40000)),
               says="too large")
expect_refusal("huge-side.jpg", set_bytes(good, sof + 5, struct.pack(">HH", 65535, 65535)))
expect_refusal("zero-width.jpg", set_bytes(good, sof + 7, struct.pack(">H", 0)))
expect_refusal("zero-height.jpg", set_bytes(good, sof + 5, struct.pack(">H", 0)))
expect_refusal("no-components.jpg", set_bytes(good, sof + 9, b"\x00"))
expect_refusal("precision-12.jpg", set_bytes(good, sof + 4, b"\x0c"))
expect_refusal("lossless.jpg", set_bytes(good, sof + 1, b"\xc3"))
expect_refusal("bogus-huffman-table.jpg", set_bytes(good, dht + 5, b"\xff" * 16), says="Huffman")
expect_refusal("bad-quant-table-id.jpg", set_bytes(good, dqt + 4, b"\x07"))
expect_refusal("segment-length-zero.jpg", set_bytes(good, dqt + 2, b"\x00\x00"))
expect_refusal("sos-before-sof.jpg", good[:sof] + good[dht:])
expect_refusal("no-scan.jpg", good[:sos] + b"\xff\xd9")
expect_refusal("marker-in-scan.jpg", set_bytes(good, scan + 5, b"\xff\x05"))
rst0 = good.index(b"\xff\xd0", scan)
expect_refusal("wrong-restart-marker.jpg", set_bytes(good, rst0 + 1, b"\xd5"))
expect_refusal("too-many-scans.jpg", seeds.jpeg(9, 9, "gray", progressive=True, extra_scans=300),
               says="scans")

# ---------------------------------------------------------------------------
# TIFF

def tiff_structure(data):
    """Offsets worth cutting at: the header, the IFD and every strip or tile."""
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", data[4:8])[0]
    n = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
    points = [4, 8, ifd, ifd + 2, ifd + 2 + 12 * n]
    for i in range(n):
        tag, kind, count, value = struct.unpack(order + "HHII", data[ifd + 2 + 12 * i:ifd + 14 + 12 * i])
        if tag in (273, 324):       # strip or tile offsets
            if count == 1:
                points.append(value)
            else:
                points += list(struct.unpack(order + "%dI" % count, data[value:value + 4 * count]))
    return points


def tiff_entry(data, tag):
    """Offset of the value field of IFD entry @tag (classic TIFF)."""
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", data[4:8])[0]
    n = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
    for i in range(n):
        at = ifd + 2 + 12 * i
        if struct.unpack(order + "H", data[at:at + 2])[0] == tag:
            return at + 8, order
    raise KeyError(tag)


def with_long(data, tag, value):
    at, order = tiff_entry(data, tag)
    return set_bytes(data, at, struct.pack(order + "I", value))


def with_short(data, tag, value):
    at, order = tiff_entry(data, tag)
    return set_bytes(data, at, struct.pack(order + "H", value))


tiff_files = {
    "rgb8-lzw.tif": seeds.tiff(24, 16, 3, 8, 2, compression=5, rows_per_strip=4),
    "rgba16-tiled-deflate-be.tif": seeds.tiff(24, 20, 4, 16, 2, extra=[2], compression=8,
                                              tile=(16, 16), order=">"),
}
for name, good in tiff_files.items():
    expect_read(name, good)
    for n in cut_points(good, tiff_structure(good)):
        expect_refusal(f"cut-{n}-{name}", good[:n], says="truncated" if n >= 4 else None)

good = seeds.tiff(24, 16, 3, 8, 2, rows_per_strip=4)
expect_read("rgb8.tif", good)
expect_refusal("bad-signature.tif", set_bytes(good, 2, b"\x2b\x01"))
expect_refusal("huge.tif", with_long(with_long(good, 256, 100000), 257, 100000), says="too large")
expect_refusal("huge-side.tif", with_long(good, 256, 600000), says="too large")
expect_refusal("zero-width.tif", with_long(good, 256, 0))
expect_refusal("zero-height.tif", with_long(good, 257, 0))
expect_refusal("ifd-beyond-end.tif", set_bytes(good, 4, struct.pack("<I", 1 << 30)))
expect_refusal("strips-beyond-end.tif", with_long(good, 273, 1 << 30), says="truncated")
expect_refusal("unknown-compression.tif", with_short(good, 259, 12345))
expect_refusal("rgb-with-one-sample.tif", seeds.tiff(24, 16, 1, 8, 2))
expect_refusal("signed-samples.tif", seeds.tiff(24, 16, 1, 8, 1, sample_format=2))
expect_refusal("tile-width-zero.tif",
               with_long(seeds.tiff(24, 16, 3, 8, 2, tile=(16, 16)), 322, 0))
expect_refusal("tiles-huge.tif",
               with_long(with_long(seeds.tiff(24, 16, 3, 8, 2, tile=(16, 16)), 322, 1 << 20),
                         323, 1 << 20))
deflated = seeds.tiff(24, 16, 3, 8, 2, compression=8)     # its strip starts at byte 8
expect_refusal("bad-deflate.tif", set_bytes(deflated, 10, b"\xff" * 6))

# ---------------------------------------------------------------------------
# Colour profiles the reader must survive: a CMYK profile Little CMS cannot
# use (babl took it and the conversion crashed), RGB profiles whose tags lie
# outside them or whose curve claims a billion points (babl's parser
# follows both).  The image is read, the profile left out.

for name, data in {
    "cmyk-unusable-profile.jpg": seeds.jpeg(16, 8, "cmyk", icc=seeds.icc_cmyk_profile(False)),
    "cmyk-unusable-profile.tif": seeds.tiff(16, 8, 4, 8, 5, icc=seeds.icc_cmyk_profile(False)),
    "profile-tag-outside.tif": seeds.tiff(16, 8, 3, 8, 2,
                                          icc=seeds.icc_profile(tag_offset_shift=4000)),
    "profile-curve-too-long.jpg": seeds.jpeg(16, 8, "ycc",
                                             icc=seeds.icc_profile(curve_count=1 << 30)),
}.items():
    expect_read(name, data)

tap.plan()
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(1 if tap.failed else 0)
