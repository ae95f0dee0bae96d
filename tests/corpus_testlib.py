# SPDX-License-Identifier: GPL-3.0-or-later
"""What the tests of the corpus builders (test-corpus.py,
test-texture-corpus.py) share: loading a builder from training/corpus/,
fake .deb packages made with dpkg-deb, package lists written from dicts,
and a TAP runner that gives each
test a fresh temporary folder.

The scripts run as `python3 tests/NAME.py` (so meson runs them), which
puts this directory on sys.path; `import corpus_testlib` needs nothing more.
"""

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "training/corpus"


def load_builder(module_name, file_name):
    """Import training/corpus/FILE_NAME as MODULE_NAME, with its folder on
    sys.path (for the builders' shared module, debpkg.py)."""
    if str(CORPUS) not in sys.path:
        sys.path.insert(0, str(CORPUS))
    spec = importlib.util.spec_from_file_location(module_name, CORPUS / file_name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_deb(tmp, name, filler, debs, description="test data", version="1.0-1"):
    """Build DEBS/NAME_VERSION_all.deb (an architecture-independent package)
    from a tree that FILLER(root) writes in a scratch folder under TMP;
    returns the .deb's path."""
    pkg = Path(tmp) / f"root-{name}"
    filler(pkg)
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        f"Maintainer: Lisse tests <nobody@invalid>\nDescription: {description}\n")
    debs = Path(debs)
    debs.mkdir(parents=True, exist_ok=True)
    deb = debs / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "-Zgzip", "--root-owner-group", "-b", str(pkg), str(deb)],
                   check=True, capture_output=True)
    shutil.rmtree(pkg)
    return deb


def package_toml(pkg):
    """A [[package]] table of a package list (TOML) from the dict PKG:
    its dict values (exclude, files) become [package.KEY] sub-tables,
    with dicts in them as inline tables."""
    lines = ["[[package]]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in pkg.items() if not isinstance(v, dict)]
    for k, table in pkg.items():
        if isinstance(table, dict):
            lines.append(f"[package.{k}]")
            for key, v in table.items():
                if isinstance(v, dict):
                    v = "{ " + ", ".join(f"{a} = {json.dumps(b)}" for a, b in v.items()) + " }"
                else:
                    v = json.dumps(v)
                lines.append(f"{json.dumps(key)} = {v}")
    return "\n".join(lines) + "\n"


class Suite:
    """Tests registered with @suite.test, each called with a fresh
    temporary folder (removed afterwards); a test returning a string that
    starts with "SKIP" is reported as skipped."""

    def __init__(self, tmp_prefix):
        self.tmp_prefix = tmp_prefix
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def main(self):
        """Run every test; prints TAP (the plan comes last); returns the
        exit status, 1 when a test failed."""
        failed = 0
        for n, fn in enumerate(self.tests, 1):
            tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
            try:
                result = fn(tmp)
                skip = f" # {result}" if isinstance(result, str) and result.startswith("SKIP") else ""
                print(f"ok {n} - {fn.__name__}{skip}")
            except Exception:
                failed += 1
                print(f"not ok {n} - {fn.__name__}")
                for line in traceback.format_exc().splitlines():
                    print(f"# {line}")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        print(f"1..{len(self.tests)}")
        return 1 if failed else 0
