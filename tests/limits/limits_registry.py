# SPDX-License-Identifier: GPL-3.0-or-later
"""The parameters of every effect and classical filter, read from the
registries themselves through `lisse effect --list` and `lisse filter
--list`, and the values the limits tests try at and beyond each range.

The listings print every number exactly as the range check and its
messages use it (params.h, lisse_params_format_number), so a parameter or
an effect added later is tested without editing a test, and the range a
test reads is the range the engine checks.  The parser is strict: a
listing line it does not recognise is an error, not a silently missed
parameter.
"""

import math
import re
import subprocess
from dataclasses import dataclass, field


@dataclass
class Param:
    name: str
    label: str
    lo: float
    hi: float
    default: float
    integer: bool
    lo_text: str          # as the listing (and the refusal message) prints it
    hi_text: str

    @property
    def range_text(self):
        return f"[{self.lo_text}, {self.hi_text}]"


@dataclass
class Choice:
    name: str             # "model", "method", "mode", "style"
    nicks: list
    default: str


@dataclass
class Entry:
    kind: str             # "effect" or "filter"
    name: str
    title: str
    reference: str
    params: list = field(default_factory=list)
    choice: Choice = None
    aux: str = None       # effects: None, "mask" or "guide"
    aux_required: bool = False
    guide: str = None     # filters: "none", "optional" or "required"


class ListingError(Exception):
    pass


HEAD = re.compile(r"^(\S+)\s+(.+) \((.*)\)$")
PARAM = re.compile(r"^    (\S+)\s+(.+?) in \[([^,\]]+), ([^\]]+)\], default (\S+?)"
                   r"(, whole numbers)?(?: — .*)?$")
CHOICE = re.compile(r"^    --choice \((\S+)\):$")
CHOICE_VALUE = re.compile(r"^      (\S+)\s+(.*?)( \(default\))?$")


def parse_listing(kind, text):
    """`lisse effect --list` or `lisse filter --list` -> [Entry]."""
    entries, cur = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            m = HEAD.match(line)
            if not m:
                raise ListingError(f"unrecognised line: {line!r}")
            reference, _, use = m.group(3).rpartition("; ")
            cur = Entry(kind, m.group(1), m.group(2), reference)
            if kind == "effect":
                cur.aux = "mask" if "MASK" in use else "guide" if "GUIDE" in use else None
                cur.aux_required = use.startswith("needs")
            else:
                cur.guide = {"self-guided": "none", "optional --guide": "optional",
                             "needs --guide": "required"}.get(use)
                if cur.guide is None:
                    raise ListingError(f"{cur.name}: unknown guide use {use!r}")
            entries.append(cur)
            continue
        if cur is None:
            raise ListingError(f"line before any entry: {line!r}")
        m = PARAM.match(line)
        if m:
            lo, hi, default = (float(m.group(i)) for i in (3, 4, 5))
            cur.params.append(Param(m.group(1), m.group(2), lo, hi, default,
                                    bool(m.group(6)), m.group(3), m.group(4)))
            continue
        if line.strip() == "(no parameters)":
            continue
        m = CHOICE.match(line)
        if m:
            cur.choice = Choice(m.group(1), [], None)
            continue
        m = CHOICE_VALUE.match(line)
        if m and cur.choice:
            cur.choice.nicks.append(m.group(1))
            if m.group(3):
                cur.choice.default = m.group(1)
            continue
        # An effect's one-line blurb follows its head line.
        if kind == "effect" and line.startswith("    ") and not cur.params and not cur.choice:
            continue
        raise ListingError(f"{cur.name}: unrecognised line: {line!r}")
    for e in entries:
        if e.choice and (not e.choice.nicks or e.choice.default not in e.choice.nicks):
            raise ListingError(f"{e.name}: choice {e.choice.name} without values or default")
    return entries


def read_registry(lisse, env=None):
    """Every effect, then every filter, as the command line lists them."""
    entries = []
    for kind in ("effect", "filter"):
        p = subprocess.run([lisse, kind, "--list"], capture_output=True, text=True,
                           env=env, timeout=60)
        if p.returncode != 0:
            raise ListingError(f"lisse {kind} --list: exit {p.returncode}: {p.stderr}")
        entries += parse_listing(kind, p.stdout)
    return entries


# Limits whose meaning the method states: (kind, entry, choice or None for
# any, parameter, "min" or "max") -> why the output equals the input there,
# whatever the other parameters are.
IDENTITY_AT = {
    ("filter", "rtv", None, "lambda", "min"): "RTV at λ = 0 solves S = I",
    ("filter", "wls", None, "lambda", "min"): "WLS at λ = 0 solves u = g",
    ("effect", "content-aware", "foreground", "gain", "min"):
        "foreground mode is I + gain·m·(I − S)",
}


def number_text(x):
    """A float as `--set` should receive it: the shortest text that reads
    back as the same double (Python's repr), whole numbers without ".0"."""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def outside_values(p):
    """(label, text) pairs `--set NAME=text` must refuse: just below the
    minimum and just above the maximum (the next double; for a whole-number
    parameter the next whole number, and a fraction inside the range),
    farther out, NaN, the infinities, overflow, and non-numbers."""
    if p.integer:
        values = [("below min", number_text(p.lo - 1)), ("above max", number_text(p.hi + 1)),
                  ("fraction", number_text(p.lo + 0.5))]
    else:
        values = [("just below min", number_text(math.nextafter(p.lo, -math.inf))),
                  ("just above max", number_text(math.nextafter(p.hi, math.inf))),
                  ("far below min", number_text(p.lo - max(1.0, p.hi - p.lo)))]
    values += [("far above max", number_text(p.hi + max(1.0, p.hi - p.lo))), ("NaN", "nan"),
               ("inf", "inf"), ("-inf", "-inf"), ("overflow", "1e999"), ("not a number", "abc"),
               ("empty", ""), ("trailing text", number_text(p.default) + "x")]
    return values


def unknown_choices(choice):
    """(label, nick) pairs `--choice` must refuse."""
    first = choice.nicks[0]
    return [("unknown name", "no-such-" + choice.name), ("empty name", ""),
            ("wrong case", first.upper() if first.upper() != first else first.lower()),
            ("with a space", first + " ")]
