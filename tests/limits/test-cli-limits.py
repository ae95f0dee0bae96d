#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every parameter of every effect and classical filter at its limits,
through `lisse effect` and `lisse filter` (issue 16, "hostile inputs").

Usage: test-cli-limits.py PATH/TO/lisse [--shipped-models DIR] [--table FILE.md]

The parameters come from the registries (`lisse effect --list`, `lisse
filter --list`, read by limits_registry.py), so one added later is tested
without editing this file.  On a tiny RGBA image, with tiny random-weight
fan18-smooth and fan18-detail models made here and the shipped
csgis-texture and mgpnet-texture (--shipped-models; else tiny ones made with
PyTorch, else those cases are skipped), it checks:
  - each parameter at its minimum and at its maximum, the others at their
    defaults, and, under every value of the entry's choice (model, method,
    mode, style) and for the filters that take a guide also with a gray
    and with a colour guide, every parameter at its minimum at once and at
    its maximum at once: exit 0, nothing on stderr, a 32-bit float TIFF of
    the input's size and channels, every value finite, colour in [0, 1]
    (effects; the filters within a small overshoot), alpha untouched;
  - where the method says what a limit means, that it does: RTV and WLS at
    λ = 0 and Content-Aware's foreground mode at gain 0 give the input;
  - each parameter just outside its range (the next double below the
    minimum and above the maximum; for whole-number parameters the next
    whole number and a fraction), farther out, NaN, ±inf, an overflowing
    number, a non-number, an empty value and trailing text, and each choice
    with an unknown, empty, wrong-case or padded name: a non-zero exit, one
    line "lisse: …" on stderr that names the parameter and states its range
    exactly as the listing does (or names the choice and lists its values),
    and no output file, not even a temporary one.
With --table, writes the markdown table of docs/reliability.md's limits
section (entry, parameter, range, what the minimum, the maximum and values
outside get) from what the runs showed.  Prints TAP (the plan comes last).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # tests/: lisse_testlib

from lisse_testlib import Tap, import_or_skip                  # noqa: E402

np, _, _ = import_or_skip("numpy", "cv2", "safetensors.numpy")
import limits_registry as reg                                  # noqa: E402
import limits_scene                                            # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("lisse")
ap.add_argument("--table", help="write the limits table (markdown) here")
ap.add_argument("--shipped-models", help="data/models, for csgis-texture (else made with PyTorch)")
ARGS = ap.parse_args()
LISSE = os.path.abspath(ARGS.lisse)

TMP = tempfile.mkdtemp(prefix="lisse-limits-cli-")
MODELS = os.path.join(TMP, "models")
OUT_DIR = os.path.join(TMP, "out")
os.makedirs(MODELS)
os.makedirs(OUT_DIR)

ENV = dict(os.environ, LISSE_MODEL_PATH=MODELS, LISSE_THREADS="1",
           # lisse re-executes itself to set this when it is unset (lisse.c);
           # set here, each of the several hundred runs starts once.
           OMP_WAIT_POLICY="passive")
ENV.pop("LISSE_NO_REEXEC", None)

# Filters are not clamped (effects are): L0's and the guided filter's
# solutions may overshoot [0, 1] a little at edges (at most 0.04 here, L0 at
# β_max = 1e8); a NaN, an infinity or a blown-up solve is far beyond this.
FILTER_OVERSHOOT = 0.1

tap = Tap()


def lisse(*args):
    p = subprocess.run([LISSE, *map(str, args)], capture_output=True, text=True,
                       errors="replace", env=ENV, timeout=300)
    return p.returncode, p.stderr


def stray_files():
    return sorted(os.listdir(OUT_DIR))


def clean_out():
    for f in os.listdir(OUT_DIR):
        os.unlink(os.path.join(OUT_DIR, f))


# --- the registry ----------------------------------------------------------

try:
    ENTRIES = reg.read_registry(LISSE, ENV)
    problem = None
except (reg.ListingError, OSError, subprocess.SubprocessError) as e:
    ENTRIES, problem = [], str(e)
effects = [e for e in ENTRIES if e.kind == "effect"]
filters = [e for e in ENTRIES if e.kind == "filter"]
n_params = sum(len(e.params) for e in ENTRIES)
tap(problem is None and effects and filters and n_params > 0,
    f"the registries list {len(effects)} effects and {len(filters)} filters with "
    f"{n_params} parameters, every listing line understood", problem)

# --- inputs ------------------------------------------------------------------

scene = limits_scene.write_inputs(TMP)
NO_CSGIS = limits_scene.make_models(MODELS, ARGS.shipped_models)


def needs_csgis(entry, choice):
    """Remove Texture's learned methods, whose models limits_scene makes."""
    return entry.name == "remove-texture" and choice in ("csgis", "mgpnet")


def base_args(entry, choice):
    """The command up to the parameters: entry, choice, mask or guide."""
    args = [entry.kind, entry.name]
    if choice is not None:
        args += ["--choice", choice]
    if entry.aux == "mask":
        args += ["--aux", scene.mask]
    elif entry.aux == "guide":
        args += ["--aux", scene.guide]
    elif entry.guide == "required":
        args += ["--guide", scene.guide]
    return args


def choices_of(entry):
    return entry.choice.nicks if entry.choice else [None]


# --- at the limits -----------------------------------------------------------

# (kind, entry, param) -> {"min": [problems], "max": [problems], "notes": set()}
RESULTS = {}


def result_slot(entry, pname):
    return RESULTS.setdefault((entry.kind, entry.name, pname),
                              {"min": [], "max": [], "notes": set(), "outside": {}})


def check_output(out, entry):
    """Problems with a run's output (empty: none)."""
    got = limits_scene.read_float(out)
    if got is None:
        return ["no output file"]
    src = scene.rgba_float
    if got.shape != src.shape:
        return [f"output {got.shape}, input {src.shape}"]
    problems = []
    if not np.isfinite(got).all():
        problems.append(f"{int((~np.isfinite(got)).sum())} values not finite")
    colour = got[..., :3][np.isfinite(got[..., :3])]
    slack = 0.0 if entry.kind == "effect" else FILTER_OVERSHOOT
    if colour.size and (colour.min() < -slack or colour.max() > 1 + slack):
        problems.append(f"colour in [{colour.min():.4g}, {colour.max():.4g}]")
    alpha = np.abs(got[..., 3] - src[..., 3]).max()
    if not alpha <= 1e-6:
        problems.append(f"alpha changed by {alpha:.3g}")
    return problems


def run_at(entry, choice, sets, label, guide=None):
    """One run in range: its problems, and the output (float) or None."""
    out = os.path.join(OUT_DIR, "out.tif")
    clean_out()
    args = base_args(entry, choice) + (["--guide", guide] if guide else [])
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    rc, err = lisse(*args, "--depth", "32", scene.rgba, out)
    problems = [] if rc == 0 else [f"exit {rc}: {err.strip()}"]
    if rc == 0 and err.strip():
        problems.append(f"stderr: {err.strip()}")
    got = None
    if rc == 0:
        problems += check_output(out, entry)
        got = limits_scene.read_float(out)
    where = f"{entry.kind} {entry.name}" + (f" --choice {choice}" if choice else "")
    tap(not problems, f"{where} {label}: runs, output finite, in range, same size, alpha kept",
        f"lisse {' '.join(map(str, args))}\n" + "\n".join(problems))
    return problems, got


def identity_checks(entry, choice, sets, got, slot_of):
    """The limits whose meaning the method states, wherever a run sets them."""
    for (kind, name, ch, pname, end), why in reg.IDENTITY_AT.items():
        if (kind, name) != (entry.kind, entry.name) or (ch is not None and ch != choice):
            continue
        p = next((p for p in entry.params if p.name == pname), None)
        at_end = p is not None and sets.get(pname) == (p.lo_text if end == "min" else p.hi_text)
        if not at_end or got is None:
            continue
        d = float(np.abs(got[..., :3] - scene.rgba_float[..., :3]).max())
        ok = tap(d <= 1e-5, f"{entry.name}{' ' + choice if choice else ''} with {pname} at its "
                 f"{end} ({len(sets)} parameter(s) set): output equals the input ({why})",
                 f"max |Δ| {d:.3g}")
        slot_of(pname)["notes"].add(f"{end}: output = input" if ok else
                                    f"{end}: output ≠ input (max |Δ| {d:.3g})")


def at_limits(entry):
    """Each parameter at each end under the default choice; under every
    choice value, every parameter at its minimum at once and at its maximum
    at once (an image run costs GEGL's start-up, about 0.3 s of CPU: this
    keeps the runs near a hundred)."""
    slot_of = lambda pname: result_slot(entry, pname)            # noqa: E731
    default = entry.choice.default if entry.choice else None
    guides = [None] + ([scene.gray_guide, scene.guide] if entry.guide == "optional" else [])
    for choice in choices_of(entry):
        if needs_csgis(entry, choice) and NO_CSGIS:
            tap.skip(f"{entry.name} --choice {choice}: {NO_CSGIS}")
            continue
        runs = []
        if choice == default:
            runs += [({p.name: p.lo_text}, "min", None) for p in entry.params]
            runs += [({p.name: p.hi_text}, "max", None) for p in entry.params]
        for guide in guides:
            # The guided paths: a gray guide (bilateral grid, WLS's guide
            # luma) and a colour one (permutohedral lattice).
            for end in ("min", "max") if entry.params else ():
                runs.append(({p.name: p.lo_text if end == "min" else p.hi_text
                              for p in entry.params}, end, guide))
        for sets, end, guide in runs:
            label = (", ".join(f"{k}={v}" for k, v in sets.items()) if len(sets) == 1
                     else f"every parameter at its {end}")
            if guide:
                label += f" --guide {os.path.basename(guide)}"
            problems, got = run_at(entry, choice, sets, label, guide)
            tag = (f"{choice}: " if choice else "") + (
                "" if len(sets) == 1 else f"all at {end}: ") + (
                f"guide {os.path.basename(guide)}: " if guide else "")
            for pname in sets:
                slot_of(pname)[end] += [tag + x for x in problems]
            identity_checks(entry, choice, sets, got, slot_of)


# --- outside -----------------------------------------------------------------

def expect_refusal(entry, args, label, must_name, must_state):
    """A refused run: non-zero exit, one 'lisse: ' line naming @must_name
    and containing @must_state, no output.  Returns (ok, message)."""
    out = os.path.join(OUT_DIR, "refused.tif")
    clean_out()
    rc, err = lisse(*args, "--depth", "32", scene.rgba, out)
    lines = err.strip().splitlines()
    message = lines[0][len("lisse: "):] if len(lines) == 1 and lines[0].startswith("lisse: ") \
        else None
    problems = []
    if rc == 0:
        problems.append("exit 0")
    if message is None:
        problems.append(f"stderr is not one 'lisse: ' line: {err!r}")
    else:
        if f"'{must_name}'" not in message and must_name not in message.split():
            problems.append(f"the message does not name '{must_name}'")
        if must_state not in message:
            problems.append(f"the message does not state {must_state!r}")
    if stray_files():
        problems.append(f"files left: {stray_files()}")
    tap(not problems, f"{entry.kind} {entry.name} {label}: refused, one line naming it "
        f"and stating {must_state}", f"lisse {' '.join(map(str, args))}\nstderr: {err}\n"
        + "\n".join(problems))
    return not problems, message


def outside(entry):
    choice = entry.choice.default if entry.choice else None
    if needs_csgis(entry, choice) and NO_CSGIS:
        choice = None
    for p in entry.params:
        slot = result_slot(entry, p.name)
        for label, text in reg.outside_values(p):
            args = base_args(entry, choice) + ["--set", f"{p.name}={text}"]
            ok, message = expect_refusal(entry, args, f"{p.name}={text!r} ({label})", p.name,
                                         p.range_text)
            slot["outside"][label] = (text, ok, message)
    if entry.choice:
        listed = ", ".join(entry.choice.nicks)
        for label, nick in reg.unknown_choices(entry.choice):
            args = [entry.kind, entry.name, "--choice", nick] + base_args(entry, None)[2:]
            ok, message = expect_refusal(entry, args, f"--choice {nick!r} ({label})",
                                         entry.choice.name, listed)
            result_slot(entry, "--choice " + entry.choice.name)["outside"][label] = \
                (nick, ok, message)


# --- the table ---------------------------------------------------------------

def cell_in_range(problems, notes):
    if problems:
        return "**fails**: " + "; ".join(problems)[:300]
    return "runs" + ("; " + "; ".join(sorted(notes)) if notes else "")


def write_table(path):
    rows = ["| entry | parameter | range | at the minimum | at the maximum | outside "
            "(refused, no output file) |",
            "|---|---|---|---|---|---|"]
    for e in ENTRIES:
        which = f"`lisse {e.kind} {e.name}`"
        for p in e.params:
            s = RESULTS.get((e.kind, e.name, p.name))
            if not s:
                continue
            rng = p.range_text + (" whole" if p.integer else "")
            mins = cell_in_range(s["min"], [n[5:] for n in s["notes"] if n.startswith("min")])
            maxs = cell_in_range(s["max"], [n[5:] for n in s["notes"] if n.startswith("max")])
            outs = s["outside"]
            refused = [label for label, (_, ok, _) in outs.items() if ok]
            failed = [f"{label} `{text}`" for label, (text, ok, _) in outs.items() if not ok]
            example = next((m for label, (_, ok, m) in outs.items()
                            if ok and label in ("just below min", "below min")), None)
            out_cell = (f"all {len(refused)} refused" if not failed else
                        f"**accepted or unclear**: {', '.join(failed)}")
            if example:
                out_cell += f"; e.g. “{example}”"
            rows.append(f"| {which} | `{p.name}` | {rng} | {mins} | {maxs} | {out_cell} |")
        if e.choice:
            s = RESULTS.get((e.kind, e.name, "--choice " + e.choice.name), {"outside": {}})
            outs = s["outside"]
            failed = [label for label, (_, ok, _) in outs.items() if not ok]
            example = next((m for _, (_, ok, m) in outs.items() if ok), None)
            out_cell = (f"unknown, empty, wrong-case, padded names: all refused"
                        if outs and not failed else f"**accepted or unclear**: {failed}")
            if example:
                out_cell += f"; e.g. “{example}”"
            rows.append(f"| {which} | `--choice` ({e.choice.name}) | "
                        f"{', '.join(e.choice.nicks)} | each value: every parameter at its "
                        f"minimum at once | each value: every parameter at its maximum at once "
                        f"| {out_cell} |")
    text = ("<!-- Generated by tests/limits/test-cli-limits.py --table; do not edit by hand. -->\n"
            "Tiny RGBA image (25×18), tiny random-weight fan18 models, the shipped "
            "csgis-texture and mgpnet-texture; outputs written as 32-bit float TIFF. "
            "“runs”: exit 0, output of the input's size, every value finite, colour in [0, 1] "
            f"(filters: within {FILTER_OVERSHOOT} of it), alpha untouched; one parameter at a "
            "time under the default choice, all at once under every choice value (filters "
            "taking a guide: also with a gray and with a colour guide).  Outside: the next double "
            "beyond each end (whole-number parameters: the next whole number, and a fraction), "
            "values farther out, NaN, ±inf, 1e999, a non-number, an empty value, trailing "
            "text.\n\n" + "\n".join(rows) + "\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    for e in ENTRIES:
        at_limits(e)
        outside(e)
    if ARGS.table:
        write_table(ARGS.table)
        tap(os.path.getsize(ARGS.table) > 0, f"the limits table is written to {ARGS.table}")
    if not tap.failed:
        shutil.rmtree(TMP, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
