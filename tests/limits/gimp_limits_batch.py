# SPDX-License-Identifier: GPL-3.0-or-later
"""The GIMP side of test-gimp-limits.py, run inside gimp-console by the
python-fu-eval batch interpreter:

  gimp-console-3.0 -i --quit --batch-interpreter=python-fu-eval \
      -b "exec(open('tests/limits/gimp_limits_batch.py').read())"

It reads LIMITS_SPEC (JSON written by the test: image paths and, per
effect, its parameters' ends and just-outside values), and writes
LIMITS_RESULT (JSON) with what GIMP did; the test judges it.  Per
plug-in-lisse-* procedure:
  - "args": every argument as the PDB declares it (name, kind, range,
    default, choice nicks);
  - "config": a value outside a range set on a procedure config, and what
    the config holds afterwards (libgimp's guard for other plug-ins);
  - "runs": the procedure with every parameter at its minimum, then at its
    maximum, on a float RGBA copy of the scene: PDB status, error, and the
    layer's pixels (finite, range, alpha) afterwards;
  - "script-fu": calls with a value just outside each range, NaN and a
    string, all in one plug-in-script-fu-eval evaluation: "ok" or "error"
    and the message, as a Script-Fu user sees them.
No assertion here: anything unexpected is recorded, with its traceback."""

import json
import os
import traceback

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio   # noqa: E402

import numpy as np                        # noqa: E402

spec = json.load(open(os.environ["LIMITS_SPEC"]))
result = {"procs": {}, "error": None}
FORMAT = "R'G'B'A float"


def load_scene():
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(spec["image"]))
    img.convert_precision(Gimp.Precision.FLOAT_NON_LINEAR)
    layer = img.get_layers()[0]
    guide = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, img,
                                 Gio.File.new_for_path(spec["guide"]))
    img.insert_layer(guide, None, 1)
    guide.set_visible(False)
    w, h = img.get_width(), img.get_height()
    img.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, w // 2, h)
    mask = Gimp.Selection.save(img)
    mask.set_visible(False)
    Gimp.Selection.none(img)
    return img, layer, guide, mask


def pixels(layer):
    w, h = layer.get_width(), layer.get_height()
    rect = Gegl.Rectangle.new(0, 0, w, h)
    data = layer.get_buffer().get(rect, 1.0, FORMAT, Gegl.AbyssPolicy.NONE)
    return np.frombuffer(data, np.float32).reshape(h, w, 4)


def describe_arg(a):
    kind = type(a).__name__
    d = {"name": a.name, "kind": kind}
    if kind in ("ParamSpecDouble", "ParamSpecInt"):
        d.update(min=a.minimum, max=a.maximum, default=a.default_value)
    elif kind == "ParamChoice":
        d.update(choices=list(Gimp.param_spec_choice_get_choice(a).list_nicks()),
                 default=a.default_value)
    return d


def new_config(proc, img, layer, effect, guide, mask):
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [layer])
    if effect["aux"] == "mask":
        cfg.set_property("mask", mask)
    elif effect["aux"] == "guide":
        cfg.set_property("guide", guide)
    return cfg


def config_refusals(proc, img, layer, effect, guide, mask):
    cfg = new_config(proc, img, layer, effect, guide, mask)
    out = []
    for p in effect["params"]:
        for v in p["outside"]:
            value = int(v) if p["integer"] else float(v)
            before = cfg.get_property(p["name"])
            try:
                cfg.set_property(p["name"], value)
                how = "set"
            except (TypeError, ValueError, OverflowError) as e:
                how = f"raised {type(e).__name__}"
            after = cfg.get_property(p["name"])
            out.append({"param": p["name"], "value": repr(value), "before": repr(before),
                        "after": repr(after), "how": how})
    return out


def run_at_end(proc, scene, effect, end):
    img = scene[0].duplicate()
    layer = img.get_layers()[0]
    guide = img.get_layers()[1]
    mask = img.get_channels()[0]
    before = pixels(layer)
    cfg = new_config(proc, img, layer, effect, guide, mask)
    for p in effect["params"]:
        v = p[end]
        cfg.set_property(p["name"], int(v) if p["integer"] else float(v))
    values = {p["name"]: repr(cfg.get_property(p["name"])) for p in effect["params"]}
    r = proc.run(cfg)
    status = r.index(0).value_nick
    error = r.index(1) if r.length() > 1 and status != "success" else None
    after = pixels(layer)
    colour = after[..., :3]
    finite = bool(np.isfinite(after).all())
    d = {"end": end, "values": values, "status": status, "error": error, "finite": finite,
         "colour": [float(np.nanmin(colour)), float(np.nanmax(colour))],
         "alpha_change": float(np.abs(after[..., 3] - before[..., 3]).max()),
         "mean_change": float(np.nanmean(np.abs(colour - before[..., :3])))}
    img.delete()
    return d


# One Script-Fu evaluation for every call (each evaluation starts the
# Script-Fu interpreter anew): run-case catches the error, writes
# "@LABEL ok" or "@LABEL error MESSAGE" to a file.
SCHEME_PRELUDE = r"""
(define out (open-output-file "%s"))
(define saved-hook *error-hook*)
(define last-err #f)
(define (->string x) (let ((p (open-output-string))) (display x p) (get-output-string p)))
(define (run-case name thunk)
  (set! last-err #f)
  (set! *error-hook* (lambda args (set! last-err args) (throw)))
  (let ((r (catch #f (thunk) #t)))
    (set! *error-hook* saved-hook)
    (display "@" out) (display name out)
    (if r (display " ok" out)
        (begin (display " error " out) (write (->string last-err) out)))
    (newline out)))
"""


def script_fu_calls(scene, effects):
    """{effect: [{param, label, sets, status, message}]} for every
    effect's Script-Fu cases, from one plug-in-script-fu-eval call."""
    img = scene[0].duplicate()
    layer, guide, mask = img.get_layers()[0], img.get_layers()[1], img.get_channels()[0]
    log = os.environ["LIMITS_RESULT"] + ".scm-log"
    lines, cases = [SCHEME_PRELUDE % log], []
    for effect in effects:
        base = [f"#:run-mode RUN-NONINTERACTIVE #:image {img.get_id()}",
                f"#:drawables (vector {layer.get_id()})"]
        if effect["aux"] == "mask":
            base.append(f"#:mask {mask.get_id()}")
        elif effect["aux"] == "guide":
            base.append(f"#:guide {guide.get_id()}")
        for p in effect["params"]:
            for label, text in p["script_fu_outside"]:
                key = f"c{len(cases)}"
                cases.append((effect["name"], {"param": p["name"], "label": label,
                                               "sets": {p["name"]: text}}, key))
                call = f"(plug-in-lisse-{effect['name']} {' '.join(base)} #:{p['name']} {text})"
                lines.append(f'(run-case "{key}" (lambda () {call}))')
    lines.append("(close-output-port out)")
    sf = Gimp.get_pdb().lookup_procedure("plug-in-script-fu-eval")
    cfg = sf.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("script", "\n".join(lines))
    r = sf.run(cfg)
    logged = {}
    if os.path.exists(log):
        for line in open(log, encoding="utf-8", errors="replace"):
            key, _, rest = line.rstrip("\n")[1:].partition(" ")
            status, _, message = rest.partition(" ")
            logged[key] = (status, message.strip('"'))
    out = {}
    for effect_name, case, key in cases:
        status, message = logged.get(key, ("missing", f"eval status {r.index(0).value_nick}"))
        out.setdefault(effect_name, []).append(dict(case, status=status, message=message))
    img.delete()
    return out


def main():
    pdb = Gimp.get_pdb()
    scene = load_scene()
    for effect in spec["effects"]:
        name = "plug-in-lisse-" + effect["name"]
        proc = pdb.lookup_procedure(name)
        entry = result["procs"][name] = {}
        if proc is None:
            entry["missing"] = True
            continue
        try:
            entry["args"] = [describe_arg(a) for a in proc.get_arguments()]
            entry["config"] = config_refusals(proc, *scene[:2], effect, *scene[2:])
            entry["runs"] = [run_at_end(proc, scene, effect, end) for end in ("min", "max")]
        except Exception:
            entry["exception"] = traceback.format_exc()
    calls = script_fu_calls(scene, spec["effects"])
    for effect in spec["effects"]:
        entry = result["procs"]["plug-in-lisse-" + effect["name"]]
        entry["script-fu"] = calls.get(effect["name"], [])


try:
    main()
except Exception:
    result["error"] = traceback.format_exc()
with open(os.environ["LIMITS_RESULT"], "w") as f:
    json.dump(result, f, indent=1, default=repr)
