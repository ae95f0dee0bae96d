# SPDX-License-Identifier: GPL-3.0-or-later
"""What the corpus builders (build.py, build_textures.py) share: pinned
Debian packages and their files.

  - the packages reserved for independent evaluation, refused everywhere;
  - checking a [[package]] table and reading a package list (TOML), with
    the allowed and required keys given by the builder;
  - `apt-get download NAME=VERSION` into a reused cache, `dpkg-deb -x`
    skipped while the .deb's SHA-256 is unchanged;
  - selecting a package's files by include / exclude / per-file licences,
    and holding out whole files per package for validation;
  - comparing the packages of a run with a reference manifest, and the
    one-item-a-line JSON layout of the manifests;
  - SHA-256 helpers, seeds, logging and the builders' main().

Standard library only; apt-get and dpkg-deb for packages.  The builders
import it from their own folder (they put it on sys.path).
"""

import fnmatch
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

# Kept for independent evaluation (../shared/notes/data.md): never download,
# unpack, train on or look at these, whatever a configuration file says.
RESERVED = frozenset({
    "ukui-wallpapers",
    "plasma-workspace-wallpapers",
    "krita-data",
    "propaganda-debian",
    "liblemonldap-ng-portal-perl",
    "palapeli-data",
    "libjxl-testdata",
})

FILE_KEYS = {"licence", "copyright", "note"}


class CorpusError(Exception):
    """A problem that stops the build, with a message for the user."""


def logger(prefix):
    """A function that prints 'PREFIX: message' lines on stderr."""
    def log(msg):
        print(f"{prefix}: {msg}", file=sys.stderr, flush=True)
    return log


log = logger("corpus")  # what download() says when it calls apt-get


def run_main(fn, prefix):
    """A builder's main(): FN()'s exit status, or 1 after printing a
    CorpusError as 'PREFIX: error: message' on stderr."""
    try:
        return fn()
    except CorpusError as e:
        print(f"{prefix}: error: {e}", file=sys.stderr)
        return 1


def seed_int(*parts):
    """A 64-bit seed from any values, the same on every machine and run."""
    text = "\0".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------- config

def refuse_reserved(name):
    """Raise CorpusError if NAME is a package reserved for evaluation."""
    if name in RESERVED:
        raise CorpusError(f"{name} is reserved for independent evaluation "
                          "(shared/notes/data.md) and must never be used")


def check_package_config(cfg, package_keys, required_keys, choices=None):
    """Validate one [[package]] table; return it with defaults filled in.

    PACKAGE_KEYS: the keys allowed, REQUIRED_KEYS: those that must be
    there; CHOICES: {key: allowed values} for keys with a fixed set."""
    name = cfg.get("name", "?")
    refuse_reserved(name)
    unknown = set(cfg) - package_keys
    missing = required_keys - set(cfg)
    if unknown:
        raise CorpusError(f"{name}: unknown keys {sorted(unknown)}")
    if missing:
        raise CorpusError(f"{name}: missing keys {sorted(missing)}")
    for key, allowed in (choices or {}).items():
        if cfg[key] not in allowed:
            raise CorpusError(f"{name}: {key} must be one of {sorted(allowed)}")
    if not isinstance(cfg["include"], list) or not cfg["include"]:
        raise CorpusError(f"{name}: include must be a non-empty list")
    out = dict(cfg)
    out.setdefault("exclude", {})
    out.setdefault("files", {})
    for fname, over in out["files"].items():
        bad = set(over) - FILE_KEYS
        if bad:
            raise CorpusError(f"{name}: files.{fname}: unknown keys {sorted(bad)}")
    return out


def load_config(path, check):
    """Read a package list (TOML); return its [[package]] tables, each
    passed through CHECK (a builder's check_package_config)."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    pkgs = [check(p) for p in data.get("package", [])]
    names = [p["name"] for p in pkgs]
    if len(set(names)) != len(names):
        raise CorpusError(f"{path}: a package is listed twice")
    if not pkgs:
        raise CorpusError(f"{path}: no [[package]] tables")
    return pkgs


# ------------------------------------------------------ packages on disk

def find_deb(cache, name, version):
    """The cached .deb of NAME at VERSION in CACHE, or None."""
    for deb in sorted(Path(cache).glob(f"{name}_*.deb")):
        fields = deb_fields(deb)
        if fields.get("Package") == name and fields.get("Version") == version:
            return deb
    return None


def deb_fields(deb):
    """Package, Version and Source of a .deb (dpkg-deb -f)."""
    try:
        out = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Source"],
                             check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise CorpusError("dpkg-deb not found (run inside tools/dev exec)")
    except subprocess.CalledProcessError as e:
        raise CorpusError(f"{deb}: not a Debian package ({e.stderr.strip()})")
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def download(name, version, cache):
    """Return the .deb of NAME=VERSION, from CACHE or with apt-get download."""
    refuse_reserved(name)
    Path(cache).mkdir(parents=True, exist_ok=True)
    deb = find_deb(cache, name, version)
    if deb is None:
        log(f"apt-get download {name}={version}")
        cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
               f"{name}={version}"]
        try:
            r = subprocess.run(cmd, cwd=cache, capture_output=True, text=True)
        except FileNotFoundError:
            raise CorpusError(f"apt-get not found: put {name}'s .deb for {version} "
                              f"into {cache} or run inside tools/dev exec")
        if r.returncode != 0:
            raise CorpusError(f"apt-get download {name}={version} failed: "
                              f"{r.stderr.strip() or r.stdout.strip()} "
                              "(is the version still in the archive? try apt-get update)")
        deb = find_deb(cache, name, version)
        if deb is None:
            raise CorpusError(f"apt-get download {name}={version} left no matching .deb")
    fields = deb_fields(deb)
    refuse_reserved(fields.get("Package", ""))
    refuse_reserved(fields.get("Source", "").split(" ")[0])
    return deb


def extract(deb, dest, deb_sha):
    """Unpack DEB into DEST with dpkg-deb -x, unless already done for it."""
    dest = Path(dest)
    stamp = dest / ".lisse-deb-sha256"
    if stamp.is_file() and stamp.read_text().strip() == deb_sha:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    stamp.write_text(deb_sha + "\n")
    return dest


def fetch(cfg, out):
    """Download and unpack the package of one [[package]] table under OUT
    (OUT/debs, OUT/extract/NAME).  Returns (deb, its SHA-256, root)."""
    deb = download(cfg["name"], cfg["version"], out / "debs")
    deb_sha = sha256_file(deb)
    root = extract(deb, out / "extract" / cfg["name"], deb_sha)
    return deb, deb_sha, root


def package_entry(cfg, deb, deb_sha, **extra):
    """A package's line in a manifest: name, version, EXTRA, .deb file and
    SHA-256, licence, copyright holder and where the licence was read."""
    entry = {"name": cfg["name"], "version": cfg["version"], **extra,
             "deb": deb.name, "deb_sha256": deb_sha, "licence": cfg["licence"]}
    if cfg.get("copyright"):
        entry["copyright"] = cfg["copyright"]
    if cfg.get("licence_source"):
        entry["licence_source"] = " ".join(cfg["licence_source"].split())
    return entry


# ------------------------------------------------------------ selection

def list_files(folder, recursive=False):
    """Regular files in FOLDER (symlinks ignored), sorted; with RECURSIVE
    those below it too, as paths relative to it with '/' separators."""
    if not recursive:
        return sorted(e.name for e in os.scandir(folder)
                      if e.is_file(follow_symlinks=False))
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fn in filenames:
            full = os.path.join(dirpath, fn)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            out.append(os.path.relpath(full, folder).replace(os.sep, "/"))
    return sorted(out)


def select_files(cfg, root, *, noun, config_name, recursive=False,
                 exclude_selected=False, expect_zero_any=False):
    """The files of one package selected by include / exclude, from its
    unpacked tree at ROOT.

    Returns records (dicts) sorted by path, with 'package', 'version',
    'rel' (the path below cfg['dir']), 'path' (in the package, as
    installed), 'file' (on disk), 'licence' and, where given, 'copyright'
    and 'licence_note'.  Raises CorpusError when an include pattern matches
    nothing, an exclude entry names no file (with EXCLUDE_SELECTED: no file
    the includes selected), a per-file entry names no selected file, or the
    count differs from 'expect' (with EXPECT_ZERO_ANY, 'expect = 0' takes
    any count).  NOUN ('photo', 'file') and CONFIG_NAME (the package list's
    file name) are for the messages.
    """
    name = cfg["name"]
    folder = Path(root) / cfg["dir"].lstrip("/")
    if not folder.is_dir():
        raise CorpusError(f"{name}: {cfg['dir']} is not in the package")
    regular = list_files(folder, recursive)
    chosen = set()
    for pattern in cfg["include"]:
        hits = fnmatch.filter(regular, pattern)
        if not hits:
            raise CorpusError(f"{name}: include '{pattern}' matches no file in {cfg['dir']}")
        chosen.update(hits)
    for rel in cfg.get("exclude", {}):
        if exclude_selected and rel not in chosen:
            raise CorpusError(f"{name}: exclude '{rel}' names no selected file in {cfg['dir']}")
        if rel not in regular:
            raise CorpusError(f"{name}: exclude '{rel}' names no file in {cfg['dir']}")
        chosen.discard(rel)
    for rel in cfg.get("files", {}):
        if rel not in chosen:
            raise CorpusError(f"{name}: files.'{rel}' is not a selected {noun}")
    if (cfg["expect"] or not expect_zero_any) and len(chosen) != cfg["expect"]:
        raise CorpusError(f"{name}: selected {len(chosen)} {noun}s, {config_name} "
                          f"expects {cfg['expect']}")
    records = []
    for rel in sorted(chosen):
        over = cfg.get("files", {}).get(rel, {})
        rec = {"package": name, "version": cfg["version"], "rel": rel,
               "path": cfg["dir"].rstrip("/") + "/" + rel,
               "file": folder / rel, "licence": over.get("licence", cfg["licence"])}
        holder = over.get("copyright", cfg.get("copyright"))
        if holder:
            rec["copyright"] = holder
        if over.get("note"):
            rec["licence_note"] = over["note"]
        records.append(rec)
    return records


# ---------------------------------------------------------------- split

def split_per_package(records, val_fraction, seed, tag):
    """Set rec['split'] to 'train' or 'val' for every record, per package.

    Per package, records sorted by 'path' are shuffled with a generator
    seeded from (SEED, TAG, package); the first round(n * val_fraction) of
    them, at least one and at most n - 1, go to validation when the package
    has at least 3 records; packages with 1 or 2 are all training.
    Returns RECORDS.
    """
    by_pkg = {}
    for rec in records:
        by_pkg.setdefault(rec["package"], []).append(rec)
    for pkg, recs in by_pkg.items():
        recs = sorted(recs, key=lambda r: r["path"])
        n = len(recs)
        n_val = 0
        if n >= 3 and val_fraction > 0:
            n_val = min(n - 1, max(1, round(n * val_fraction)))
        order = list(range(n))
        random.Random(seed_int(seed, tag, pkg)).shuffle(order)
        val = set(order[:n_val])
        for i, rec in enumerate(recs):
            rec["split"] = "val" if i in val else "train"
    return records


# ------------------------------------------------------------ manifests

def compare_packages(ref, packages):
    """The differences between the packages of this run and those of the
    reference manifest REF: versions, .deb checksums, packages added or
    gone.  An empty list means they agree."""
    problems = []
    ref_pkgs = {p["name"]: p for p in ref.get("packages", [])}
    for p in packages:
        r = ref_pkgs.get(p["name"])
        if r is None:
            problems.append(f"{p['name']}: not in the reference manifest")
        elif r["version"] != p["version"]:
            problems.append(f"{p['name']}: version {p['version']}, reference {r['version']}")
        elif r.get("deb_sha256") != p["deb_sha256"]:
            problems.append(f"{p['name']}: .deb checksum differs from the reference")
    for name in set(ref_pkgs) - {p["name"] for p in packages}:
        problems.append(f"{name}: in the reference manifest, no longer configured")
    return problems


def dump_json(doc, list_keys):
    """JSON text with the lists named in LIST_KEYS written one item a line,
    so the committed manifest reads (and diffs) one photo per line."""
    lines = ["{"]
    items = list(doc.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if key in list_keys:
            lines.append(f" {json.dumps(key)}: [")
            for j, item in enumerate(value):
                sep = "," if j < len(value) - 1 else ""
                lines.append("  " + json.dumps(item, ensure_ascii=False) + sep)
            lines.append(" ]" + comma)
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"
