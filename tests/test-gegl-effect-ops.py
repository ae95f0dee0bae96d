#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the GEGL operations for Lisse's effects (core/gegl/effect-ops.c)
through the `gegl` command-line tool, against `lisse effect`.

Usage: test-gegl-effect-ops.py PATH/TO/lisse PATH/TO/lisse-gegl.so GEGL-PLUGINS-DIR

Models come from LISSE_MODEL_PATH, as given: every model an effect offers
must be there, or the test FAILS and says which is missing.  The one
exception is Remove Texture's learned methods' csgis-texture and
mgpnet-texture: tiny random-weight ones are made here (PyTorch, lisse_train's
exporters) in a folder put in front of the path, so that the op runs the
method's code fast, whatever is trained.  GEGL_PATH is
set to GEGL's own operations plus the directory of the built module.
For every effect of `lisse effect --list` it checks:
  - `gegl --exists lisse:NAME` (all in one call);
  - `gegl --info`: name, title, categories, description, licence and the
    GIMP menu keys; properties named, typed and defaulted as the effect's
    parameters, plus its choice as an enum; with PyGObject, the exact
    ranges, the enum's number of values and default, and an "aux" pad on
    exactly the effects that take a mask or guide;
  - a run on a procedural image (shapes, noise, an alpha ramp) with
    non-default parameters and, where there is one, a non-default choice:
    same size, alpha untouched, colour equal to `lisse effect` with the
    same settings within 1/255, and changed;
  - content-aware with `aux=[ load path=mask.png ]` and without a mask
    (automatic saliency), joint-filter with a gray and a colour guide,
    and with its learned method (learned-rtv) under the colour guide;
    joint-filter without its required guide passes the input through and
    warns; an effect whose model is not found does the same; remove-texture
    with method=csgis and method=mgpnet (against `lisse effect`), and
    without their models (a warning naming it, the input passed through);
  - zoomed-out rendering (GEGL_MIPMAP_RENDERING=1, `gegl -s 0.5`, GEGL
    level 1): the op's own debug log (G_MESSAGES_DEBUG=lisse-gegl) shows it
    ran once, at level 1 on the half-size buffer with scale 0.5, never at
    level 0; the output is half-size; for smooth (no spatial parameters,
    so the scale changes nothing) it equals `lisse effect smooth` on the
    half-size image GEGL feeds the op;
  - a gray source (smooth, pencil-sketch): the op runs once on Y'A, the
    engine's gray path, and equals `lisse effect` on the gray file within
    1/255 (as the plug-in treats a gray layer).
Prints TAP (the plan comes last).
"""

import os
import re
import shutil
import sys
import tempfile

from lisse_testlib import Tap, check_output, close, gegl_api, gegl_setup, import_or_skip, \
    parse_gegl_info, read_unit, shapes_rgba8
import lisse_testlib

np, cv2 = import_or_skip("numpy", "cv2")
LISSE, GEGL = gegl_setup("test-gegl-effect-ops.py")
MODEL_PATH = os.environ.get("LISSE_MODEL_PATH", "")
TMP = tempfile.mkdtemp(prefix="lisse-gegl-effect-test-")

# effect -> (parameters to set, choice to set or None): non-default values,
# and a non-default choice where the effect has more than one.
RUNS = {
    "smooth": ({"lambda-f": "2", "lambda-e": "0.2"}, None),
    "magnify-detail": ({"lambda-f": "2", "gain": "3"}, None),
    "remove-texture": ({"texture-scale": "2", "strength": "1.5"}, "rolling-guidance"),
    "content-aware": ({"lambda-background": "3", "gain": "3"}, None),
    "joint-filter": ({"radius": "3", "range": "0.15"}, "joint-bilateral"),
    "abstraction": ({"lambda-f": "1.5", "edge-sigma": "1.5", "levels": "8"}, None),
    "pencil-sketch": ({"stroke-length": "8", "line-strength": "1.5"}, "colour"),
    "fast-filter": ({"strength": "2"}, None),
}
AUX_EFFECTS = {"content-aware": "mask", "joint-filter": "guide"}
# Run on a gray source too: a network effect and a classical one.
GRAY_RUNS = ("smooth", "pencil-sketch")
MENU_PATH = "<Image>/Filters/Lisse"

tap = Tap()


def run(*args, env=None):
    return lisse_testlib.run(*args, env=env, timeout=240)


def run_all(commands):
    return lisse_testlib.run_all(commands, timeout=240)


def make_images(w=128, h=96):
    """in.png: flat shapes with sharp edges, noise, alpha rising left to
    right; mask.png: a binary disc (binary, so that linear and non-linear
    readings of it agree); guide-gray.png / guide-rgb.png: the shapes
    without noise, moved a little, as a flash image would differ."""
    shapes = shapes_rgba8(w, h)
    cv2.imwrite(os.path.join(TMP, "in.png"), shapes)
    cv2.imwrite(os.path.join(TMP, "in-gray.png"), cv2.cvtColor(shapes[..., :3], cv2.COLOR_BGR2GRAY))
    # Twice the size (256×192 > LISSE_DRAFT_PIXELS): large enough to draft.
    cv2.imwrite(os.path.join(TMP, "in-big.png"), shapes_rgba8(2 * w, 2 * h))
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (94, 48), 28, 255, -1)
    cv2.imwrite(os.path.join(TMP, "mask.png"), mask)
    guide = np.full((h, w, 3), (0.5, 0.45, 0.4), np.float32)
    cv2.rectangle(guide, (12, 14), (60, 72), (0.2, 0.3, 0.95), -1)
    cv2.circle(guide, (92, 46), 22, (0.9, 0.6, 0.1), -1)
    guide8 = np.clip(guide * 255 + 0.5, 0, 255).astype(np.uint8)
    cv2.imwrite(os.path.join(TMP, "guide-rgb.png"), guide8)
    cv2.imwrite(os.path.join(TMP, "guide-gray.png"), cv2.cvtColor(guide8, cv2.COLOR_BGR2GRAY))


def parse_effect_list(text):
    """`lisse effect --list` -> {effect: {"params": {name: (min, max, default,
    integer)}, "choice": (name, [nicks], default index) or None, "title": str}}."""
    specs, current = {}, None
    head = re.compile(r"^(\S+)\s+(.*?) \(")
    param = re.compile(r"^\s+(\S+)\s+.*? in \[([^,\]]+), ([^\]]+)\], default ([^\s,]+)"
                       r"(, whole numbers)?")
    choice = re.compile(r"^\s+--choice \((\S+)\):")
    value = re.compile(r"^\s{6}(\S+)\s+.*?( \(default\))?$")
    for line in text.splitlines():
        m = head.match(line)
        if m:
            current = specs[m.group(1)] = {"params": {}, "choice": None, "title": m.group(2)}
            continue
        if current is None:
            continue
        m = param.match(line)
        if m:
            current["params"][m.group(1)] = (float(m.group(2)), float(m.group(3)),
                                             float(m.group(4)), bool(m.group(5)))
            continue
        m = choice.match(line)
        if m:
            current["choice"] = (m.group(1), [], 0)
            continue
        m = value.match(line)
        if m and current["choice"]:
            name, nicks, default = current["choice"]
            if m.group(2):
                default = len(nicks)
            nicks.append(m.group(1))
            current["choice"] = (name, nicks, default)
    return specs


def find_models(specs):
    """Every model the effects offer (their "model" choices, and Fast
    Filter's fang19-<filter>), and the ones that are not in LISSE_MODEL_PATH."""
    wanted = sorted({nick for s in specs.values() if s["choice"] and s["choice"][0] == "model"
                     for nick in s["choice"][1]}
                    | {"fang19-" + nick for nick in specs.get("fast-filter", {}).get("choice", ("", []))[1]})
    dirs = [d for d in MODEL_PATH.split(os.pathsep) if d]
    missing = [m for m in wanted
               if not any(os.path.isfile(os.path.join(d, m + ".safetensors")) for d in dirs)]
    return wanted, missing


def check_info(name, spec, r):
    keys, props = parse_gegl_info(r.stdout)
    op = f"lisse:{name}"
    tap(r.returncode == 0 and keys.get("name") == op
        and keys.get("gimp:menu-path") == MENU_PATH
        and keys.get("gimp:menu-label") == spec["title"] + "…"
        and keys.get("title") == spec["title"]
        and keys.get("license") == "GPL3+"
        and keys.get("categories") and keys.get("description"),
        f"gegl --info {op}: name, title, categories, description, licence, GIMP menu keys",
        r.stdout + r.stderr)
    # "draft": the previews' quick mode (core/effects/draft.c), off by default.
    expected = (set(spec["params"]) | ({spec["choice"][0]} if spec["choice"] else set())
                | {"draft"})
    tap(set(props) == expected, f"{op} properties are the effect's {sorted(expected)}",
        f"gegl --info: {sorted(props)}")
    bad = []
    for pname, (lo, hi, default, integer) in spec["params"].items():
        if pname not in props:
            continue
        ptype, shown = props[pname]
        if ptype != ("gint" if integer else "gdouble"):
            bad.append(f"{pname}: type {ptype}")
        # --info prints %f: compare to 6 decimals.
        if shown is None or abs(float(shown) - default) > 5e-7 * max(1.0, abs(default)):
            bad.append(f"{pname}: default {shown}, effect {default}")
    dtype, dshown = props.get("draft", ("missing", None))
    if dtype != "gboolean" or dshown not in ("False", "FALSE", "false", "0"):
        bad.append(f"draft: type {dtype}, default {dshown}")
    if spec["choice"]:
        ptype = props.get(spec["choice"][0], ("missing", None))[0]
        if not ptype.startswith("LisseGeglEffect"):
            bad.append(f"{spec['choice'][0]}: type {ptype}, not the op's enum")
    tap(not bad, f"{op} property types and defaults equal the effect's", "\n".join(bad))


def check_api(specs):
    """Exact ranges, the choice enums and the aux pads through GEGL's API."""
    Gegl = gegl_api(tap)
    if Gegl is None:
        return
    for name, spec in specs.items():
        op = f"lisse:{name}"
        bad = []
        pspecs = {p.name: p for p in Gegl.Operation.list_properties(op)}
        for pname, (lo, hi, default, _) in spec["params"].items():
            p = pspecs.get(pname)
            if p is None:
                bad.append(f"{pname}: missing")
            elif not (close(p.minimum, lo) and close(p.maximum, hi)
                      and close(p.default_value, default)):
                bad.append(f"{pname}: [{p.minimum}, {p.maximum}] default {p.default_value}, "
                           f"effect [{lo}, {hi}] default {default}")
        if spec["choice"]:
            cname, nicks, default = spec["choice"]
            p = pspecs.get(cname)
            if p is None or not hasattr(p, "enum_class"):
                bad.append(f"{cname}: not an enum property")
            elif p.enum_class.n_values != len(nicks) or p.default_value != default:
                bad.append(f"{cname}: {p.enum_class.n_values} values, default {p.default_value}; "
                           f"effect {len(nicks)} values, default {default}")
        tap(not bad, f"{op} ranges, defaults and choice enum equal the effect's (GEGL API)",
            "\n".join(bad))
        node = Gegl.Node()
        node.set_property("operation", op)
        tap(node.has_pad("aux") == (name in AUX_EFFECTS),
            f"{op} has an aux pad" if name in AUX_EFFECTS else f"{op} has no aux pad",
            f"has_pad('aux') = {node.has_pad('aux')}")


def compare(what, produced, expected, source, expect_change=True):
    """The gegl output against `lisse effect`'s (or, with expected None,
    against the input: a pass-through)."""
    a, src = read_unit(produced), read_unit(source)
    b = read_unit(expected) if expected else src
    if a is None or b is None:
        tap(False, f"{what}: outputs written",
            f"gegl: {'ok' if a is not None else 'missing'}; "
            f"reference: {'ok' if b is not None else 'missing'}")
        return
    check_output(tap, what, a, b, src, "`lisse effect`" if expected else "the input", "reference",
                 "changed" if expect_change else None)


# Remove Texture's learned methods: method → (model, maker)
LEARNED = {"csgis": ("csgis-texture", lisse_testlib.tiny_csgis_model),
           "mgpnet": ("mgpnet-texture", lisse_testlib.tiny_mgpnet_model)}
LEARNED_READY = []


def make_learned_models():
    """The learned methods' models with random weights in TMP/learned-models,
    put first in LISSE_MODEL_PATH for every run; a skip without PyTorch."""
    folder = os.path.join(TMP, "learned-models")
    os.mkdir(folder)
    for method, (model, make) in LEARNED.items():
        try:
            make(os.path.join(folder, model + ".safetensors"), 5)
        except ImportError as e:
            tap.skip(f"remove-texture method={method}: missing Python module {e.name}")
            continue
        LEARNED_READY.append(method)
    os.environ["LISSE_MODEL_PATH"] = os.pathsep.join([folder] + ([MODEL_PATH] if MODEL_PATH
                                                                 else []))


def main():
    make_images()
    make_learned_models()
    src = os.path.join(TMP, "in.png")
    half_in = os.path.join(TMP, "half-in.png")
    r = run(LISSE, "effect", "--list")
    specs = parse_effect_list(r.stdout)
    if not tap(r.returncode == 0 and set(RUNS) <= set(specs),
               "lisse effect --list names every effect this test runs",
               r.stdout + r.stderr):
        tap.plan()
        return 1
    wanted, missing = find_models(specs)
    tap(not missing, f"the models {', '.join(wanted)} are in LISSE_MODEL_PATH",
        f"not found: {', '.join(missing)} (LISSE_MODEL_PATH={MODEL_PATH!r}); "
        "the effects that use them cannot be checked")
    r = run(GEGL, "--exists", *[f"lisse:{name}" for name in specs])
    if not tap(r.returncode == 0, "gegl --exists " + " ".join(f"lisse:{n}" for n in specs),
               r.stderr):
        tap.plan()
        return 1

    mip = {"GEGL_MIPMAP_RENDERING": "1", "G_MESSAGES_DEBUG": "lisse-gegl"}
    jobs = {}

    def add(key, op_args, cli_args, gegl_env=None, cli_env=None):
        """One gegl run and, when @cli_args, the `lisse effect` run to match."""
        jobs[("gegl", key)] = ([GEGL, src, "-o", os.path.join(TMP, f"gegl-{key}.png"),
                                "--", *op_args], gegl_env)
        if cli_args is not None:
            jobs[("lisse", key)] = ([LISSE, "effect", *cli_args, "--depth", "16", src,
                                     os.path.join(TMP, f"lisse-{key}.png")], cli_env)

    for name in specs:
        jobs[("info", name)] = ([GEGL, "--info", f"lisse:{name}"], None)
    for name, (sets, choice) in RUNS.items():
        cname = specs[name]["choice"][0] if specs[name]["choice"] else None
        props = [f"{k}={v}" for k, v in sets.items()]
        cli = [name] + [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
        if choice:
            props.append(f"{cname}={choice}")
            cli += ["--choice", choice]
        if name == "content-aware":
            mask = os.path.join(TMP, "mask.png")
            add(name, [f"lisse:{name}", *props, "aux=[", "load", f"path={mask}", "]"],
                cli + ["--aux", mask])
            add(name + "-saliency", [f"lisse:{name}", *props], cli)
        elif name == "joint-filter":
            for kind in ("gray", "rgb"):
                guide = os.path.join(TMP, f"guide-{kind}.png")
                add(f"{name}-{kind}",
                    [f"lisse:{name}", *props, "aux=[", "load", f"path={guide}", "]"],
                    cli + ["--aux", guide])
            add(name + "-no-guide", [f"lisse:{name}", *props], None)
        else:
            add(name, [f"lisse:{name}", *props], cli)
    # A model that is not installed: the op warns and passes its input through.
    empty = os.path.join(TMP, "no-models")
    os.mkdir(empty)
    add("smooth-no-model", ["lisse:smooth"], None, {"LISSE_MODEL_PATH": empty})
    # Remove Texture's learned methods, with the random models made in main(),
    # and without them.
    for method in LEARNED_READY:
        add(f"remove-texture-{method}", ["lisse:remove-texture", "strength=1.5", "ensemble=2",
                                         f"method={method}"],
            ["remove-texture", "--set", "strength=1.5", "--set", "ensemble=2", "--choice", method])
        add(f"remove-texture-{method}-no-model", ["lisse:remove-texture", f"method={method}"],
            None, {"LISSE_MODEL_PATH": empty})
    # Joint Filter's learned method (fang19-rtv, shipped) under a colour guide.
    guide = os.path.join(TMP, "guide-rgb.png")
    add("joint-filter-learned",
        ["lisse:joint-filter", "radius=6", "method=learned-rtv", "aux=[", "load", f"path={guide}", "]"],
        ["joint-filter", "--set", "radius=6", "--choice", "learned-rtv", "--aux", guide])
    # GEGL level 1: `gegl -s 0.5` with mipmap rendering on.
    for name in ("smooth", "abstraction"):
        jobs[("gegl-half", name)] = ([GEGL, src, "-s", "0.5", "-o",
                                      os.path.join(TMP, f"half-gegl-{name}.png"), "--",
                                      f"lisse:{name}"], mip)
    # A gray source: the op must take the engine's gray path (Y'A), as the
    # plug-in and `lisse effect` do on a gray layer.
    gray_src = os.path.join(TMP, "in-gray.png")
    for name in GRAY_RUNS:
        jobs[("gegl-gray", name)] = ([GEGL, gray_src, "-o", os.path.join(TMP, f"gray-gegl-{name}.png"),
                                      "--", f"lisse:{name}"], {"G_MESSAGES_DEBUG": "lisse-gegl"})
        jobs[("lisse-gray", name)] = ([LISSE, "effect", name, "--depth", "16", gray_src,
                                       os.path.join(TMP, f"gray-lisse-{name}.png")], None)
    # draft=true: the previews' draft (core/effects/draft.c), shrunk 2× here.
    big = os.path.join(TMP, "in-big.png")
    jobs[("gegl-draft", "smooth")] = ([GEGL, big, "-o", os.path.join(TMP, "draft-gegl.png"), "--",
                                       "lisse:smooth", "draft=true"],
                                      {"G_MESSAGES_DEBUG": "lisse-gegl"})
    jobs[("lisse-big", "smooth")] = ([LISSE, "effect", "smooth", "--depth", "16", big,
                                      os.path.join(TMP, "big-lisse.png")], None)
    # The half-size image GEGL hands an op at level 1.
    jobs[("half-in", None)] = ([GEGL, src, "-s", "0.5", "-o", half_in, "--", "gegl:nop"],
                               {"GEGL_MIPMAP_RENDERING": "1"})
    done = run_all(jobs)
    r = done[("half-in", None)]
    half_ok = tap(r.returncode == 0 and os.path.exists(half_in),
                  "gegl renders the level-1 mipmap of the test image", r.stderr)
    if half_ok:
        done[("lisse-half", "smooth")] = run(
            LISSE, "effect", "smooth", "--depth", "16", half_in,
            os.path.join(TMP, "half-lisse-smooth.png"))

    for name, spec in specs.items():
        check_info(name, spec, done[("info", name)])
    check_api(specs)

    for key in [k for (kind, k) in jobs if kind == "gegl"]:
        rg = done[("gegl", key)]
        rl = done.get(("lisse", key))
        produced = os.path.join(TMP, f"gegl-{key}.png")
        op = f"lisse:{key}"
        if key == "joint-filter-no-guide":
            tap(rg.returncode == 0 and "no guide connected" in rg.stderr,
                "lisse:joint-filter without a guide warns and runs", rg.stderr)
            compare("lisse:joint-filter without a guide", produced, None, src, False)
            continue
        if key.endswith("-no-model"):
            method = key[len("remove-texture-"):-len("-no-model")]
            op, model = (("lisse:smooth", "fan18-smooth") if key == "smooth-no-model"
                         else (f"lisse:remove-texture method={method}", LEARNED[method][0]))
            tap(rg.returncode == 0 and "passed through" in rg.stderr and model in rg.stderr,
                f"{op} without its model warns (naming it) and runs", rg.stderr)
            compare(f"{op} without its model", produced, None, src, False)
            continue
        ok = tap(rg.returncode == 0 and "WARNING" not in rg.stderr.replace("GEGL-WARNING", ""),
                 f"gegl runs {op} without a warning: " + " ".join(jobs[("gegl", key)][0][5:]),
                 rg.stderr)
        ok &= tap(rl.returncode == 0, f"lisse effect runs with the same settings "
                  + " ".join(jobs[("lisse", key)][0][2:-4]), rl.stderr)
        if ok:
            compare(op, produced, os.path.join(TMP, f"lisse-{key}.png"), src)

    for name in ("smooth", "abstraction"):
        rg = done[("gegl-half", name)]
        # GLib writes debug messages to stdout.
        runs = re.findall(rf"lisse:{name}: level (\d+), (\d+)x(\d+) pixels, 4 channels, "
                          r"scale (\S+)", rg.stdout + rg.stderr)
        tap(rg.returncode == 0 and runs == [("1", "64", "48", "0.5")],
            f"lisse:{name} at GEGL level 1 runs once, on the 64×48 level buffer, scale 0.5",
            f"runs logged: {runs}\n{rg.stdout}{rg.stderr}")
        out = read_unit(os.path.join(TMP, f"half-gegl-{name}.png"))
        tap(out is not None and out.shape == (48, 64, 4),
            f"lisse:{name} at level 1 gives the half-size image",
            f"shape {None if out is None else out.shape}")
        if name == "smooth" and half_ok:
            rl = done[("lisse-half", name)]
            if tap(rl.returncode == 0, "lisse effect smooth runs on the half-size image",
                   rl.stderr):
                compare("lisse:smooth level 1", os.path.join(TMP, "half-gegl-smooth.png"),
                        os.path.join(TMP, "half-lisse-smooth.png"), half_in)

    rg, rl = done[("gegl-draft", "smooth")], done[("lisse-big", "smooth")]
    runs = re.findall(r"lisse:smooth: level 0, 256x192 pixels, 4 channels, scale 1(, draft)?",
                      rg.stdout + rg.stderr)
    if tap(rg.returncode == 0 and rl.returncode == 0 and runs == [", draft"],
           "lisse:smooth draft=true runs once, as a draft",
           f"runs logged: {runs}\n{rg.stdout}{rg.stderr}{rl.stderr}"):
        a = read_unit(os.path.join(TMP, "draft-gegl.png"))
        b = read_unit(os.path.join(TMP, "big-lisse.png"))
        mse = float(np.mean((a[..., :3] - b[..., :3]) ** 2)) if a.shape == b.shape else 1.0
        psnr = 10 * np.log10(1.0 / mse) if mse > 0 else float("inf")
        # Not the full render (it is a draft), but close to it; alpha kept.
        alpha_diff = (np.abs(a[..., 3] - read_unit(big)[..., 3]).max()
                      if a.shape == b.shape else 1.0)
        tap(0 < mse and psnr >= 30.0 and alpha_diff <= 0.5 / 255,
            f"lisse:smooth draft=true is near the full render ({psnr:.1f} dB), alpha kept",
            f"shapes {a.shape} {b.shape}, PSNR {psnr:.2f} dB")

    for name in GRAY_RUNS:
        rg, rl = done[("gegl-gray", name)], done[("lisse-gray", name)]
        runs = re.findall(rf"lisse:{name}: level 0, 128x96 pixels, (\d+) channels",
                          rg.stdout + rg.stderr)
        ok = tap(rg.returncode == 0 and rl.returncode == 0 and runs == ["2"],
                 f"lisse:{name} on a gray source runs once on gray + alpha (2 channels)",
                 f"channels logged: {runs}\n{rg.stderr}{rl.stderr}")
        if ok:
            a = read_unit(os.path.join(TMP, f"gray-gegl-{name}.png"))
            b = read_unit(os.path.join(TMP, f"gray-lisse-{name}.png"))
            src = read_unit(gray_src)
            # gray + alpha PNGs read as BGRA (B = G = R); plain gray as 2-D
            ga = a if a.ndim == 2 else a[..., 0]
            gb = b if b.ndim == 2 else b[..., 0]
            diff = np.abs(ga - gb).max() if ga.shape == gb.shape else float("inf")
            tap(diff <= 1.0 / 255 + 1e-9,
                f"lisse:{name} on a gray source equals `lisse effect` on it within 1/255",
                f"shapes {a.shape} {b.shape}, max difference {diff * 255:.3f}/255")
            tap(np.abs(ga - src).mean() > 0.002, f"lisse:{name} on a gray source changes it",
                f"mean change {np.abs(ga - src).mean():.5f}")
    return tap.finish()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
