#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lisse's translations (po/): complete catalogues, and German labels in GIMP
and in GEGL.

Usage: test-translations.py PO-SOURCE-DIR PO-BUILD-DIR [PLUGIN [MODULE GEGL-PLUGINS-DIR]]

  PO-SOURCE-DIR     the source tree's po/ (LINGUAS, POTFILES, lisse.pot, LANG.po)
  PO-BUILD-DIR      the build's po/, holding LANG/LC_MESSAGES/lisse.mo
  PLUGIN            the built plug-in binary (plugin/lisse)
  MODULE            the built GEGL module (core/gegl/lisse-gegl.so)
  GEGL-PLUGINS-DIR  GEGL's own operations directory

Checks:
  - every catalogue passes `msgfmt -c`, has no fuzzy and no untranslated
    message, and translates every msgid of lisse.pot;
  - lisse.pot is current: xgettext over POTFILES finds the same msgids, and
    POTFILES names every source file with marked strings;
  - translations keep the papers' symbols (λf, λe, σ…), the ellipsis "…",
    printf conversions (in order) and one mnemonic underscore where the
    msgid has one;
  - the build's .mo files translate "Smooth" (German "Glätten", French
    "Lissage");
  - GIMP (gimp-console-3.0 with a private profile whose plug-in directory
    holds the plug-in and its locale/ as installed, LANG=de_DE.UTF-8): the
    procedures GIMP registered (pluginrc) carry the German menu label,
    blurb, argument labels and choice labels;
  - GEGL (PyGObject, LANG=de_DE.UTF-8, LISSE_LOCALEDIR=PO-BUILD-DIR): the
    title, menu label, property labels and enum labels of lisse:smooth and
    lisse:content-aware are German.  (The gegl command-line tool never
    calls setlocale, so it shows even GEGL's own ops in English.)
Where the de_DE.UTF-8 locale is missing it is compiled with localedef into
a private LOCPATH under PO-BUILD-DIR; nothing outside the build changes.
Prints TAP (the plan comes last).
"""

import gettext
import os
import re
import shutil
import subprocess
import sys

_count = 0
_failed = 0


def tap(ok, what, detail=""):
    global _count, _failed
    _count += 1
    if not ok:
        _failed += 1
    print(f"{'ok' if ok else 'not ok'} {_count} - {what}")
    if not ok and detail:
        for line in str(detail).rstrip().splitlines():
            print(f"#   {line}")
    sys.stdout.flush()


def skip(what, reason):
    global _count
    _count += 1
    print(f"ok {_count} - {what} # SKIP {reason}")


if len(sys.argv) < 3:
    print("1..0 # SKIP usage: test-translations.py PO-SOURCE-DIR PO-BUILD-DIR [PLUGIN [MODULE GEGL-DIR]]")
    sys.exit(0)

PO_SRC = os.path.abspath(sys.argv[1])
PO_BUILD = os.path.abspath(sys.argv[2])
PLUGIN = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
MODULE = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
GEGL_SYS = sys.argv[5] if len(sys.argv) > 5 else None
SRC_ROOT = os.path.dirname(PO_SRC)
DOMAIN = "lisse"
# Scratch space inside the build tree: the dev root's /tmp vanishes after
# each command, and a failing run should leave its logs to read.
WORK = os.path.join(PO_BUILD, "test-translations")

for tool in ("msgfmt", "xgettext"):
    if not shutil.which(tool):
        print(f"1..0 # SKIP {tool} (gettext) is not installed")
        sys.exit(0)


# ---------------------------------------------------------------------------
# Reading catalogues

def unquote(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_po(path):
    """[(msgctxt, msgid, msgstr, flags)] of a .po/.pot, header and obsolete
    entries left out."""
    entries, cur, key, flags = [], {}, None, set()

    def flush():
        nonlocal cur, flags
        if "msgid" in cur and cur["msgid"] != "":
            entries.append((cur.get("msgctxt"), cur["msgid"], cur.get("msgstr", ""), flags))
        cur, flags = {}, set()

    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#~"):
                continue
            if line.startswith("#,"):
                flags |= {x.strip() for x in line[2:].split(",")}
                continue
            if line.startswith("#") or not line.strip():
                if key and not line.strip():
                    flush()
                    key = None
                continue
            m = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+"(.*)"$', line)
            if m:
                if m.group(1) in ("msgctxt", "msgid") and "msgid" in cur:
                    flush()  # entries not separated by a blank line
                key = m.group(1).split("[")[0]
                cur[key] = cur.get(key, "") + unquote(m.group(2))
            elif line.startswith('"') and key:
                cur[key] += unquote(line.strip()[1:-1])
    flush()
    return entries


def linguas():
    with open(os.path.join(PO_SRC, "LINGUAS")) as f:
        return [w for line in f if not line.lstrip().startswith("#") for w in line.split()]


def potfiles():
    name = "POTFILES.in" if os.path.exists(os.path.join(PO_SRC, "POTFILES.in")) else "POTFILES"
    with open(os.path.join(PO_SRC, name)) as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]


# ---------------------------------------------------------------------------
# 1. The catalogues

pot = read_po(os.path.join(PO_SRC, "lisse.pot"))
pot_ids = {(c, i) for c, i, _, _ in pot}
LANGS = linguas()
tap(set(LANGS) >= {"de", "fr"}, f"LINGUAS lists de and fr ({' '.join(LANGS)})")

catalogues = {}
for lang in LANGS:
    po_path = os.path.join(PO_SRC, f"{lang}.po")
    proc = subprocess.run(["msgfmt", "-c", "--statistics", "-o", os.devnull, po_path],
                          capture_output=True, text=True)
    stats = proc.stderr.strip()
    tap(proc.returncode == 0 and "fuzzy" not in stats and "untranslated" not in stats,
        f"{lang}.po: msgfmt -c passes, all translated: {stats.splitlines()[-1] if stats else '?'}",
        stats)
    entries = read_po(po_path)
    catalogues[lang] = {(c, i): s for c, i, s, _ in entries}
    missing = pot_ids - set(catalogues[lang])
    empty = [i for (c, i), s in catalogues[lang].items() if not s.strip()]
    fuzzy = [i for c, i, s, fl in entries if "fuzzy" in fl]
    tap(not missing and not empty and not fuzzy,
        f"{lang}.po translates all {len(pot_ids)} msgids of lisse.pot",
        "\n".join([f"missing: {i!r}" for _, i in sorted(missing, key=str)][:10]
                  + [f"empty: {i!r}" for i in empty[:10]] + [f"fuzzy: {i!r}" for i in fuzzy[:10]]))

# lisse.pot is current: the same msgids as xgettext finds now.
os.makedirs(WORK, exist_ok=True)
files = potfiles()
absent = [f for f in files if not os.path.exists(os.path.join(SRC_ROOT, f))]
tap(not absent, f"POTFILES names {len(files)} existing source files", "absent: " + " ".join(absent))
fresh_pot = os.path.join(WORK, "fresh.pot")
proc = subprocess.run(
    ["xgettext", "--from-code=UTF-8", "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2",
     "--keyword=NC_:1c,2", "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3",
     "--keyword=g_dpgettext2:2c,3", "-o", fresh_pot, "-D", SRC_ROOT]
    + [f for f in files if f not in absent],
    capture_output=True, text=True)
fresh_ids = {(c, i) for c, i, _, _ in read_po(fresh_pot)} if proc.returncode == 0 else set()
tap(proc.returncode == 0 and fresh_ids == pot_ids,
    "po/lisse.pot holds exactly the msgids xgettext finds in POTFILES "
    "(else: ninja -C BUILD lisse-pot lisse-update-po, then translate)",
    proc.stderr + "\n".join([f"new: {i!r}" for _, i in sorted(fresh_ids - pot_ids, key=str)][:15]
                            + [f"gone: {i!r}" for _, i in sorted(pot_ids - fresh_ids, key=str)][:15]))

# Every source file with marked strings is listed.
marked = re.compile(r'\b(?:N?C?_|g_dpgettext2|g_dn?c?gettext)\s*\(\s*"')
unlisted = []
for top in ("core", "plugin", "ui"):
    for dirpath, _, names in os.walk(os.path.join(SRC_ROOT, top)):
        for n in sorted(names):
            if not n.endswith(".c"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, n), SRC_ROOT)
            with open(os.path.join(dirpath, n), encoding="utf-8", errors="replace") as f:
                if marked.search(f.read()) and rel not in files:
                    unlisted.append(rel)
tap(not unlisted, "POTFILES lists every source file with strings marked for translation",
    "not listed: " + " ".join(unlisted))

# What a translation must keep.
SYMBOLS = ["λf", "λe", "λ", "σs", "σr", "σe", "σ", "ρ", "εs", "ε", "κ", "β", "α", "…", "×", "▸",
           "(2r+1)", "[0,1]"]
CONVERSION = re.compile(r"%(?:\d+\$)?[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcsp%]")


def mnemonics(s):
    return len(re.findall(r"_(?=\w)", s))


for lang, cat in catalogues.items():
    bad = []
    for (ctx, mid), mstr in cat.items():
        if not mstr:
            continue
        for sym in SYMBOLS:
            if mid.count(sym) and mstr.count(sym) < mid.count(sym):
                bad.append(f"{mid!r}: {sym!r} lost in {mstr!r}")
                break
        if CONVERSION.findall(mid) != CONVERSION.findall(mstr):
            bad.append(f"{mid!r}: conversions {CONVERSION.findall(mid)} vs {CONVERSION.findall(mstr)}")
        if mnemonics(mid) != mnemonics(mstr):
            bad.append(f"{mid!r}: {mnemonics(mid)} mnemonic(s), {mstr!r} has {mnemonics(mstr)}")
        if mid.endswith("…") != mstr.endswith("…") or mid.endswith(".") != mstr.endswith("."):
            bad.append(f"{mid!r}: ending differs in {mstr!r}")
    tap(not bad, f"{lang}.po keeps symbols (λf, λe, σ…), '…', printf conversions and mnemonics",
        "\n".join(bad[:15]))

# The build's compiled catalogues.
expect_smooth = {"de": "Glätten", "fr": "Lissage"}
for lang in LANGS:
    mo = os.path.join(PO_BUILD, lang, "LC_MESSAGES", f"{DOMAIN}.mo")
    try:
        with open(mo, "rb") as f:
            t = gettext.GNUTranslations(f)
        got = t.gettext("Smooth")
        ok = got == expect_smooth.get(lang, got) and got != "Smooth"
    except OSError as e:
        got, ok = str(e), False
    tap(ok, f"build's {lang}/LC_MESSAGES/lisse.mo: 'Smooth' → {got!r}", f"{mo}: {got}")

de = catalogues.get("de", {})


def de_(s):
    return de.get((None, s), s)


# ---------------------------------------------------------------------------
# 2. A German locale for the programs

def have_locale(env, force_missing=False):
    """Whether LANG in @env can be set (with @env's LOCPATH, if any)."""
    if force_missing:
        return False
    probe = "import locale; locale.setlocale(locale.LC_ALL, '')"
    return subprocess.run([sys.executable, "-c", probe], env=env,
                          capture_output=True).returncode == 0


env_de = dict(os.environ)
for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
    env_de.pop(var, None)
env_de["LANG"] = "de_DE.UTF-8"
# LISSE_TEST_PRIVATE_LOCALE=1 takes the localedef path even where the
# system has the locale (to test that path).
if not have_locale(env_de, os.environ.get("LISSE_TEST_PRIVATE_LOCALE") == "1"):
    # Compile it into the build tree instead of the system.
    locpath = os.path.join(WORK, "locales")
    os.makedirs(locpath, exist_ok=True)
    proc = subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8",
                           os.path.join(locpath, "de_DE.UTF-8")], capture_output=True, text=True)
    env_de["LOCPATH"] = locpath
    print(f"# de_DE.UTF-8 not installed: localedef into {locpath} (rc {proc.returncode})")
german_ok = have_locale(env_de)
tap(german_ok, "the de_DE.UTF-8 locale is available (system or private LOCPATH)",
    "install the 'locales' package with de_DE.UTF-8 generated, or glibc's locale sources "
    "(/usr/share/i18n/locales) for localedef")


# ---------------------------------------------------------------------------
# 3. GIMP: the plug-in's procedures as GIMP registered them under LANG=de_DE

def proc_block(pluginrc, name):
    m = re.search(r'\(proc-def "%s" .*?(?=\n    \(proc-def |\Z)' % re.escape(name), pluginrc, re.S)
    return m.group(0) if m else ""


def strings_of(block):
    return {unquote(s) for s in re.findall(r'"((?:[^"\\]|\\.)*)"', block)}


GIMP = shutil.which("gimp-console-3.0")
if not PLUGIN:
    skip("GIMP shows the plug-in in German", "no plug-in given (built without GIMP)")
elif not GIMP:
    skip("GIMP shows the plug-in in German", "gimp-console-3.0 is not installed")
elif not german_ok:
    tap(False, "GIMP shows the plug-in in German", "no de_DE.UTF-8 locale")
else:
    home = os.path.join(WORK, "gimp")
    plug_dir = os.path.join(home, "plug-ins", "lisse")
    profile = os.path.join(home, "profile")
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(plug_dir)
    os.makedirs(profile)
    # The installed layout: <plug-in dir>/lisse, <plug-in dir>/locale/LANG/LC_MESSAGES/lisse.mo
    shutil.copy2(PLUGIN, os.path.join(plug_dir, "lisse"))
    for lang in LANGS:
        d = os.path.join(plug_dir, "locale", lang, "LC_MESSAGES")
        os.makedirs(d)
        src = os.path.join(PO_BUILD, lang, "LC_MESSAGES", f"{DOMAIN}.mo")
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(d, f"{DOMAIN}.mo"))
    try:
        libdir = subprocess.run(["pkg-config", "--variable=gimplibdir", "gimp-3.0"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        libdir = ""
    sys_plugins = os.path.join(libdir or "/usr/lib/x86_64-linux-gnu/gimp/3.0", "plug-ins")
    with open(os.path.join(profile, "gimprc"), "w") as f:
        f.write('(plug-in-path "%s%s%s")\n' % (os.path.dirname(plug_dir), os.pathsep, sys_plugins))
    env = dict(env_de)
    env["GIMP3_DIRECTORY"] = profile
    proc = subprocess.run([GIMP, "-i", "--quit", "--batch-interpreter=plug-in-script-fu-eval",
                           "-b", "(gimp-message \"lisse-translations\")"],
                          capture_output=True, text=True, errors="replace", env=env, timeout=300)
    try:
        with open(os.path.join(profile, "pluginrc"), encoding="utf-8", errors="replace") as f:
            rc_text = f.read()
    except OSError:
        rc_text = ""
    smooth = proc_block(rc_text, "plug-in-lisse-smooth")
    log = f"gimp-console rc {proc.returncode}\n" + (proc.stdout + proc.stderr)[-2500:]
    tap(bool(smooth), "GIMP (LANG=de_DE.UTF-8) registered plug-in-lisse-smooth", log)
    got = strings_of(smooth)
    want = {"Glätten…", de_("Flatten small detail and keep strong edges, with the learned "
                            "smoothing network of Fan et al. 2018"),
            de_("Model"), de_("Fan et al. 2018 (learned)")}
    tap(smooth and want <= got and "Smooth…" not in got,
        "GIMP: plug-in-lisse-smooth's menu label is 'Glätten…', its blurb, the model "
        "argument's label and its choice label German",
        f"missing: {sorted(want - got)}\n{smooth[:1500]}")
    content = proc_block(rc_text, "plug-in-lisse-content-aware")
    got = strings_of(content)
    want = {de_("Content-Aware Smoothing") + "…", de_("λf background"), de_("Mode"),
            de_("Smooth the background"), de_("Enhance the foreground"), de_("Mask")}
    tap(content and want <= got and "Mask" not in got and "Mode" not in got,
        "GIMP: plug-in-lisse-content-aware's menu label, parameter, mode choices and "
        "mask argument in German", f"missing: {sorted(want - got)}\n{content[:1500]}")


# ---------------------------------------------------------------------------
# 4. GEGL: the ops' labels under LANG=de_DE, catalogues from the build

GEGL_PROBE = r"""
import locale, sys
locale.setlocale(locale.LC_ALL, "")
import gi
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl
Gegl.config().props.application_license = "GPL3"
Gegl.init(None)
for op in sys.argv[1:]:
    for key in ("title", "gimp:menu-label"):
        print(f"{op}\t{key}\t{Gegl.Operation.get_key(op, key)}")
    for p in Gegl.Operation.list_properties(op):
        print(f"{op}\tnick:{p.name}\t{p.get_nick()}")
        print(f"{op}\tblurb:{p.name}\t{p.get_blurb()}")
        if hasattr(p, "enum_class"):
            from gi._gi import enum_add  # the Python class of the op's own enum type
            for v in enum_add(p.value_type).__enum_values__.values():
                print(f"{op}\tenum:{p.name}:{v.value_nick}\t{v.value_name}")
"""

if not MODULE or not GEGL_SYS:
    skip("GEGL shows the ops in German", "no GEGL module given (built without GEGL)")
elif not german_ok:
    tap(False, "GEGL shows the ops in German", "no de_DE.UTF-8 locale")
else:
    env = dict(env_de)
    env["GEGL_PATH"] = os.pathsep.join([GEGL_SYS, os.path.dirname(MODULE)])
    env["LISSE_LOCALEDIR"] = PO_BUILD
    have_gi = subprocess.run([sys.executable, "-c",
                              "import gi; gi.require_version('Gegl', '0.4'); "
                              "from gi.repository import Gegl"], capture_output=True).returncode == 0
    if not have_gi:
        skip("GEGL shows the ops in German", "PyGObject with Gegl 0.4 is not available")
    else:
        proc = subprocess.run([sys.executable, "-c", GEGL_PROBE, "lisse:smooth",
                               "lisse:content-aware"],
                              capture_output=True, text=True, env=env, timeout=120)
        vals = {}
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 3:
                vals[(parts[0], parts[1])] = parts[2]
        checks = {
            ("lisse:smooth", "title"): "Glätten",
            ("lisse:smooth", "gimp:menu-label"): "Glätten…",
            ("lisse:smooth", "nick:model"): de_("Model"),
            ("lisse:smooth", "blurb:lambda-f"): de_("Flattening strength: larger values flatten more"),
            ("lisse:smooth", "enum:model:fan18-smooth"): de_("Fan et al. 2018 (learned)"),
            ("lisse:content-aware", "title"): de_("Content-Aware Smoothing"),
            ("lisse:content-aware", "enum:mode:background"): de_("Smooth the background"),
        }
        wrong = [f"{op} {key}: {vals.get((op, key))!r}, want {want!r}"
                 for (op, key), want in checks.items() if vals.get((op, key)) != want]
        what = ("GEGL (LANG=de_DE.UTF-8, LISSE_LOCALEDIR=build po/): lisse:smooth and "
                "lisse:content-aware title, menu label, property labels and enum labels in German")
        tap(not wrong and proc.returncode == 0, what,
            "\n".join(wrong) + "\n" + proc.stderr[-2000:])

print(f"1..{_count}")
sys.exit(1 if _failed else 0)
