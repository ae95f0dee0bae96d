#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Lisse GIMP plug-in's procedures, run from Script-Fu in gimp-console.

Usage: test-gimp-batch.py PATH/TO/plugin/lisse [PATH/TO/lisse]

The built plug-in is copied to <its directory>/test-gimp-batch/plug-ins/
lisse/lisse, beside a private GIMP profile whose plug-in-path names that
directory and GIMP's own plug-ins (kept between runs: GIMP queries
plug-ins only when they change).  Models come from LISSE_MODEL_PATH, as
the plug-in sees it; without fan18-smooth and fan18-detail there the test
FAILS.  Remove Texture's learned methods run tiny random-weight
csgis-texture and mgpnet-texture models made here (PyTorch, lisse_train's
exporters) in a folder put in front of LISSE_MODEL_PATH: fast, and the
method's code whatever is trained.

One GIMP run (its start-up is a good part of the time) loads procedural
PNGs (96×64 RGBA with transparent and half-transparent pixels, a guide, a
mask, a gray image), calls every plug-in-lisse-* procedure with named
arguments and exports the results; Python then checks:
  - the registered procedures (GIMP's pluginrc) against the effect registry
    as `lisse effect --list` prints it: one per effect, menu label and path,
    blurb, image types, sensitivity, and every argument — name, nick,
    type, range, default, choice values, mask / guide;
  - every procedure runs (Content-Aware with a mask and without, i.e. with
    automatic saliency; Remove Texture with a classical filter and with
    #:method "csgis" and "mgpnet"; Joint Filter with a classical filter and with its
    learned #:method "learned-rtv"; Fast Filter): same size, alpha bit for bit, colours changed,
    and the same pixels (within 1/255) as `lisse effect` with the same
    settings — so formats, channel order, gray, and where the mask and the
    guide are read are right;
  - a rectangular selection: nothing changes outside it, and inside it the
    pixels equal those of the whole-layer run (the margin read around the
    selection covers the network's reach);
  - WITH_LAST_VALS runs without a dialog and uses the stored last values
    (written into the private profile first), not the defaults; an int
    argument (levels) and the choice arguments are taken by name;
  - bad calls fail with a message naming the problem and leave the image
    untouched and clean (no undo step): λf out of range, Joint Filter
    without a guide or with a guide of another size, two drawables, an
    indexed image.  An unknown choice nick is not among them: Script-Fu in
    GIMP 3.0.4 prints a GLib-CRITICAL and passes the default.
Script-Fu in GIMP 3.0 cannot undo, so "one undo step" is checked as far as
it can be: a successful run dirties the image, a failed one does not.
Without the `lisse` argument the registry and pixel comparisons are left
out.  Prints TAP (the plan comes last).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from lisse_testlib import SCRIPT_FU_PRELUDE, Tap, gimp_test_profile, import_or_skip, skip_all

np, cv2 = import_or_skip("numpy", "cv2")

if len(sys.argv) < 2:
    skip_all("usage: test-gimp-batch.py PATH/TO/plugin/lisse [PATH/TO/lisse]")

GIMP = shutil.which("gimp-console-3.0")
if not GIMP:
    skip_all("gimp-console-3.0 is not installed")

PLUGIN = os.path.abspath(sys.argv[1])
LISSE = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
W, H = 96, 64
SEL = (24, 16, 40, 28)          # x, y, w, h of the selection case
MASK_RECT = (8, 8, 40, 36)      # x, y, w, h of Content-Aware's mask (binary)

tap = Tap()


def model_dirs():
    return [d for d in os.environ.get("LISSE_MODEL_PATH", "").split(os.pathsep) if d]


def make_images(tmp):
    """RGBA: shapes, noise, a transparent block and a half-transparent band.
    Guide: the same shapes shifted, no noise.  Gray: the RGBA's luma.
    Small guide: 50×40.  Mask: MASK_RECT white on black, as Content-Aware's
    channel is made in GIMP."""
    rng = np.random.default_rng(7)
    img = np.zeros((H, W, 4), np.float32)
    img[..., :3] = (0.35, 0.45, 0.3)
    cv2.rectangle(img, (10, 8), (44, 40), (0.9, 0.2, 0.1, 0), -1)
    cv2.circle(img, (68, 34), 18, (0.1, 0.6, 0.9, 0), -1)
    img[..., :3] += rng.normal(0.0, 0.06, (H, W, 3))
    img[..., 3] = 1.0
    img[50:60, 4:20, 3] = 0.0          # fully transparent
    img[:, 86:, 3] = 0.5               # half transparent
    rgba = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    cv2.imwrite(os.path.join(tmp, "rgba.png"), rgba)

    guide = np.full((H, W, 3), 0.5, np.float32)
    cv2.rectangle(guide, (14, 10), (50, 44), (0.1, 0.1, 0.1), -1)
    cv2.circle(guide, (64, 30), 20, (0.95, 0.95, 0.95), -1)
    cv2.imwrite(os.path.join(tmp, "guide.png"), (guide * 255 + 0.5).astype(np.uint8))
    cv2.imwrite(os.path.join(tmp, "guide-small.png"), np.full((40, 50, 3), 128, np.uint8))

    mask = np.zeros((H, W), np.uint8)
    x, y, w, h = MASK_RECT
    mask[y:y + h, x:x + w] = 255
    cv2.imwrite(os.path.join(tmp, "mask.png"), mask)

    gray = cv2.cvtColor(rgba[..., :3], cv2.COLOR_BGR2GRAY)
    cv2.imwrite(os.path.join(tmp, "gray.png"), gray)
    return rgba, gray


# lisse_testlib's Script-Fu prelude and this test's export: NAME.png as
# out-NAME.png in the image folder.
SCHEME_PRELUDE = SCRIPT_FU_PRELUDE + r"""
(define (export img name) (gimp-file-save RUN-NONINTERACTIVE img (string-append "%(tmp)s/out-" name ".png") -1))
"""

# The effect runs: name -> (effect, {parameter: value}, (choice, nick) or
# None, aux).  The same settings make the Script-Fu call (named arguments)
# and the `lisse effect` command the result is compared with.
EFFECT_RUNS = {
    "smooth": ("smooth", {"lambda-f": 2.0, "lambda-e": 0.2}, ("model", "fan18-smooth"), None),
    "magnify-detail": ("magnify-detail", {"lambda-f": 1.5, "gain": 3.0}, None, None),
    "remove-texture": ("remove-texture", {"texture-scale": 2.0, "strength": 1.5},
                       ("method", "rolling-guidance"), None),
    "remove-texture-csgis": ("remove-texture", {"strength": 1.5, "ensemble": 2}, ("method", "csgis"),
                             None),
    "remove-texture-mgpnet": ("remove-texture", {"strength": 0.8}, ("method", "mgpnet"), None),
    "content-aware": ("content-aware", {"lambda-background": 6.0, "lambda-foreground": 0.1},
                      ("mode", "background"), "mask"),
    "content-aware-auto": ("content-aware", {"gain": 3.0}, ("mode", "foreground"), None),
    "joint-filter": ("joint-filter", {"radius": 3.0, "range": 0.1}, ("method", "guided"), "guide"),
    "joint-filter-learned": ("joint-filter", {"radius": 6.0}, ("method", "learned-rtv"), "guide"),
    "abstraction": ("abstraction", {"lambda-f": 2.0, "levels": 4}, None, None),
    "pencil-sketch": ("pencil-sketch", {"stroke-length": 6.0}, ("style", "colour"), None),
    "fast-filter": ("fast-filter", {"strength": 2.0}, ("filter", "rtv"), None),
    "gray": ("smooth", {"lambda-f": 3.0}, None, None),
}


def fmt(v):
    return str(v) if isinstance(v, int) else repr(float(v))


def scheme_call(effect, params, choice, aux, run_mode="RUN-NONINTERACTIVE", drawables="(vector l)"):
    args = [f"#:run-mode {run_mode}", "#:image img", f"#:drawables {drawables}"]
    args += [f"#:{k} {fmt(v)}" for k, v in params.items()]
    if choice:
        args.append(f'#:{choice[0]} "{choice[1]}"')
    if aux:
        args.append(f"#:{aux} {aux}")
    return f"(plug-in-lisse-{effect} {' '.join(args)})"


# The last values a WITH_LAST_VALS run of Smooth must use: written where
# libgimp keeps them (<profile>/plug-in-settings/GimpProcedureConfigRun-<name>.last in GIMP 3.0.4,
# GimpConfig syntax) before GIMP starts, since only INTERACTIVE runs save them.
LAST_VALS = {"lambda-f": 2.5, "lambda-e": 0.3}

RUNS = {name: scheme_call(*spec) for name, spec in EFFECT_RUNS.items()}
RUNS.update({
    "selection": scheme_call("smooth", {"lambda-f": 2.0, "lambda-e": 0.2}, None, None),
    "last-vals": scheme_call("smooth", {}, None, None, run_mode="RUN-WITH-LAST-VALS"),
    # Calls that must fail and leave the image as it was.
    "bad-range": scheme_call("smooth", {"lambda-f": 100.0}, None, None),
    "bad-no-guide": scheme_call("joint-filter", {}, None, None),
    "bad-guide-size": scheme_call("joint-filter", {}, None, "guide"),
    "bad-two-drawables": scheme_call("smooth", {}, None, None, drawables="(vector l l2)"),
    "bad-indexed": scheme_call("smooth", {}, None, None),
})

SETUP = {
    "content-aware": "(gimp-image-select-rectangle img CHANNEL-OP-REPLACE %d %d %d %d)"
                     " (define mask (car (gimp-selection-save img)))"
                     " (gimp-item-set-visible mask FALSE) (gimp-selection-none img)"
                     % MASK_RECT,
    "joint-filter": "(define guide (add-hidden-layer img \"guide.png\"))",
    "joint-filter-learned": "(define guide (add-hidden-layer img \"guide.png\"))",
    "selection": "(gimp-image-select-rectangle img CHANNEL-OP-REPLACE %d %d %d %d)" % SEL,
    "bad-guide-size": "(define guide (add-hidden-layer img \"guide-small.png\"))",
    "bad-two-drawables": "(define l2 (car (gimp-layer-copy l)))"
                         " (gimp-image-insert-layer img l2 0 1) (gimp-item-set-visible l2 FALSE)",
    "bad-indexed": "(gimp-image-convert-indexed img CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE"
                   " 16 FALSE FALSE \"\")",
}

def scheme_script(tmp, results):
    lines = [SCHEME_PRELUDE % {"tmp": tmp, "results": results}]
    for name, call in RUNS.items():
        file = "gray.png" if name == "gray" else "rgba.png"
        # Each case in its own scope (let) so `img`, `l`, `guide` are fresh.
        lines.append("(let* ((img (load-image \"%s\")) (l (first-layer img)))" % file)
        if name in SETUP:
            lines.append("  " + SETUP[name])
        lines.append("  (gimp-image-clean-all img)")
        lines.append("  (export img \"%s-before\")" % name if name.startswith("bad-") else "")
        lines.append(f'  (run-case "{name}" img (lambda () {call}))')
        lines.append(f'  (export img "{name}")')
        lines.append("  (gimp-image-delete img))")
    lines.append('(display "@END" out) (newline out) (close-output-port out)')
    return "\n".join(lines) + "\n"


def parse_results(text):
    """{name: (status, dirty, message)}; status "ok" or "error"."""
    out = {}
    rec = re.compile(r'^@(\S+) (ok|error) (\S+)(?: "(.*)")?$')
    for line in text.splitlines():
        m = rec.match(line)
        if m:
            msg = (m.group(4) or "").replace('\\"', '"').replace("\\n", " ")
            out[m.group(1)] = (m.group(2), m.group(3), msg)
        elif line == "@END":
            out["@END"] = ("ok", "0", "")
    return out



def parse_effect_list(text):
    """`lisse effect --list` -> {effect: {"title", "blurb", "aux", "params":
    {name: (label, min, max, default, integer)}, "choice": (name, [nicks],
    default nick) or None}}."""
    effects, cur = {}, None
    head = re.compile(r"^(\S+)\s+(.+?) \((.*)\)$")
    param = re.compile(r"^    (\S+)\s+(.+?) in \[([^,\]]+), ([^\]]+)\], default (\S+?)"
                       r"(, whole numbers)? — ")
    choice = re.compile(r"^    --choice \((\S+)\):$")
    value = re.compile(r"^      (\S+)\s+(.*)$")
    for line in text.splitlines():
        m = head.match(line)
        if m:
            cur = effects[m.group(1)] = {"title": m.group(2), "blurb": None, "params": {},
                                         "choice": None, "aux": None}
            if "--aux MASK" in m.group(3):
                cur["aux"] = "mask"
            elif "--aux GUIDE" in m.group(3):
                cur["aux"] = "guide"
            continue
        if cur is None:
            continue
        m = param.match(line)
        if m:
            cur["params"][m.group(1)] = (m.group(2), float(m.group(3)), float(m.group(4)),
                                         float(m.group(5)), bool(m.group(6)))
            continue
        m = choice.match(line)
        if m:
            cur["choice"] = (m.group(1), [], None)
            continue
        m = value.match(line)
        if m and cur["choice"]:
            name, nicks, default = cur["choice"]
            nicks.append(m.group(1))
            if m.group(2).endswith("(default)"):
                default = m.group(1)
            cur["choice"] = (name, nicks, default)
            continue
        if line.startswith("    ") and cur["blurb"] is None:
            cur["blurb"] = line.strip()
    return effects


def parse_pluginrc(text):
    """pluginrc -> {procedure: {"strings": [...], "lines": [...], "args":
    [tokens of each proc-arg]}} for the plug-in-lisse-* procedures."""
    procs, cur = {}, None
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r'^\(proc-def "([^"]+)"', s)
        if m:
            cur = None
            if m.group(1).startswith("plug-in-lisse-"):
                cur = procs[m.group(1)] = {"lines": [], "args": []}
            continue
        if s.startswith("(plug-in-def") or cur is None:
            continue
        if s.startswith("(proc-arg"):
            cur["args"].append(shlex.split(s[1:].rstrip(")")))
        else:
            cur["lines"].append(s)
    return procs


def check_procedure(name, spec, proc):
    """Differences between a procedure in pluginrc and the effect's
    declaration (as `lisse effect --list` prints it)."""
    problems = []
    lines = proc["lines"]
    strings = [shlex.split(line)[0] for line in lines if line.startswith('"')]
    if strings[:1] != [spec["blurb"]]:
        problems.append(f"blurb {strings[:1]}")
    if spec["title"] + "…" not in strings:
        problems.append(f"no menu label {spec['title']}…")
    if '(menu-path "<Image>/Filters/Lisse")' not in lines:
        problems.append("menu path is not <Image>/Filters/Lisse")
    if '"RGB*, GRAY*"' not in lines:
        problems.append("image types are not RGB*, GRAY*")
    else:
        mask = lines[lines.index('"RGB*, GRAY*"') + 1]
        if mask != "1":
            problems.append(f"sensitivity mask {mask}, not 1 (one drawable)")
    args = {a[4]: a for a in proc["args"]}
    expected = ["run-mode", "image", "drawables"] + list(spec["params"])
    for pname, (label, lo, hi, default, integer) in spec["params"].items():
        a = args.get(pname)
        if not a:
            problems.append(f"no argument {pname}")
            continue
        kind = "GParamInt" if integer else "GParamDouble"
        got = (a[2], a[5], float(a[8]), float(a[9]), float(a[10]))
        if got[0] != kind or got[1] != label or \
                any(abs(x - y) > 1e-9 * max(1, abs(y)) for x, y in zip(got[2:], (lo, hi, default))):
            problems.append(f"{pname}: {got} instead of {(kind, label, lo, hi, default)}")
    if spec["choice"]:
        cname, nicks, default = spec["choice"]
        expected.append(cname)
        a = args.get(cname)
        if not a or a[2] != "GimpParamChoice":
            problems.append(f"no choice argument {cname}")
        else:
            got_nicks = a[10::4][:int(a[9])]
            if a[8] != default or got_nicks != nicks:
                problems.append(f"{cname}: default {a[8]}, values {got_nicks}")
    if spec["aux"]:
        expected.append(spec["aux"])
        kind = "GimpParamChannel" if spec["aux"] == "mask" else "GimpParamDrawable"
        a = args.get(spec["aux"])
        if not a or a[2] != kind:
            problems.append(f"no {kind} argument {spec['aux']}")
    got_names = [a[4] for a in proc["args"]]
    if sorted(got_names) != sorted(expected):
        problems.append(f"arguments {got_names}, expected {expected}")
    return problems


def read_png(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)


def main():
    profile = gimp_test_profile(PLUGIN, "test-gimp-batch")
    settings = os.path.join(profile, "plug-in-settings")
    os.makedirs(settings, exist_ok=True)
    with open(os.path.join(settings, "GimpProcedureConfigRun-plug-in-lisse-smooth.last"), "w") as f:
        f.write("# test-gimp-batch.py: the values its WITH_LAST_VALS run must use\n")
        f.writelines(f"({k} {fmt(v)})\n" for k, v in LAST_VALS.items())

    dirs = model_dirs()
    missing = [m for m in ("fan18-smooth", "fan18-detail")
               if not any(os.path.exists(os.path.join(d, m + ".safetensors")) for d in dirs)]
    tap(not missing, "models fan18-smooth and fan18-detail are in LISSE_MODEL_PATH",
        f"missing {', '.join(missing)} in LISSE_MODEL_PATH={os.pathsep.join(dirs) or '(unset)'}")

    tmp = tempfile.mkdtemp(prefix="lisse-gimp-batch-")
    rgba, gray = make_images(tmp)
    # The learned methods' models for their runs, seen by GIMP's plug-in and
    # by the `lisse effect` references alike.
    learned_dir = os.path.join(tmp, "learned-models")
    os.makedirs(learned_dir)
    os.environ["LISSE_MODEL_PATH"] = os.pathsep.join([learned_dir] + dirs)
    for method, maker in (("csgis", "tiny_csgis_model"), ("mgpnet", "tiny_mgpnet_model")):
        try:
            import lisse_testlib
            getattr(lisse_testlib, maker)(os.path.join(learned_dir, f"{method}-texture.safetensors"),
                                          6)
        except ImportError as e:
            tap.skip(f"remove-texture-{method}: missing Python module {e.name}")
            del EFFECT_RUNS[f"remove-texture-{method}"], RUNS[f"remove-texture-{method}"]
    results_path = os.path.join(tmp, "results.txt")
    script = os.path.join(tmp, "test.scm")
    with open(script, "w") as f:
        f.write(scheme_script(tmp, results_path))

    env = dict(os.environ)
    env["GIMP3_DIRECTORY"] = profile
    proc = subprocess.run([GIMP, "-i", "--quit", "--batch-interpreter=plug-in-script-fu-eval",
                           "-b", '(load "%s")' % script],
                          capture_output=True, text=True, errors="replace", env=env, timeout=600)
    log = proc.stdout + proc.stderr
    try:
        with open(results_path) as f:
            results = parse_results(f.read())
    except OSError:
        results = {}
    tap("@END" in results, "gimp-console ran the whole Script-Fu batch",
        f"rc {proc.returncode}\n" + log[-3000:])

    def result(name):
        return results.get(name, ("missing", "?", "no result logged"))

    def out(name):
        return read_png(os.path.join(tmp, f"out-{name}.png"))

    # The procedures GIMP registered (pluginrc, written as GIMP quits)
    # against the registry, as the command line lists it.
    if LISSE:
        listing = subprocess.run([LISSE, "effect", "--list"], capture_output=True, text=True)
        specs = parse_effect_list(listing.stdout)
        try:
            with open(os.path.join(profile, "pluginrc"), encoding="utf-8", errors="replace") as f:
                procs = parse_pluginrc(f.read())
        except OSError:
            procs = {}
        tap(len(specs) == 8 and sorted("plug-in-lisse-" + e for e in specs) == sorted(procs),
            "one procedure per effect: " + ", ".join(sorted(procs)),
            f"effects {sorted(specs)}, procedures {sorted(procs)}")
        for effect, spec in specs.items():
            p = procs.get("plug-in-lisse-" + effect)
            problems = check_procedure(effect, spec, p) if p else ["not registered"]
            tap(not problems, f"plug-in-lisse-{effect}: menu, documentation, image types "
                "and arguments (names, nicks, ranges, defaults, choices) as declared",
                "\n".join(problems))

    opaque = rgba[..., 3] > 0

    def check_run(name, reference, expect_change=True):
        status, dirty, msg = result(name)
        if not tap(status == "ok", f"{name}: the procedure ran", msg or status):
            return None
        tap(dirty == "1", f"{name}: the image is dirty after the run (an undo step was pushed)",
            f"gimp-image-is-dirty gave {dirty}")
        img = out(name)
        if not tap(img is not None and img.shape == reference.shape,
                   f"{name}: the output is {W}×{H}, as the input",
                   None if img is None else f"shape {img.shape}"):
            return None
        if reference.ndim == 3:
            tap(np.array_equal(img[..., 3], reference[..., 3]), f"{name}: alpha is unchanged",
                f"{int((img[..., 3] != reference[..., 3]).sum())} alpha values differ")
            visible = reference[..., 3] > 0
            diff = np.abs(img[..., :3].astype(int) - reference[..., :3].astype(int))[visible]
        else:
            diff = np.abs(img.astype(int) - reference.astype(int))
        if expect_change:
            # 0.2/255 over the visible pixels: a pass-through gives 0; the
            # selection run changes only part of the layer, and the shipped
            # CPU-trained fan18-smooth smooths mildly (its model card).
            tap(diff.mean() > 0.2, f"{name}: the colours changed (mean |Δ| {diff.mean():.2f}/255)",
                f"mean |Δ| {diff.mean():.3f}/255 over the visible pixels")
        return img

    # Every effect, and the same settings through `lisse effect`: the
    # plug-in's pixel path (formats, channel order, alpha, gray, mask and
    # guide placement) must give the engine's result.
    for name, (effect, params, choice, aux) in EFFECT_RUNS.items():
        reference = gray if name == "gray" else rgba
        img = check_run(name, reference)
        if img is None or not LISSE:
            continue
        cli_out = os.path.join(tmp, f"cli-{name}.png")
        cmd = [LISSE, "effect", effect]
        for k, v in params.items():
            cmd += ["--set", f"{k}={fmt(v)}"]
        if choice:
            cmd += ["--choice", choice[1]]
        if aux:
            cmd += ["--aux", os.path.join(tmp, "mask.png" if aux == "mask" else "guide.png")]
        cmd += [os.path.join(tmp, "gray.png" if name == "gray" else "rgba.png"), cli_out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        ref = read_png(cli_out) if r.returncode == 0 else None
        if ref is None or ref.shape != img.shape:
            tap(False, f"{name}: same pixels as `lisse effect`", f"{' '.join(cmd)}\n{r.stderr}")
            continue
        sel = (reference[..., 3] > 0) if reference.ndim == 3 else np.ones(reference.shape, bool)
        d = int(np.abs(img.astype(int) - ref.astype(int))[sel].max())
        tap(d <= 1, f"{name}: same pixels as `lisse effect` (max |Δ| {d}/255)", f"max |Δ| {d}")

    # WITH_LAST_VALS: the stored values, not the defaults.
    img = check_run("last-vals", rgba)
    if img is not None and LISSE:
        refs = {}
        for tag, sets in (("last", LAST_VALS), ("default", {})):
            path = os.path.join(tmp, f"cli-last-vals-{tag}.png")
            cmd = [LISSE, "effect", "smooth"]
            for k, v in sets.items():
                cmd += ["--set", f"{k}={fmt(v)}"]
            r = subprocess.run(cmd + [os.path.join(tmp, "rgba.png"), path],
                               capture_output=True, text=True)
            refs[tag] = read_png(path) if r.returncode == 0 else None
        if all(ref is not None and ref.shape == img.shape for ref in refs.values()):
            vis = rgba[..., 3] > 0
            d = {t: int(np.abs(img.astype(int) - ref.astype(int))[vis].max())
                 for t, ref in refs.items()}
            tap(d["last"] <= 1 and d["default"] > 1,
                f"last-vals: the stored values {LAST_VALS}, not the defaults, were used "
                f"(max |Δ| {d['last']}/255 to them, {d['default']}/255 to the defaults)",
                f"max |Δ| to the stored values' result {d['last']}, to the defaults' {d['default']}")
        else:
            tap(False, "last-vals: `lisse effect smooth` references written", "")

    # Selection: unchanged outside; inside equal to the whole-layer run.
    img = check_run("selection", rgba)
    full = out("smooth")
    if img is not None:
        x, y, w, h = SEL
        sel = np.zeros((H, W), bool)
        sel[y:y + h, x:x + w] = True
        outside = (~sel) & opaque
        n_out = int((img[outside] != rgba[outside]).any(axis=1).sum())
        tap(n_out == 0, "selection: no pixel outside the selection changed",
            f"{n_out} pixels changed outside")
        if full is not None:
            d = np.abs(img[sel & opaque].astype(int) - full[sel & opaque].astype(int)).max()
            tap(d <= 1, f"selection: inside, the same pixels as the whole-layer run (max |Δ| {d})",
                f"max |Δ| {d}/255")

    # Failures: a message naming the problem, the image untouched and clean.
    expected = {
        "bad-range": r"out of range",
        "bad-no-guide": r"needs a guide",
        "bad-guide-size": r"50×40 but the layer is 96×64",
        "bad-two-drawables": r"exactly one",
        "bad-indexed": r"indexed",
    }
    for name, pattern in expected.items():
        status, dirty, msg = result(name)
        tap(status == "error" and re.search(pattern, msg),
            f"{name}: fails with a message matching /{pattern}/",
            f"status {status}: {msg}")
        tap(dirty == "0", f"{name}: the image is left clean (no undo step)",
            f"gimp-image-is-dirty gave {dirty}")
        before, after = out(name + "-before"), out(name)
        tap(before is not None and after is not None and np.array_equal(before, after),
            f"{name}: the pixels are untouched")

    if tap.failed:
        print("# GIMP's output (end):")
        for line in log[-4000:].splitlines():
            print("# " + line)
    shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
