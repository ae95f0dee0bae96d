# SPDX-License-Identifier: GPL-3.0-or-later
"""The methods the hostile-image suite runs, read from the registries as
`lisse effect --list` and `lisse filter --list` print them, so that a new
effect, choice or filter is covered without editing the tests; and the
tiny random-weight models that the learned ones run on.

A Method is one effect at one value of its choice or one filter;
every_path() keeps those whose code differs.  `classical` says
whether every step is a classical filter (the choice's label says
"(classical filter)", or it is a filter): those treat a 1-pixel-thick
image like a stack of copies of it (replicated or mirrored borders, all
windows normalised), which the tests use as the reference for tiny sizes;
networks pad with zeros, so for them that reference is not defined.
"""

import collections
import os
import re
import subprocess

Method = collections.namedtuple("Method", "kind name choice_name choice aux classical default")
# kind "effect" or "filter"; aux None, "mask" or "guide"; choice None for
# effects without one and for filters; default: the effect's default choice
# (or no choice to make).


def key(m):
    """"effect:remove-texture:csgis", "filter:l0": a method's name in TAP lines."""
    return ":".join(x for x in (m.kind, m.name, m.choice) if x)


def cli_args(m):
    """`lisse` arguments before the files (the aux file is the caller's)."""
    args = [m.kind, m.name]
    if m.choice:
        args += ["--choice", m.choice]
    return args


def parse_effects(text):
    methods = []
    head = re.compile(r"^(\S+)\s+(.+?) \((.*)\)$")
    choice = re.compile(r"^    --choice \((\S+)\):$")
    value = re.compile(r"^      (\S+)\s+(.*?)( \(default\))?$")
    cur, values = None, []

    def flush():
        if cur is None:
            return
        name, aux, cname = cur
        if not values:
            methods.append(Method("effect", name, None, None, aux, False, True))
        for nick, label, default in values:
            methods.append(Method("effect", name, cname, nick, aux,
                                  "(classical filter)" in label, default))

    for line in text.splitlines():
        m = head.match(line)
        if m and not line.startswith(" "):
            flush()
            aux = "mask" if "--aux MASK" in m.group(3) else \
                "guide" if "--aux GUIDE" in m.group(3) else None
            cur, values = (m.group(1), aux, None), []
            continue
        m = choice.match(line)
        if m and cur:
            cur = (cur[0], cur[1], m.group(1))
            continue
        m = value.match(line)
        if m and cur and cur[2]:
            values.append((m.group(1), m.group(2), bool(m.group(3))))
    flush()
    return methods


def parse_filters(text):
    methods = []
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+.*\((.*)\)$", line)
        if m and not line.startswith(" "):
            aux = "guide" if "--guide" in m.group(2) and "optional" not in m.group(2) else None
            methods.append(Method("filter", m.group(1), None, None, aux, True, True))
    return methods


def registry(lisse):
    """Every Method, from the built `lisse`."""
    eff = subprocess.run([lisse, "effect", "--list"], capture_output=True, text=True, check=True)
    fil = subprocess.run([lisse, "filter", "--list"], capture_output=True, text=True, check=True)
    return parse_effects(eff.stdout) + parse_filters(fil.stdout)


def every_path(methods):
    """The methods that take different code paths: every filter, every
    effect at its default choice, and its other choices except those that
    only hand the image to a classical filter (which runs as `lisse filter`
    anyway): the learned methods, the modes and styles."""
    return [m for m in methods if m.kind == "filter" or m.default or not m.classical]


def make_models(directory):
    """Tiny random-weight models under the names the effects look for
    (fan18-smooth, fan18-detail; csgis-texture, mgpnet-texture and
    fang19-rtv when PyTorch is there), one
    file per architecture `lisse run` is tested with.  Returns
    ({architecture: path}, note) where note says what is missing."""
    import lisse_testlib
    os.makedirs(directory, exist_ok=True)
    paths = {}
    paths["fan18"] = lisse_testlib.tiny_fan18_model(
        os.path.join(directory, "fan18-smooth.safetensors"), 1)
    lisse_testlib.tiny_fan18_model(os.path.join(directory, "fan18-detail.safetensors"), 2)
    note = None
    try:
        paths["csgis"] = lisse_testlib.tiny_csgis_model(
            os.path.join(directory, "csgis-texture.safetensors"), 3)
        paths["mgpnet"] = lisse_testlib.tiny_mgpnet_model(
            os.path.join(directory, "mgpnet-texture.safetensors"), 6)
        paths["fang19"] = lisse_testlib.tiny_fang19_model(
            os.path.join(directory, "fang19-rtv.safetensors"), 4)
        lisse_testlib.tiny_fang19_model(os.path.join(directory, "fang19-wls.safetensors"), 5,
                                        "wls")
    except ImportError as e:
        note = f"no csgis, mgpnet or fang19 model: missing Python module {e.name}"
    return paths, note
