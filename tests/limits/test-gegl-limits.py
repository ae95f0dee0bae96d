#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every parameter of every Lisse GEGL operation at its limits (issue 16).

Usage: test-gegl-limits.py PATH/TO/lisse PATH/TO/lisse-gegl.so GEGL-PLUGINS-DIR
                           [--shipped-models DIR] [--table FILE.md]

The effects and filters come from the registries (`lisse effect --list`,
`lisse filter --list`); the ops from GEGL itself (every registered
lisse:* operation), through PyGObject in one process.  It checks:
  - every effect has its op lisse:NAME and every filter exactly one op
    (found by the filter's title and paper in the op's description), and
    no lisse:* op is left over;
  - each op's properties are exactly the entry's parameters, int for the
    whole-number ones and double for the others, with the core's minimum,
    maximum and default to the last bit, and the choice as an enum with
    the registry's nicks in order and its default;
  - GObject refuses values outside the declared range (the next double
    beyond either end, NaN, ±inf; for ints the next whole number): the
    property keeps its value;
  - on a tiny RGBA image (with a half mask for Content-Aware and a guide for
    Joint Filter), each property at its minimum and at its maximum under the
    default choice, and under every choice value all at their minimum and
    all at their maximum: no warning from the op (which would mean the
    input was passed through unchanged), every value finite, colour in
    [0, 1] (effects; filters within a small overshoot), alpha untouched,
    the limits whose meaning the method states (limits_registry.py) give
    the input back, and some run changes the image (the op did run).
Models: tiny random-weight fan18 ones made here, csgis-texture and
mgpnet-texture from --shipped-models (else made with PyTorch, else skipped).  With --table,
writes a markdown summary per op.  Prints TAP (the plan comes last).
"""

import argparse
import math
import os
import shutil
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: lisse_testlib

from lisse_testlib import Tap, gegl_api, import_or_skip       # noqa: E402

np, _, _ = import_or_skip("numpy", "cv2", "safetensors.numpy")
import limits_registry as reg                                  # noqa: E402
import limits_scene                                            # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("lisse")
ap.add_argument("module")
ap.add_argument("gegl_plugins_dir")
ap.add_argument("--shipped-models")
ap.add_argument("--table")
ARGS = ap.parse_args()

TMP = tempfile.mkdtemp(prefix="lisse-limits-gegl-")
MODELS = os.path.join(TMP, "models")
NO_CSGIS = limits_scene.make_models(MODELS, ARGS.shipped_models)
# Before GEGL loads the module: the ops read these when they run.
os.environ["GEGL_PATH"] = os.pathsep.join([ARGS.gegl_plugins_dir,
                                           os.path.dirname(os.path.abspath(ARGS.module))])
os.environ["LISSE_MODEL_PATH"] = MODELS
os.environ["LISSE_THREADS"] = "1"
os.environ.pop("GEGL_MIPMAP_RENDERING", None)

FILTER_OVERSHOOT = 0.1      # as test-cli-limits.py: L0 and guided overshoot a little
FORMAT = "R'G'B'A float"

tap = Tap()
scene = limits_scene.write_inputs(TMP)
H, W = scene.rgba_float.shape[:2]

try:
    ENTRIES = reg.read_registry(os.path.abspath(ARGS.lisse))
    problem = None
except (reg.ListingError, OSError) as e:
    ENTRIES, problem = [], str(e)
tap(problem is None and ENTRIES, f"the registries list {len(ENTRIES)} effects and filters",
    problem)

Gegl = gegl_api(tap)
if Gegl is None:
    tap.finish()
    sys.exit(0)
from gi.repository import GLib                                 # noqa: E402

# Warnings of the ops (lisse-gegl): a failed run logs one and passes the
# input through.
OP_WARNINGS = []
GLib.log_set_handler("lisse-gegl",
                     GLib.LogLevelFlags.LEVEL_WARNING | GLib.LogLevelFlags.LEVEL_CRITICAL,
                     lambda domain, level, message, *data: OP_WARNINGS.append(message), None)

# entry key -> {"op", "declared": [problems], "refused": [problems], "runs": [problems]}
SUMMARY = {}


# --- which op is which entry -------------------------------------------------

def find_ops():
    ops = sorted(o for o in Gegl.list_operations() if o.startswith("lisse:"))
    found = {}
    for e in ENTRIES:
        if e.kind == "effect":
            matches = [o for o in ops if o == "lisse:" + e.name]
        else:
            needle = f"{e.title} ({e.reference})"
            matches = [o for o in ops if o[6:] not in {x.name for x in ENTRIES
                                                        if x.kind == "effect"}
                       and needle in (Gegl.Operation.get_key(o, "description") or "")]
        tap(len(matches) == 1, f"{e.kind} {e.name} has one GEGL op: {', '.join(matches) or 'none'}",
            f"lisse:* ops: {ops}")
        if len(matches) == 1:
            found[(e.kind, e.name)] = matches[0]
    left = sorted(set(ops) - set(found.values()))
    tap(not left, "every lisse:* op belongs to an effect or a filter", f"left over: {left}")
    return found


# --- declared ranges ---------------------------------------------------------

def enum_nicks(pspec):
    import gi._gi as gi_internal
    cls = pspec.value_type.pytype or gi_internal.enum_add(pspec.value_type)
    values = cls.__enum_values__
    return [values[i].value_nick for i in sorted(values)], values


def check_declared(e, op, summary):
    pspecs = {p.name: p for p in Gegl.Operation.list_properties(op)}
    numeric = {n for n, p in pspecs.items() if type(p).__name__ in ("ParamDouble", "ParamInt")}
    bad = []
    if numeric != {p.name for p in e.params}:
        bad.append(f"numeric properties {sorted(numeric)}, parameters "
                   f"{sorted(p.name for p in e.params)}")
    for p in e.params:
        ps = pspecs.get(p.name)
        if ps is None:
            continue
        kind = "ParamInt" if p.integer else "ParamDouble"
        got = (type(ps).__name__, ps.minimum, ps.maximum, ps.default_value)
        want = (kind, p.lo, p.hi, p.default)
        if got != want:
            bad.append(f"{p.name}: {got}, core {want}")
    enums = {n: p for n, p in pspecs.items() if type(p).__name__ == "ParamEnum"}
    if e.choice:
        ps = enums.get(e.choice.name)
        if ps is None:
            bad.append(f"no enum property {e.choice.name}")
        else:
            nicks, values = enum_nicks(ps)
            default = values[ps.default_value].value_nick if ps.default_value in values else None
            if nicks != e.choice.nicks or default != e.choice.default:
                bad.append(f"{e.choice.name}: {nicks} default {default}, registry "
                           f"{e.choice.nicks} default {e.choice.default}")
    elif enums:
        bad.append(f"enum properties {sorted(enums)} where the {e.kind} has no choice")
    tap(not bad, f"{op}: properties are the {e.kind}'s parameters, with its ranges and defaults "
        "exactly" + (f", and its {e.choice.name} as an enum" if e.choice else ""), "\n".join(bad))
    summary["declared"] += bad


def outside_numbers(p):
    if p.integer:
        return [p.lo - 1, p.hi + 1]
    return [math.nextafter(p.lo, -math.inf), math.nextafter(p.hi, math.inf),
            math.nan, math.inf, -math.inf]


def check_refusals(e, op, summary):
    node = Gegl.Node()
    node.set_property("operation", op)
    bad = []
    for p in e.params:
        for v in outside_numbers(p):
            value = int(v) if p.integer else v
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                try:
                    node.set_property(p.name, value)
                except (TypeError, ValueError, OverflowError):
                    pass        # refused by PyGObject's conversion: as good
            got = node.get_property(p.name)
            if got != p.default:
                bad.append(f"{p.name} = {value!r} was taken (reads {got!r})")
                node.set_property(p.name, int(p.default) if p.integer else p.default)
    tap(not bad, f"{op}: values outside each range (next double beyond either end, NaN, "
        "±inf; next whole number) are refused, the property keeps its value", "\n".join(bad))
    summary["refused"] += bad


# --- runs --------------------------------------------------------------------

def buffer_from(array, fmt):
    h, w = array.shape[:2]
    buf = Gegl.Buffer.new(fmt, 0, 0, w, h)
    buf.set(Gegl.Rectangle.new(0, 0, w, h), fmt, np.ascontiguousarray(array, np.float32).tobytes())
    return buf


def inputs():
    guide = limits_scene.read_float(scene.guide)
    guide = np.concatenate([guide, np.ones((H, W, 1), np.float32)], -1)
    return {"input": buffer_from(scene.rgba_float, FORMAT),
            "mask": buffer_from(limits_scene.read_float(scene.mask), "Y float"),
            "guide": buffer_from(guide, FORMAT)}


BUFFERS = inputs()


def run_op(e, op, values, choice_value):
    """@values: {property: value}; @choice_value: the enum member or None.
    Returns (problems, output)."""
    graph = Gegl.Node()
    src = graph.create_child("gegl:buffer-source")
    src.set_property("buffer", BUFFERS["input"])
    node = graph.create_child(op)
    for k, v in values.items():
        node.set_property(k, v)
    # A value GObject refused (a declared range narrower than the core's)
    # would leave the default in place and the run would prove nothing.
    held = {k: node.get_property(k) for k in values}
    if choice_value is not None:
        node.set_property(e.choice.name, choice_value)
    src.connect_to("output", node, "input")
    if e.aux:
        aux = graph.create_child("gegl:buffer-source")
        aux.set_property("buffer", BUFFERS[e.aux])
        aux.connect_to("output", node, "aux")
    rect = Gegl.Rectangle.new(0, 0, W, H)
    out = Gegl.Buffer.new(FORMAT, 0, 0, W, H)
    del OP_WARNINGS[:]
    node.blit_buffer(out, rect, 0, Gegl.AbyssPolicy.NONE)
    got = np.frombuffer(out.get(rect, 1.0, FORMAT, Gegl.AbyssPolicy.NONE),
                        np.float32).reshape(H, W, 4)
    problems = [f"warning: {w}" for w in OP_WARNINGS]
    if held != values:
        problems.append(f"the op holds {held}, not {values}")
    if not np.isfinite(got).all():
        problems.append(f"{int((~np.isfinite(got)).sum())} values not finite")
    colour = got[..., :3][np.isfinite(got[..., :3])]
    slack = 0.0 if e.kind == "effect" else FILTER_OVERSHOOT
    if colour.size and (colour.min() < -slack or colour.max() > 1 + slack):
        problems.append(f"colour in [{colour.min():.4g}, {colour.max():.4g}]")
    alpha = float(np.abs(got[..., 3] - scene.rgba_float[..., 3]).max())
    if not alpha <= 1e-6:
        problems.append(f"alpha changed by {alpha:.3g}")
    return problems, got


def property_value(p, end):
    v = p.lo if end == "min" else p.hi
    return int(v) if p.integer else v


def check_runs(e, op, summary):
    choices = [(None, None)]
    if e.choice:
        ps = next(p for p in Gegl.Operation.list_properties(op) if p.name == e.choice.name)
        nicks, values = enum_nicks(ps)
        choices = [(values[i].value_nick, values[i]) for i in sorted(values)]
    largest_change = 0.0
    for nick, member in choices:
        if e.name == "remove-texture" and nick in ("csgis", "mgpnet") and NO_CSGIS:
            tap.skip(f"{op} {nick}: {NO_CSGIS}")
            continue
        runs = []
        if nick is None or nick == e.choice.default:
            runs += [({p.name: property_value(p, end)}, end) for p in e.params
                     for end in ("min", "max")]
        runs += [({p.name: property_value(p, end) for p in e.params}, end)
                 for end in ("min", "max") if e.params]
        for values, end in runs:
            problems, got = run_op(e, op, values, member)
            what = (", ".join(f"{k}={v}" for k, v in values.items()) if len(values) == 1
                    else f"every property at its {end}")
            where = f"{op}" + (f" {e.choice.name}={nick}" if nick else "")
            tap(not problems, f"{where} {what}: runs, output finite, in range, alpha kept",
                "\n".join(problems))
            summary["runs"] += [f"{nick or ''} {what}: {x}" for x in problems]
            if np.isfinite(got).all():
                largest_change = max(largest_change, float(
                    np.abs(got[..., :3] - scene.rgba_float[..., :3]).mean()))
            for (kind, name, ch, pname, pend), why in reg.IDENTITY_AT.items():
                p = next((p for p in e.params if p.name == pname), None)
                if ((kind, name) != (e.kind, e.name) or (ch is not None and ch != nick)
                        or p is None or values.get(pname) != property_value(p, pend)):
                    continue
                d = float(np.abs(got[..., :3] - scene.rgba_float[..., :3]).max())
                tap(d <= 1e-5, f"{where} {what}: output equals the input ({why})",
                    f"max |Δ| {d:.3g}")
    # A pass-through without a warning would pass every check above.
    tap(largest_change > 1e-3, f"{op}: the runs changed the image (largest mean |Δ| "
        f"{largest_change:.4f})", "every run gave the input back")


def write_table(path, ops):
    rows = ["| GEGL op | entry | declared ranges = the core's | outside values | "
            "at the limits |", "|---|---|---|---|---|"]
    for e in ENTRIES:
        s = SUMMARY.get((e.kind, e.name))
        if not s:
            continue
        declared = "yes, exactly" if not s["declared"] else "**no**: " + "; ".join(s["declared"])
        refused = ("refused (the property keeps its value)" if not s["refused"]
                   else "**taken**: " + "; ".join(s["refused"]))
        runs = ("runs, output finite and in range" if not s["runs"]
                else "**fails**: " + "; ".join(s["runs"])[:300])
        rows.append(f"| `{ops[(e.kind, e.name)]}` | {e.kind} {e.name} | {declared} | {refused} "
                    f"| {runs} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("<!-- Generated by tests/limits/test-gegl-limits.py --table. -->\n"
                "Each property at each end (default choice), all at once at each end under "
                "every choice value; outside: the next double beyond either end, NaN, ±inf "
                "(ints: the next whole number), set through GObject.\n\n"
                + "\n".join(rows) + "\n")


def main():
    ops = find_ops()
    for e in ENTRIES:
        op = ops.get((e.kind, e.name))
        if not op:
            continue
        summary = SUMMARY[(e.kind, e.name)] = {"declared": [], "refused": [], "runs": []}
        check_declared(e, op, summary)
        check_refusals(e, op, summary)
        check_runs(e, op, summary)
    if ARGS.table:
        write_table(ARGS.table, ops)
    if not tap.failed:
        shutil.rmtree(TMP, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
