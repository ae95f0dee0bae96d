#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The effects' parameters at their limits through GIMP (issue 16).

Usage: test-gimp-limits.py PATH/TO/plugin/lisse PATH/TO/lisse [--shipped-models DIR]
                           [--table FILE.md]

The built plug-in is copied to <its directory>/test-gimp-limits/plug-ins/
lisse/lisse, beside a private GIMP profile (kept between runs: GIMP queries
a plug-in only when it changes); tiny random-weight fan18 models are made
here.  One gimp-console run with the python-fu-eval batch interpreter
executes gimp_limits_batch.py, which records what GIMP does; this script
judges it against the registry as `lisse effect --list` prints it:
  - one plug-in-lisse-NAME procedure per effect, whose arguments after
    run-mode, image and drawables are the effect's parameters (int for
    whole numbers, double otherwise) with the core's minimum, maximum and
    default to the last bit, its choice with the registry's nicks and
    default, and its mask or guide;
  - a procedure config refuses a value outside a range (the next double
    beyond either end, NaN, ±inf; ints the next whole number): it keeps
    the value it had;
  - the procedure with every parameter at its minimum, and at its maximum,
    on a float RGBA layer: success, every value finite, colour in [0, 1],
    alpha untouched, the image changed by one of the two;
  - Script-Fu calls with a value just outside each range fail, with
    Script-Fu's message "… out of range: MIN to MAX", whose numbers are
    the range; a string fails with a type error.  Script-Fu in GIMP 3.0.4
    drops a NaN argument (a GLib-CRITICAL) and runs with the default, as it
    does with an unknown choice nick: tried once (the first effect's first
    parameter) and recorded, not judged.
Prints TAP (the plan comes last).
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: lisse_testlib

from lisse_testlib import Tap, import_or_skip, skip_all        # noqa: E402

np, _, _ = import_or_skip("numpy", "cv2", "safetensors.numpy")
import limits_registry as reg                                  # noqa: E402
import limits_scene                                            # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("plugin")
ap.add_argument("lisse")
ap.add_argument("--shipped-models")
ap.add_argument("--table")
ARGS = ap.parse_args()

GIMP = shutil.which("gimp-console-3.0")
if not GIMP:
    skip_all("gimp-console-3.0 is not installed")

tap = Tap(diag_lines=40)


def plugin_dir():
    try:
        libdir = subprocess.run(["pkg-config", "--variable=gimplibdir", "gimp-3.0"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        libdir = ""
    return os.path.join(libdir or "/usr/lib/x86_64-linux-gnu/gimp/3.0", "plug-ins")


def scheme_number(x):
    return reg.number_text(x) if math.isfinite(x) else None


def effect_spec(e, nan_case):
    """What gimp_limits_batch.py tries.  NaN through Script-Fu runs the
    plug-in with the default (GIMP 3.0.4), a whole run: tried once
    (@nan_case), for the record."""
    params = []
    for i, p in enumerate(e.params):
        if p.integer:
            outside = [p.lo - 1, p.hi + 1]
        else:
            outside = [math.nextafter(p.lo, -math.inf), math.nextafter(p.hi, math.inf),
                       math.nan, math.inf, -math.inf]
        sf = [("below min", scheme_number(outside[0])), ("above max", scheme_number(outside[1])),
              ("string", '"abc"')]
        if nan_case and i == 0:
            sf.append(("NaN", "(- (exp 1000.) (exp 1000.))"))
        params.append({"name": p.name, "integer": p.integer, "min": p.lo, "max": p.hi,
                       "outside": outside, "script_fu_outside": sf})
    return {"name": e.name, "aux": e.aux, "params": params}


def run_gimp(effects, tmp, scene):
    home = os.path.join(os.path.dirname(os.path.abspath(ARGS.plugin)), "test-gimp-limits")
    plug_ins, profile = os.path.join(home, "plug-ins"), os.path.join(home, "profile")
    os.makedirs(os.path.join(plug_ins, "lisse"), exist_ok=True)
    os.makedirs(profile, exist_ok=True)
    shutil.copy2(ARGS.plugin, os.path.join(plug_ins, "lisse", "lisse"))
    with open(os.path.join(profile, "gimprc"), "w") as f:
        f.write('(plug-in-path "%s%s%s")\n' % (plug_ins, os.pathsep, plugin_dir()))
    spec_path, result_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "result.json")
    with open(spec_path, "w") as f:
        json.dump({"image": scene.rgba, "guide": scene.guide,
                   "effects": [effect_spec(e, i == 0) for i, e in enumerate(effects)]}, f)
    models = os.path.join(tmp, "models")
    limits_scene.make_models(models, ARGS.shipped_models)
    env = dict(os.environ, GIMP3_DIRECTORY=profile, LISSE_MODEL_PATH=models, LISSE_THREADS="1",
               LIMITS_SPEC=spec_path, LIMITS_RESULT=result_path)
    batch = os.path.join(HERE, "gimp_limits_batch.py")
    p = subprocess.run([GIMP, "-i", "--quit", "--batch-interpreter=python-fu-eval",
                        "-b", f"exec(open({batch!r}).read())"],
                       capture_output=True, text=True, errors="replace", env=env, timeout=600)
    log = p.stdout + p.stderr
    try:
        with open(result_path) as f:
            return json.load(f), log
    except (OSError, ValueError):
        return None, log


NAN_DROPPED = "runs (GIMP drops it with a GLib-CRITICAL; the default is used)"


def close_to_f(text, value):
    """Script-Fu prints the range with %f: six decimals."""
    try:
        return abs(float(text) - value) <= 5e-7 * max(1.0, abs(value))
    except ValueError:
        return False


def judge(e, proc, rows):
    name = "plug-in-lisse-" + e.name
    if not tap(proc and not proc.get("missing") and not proc.get("exception"),
               f"{name}: registered and examined",
               (proc or {}).get("exception") or json.dumps(proc, indent=1)[:3000]):
        return
    args = {a["name"]: a for a in proc["args"]}
    expected = ["run-mode", "image", "drawables"] + [p.name for p in e.params]
    expected += [e.choice.name] if e.choice else []
    expected += [e.aux] if e.aux else []
    bad = []
    if sorted(args) != sorted(expected):
        bad.append(f"arguments {sorted(args)}, expected {sorted(expected)}")
    for p in e.params:
        a = args.get(p.name)
        if not a:
            continue
        want = ("ParamSpecInt" if p.integer else "ParamSpecDouble", p.lo, p.hi, p.default)
        got = (a["kind"], a.get("min"), a.get("max"), a.get("default"))
        if got != want:
            bad.append(f"{p.name}: {got}, core {want}")
    if e.choice:
        a = args.get(e.choice.name, {})
        if a.get("choices") != e.choice.nicks or a.get("default") != e.choice.default:
            bad.append(f"{e.choice.name}: {a.get('choices')} default {a.get('default')}, "
                       f"registry {e.choice.nicks} default {e.choice.default}")
    declared = tap(not bad, f"{name}: arguments are the effect's parameters with the core's "
                   "ranges and defaults exactly, its choice and its "
                   f"{e.aux or 'no mask or guide'}", "\n".join(bad))

    taken = [c for c in proc["config"] if c["after"] != c["before"]]
    config_ok = tap(not taken, f"{name}: a procedure config refuses every value outside a range "
                    "(keeps its value)", json.dumps(taken, indent=1))

    runs_ok = True
    for r in proc["runs"]:
        problems = []
        ends = {p.name: p.lo if r["end"] == "min" else p.hi for p in e.params}
        wrong = {k: v for k, v in r["values"].items() if float(v) != ends.get(k)}
        if wrong:
            problems.append(f"the config holds {wrong}, not {ends}")
        if r["status"] != "success":
            problems.append(f"status {r['status']}: {r['error']}")
        if not r["finite"]:
            problems.append("values not finite")
        lo, hi = r["colour"]
        if not (lo >= 0.0 and hi <= 1.0):
            problems.append(f"colour in [{lo:.4g}, {hi:.4g}]")
        if not r["alpha_change"] <= 1e-6:
            problems.append(f"alpha changed by {r['alpha_change']:.3g}")
        runs_ok &= tap(not problems, f"{name} with every parameter at its {r['end']} "
                       f"({', '.join(f'{k}={v}' for k, v in r['values'].items())}): success, "
                       "output finite, in [0, 1], alpha kept", "\n".join(problems))
    change = max((r["mean_change"] for r in proc["runs"] if r["finite"]), default=0.0)
    tap(change > 1e-3, f"{name}: the runs changed the layer (largest mean |Δ| {change:.4f})",
        "both runs left the layer as it was")

    sf_rows = {}
    for c in proc["script-fu"]:
        p = next(p for p in e.params if p.name == c["param"])
        msg = c["message"] or ""
        if c["label"] in ("below min", "above max"):
            m = re.search(r"out of range: ([-+0-9.e]+) to ([-+0-9.e]+)", msg)
            ok = tap(c["status"] == "error" and m and close_to_f(m.group(1), p.lo)
                     and close_to_f(m.group(2), p.hi),
                     f"Script-Fu {name} #:{p.name} {c['sets'][p.name]} ({c['label']}): refused, "
                     "the message states the range", f"status {c['status']}: {msg}")
        elif c["label"] == "string":
            ok = tap(c["status"] == "error" and "numeric" in msg,
                     f"Script-Fu {name} #:{p.name} \"abc\": refused as not numeric",
                     f"status {c['status']}: {msg}")
        else:
            ok = True   # NaN: GIMP's behaviour, recorded below
        sf_rows.setdefault(p.name, []).append((c["label"], c["status"], msg, ok))

    for p in e.params:
        cells = sf_rows.get(p.name, [])
        refused = [f"{label}: refused" for label, status, _, ok in cells
                   if label != "NaN" and ok]
        wrong = [f"{label}: **{status}**" for label, status, _, ok in cells
                 if label != "NaN" and not ok]
        nan = next((status for label, status, _, _ in cells if label == "NaN"), None)
        example = next((msg for label, _, msg, ok in cells if label == "below min" and ok), "")
        example = example.strip().strip("()").strip()
        rows.append(f"| `{name}` | `{p.name}` | {p.range_text} | "
                    f"{'= core' if declared else '**differs**'} | "
                    f"{'refused' if config_ok else '**taken**'} | "
                    f"{'runs' if runs_ok else '**fails**'} | "
                    f"{'; '.join(refused + wrong)}"
                    + ("" if nan is None else
                       f"; NaN: {NAN_DROPPED if nan == 'ok' else nan}")
                    + (f"; e.g. “{example}”" if example else "") + " |")


def main():
    try:
        entries = reg.read_registry(os.path.abspath(ARGS.lisse))
        problem = None
    except (reg.ListingError, OSError) as e:
        entries, problem = [], str(e)
    effects = [e for e in entries if e.kind == "effect"]
    if not tap(problem is None and effects, f"the registry lists {len(effects)} effects", problem):
        return tap.finish()
    tmp = tempfile.mkdtemp(prefix="lisse-limits-gimp-")
    scene = limits_scene.write_inputs(tmp)
    result, log = run_gimp(effects, tmp, scene)
    if not tap(result is not None and not result.get("error"),
               "gimp-console ran gimp_limits_batch.py to the end",
               (result or {}).get("error") or log[-4000:]):
        return tap.finish()
    rows = ["| procedure | argument | range | declared | config outside | all at min / max "
            "| Script-Fu outside |", "|---|---|---|---|---|---|---|"]
    for e in effects:
        judge(e, result["procs"].get("plug-in-lisse-" + e.name), rows)
    if ARGS.table:
        with open(ARGS.table, "w", encoding="utf-8") as f:
            f.write("<!-- Generated by tests/limits/test-gimp-limits.py --table. -->\n"
                    "GIMP 3.0.4, python-fu-eval batch.  Config outside: the next double "
                    "beyond either end, NaN, ±inf (ints: the next whole number) set on a "
                    "procedure config.  Script-Fu outside: the next double (whole number) "
                    "beyond either end, NaN, a string.\n\n" + "\n".join(rows) + "\n")
    if tap.failed:
        for line in log[-3000:].splitlines():
            print("# " + line)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
