#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plug-in's dialogs in a real GIMP 3, under Xvfb.

Usage: test-gimp-dialogs.py LISSE PLUGIN GEGL-MODULE GEGL-PLUGINS-DIR OUTDIR

LISSE is the built `lisse` command (its `effect --list` names the effects,
their titles, parameters, choices and aux inputs), PLUGIN the built plug-in
binary, GEGL-MODULE the built lisse-gegl.so (the on-canvas previews run its
lisse:<effect> operations in GIMP's core), GEGL-PLUGINS-DIR GEGL's own
operations, OUTDIR where everything goes (wiped first): a private GIMP
profile, the test image, GIMP's log, and the screenshots in OUTDIR/shots.

One GIMP session (gimp-3.0 on a private Xvfb display, a Script-Fu batch)
opens a display of a procedural image and calls every plug-in-lisse-*
procedure with RUN-INTERACTIVE, one after the other.  The plug-in's test
hooks (plugin/dialog.c) make it write, per dialog, OUTDIR/dumps/<effect>.ready
(the window title, its widget tree, the previews' state) once the dialog is
up and its preview drawn, and press OK itself when OUTDIR/dumps/<effect>.ok
appears.  For each dialog the test then checks:
  - it opened, and a window with the effect's title is on the screen;
  - the screenshot (xdotool + ImageMagick import) is a PNG of a plausible
    dialog size that is not uniform (it shows something; no OCR: the text
    on it is not read);
  - the widget tree has a mapped slider (GimpScaleEntry) for every
    parameter, a combo for the choice, the guide chooser for GUIDE effects,
    and the preview: the on-canvas filter (with its toggle) for effects
    without an aux input, a GimpDrawablePreview that computed a picture
    without error for the others;
  - moving a slider (the hook moves the first parameter once the dialog is
    ready) gives drafts first and then the full render: on the canvas the
    op's "draft" property set, then cleared; in the dialog a draft drawn
    (the time from the change to it is printed) before the full picture;
  - Content-Aware: the mask painter and its tools are there, the mask
    starts from the automatic saliency (neither empty nor full), and after
    OK the image has a channel "Lisse mask" that is the config's mask;
  - OK was pressed, the procedure succeeded, and no preview filter was left
    on the layer;
  - GIMP reported no duplicate mnemonic for the dialog;
  - Remove Texture opens on a learned method, mgpnet, the global network
    (#:method "mgpnet" and the stored last values say so): the dialog shows
    it, and its canvas preview ran the network without the op's
    pass-through warning.  (csgis runs through the same dialog code; the
    GIMP batch test runs both.)
A model in LISSE_MODEL_PATH is needed (the learned effects' previews and
results): without one the test fails and says so.  mgpnet-texture is made
here with random weights (PyTorch, lisse_train.mgpnet_export) in
OUTDIR/learned-models, put first in the path.  Takes about a minute
on two cores, most of it GIMP's start-up.  Prints TAP (the plan comes last).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

from lisse_testlib import Tap, import_or_skip, skip_all, tiny_mgpnet_model

# GIMP's log says more at its end than at its start.
tap = Tap(diag_lines=25, diag_tail=True)


def bail(message):
    tap(False, message)
    tap.plan()
    sys.exit(1)


np, cv2 = import_or_skip("numpy", "cv2")

if len(sys.argv) != 6:
    skip_all("usage: test-gimp-dialogs.py LISSE PLUGIN GEGL-MODULE GEGL-PLUGINS-DIR OUTDIR")

LISSE, PLUGIN, MODULE, GEGL_SYS, OUT = (os.path.abspath(a) for a in sys.argv[1:])
TOOLS = {t: shutil.which(t) for t in ("Xvfb", "xdotool", "import", "gimp-3.0")}
missing = [t for t, p in TOOLS.items() if not p]
if missing:
    # The dev root has them (tools/dev-root.pins); elsewhere say what is missing.
    skip_all(f"not installed: {', '.join(missing)}")


# ---- the effects, as the registry declares them --------------------------

def list_effects():
    text = subprocess.run([LISSE, "effect", "--list"], capture_output=True, text=True,
                          check=True).stdout
    effects = []
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+(.+?) \((.*)\)$", line)
        if m:
            aux = "none"
            if m.group(3).endswith("MASK"):
                aux = "mask"
            elif m.group(3).endswith("GUIDE"):
                aux = "guide"
            effects.append({"name": m.group(1), "title": m.group(2), "aux": aux,
                            "params": [], "choice": None})
            continue
        m = re.match(r"^    --choice \((\S+)\):", line)
        if m and effects:
            effects[-1]["choice"] = m.group(1)
            continue
        m = re.match(r"^    (\S+)\s+.+ in \[", line)
        if m and effects:
            effects[-1]["params"].append(m.group(1))
    return effects


EFFECTS = list_effects()
tap(len(EFFECTS) == 8 and all(e["params"] for e in EFFECTS),
    f"lisse effect --list names 8 effects with parameters ({', '.join(e['name'] for e in EFFECTS)})")

model_dirs = [d for d in os.environ.get("LISSE_MODEL_PATH", "").split(os.pathsep) if d]
if not any(os.path.exists(os.path.join(d, "fan18-smooth.safetensors")) for d in model_dirs):
    bail("no model fan18-smooth.safetensors in LISSE_MODEL_PATH="
         f"{os.environ.get('LISSE_MODEL_PATH', '')!r}: the learned effects' previews need it")


# ---- a private GIMP, a test picture, a batch script ----------------------

shutil.rmtree(OUT, ignore_errors=True)
PROFILE = os.path.join(OUT, "profile")
PLUGDIR = os.path.join(OUT, "plug-ins", "lisse")
DUMPS = os.path.join(OUT, "dumps")
SHOTS = os.path.join(OUT, "shots")
for d in (PROFILE, PLUGDIR, DUMPS, SHOTS):
    os.makedirs(d)
# GIMP wants <dir on plug-in-path>/NAME/NAME, an executable file.
shutil.copy2(PLUGIN, os.path.join(PLUGDIR, "lisse"))
sys_plugins = subprocess.run(["pkg-config", "--variable=gimplibdir", "gimp-3.0"],
                             capture_output=True, text=True).stdout.strip() \
    or "/usr/lib/x86_64-linux-gnu/gimp/3.0"
with open(os.path.join(PROFILE, "gimprc"), "w") as f:
    f.write(f'(plug-in-path "{os.path.join(OUT, "plug-ins")}:{sys_plugins}/plug-ins")\n')

# Remove Texture runs a learned method: a random mgpnet-texture, and the
# choice both as the call's argument and as the stored last values (which
# an interactive run loads over the arguments).
LEARNED_DIR = os.path.join(OUT, "learned-models")
os.makedirs(LEARNED_DIR)
try:
    tiny_mgpnet_model(os.path.join(LEARNED_DIR, "mgpnet-texture.safetensors"), 7)
    LEARNED = True
except ImportError as e:
    tap.skip(f"remove-texture with mgpnet: missing Python module {e.name}")
    LEARNED = False
if LEARNED:
    os.makedirs(os.path.join(PROFILE, "plug-in-settings"))
    with open(os.path.join(PROFILE, "plug-in-settings",
                           "GimpProcedureConfigRun-plug-in-lisse-remove-texture.last"), "w") as f:
        f.write('# test-gimp-dialogs.py: open Remove Texture on MGPNet\n(method "mgpnet")\n')

# A salient red disc and a blue square on a textured gradient: saliency has
# a subject to find, the smoothing has texture to remove.
rng = np.random.default_rng(7)
H, W = 240, 320
yy, xx = np.mgrid[0:H, 0:W]
img = np.zeros((H, W, 3), np.float32)
img[..., 0] = 0.35 + 0.3 * xx / W
img[..., 1] = 0.45 + 0.2 * yy / H
img[..., 2] = 0.40
img += 0.08 * np.sin(xx * 1.7)[..., None] * np.sin(yy * 1.3)[..., None]
img += rng.normal(0, 0.03, img.shape)
disc = (xx - 190) ** 2 + (yy - 110) ** 2 < 55 ** 2
img[disc] = [0.15, 0.15, 0.9]          # BGR: red
img[40:100, 30:90] = [0.8, 0.3, 0.1]   # BGR: blue
cv2.imwrite(os.path.join(OUT, "input.png"), np.clip(img * 255, 0, 255).astype(np.uint8))
guide = np.full((H, W), 90, np.uint8)
guide[disc] = 230
guide[40:100, 30:90] = 30
cv2.imwrite(os.path.join(OUT, "guide.png"), guide)

calls = []
for e in EFFECTS:
    extra = " #:guide guide" if e["aux"] == "guide" else ""
    if e["name"] == "remove-texture" and LEARNED:
        extra += ' #:method "mgpnet"'
    calls.append(f"""
  (lisse-run "{e['name']}"
    (lambda () (plug-in-lisse-{e['name']} #:run-mode RUN-INTERACTIVE #:image img
                                          #:drawables (vector layer){extra})))""")
SCRIPT = os.path.join(OUT, "dialogs.scm")
with open(SCRIPT, "w") as f:
    f.write(f"""
(define img (car (gimp-file-load RUN-NONINTERACTIVE "{OUT}/input.png")))
(define layer (vector-ref (car (gimp-image-get-layers img)) 0))
(define guide (car (gimp-file-load-layer RUN-NONINTERACTIVE img "{OUT}/guide.png")))
(gimp-image-insert-layer img guide 0 1)
(gimp-display-new img)
(define (report . words)
  (display (string-append "lisse-dialogs: " (apply string-append words) "\\n")))
(define (channel-names)
  (apply string-append
    (map (lambda (c) (string-append (car (gimp-item-get-name c)) ";"))
         (vector->list (car (gimp-image-get-channels img))))))
(define (lisse-run name thunk)
  (let ((ok (catch #f (thunk) #t)))
    (report "ran " name " ok=" (if ok "1" "0")
            " filters=" (number->string (vector-length (car (gimp-drawable-get-filters layer))))
            " channels=" (channel-names))))
{''.join(calls)}
""")


# ---- run GIMP and walk through the dialogs -------------------------------

def free_display():
    for n in range(97, 140):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    return 140


display = f":{free_display()}"
xvfb = subprocess.Popen([TOOLS["Xvfb"], display, "-screen", "0", "1400x1000x24", "-nolisten", "tcp"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
env = dict(os.environ, DISPLAY=display, GIMP3_DIRECTORY=PROFILE,
           LISSE_MODEL_PATH=os.pathsep.join([LEARNED_DIR] + model_dirs),
           GEGL_PATH=os.pathsep.join([GEGL_SYS, os.path.dirname(MODULE)]),
           LISSE_DIALOG_DUMP=DUMPS, LISSE_DIALOG_AUTOOK="180000",
           NO_AT_BRIDGE="1", LANG="C.UTF-8", LANGUAGE="")
time.sleep(1.0)
log_path = os.path.join(OUT, "gimp.log")
log = open(log_path, "w")
gimp = subprocess.Popen([TOOLS["gimp-3.0"], "-n", "--no-splash", "--no-fonts",
                         "--batch-interpreter=plug-in-script-fu-eval",
                         "-b", f'(load "{SCRIPT}")', "-b", "(gimp-quit 1)"],
                        env=env, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True)


def wait_for(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        if gimp.poll() is not None:
            return os.path.exists(path)
        time.sleep(0.2)
    return False


def x(*args):
    return subprocess.run([TOOLS["xdotool"], *args], env=env, capture_output=True, text=True)


def read_dump(path):
    try:
        return open(path, encoding="utf-8").read()
    except OSError:
        return ""


results = {}
try:
    for i, e in enumerate(EFFECTS):
        name = e["name"]
        ready = os.path.join(DUMPS, f"{name}.ready")
        # the first dialog waits for GIMP's start-up with a fresh profile
        if not tap(wait_for(ready, 240 if i == 0 else 120), f"{name}: the dialog opened",
                   read_dump(log_path)):
            results[name] = None
            continue
        found = x("search", "--onlyvisible", "--name", f"^{re.escape(e['title'])}$")
        wid = found.stdout.split()[0] if found.stdout.split() else None
        title = x("getwindowname", wid).stdout.strip() if wid else ""
        shot = os.path.join(SHOTS, f"{name}.png")
        screen = os.path.join(SHOTS, f"{name}-screen.png")
        if wid:
            subprocess.run([TOOLS["import"], "-window", wid, shot], env=env, capture_output=True)
        subprocess.run([TOOLS["import"], "-window", "root", screen], env=env, capture_output=True)
        results[name] = {"title": title, "shot": shot, "screen": screen,
                         "ready": read_dump(ready)}
        open(os.path.join(DUMPS, f"{name}.ok"), "w").close()
        wait_for(os.path.join(DUMPS, f"{name}.done"), 60)
    try:
        gimp.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pass
finally:
    if gimp.poll() is None:
        os.killpg(gimp.pid, signal.SIGTERM)
        gimp.wait()
    xvfb.terminate()
    xvfb.wait()
    log.close()

gimp_log = read_dump(log_path)
ran = dict(re.findall(r"lisse-dialogs: ran (\S+) (.*)", gimp_log))


# ---- the checks ----------------------------------------------------------

def prop_line(dump, prop):
    m = re.search(rf"^property {re.escape(prop)} (\S+) mapped=(\d)", dump, re.M)
    return (m.group(1), m.group(2) == "1") if m else (None, False)


def tree_has(dump, pattern):
    return re.search(pattern, dump.split("\ntree\n", 1)[-1], re.M) is not None


for e in EFFECTS:
    name, r = e["name"], results.get(e["name"])
    if not r:
        continue
    dump = r["ready"]
    tap(r["title"] == e["title"], f"{name}: a window titled '{e['title']}' is on the screen",
        f"found: {r['title']!r}")

    ok = os.path.exists(r["shot"]) and os.path.getsize(r["shot"]) > 0
    picture = cv2.imread(r["shot"]) if ok else None
    ok = picture is not None
    if ok:
        h, w = picture.shape[:2]
        ok = 250 <= w <= 1400 and 200 <= h <= 1000 and float(picture.std()) > 10.0
    tap(ok, f"{name}: screenshot {os.path.relpath(r['shot'], OUT)} is a non-uniform dialog-sized picture",
        f"shape={None if picture is None else picture.shape} "
        f"std={None if picture is None else float(picture.std()):.1f}")
    print(f"# screenshot: {r['shot']}")
    print(f"# whole screen: {r['screen']}")

    missing = []
    for p in e["params"]:
        kind, mapped = prop_line(dump, p)
        if kind != "GimpScaleEntry" or not mapped:
            missing.append(f"{p}: {kind} mapped={mapped}")
    if e["choice"]:
        kind, mapped = prop_line(dump, e["choice"])
        # GimpProcedureDialog wraps the choice's combo with its label
        if kind not in ("GimpLabelStringWidget", "GimpStringComboBox") or not mapped:
            missing.append(f"{e['choice']}: {kind} mapped={mapped}")
    if e["aux"] == "guide":
        kind, mapped = prop_line(dump, "guide")
        if kind != "GimpDrawableChooser" or not mapped:
            missing.append(f"guide: {kind} mapped={mapped}")
    tap(not missing, f"{name}: a slider per parameter ({', '.join(e['params'])}), "
        f"the {e['choice']} chooser{', the guide chooser' if e['aux'] == 'guide' else ''}",
        "\n".join(missing))

    if e["aux"] == "none":
        m = re.search(r"^canvas-preview filter=(\d+) visible=1", dump, re.M)
        toggle = tree_has(dump, r"GtkCheckButton name=lisse-canvas-preview .*mapped=1 sensitive=1")
        tap(bool(m) and int(m.group(1)) > 0 and toggle,
            f"{name}: on-canvas preview filter lisse:{name} shown, with its toggle", dump[:3000])
    else:
        m = re.search(r"^dialog-preview computed=(\d+) failed=(\d)", dump, re.M)
        preview = tree_has(dump, r"GimpDrawablePreview .*mapped=1")
        status = re.search(r'^status "(.*)"', dump, re.M)
        tap(bool(m) and int(m.group(1)) >= 1 and m.group(2) == "0" and preview,
            f"{name}: in-dialog preview computed by the effect",
            f"{m.group(0) if m else 'no preview line'}; status: {status.group(1) if status else '?'}")

    # The nudge (dialog.c): the first parameter moved once the dialog was
    # ready; drafts first, then the full render (plugin/preview.c).
    nudged = read_dump(os.path.join(DUMPS, f"{name}.nudged"))
    if e["aux"] == "none":
        before = re.search(r"^canvas-preview .* drafts=(\d+) renders=(\d+)", dump, re.M)
        after_n = re.search(r"^canvas-preview .* drafts=(\d+) renders=(\d+)", nudged, re.M)
        tap(bool(before and after_n) and int(after_n.group(1)) > int(before.group(1))
            and int(after_n.group(2)) > int(before.group(2)),
            f"{name}: moving a slider asks the canvas for a draft, then the full render",
            f"ready: {before.group(0) if before else None}; "
            f"nudged: {after_n.group(0) if after_n else nudged[:300]!r}")
    else:
        pat = r"^dialog-preview computed=(\d+) failed=(\d) drafts=(\d+) draft-latency-ms=(\S+)"
        before, after_n = re.search(pat, dump, re.M), re.search(pat, nudged, re.M)
        ok = (bool(before and after_n) and int(after_n.group(3)) > int(before.group(3))
              and int(after_n.group(1)) > int(before.group(1)) and after_n.group(2) == "0"
              and float(after_n.group(4)) > 0)
        tap(ok, f"{name}: moving a slider shows a draft in the dialog, then the full render"
            + (f" (draft on screen {after_n.group(4)} ms after the change)" if ok else ""),
            f"ready: {before.group(0) if before else None}; "
            f"nudged: {after_n.group(0) if after_n else nudged[:300]!r}")

    if e["aux"] == "mask":
        m = re.search(r"^mask-painter size=(\d+)x(\d+) mean=([0-9.]+)", dump, re.M)
        tools = all(tree_has(dump, rf"name={n} .*mapped=1") for n in
                    ("lisse-brush-foreground", "lisse-brush-background", "lisse-brush-size",
                     "lisse-mask-undo", "lisse-mask-clear", "lisse-mask-invert",
                     "lisse-mask-automatic"))
        painter = tree_has(dump, r"LisseMaskPainter name=lisse-mask-painter .*mapped=1")
        tap(bool(m) and painter and tools and 0.01 < float(m.group(3)) < 0.99,
            f"{name}: mask painter with its tools, starting from the saliency suggestion",
            (m.group(0) if m else "no mask-painter line") + f" painter={painter} tools={tools}")
        done = read_dump(os.path.join(DUMPS, f"{name}.done"))
        stored = re.search(r"^stored-mask id=(\d+) name=Lisse mask$", done, re.M)
        tap(bool(stored) and "Lisse mask;" in ran.get(name, ""),
            f"{name}: OK stored the painted mask as the channel 'Lisse mask'",
            f"done: {done[:400]!r}; after the run: {ran.get(name)}")

    after = ran.get(name, "")
    tap(os.path.exists(os.path.join(DUMPS, f"{name}.done")) and after.startswith("ok=1"),
        f"{name}: OK pressed, the procedure succeeded", f"after the run: {after!r}")
    if e["aux"] == "none":
        tap("filters=0" in after, f"{name}: the preview filter was removed from the layer",
            f"after the run: {after!r}")
    if name == "remove-texture" and LEARNED:
        warnings = [l for l in gimp_log.splitlines()
                    if "lisse:remove-texture" in l and "passed through" in l]
        shown = re.search(r"^choice .*$", dump, re.M)
        shown = shown.group(0) if shown else "no choice line"
        tap(shown == "choice method=mgpnet" and not warnings,
            f"{name}: the dialog is on MGPNet (mgpnet) and its preview ran the network",
            "\n".join(warnings) or shown)
    # GimpProcedureDialog reports duplicates between properties and its
    # own buttons ("duplicate mnemonic …"); labels without a mnemonic at all
    # ("no mnemonic for property …") are the procedure's nicks, not a clash.
    clashes = [l for l in gimp_log.splitlines()
               if "duplicate mnemonic" in l and f"plug-in-lisse-{name}'" in l]
    tap(not clashes, f"{name}: no mnemonic clash reported", "\n".join(clashes))

sys.exit(tap.finish())
