#!/usr/bin/env python3
# Lisse — learned edge-preserving smoothing.
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpus of the safetensors fuzz target: small valid files
(every dtype, ranks 0-5, metadata, an unaligned tensor, an empty tensor) and
broken ones (each one check of the reader), so that the fuzzer starts next
to every branch.  Standard library only.

    tests/fuzz/make-seeds.py [OUTDIR]     (default: tests/fuzz/seeds)
"""

import json
import os
import struct
import sys

DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}
PACK = {"F32": "<f", "F16": "<e", "F64": "<d"}


def pack_values(dtype, values):
    if dtype == "BF16":
        # bfloat16: the high half of the float32 bits (truncated)
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return b"".join(struct.pack(PACK[dtype], v) for v in values)


def file_bytes(header, data=b"", pad_to=8):
    """A file from a header (a dict, or raw str/bytes kept as is)."""
    if isinstance(header, dict):
        raw = json.dumps(header, separators=(",", ":")).encode()
        if pad_to:
            raw += b" " * (-len(raw) % pad_to)
    elif isinstance(header, str):
        raw = header.encode()
    else:
        raw = header
    return struct.pack("<Q", len(raw)) + raw + data


def valid(tensors, metadata=None, pad_to=8):
    """tensors: list of (name, dtype, shape, values)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        blob = pack_values(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    return file_bytes(header, data, pad_to)


def entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def seeds():
    out = {}
    w = [0.5, -1.25, 3.0, 1e-3, -0.0, 2.0]
    out["valid-small"] = valid(
        [("conv.weight", "F32", [2, 3, 1, 1], w),
         ("conv.bias", "F32", [2], [0.125, -7.0]),
         ("gain", "F32", [], [42.0])],
        {"arch": "dncnn", "receptive_radius": "8", "scale": "0.25"})
    out["valid-dtypes"] = valid(
        [("h", "F16", [4], [1.0, -2.0, 65504.0, 6e-8]),
         ("b", "BF16", [2, 2], [1.0, -3.0, 3.140625, float("inf")]),
         ("d", "F64", [1, 2, 2], [0.1, -1e300, 1e300, 3.0])])
    out["valid-unaligned"] = valid([("x", "F32", [3, 1], [1.5, -2.5, 1e10])],
                                   pad_to=0)
    out["valid-ranks"] = valid(
        [("r0", "F32", [], [1.0]), ("r3", "F32", [1, 2, 1], [1.0, 2.0]),
         ("r5", "F32", [1, 1, 1, 1, 2], [3.0, 4.0]),
         ("empty", "F32", [0, 3], [])])
    out["valid-metadata-only"] = valid([], {"a": "b", "n": "-3", "f": "1e-3"})
    out["valid-empty"] = file_bytes({})

    out["short"] = b"\x08\x00\x00"
    out["header-too-long"] = struct.pack("<Q", 1000) + b"{}"
    out["header-huge"] = b"\xff" * 8 + b"{}"
    out["not-json"] = file_bytes("not json", pad_to=0)
    out["json-array"] = file_bytes("[1,2]")
    out["lenient-json"] = file_bytes("/* c */ {'a':0x10}")
    out["deep"] = file_bytes("[" * 40 + "]" * 40)
    out["duplicate"] = file_bytes(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        '"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}') + b"\0" * 4
    out["nul-escape"] = file_bytes('{"a\\u0000":1}')
    out["surrogates"] = file_bytes('{"\\ud83d\\ude00":1,"x":"\\ud800"}')
    out["big-int"] = file_bytes('{"a":99999999999999999999}')
    out["entry-not-object"] = file_bytes({"a": 5})
    out["entry-missing"] = file_bytes({"a": {"dtype": "F32"}}) + b"\0" * 4
    out["bad-dtype"] = file_bytes({"a": entry("I64", [1], [0, 8])}) + b"\0" * 8
    out["shape-float"] = file_bytes('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}') + b"\0" * 4
    out["shape-negative"] = file_bytes({"a": entry(shape=[-1])}) + b"\0" * 4
    out["shape-overflow"] = file_bytes({"a": entry(shape=[2147483647, 2147483647, 4])}) + b"\0" * 4
    out["shape-size-mismatch"] = file_bytes({"a": entry(shape=[2])}) + b"\0" * 4
    out["offsets-reversed"] = file_bytes({"a": entry(offsets=[4, 0])}) + b"\0" * 4
    out["offsets-beyond"] = file_bytes({"a": entry(offsets=[4, 8])}) + b"\0" * 4
    out["overlap"] = file_bytes({"a": entry(), "b": entry(offsets=[2, 6])}) + b"\0" * 8
    out["hole"] = file_bytes({"a": entry(offsets=[4, 8])}) + b"\0" * 8
    out["trailing"] = file_bytes({"a": entry()}) + b"\0" * 8
    out["metadata-not-string"] = file_bytes({"__metadata__": {"k": 1}})
    out["metadata-not-object"] = file_bytes({"__metadata__": [1]})
    out["rank-9"] = file_bytes({"a": entry(shape=[1] * 9)}) + b"\0" * 4
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "seeds")
    os.makedirs(outdir, exist_ok=True)
    for name, blob in sorted(seeds().items()):
        with open(os.path.join(outdir, name + ".safetensors"), "wb") as f:
            f.write(blob)
    print(f"wrote {len(seeds())} seeds to {outdir}")


if __name__ == "__main__":
    main()
