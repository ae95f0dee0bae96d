#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Score texture-removal methods on NKS-mini and on the synthetic validation split.

Lisse — learned edge-preserving smoothing.

One command for every texture-removal method Lisse has or will have: each
method is a row, scored with ../shared/eval/metrics.py (mean of per-image
PSNR and SSIM, RGB, 8-bit outputs) on two sets:

  NKS-mini   ../shared/eval/nksmini: input/SS_TT.png against gt/SS.png
             (200 pairs).  Reporting only: nothing is tuned on it.
  synth-val  the held-out synthetic validation pairs of the texture pack,
             PACK/val-pairs/{input,gt}/NNNN.png, listed in PACK/index.json
             under "val_pairs" (PACK: --pack, default build-textures/pack).

Rows:
  input                the unfiltered input;
  classical filters    rtv, rolling-guidance, l0, guided, bilateral (and wls
                       on request) through tools/eval/classic-batch, whose
                       outputs are byte for byte `lisse filter`'s (or, when
                       it is not built, `lisse filter` per image).  Each
                       filter's parameters are CHOSEN ON THE SYNTHETIC SPLIT
                       (best mean PSNR over the grid below, on --tune-images
                       of its pairs) and then reported on both sets;
  rtv (oracle)         RTV at lambda=0.0015, sigma=1.0, the best setting ON
                       NKS-MINI itself (docs/classic-eval-nksmini.md, 34.96
                       dB), re-measured: the number a learned method has to
                       beat there;
  --model FILE         `lisse run --model FILE --threads N IN OUT` per image
                       (repeatable; the row is named by the file's metadata
                       "name", else its stem; --model-set KEY=VALUE passes
                       --set to every model);
  --effect-method 'NICK [KEY=VALUE …]'
                       `lisse effect remove-texture --choice NICK` per image
                       (repeatable; --effect-set KEY=VALUE passes --set to
                       all of them, the KEY=VALUE after NICK to this one).

Every score is cached in --cache (default build/texture-eval-cache.json),
keyed by the method, its parameters (and the model file's checksum) and a
checksum of the images it ran on, so adding a row does not redo the
classical grids; --refresh ignores the cache.

Outputs: --doc (default docs/texture-eval.md; only the parts between its
"texture-eval" markers are rewritten), --json (default
docs/texture-eval.json), --sheet (default docs/texture-contact-sheet.png: a
few pairs cropped at 1:1, columns input | RTV | each learned row | ground
truth).  "-" or --no-doc / --no-sheet turn them off.

Without the pack (no PACK/index.json and no PACK/val-pairs), nothing can be
tuned: the classical filters are then reported at their NKS-mini-best
settings, marked as oracle rows, and the synthetic column is empty.

Run inside the development environment, after tools/dev build, on one core:

  taskset -c 1 tools/dev exec python3 tools/eval/texture-eval.py
  taskset -c 1 tools/dev exec python3 tools/eval/texture-eval.py --model m.safetensors
"""

import argparse
import hashlib
import itertools
import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "..", "shared", "eval"))
import metrics  # noqa: E402  (../shared/eval/metrics.py, the sets' definitions)

CACHE_VERSION = 1

# --------------------------------------------------------------------------
# Methods and grids.  Filter name in the table → (Lisse filter, its parameter
# names in grid order).  The grids are for the synthetic split, whose
# textures are stronger and more varied than NKS-mini's (the pack's blend
# draws an RMS of 4–22 grey levels and a zoom of 0.5–2; NKS-mini has 10.3
# and 1): centred on the NKS-mini bests of docs/classic-eval-nksmini.md and
# reaching towards stronger smoothing; a first run's bests at an edge (RTV
# σ 1, rolling guidance σs 3 σr 0.035, L0 λ 0.02, guided r 4 ε 0.0225,
# bilateral σs 4) then got one more value past it.  Kept small so that the
# whole run stays within about half an hour of one core.
# --------------------------------------------------------------------------


def grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, v)) for v in itertools.product(*(axes[k] for k in keys))]


FILTERS = {
    "rtv": "rtv",
    "rolling-guidance": "rolling-guidance",
    "l0": "l0",
    "guided": "guided",
    "bilateral": "joint-bilateral",
    "wls": "wls",
}
DEFAULT_FILTERS = ["rtv", "rolling-guidance", "l0", "guided", "bilateral"]

GRIDS = {
    "rtv": grid(**{"lambda": [0.0015, 0.003, 0.006, 0.012], "sigma": [0.5, 1.0, 2.0]}),
    "rolling-guidance": grid(**{"sigma-s": [2, 3, 4, 5], "sigma-r": [0.02, 0.035, 0.05, 0.08],
                                "iterations": [4]}),
    "l0": grid(**{"lambda": [0.005, 0.008, 0.012, 0.02, 0.03, 0.05]}),
    "guided": grid(**{"radius": [2, 3, 4, 6], "epsilon": [0.01, 0.0225, 0.045, 0.09]}),
    "bilateral": grid(**{"sigma-s": [2, 3, 4, 6], "sigma-r": [0.14, 0.18, 0.26]}),
    "wls": grid(**{"lambda": [0.25, 0.5, 1.0], "alpha": [0.9, 1.2]}),
}

# The best single setting of each filter on NKS-mini itself
# (docs/classic-eval-nksmini.md): the oracle rows.
NKS_BEST = {
    "rtv": {"lambda": 0.0015, "sigma": 1.0},
    "rolling-guidance": {"sigma-s": 3.5, "sigma-r": 0.035, "iterations": 4},
    "l0": {"lambda": 0.008},
    "guided": {"radius": 2, "epsilon": 0.0225},
    "bilateral": {"sigma-s": 3, "sigma-r": 0.18},
    "wls": {"lambda": 0.25, "alpha": 0.9},
}

# Papers' numbers on the real NKS (full resolution), not on NKS-mini
# (../shared/eval/nksmini/README.md): the later networks' papers, and the
# PNLS paper's own tuned table.
PAPER = {
    "input": "28.04 / 0.54",
    "l0": "28.32 / 0.90; PNLS 33.01 / 0.925",
    "rtv": "30.69 / 0.90; PNLS 31.81 / 0.921",
    "rolling-guidance": "32.56 / 0.91; PNLS 32.51 / 0.914",
    "guided": "28.15 / 0.83; PNLS 32.09 / 0.878",
    "bilateral": "PNLS 32.00 / 0.848",
    "wls": "—",
}
PAPER_NETS = [
    ("JESSNet", "34.24 / —"),
    ("SASNet", "34.75 / —"),
    ("CSGIS-Net", "34.51 / 0.9486"),
    ("MGPNet", "35.55 / —"),
]

# Contact-sheet rows: NKS-mini pairs (different ground truths and textures)
# and synthetic pairs spread over the split.
SHEET_NKS = ["03_02", "08_05", "13_07", "18_10"]
SHEET_VAL = 2
SHEET_CROP = (224, 144)  # width, height of each 1:1 crop

DOC_MARKERS = {
    "command": ("<!-- texture-eval-command: begin -->", "<!-- texture-eval-command: end -->"),
    "results": ("<!-- texture-eval: begin -->", "<!-- texture-eval: end -->"),
}


def fmt_value(v):
    return repr(v) if isinstance(v, float) else str(v)


def label(params):
    return ", ".join("%s=%s" % (k, fmt_value(v)) for k, v in params.items()) or "—"


def sha256_file(path, cache={}):
    if path not in cache:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        cache[path] = h.hexdigest()
    return cache[path]


def spread(items, n):
    """n of the items in a fixed spread (every 7th, mod len), in order."""
    if n <= 0 or n >= len(items):
        return list(items)
    idx = sorted({k * 7 % len(items) for k in range(n)})
    k = 0
    while len(idx) < n:  # len divisible by 7: fill the gaps in order
        if k not in idx:
            idx.append(k)
        k += 1
    return [items[i] for i in sorted(idx)]


# --------------------------------------------------------------------------
# The sets
# --------------------------------------------------------------------------


class PairSet:
    """A list of pairs {"id", "input", "gt"} and a checksum of their files."""

    def __init__(self, name, title, root, pairs):
        self.name, self.title, self.root, self.pairs = name, title, root, pairs
        h = hashlib.sha256()
        for p in pairs:
            h.update(("%s %s %s\n" % (p["id"], sha256_file(p["input"]),
                                      sha256_file(p["gt"]))).encode())
        self.hash = h.hexdigest()

    def subset(self, n, name):
        return PairSet(name, self.title, self.root, spread(self.pairs, n))


def nksmini_pairs(root):
    inputs = sorted(f for f in os.listdir(os.path.join(root, "input")) if f.endswith(".png"))
    if not inputs:
        raise SystemExit("texture-eval: no input/*.png in %s" % root)
    root = os.path.abspath(root)
    return [{"id": f[:-4], "input": os.path.join(root, "input", f),
             "gt": os.path.join(root, "gt", f.split("_")[0] + ".png")} for f in inputs]


def val_pairs(pack):
    """The pack's validation pairs, from index.json's "val_pairs" when it is
    there (a list of ids, file names or {"input", "gt"} / {"id"} records),
    else every val-pairs/input/*.png with its val-pairs/gt twin; None when
    the pack has no validation pairs."""
    base = os.path.join(pack, "val-pairs")
    entries = None
    index = os.path.join(pack, "index.json")
    if os.path.isfile(index):
        with open(index) as f:
            entries = json.load(f).get("val_pairs")
        if isinstance(entries, dict):
            entries = next((entries[k] for k in ("pairs", "files", "ids", "items")
                            if isinstance(entries.get(k), list)), None)
    if entries is None:
        if not os.path.isdir(os.path.join(base, "input")):
            return None
        entries = sorted(f for f in os.listdir(os.path.join(base, "input")) if f.endswith(".png"))

    def find(path, kind):
        for c in (path, os.path.join(pack, path), os.path.join(base, path),
                  os.path.join(base, kind, path), os.path.join(base, kind, path + ".png")):
            if os.path.isfile(c):
                return os.path.abspath(c)
        return os.path.abspath(os.path.join(base, kind, path))

    pairs = []
    for e in entries:
        if isinstance(e, dict):
            inp, gt = e.get("input"), e.get("gt")
            ident = e.get("id", e.get("name"))
            if inp and gt:
                pairs.append({"id": str(ident if ident is not None else
                                        os.path.splitext(os.path.basename(inp))[0]),
                              "input": find(inp, "input"), "gt": find(gt, "gt")})
                continue
            e = ident if ident is not None else e.get("file")
        if isinstance(e, int):
            e = "%04d" % e
        stem = os.path.splitext(os.path.basename(str(e)))[0]
        pairs.append({"id": stem, "input": find(stem, "input"), "gt": find(stem, "gt")})
    missing = [p for p in pairs if not (os.path.isfile(p["input"]) and os.path.isfile(p["gt"]))]
    if missing:
        raise SystemExit("texture-eval: %d of %d validation pairs are missing (first: %s)"
                         % (len(missing), len(pairs), missing[0]["input"]))
    return pairs or None


# --------------------------------------------------------------------------
# Runners: each lane (one per --jobs) owns one; run(method, pair, out) writes
# the output image and returns the milliseconds to report.
# --------------------------------------------------------------------------


class BatchRunner:
    """One tools/eval/classic-batch process: GEGL starts once; ms is the time
    inside lisse_filter_run alone."""

    def __init__(self, batch, threads):
        env = dict(os.environ, LISSE_THREADS=str(threads))
        env.setdefault("OMP_WAIT_POLICY", "passive")  # as `lisse` sets for itself
        self.proc = subprocess.Popen([batch], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, env=env)

    def run(self, method, pair, out):
        args = [method["filter"]] + [pair["input"], out] + \
               ["%s=%s" % (k, fmt_value(v)) for k, v in method["params"].items()]
        self.proc.stdin.write(" ".join(args) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().rstrip("\n")
        if not answer.startswith("ok "):
            raise RuntimeError("classic-batch: %s" % (answer or "ended unexpectedly"))
        return float(answer.rsplit(" ", 1)[1])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def lisse_command(lisse, method, threads, inp, out):
    kind = method["kind"]
    if kind == "filter":
        cmd = [lisse, "filter", method["filter"]]
        cmd += sum((["--set", "%s=%s" % (k, fmt_value(v))]
                    for k, v in method["params"].items()), [])
    elif kind == "model":
        cmd = [lisse, "run", "--model", method["file"]]
        cmd += sum((["--set", kv] for kv in method["set"]), [])
    elif kind == "effect":
        cmd = [lisse, "effect", "remove-texture", "--choice", method["choice"]]
        cmd += sum((["--set", kv] for kv in method["set"]), [])
    else:
        raise ValueError(kind)
    if kind != "filter":
        cmd += ["--threads", str(threads)]
    return cmd + [inp, out]


class ProcessRunner:
    """One `lisse` process per image; ms is the process's wall time less its
    start-up (the same command on a 16 × 16 image, the fastest of three)."""

    def __init__(self, lisse, threads, scratch):
        self.lisse, self.threads, self.scratch = lisse, threads, scratch
        self.startup = {}
        self.env = dict(os.environ, LISSE_THREADS=str(threads))

    def _run(self, method, inp, out):
        cmd = lisse_command(self.lisse, method, self.threads, inp, out)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        ms = (time.perf_counter() - t0) * 1000
        if r.returncode != 0 or not os.path.isfile(out):
            raise RuntimeError("%s: %s" % (shlex.join(cmd), (r.stderr or r.stdout).strip()))
        return ms

    def startup_ms(self, method):
        key = method["key"]
        if key not in self.startup:
            tiny = os.path.join(self.scratch, "startup-16.png")
            if not os.path.exists(tiny):
                rng = np.random.default_rng(0)
                cv2.imwrite(tiny, rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
            out = os.path.join(self.scratch, "startup-out.png")
            self.startup[key] = min(self._run(method, tiny, out) for _ in range(3))
        return self.startup[key]

    def run(self, method, pair, out):
        if os.path.exists(out):
            os.remove(out)
        ms = self._run(method, pair["input"], out)
        return ms if method["kind"] == "filter" else ms - self.startup_ms(method)

    def close(self):
        pass


class Engine:
    """Runs methods on sets with --jobs lanes, scores the outputs, caches."""

    def __init__(self, a):
        self.a = a
        self.scratch = a.scratch
        os.makedirs(self.scratch, exist_ok=True)
        self.batch = a.batch if a.batch and os.access(a.batch, os.X_OK) else None
        if not self.batch:
            print("texture-eval: %s is not built; the filters run as one `lisse filter` per "
                  "image (slower start-up, same pixels)" % a.batch, flush=True)
        self.lanes = []
        self.cache_path = a.cache
        self.cache = {}
        if not a.refresh and os.path.isfile(a.cache):
            with open(a.cache) as f:
                self.cache = json.load(f)
        self.gt_cache = {}
        self.computed = 0
        self.cached = 0
        self.used_wall = {}  # key → wall s of every evaluation behind the results

    def _lane_runners(self, kind):
        if not self.lanes:
            self.lanes = [{"batch": None, "proc": ProcessRunner(self.a.lisse, self.a.threads,
                                                                  self.scratch)}
                          for _ in range(self.a.jobs)]
        key = "batch" if kind == "filter" and self.batch else "proc"
        for lane in self.lanes:
            if lane[key] is None:
                lane[key] = BatchRunner(self.batch, self.a.threads)
        return [lane[key] for lane in self.lanes]

    def close(self):
        for lane in self.lanes:
            for r in lane.values():
                if r:
                    r.close()

    def gt(self, path):
        if path not in self.gt_cache:
            self.gt_cache[path] = cv2.imread(path, cv2.IMREAD_COLOR)
        return self.gt_cache[path]

    def score(self, out, pair):
        got = cv2.imread(out, cv2.IMREAD_COLOR)
        gt = self.gt(pair["gt"])
        if got is None or got.shape != gt.shape:
            raise RuntimeError("%s: unreadable or not the ground truth's size" % out)
        return metrics.psnr(got, gt), metrics.ssim(got, gt)

    def key(self, method, pset):
        ident = {"v": CACHE_VERSION, "method": method["key"], "set": pset.hash}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]

    def save_cache(self):
        if self.cache_path in ("", "-"):
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.cache_path)), exist_ok=True)
        tmp = self.cache_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.cache, f)
        os.replace(tmp, self.cache_path)

    def evaluate(self, method, pset):
        """{"psnr", "ssim", "ms", "n", "per_image": {id: [psnr, ssim, ms]}}."""
        k = self.key(method, pset)
        if k in self.cache:
            self.cached += 1
            self.used_wall[k] = self.cache[k].get("wall_s", 0.0)
            return self.cache[k]
        t0 = time.time()
        if method["kind"] == "input":
            per = {p["id"]: list(self.score(p["input"], p)) + [0.0] for p in pset.pairs}
        else:
            per = self._run_all(method, pset.pairs)
        r = np.array([per[p["id"]] for p in pset.pairs], dtype=np.float64)
        res = {"method": method["key"], "set": pset.name, "set_hash": pset.hash,
               "n": len(pset.pairs), "psnr": float(r[:, 0].mean()),
               "ssim": float(r[:, 1].mean()), "ms": float(r[:, 2].mean()),
               "wall_s": time.time() - t0, "per_image": per}
        self.cache[k] = res
        self.used_wall[k] = res["wall_s"]
        self.computed += 1
        self.save_cache()
        return res

    def _run_all(self, method, pairs, keep=None):
        """Runs method on pairs on the lanes; {id: [psnr, ssim, ms]}.  With
        @keep a folder, the outputs are kept there as ID.png."""
        runners = self._lane_runners(method["kind"])
        todo = queue.Queue()
        for p in pairs:
            todo.put(p)
        results, errors = {}, []
        lock = threading.Lock()

        def lane(i, runner):
            while not errors:
                try:
                    p = todo.get_nowait()
                except queue.Empty:
                    return
                out = (os.path.join(keep, p["id"] + ".png") if keep
                       else os.path.join(self.scratch, "lane%d.png" % i))
                try:
                    ms = runner.run(method, p, out)
                    s = self.score(out, p)
                    if not keep:
                        os.remove(out)
                except Exception as e:  # noqa: BLE001 — reported below, ends the run
                    errors.append(e)
                    return
                with lock:
                    results[p["id"]] = [s[0], s[1], ms]

        threads = [threading.Thread(target=lane, args=(i, r)) for i, r in enumerate(runners)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results

    def outputs(self, method, pairs, folder):
        """Runs method on a few pairs and keeps the outputs (contact sheet)."""
        os.makedirs(folder, exist_ok=True)
        if method["kind"] == "input":
            return {p["id"]: p["input"] for p in pairs}
        self._run_all(method, pairs, keep=folder)
        return {p["id"]: os.path.join(folder, p["id"] + ".png") for p in pairs}


# --------------------------------------------------------------------------
# Method records
# --------------------------------------------------------------------------


def filter_method(name, params):
    return {"kind": "filter", "name": name, "filter": FILTERS[name], "params": dict(params),
            "key": "filter:%s:%s" % (FILTERS[name], json.dumps(params, sort_keys=True))}


def model_method(path, sets):
    import struct
    meta = {}
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            meta = json.loads(f.read(n)).get("__metadata__", {}) or {}
    except (OSError, ValueError, struct.error):
        pass
    name = meta.get("name") or os.path.splitext(os.path.basename(path))[0]
    return {"kind": "model", "name": name, "file": os.path.abspath(path), "set": list(sets),
            "params": {"model": os.path.relpath(os.path.abspath(path), REPO)
                       if os.path.abspath(path).startswith(REPO + os.sep) else path,
                       **dict(kv.split("=", 1) for kv in sets)},
            "key": "model:%s:%s" % (sha256_file(path), json.dumps(sorted(sets)))}


# The model each learned Remove Texture method runs (core/effects/remove-texture.c),
# looked up in data/models: its checksum keys the cache, so a new model is re-scored.
EFFECT_MODELS = {"csgis": "csgis-texture", "sasnet": "sasnet-texture",
                 "mgpnet": "mgpnet-texture"}


def effect_method(spec, sets):
    """'NICK [key=value …]': the method and its own --set values (after the
    common --effect-set ones); the row is named by both."""
    fields = spec.split()
    choice, own = fields[0], fields[1:]
    sets = list(sets) + own
    model = os.path.join(REPO, "data", "models", "%s.safetensors" % EFFECT_MODELS.get(choice, ""))
    checksum = sha256_file(model) if choice in EFFECT_MODELS and os.path.exists(model) else ""
    return {"kind": "effect",
            "name": "remove-texture (%s)" % ", ".join([choice] + own), "choice": choice,
            "set": sets, "params": {"choice": choice, **dict(kv.split("=", 1) for kv in sets)},
            "key": "effect:remove-texture:%s:%s%s" % (choice, json.dumps(sorted(sets)),
                                                   ":" + checksum if checksum else "")}


def parse_grid(spec):
    """'NAME key=v1,v2 key2=v3' → (NAME, grid)."""
    fields = spec.split()
    if not fields or fields[0] not in FILTERS:
        raise SystemExit("texture-eval: --grid %r: the first field must be a filter (%s)"
                         % (spec, ", ".join(FILTERS)))
    axes = {}
    for f in fields[1:]:
        k, _, vs = f.partition("=")
        vals = []
        for v in vs.split(","):
            try:
                vals.append(int(v) if v.lstrip("-").isdigit() else float(v))
            except ValueError:
                raise SystemExit("texture-eval: --grid %r: %r is not a number" % (spec, v))
        axes[k] = vals
    return fields[0], grid(**axes)


def at_edges(rows, best):
    """The parameters whose best value is at an end of a grid axis of more
    than one value."""
    edges = []
    for k, v in best["params"].items():
        vals = sorted({r["params"][k] for r in rows})
        if len(vals) > 1 and v in (vals[0], vals[-1]):
            edges.append("%s at the grid's %s end" % (k, "low" if v == vals[0] else "high"))
    return edges


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[2:]))
    ap.add_argument("--nks", default=os.path.join(REPO, "..", "shared", "eval", "nksmini"),
                    help="the NKS-mini folder (input/, gt/)")
    ap.add_argument("--pack", default=os.path.join(REPO, "build-textures", "pack"),
                    help="the texture pack (index.json, val-pairs/)")
    ap.add_argument("--model", action="append", default=[], metavar="FILE",
                    help="a model file run by `lisse run` (repeatable)")
    ap.add_argument("--model-set", action="append", default=[], metavar="KEY=VALUE",
                    help="--set for every --model")
    ap.add_argument("--effect-method", action="append", default=[], metavar="NICK",
                    help="a `lisse effect remove-texture --choice` method (repeatable)")
    ap.add_argument("--effect-set", action="append", default=[], metavar="KEY=VALUE",
                    help="--set for every --effect-method")
    ap.add_argument("--filters", default=",".join(DEFAULT_FILTERS),
                    help="classical filters to tune and report (known: %s; '' for none)"
                    % ", ".join(FILTERS))
    ap.add_argument("--grid", action="append", default=[], metavar="'NAME key=v,v …'",
                    help="replace a filter's grid (repeatable)")
    ap.add_argument("--no-oracle", action="store_true",
                    help="leave out the rtv (best on NKS-mini, oracle) row")
    ap.add_argument("--tune-images", type=int, default=0,
                    help="tune on N of the synthetic pairs (a fixed spread; 0: all)")
    ap.add_argument("--nks-images", type=int, default=0,
                    help="N of the NKS-mini pairs, for trials (0: all 200)")
    ap.add_argument("--val-images", type=int, default=0,
                    help="N of the synthetic pairs to report on, for trials (0: all)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="engine threads per worker")
    ap.add_argument("--lisse", default="lisse", help="the lisse command (default: on PATH)")
    ap.add_argument("--batch", default=os.path.join(REPO, "build", "tools", "eval",
                                                    "classic-batch"))
    ap.add_argument("--scratch", default=os.path.join(REPO, "build", "texture-eval"))
    ap.add_argument("--cache", default=os.path.join(REPO, "build", "texture-eval-cache.json"))
    ap.add_argument("--refresh", action="store_true", help="ignore the cache (and rewrite it)")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "texture-eval.md"))
    ap.add_argument("--json", default=os.path.join(REPO, "docs", "texture-eval.json"))
    ap.add_argument("--sheet", default=os.path.join(REPO, "docs", "texture-contact-sheet.png"))
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--no-sheet", action="store_true")
    a = ap.parse_args(argv)
    raw_argv = list(sys.argv[1:] if argv is None else argv)

    names = [n for n in a.filters.split(",") if n]
    for n in names:
        if n not in FILTERS:
            ap.error("unknown filter %r (known: %s)" % (n, ", ".join(FILTERS)))
    grids = dict(GRIDS)
    for spec in a.grid:
        n, g = parse_grid(spec)
        grids[n] = g
    if a.jobs < 1 or a.threads < 1:
        ap.error("--jobs and --threads must be at least 1")

    t_all = time.time()
    nks = PairSet("nksmini", "NKS-mini", a.nks, spread(nksmini_pairs(a.nks), a.nks_images))
    vp = val_pairs(a.pack)
    val = tune = None
    if vp:
        val = PairSet("val", "synthetic val", a.pack, spread(vp, a.val_images))
        tune = val.subset(a.tune_images, "tune") if a.tune_images else val
        print("sets: NKS-mini %d pairs; synthetic val %d pairs (tuning on %d)"
              % (len(nks.pairs), len(val.pairs), len(tune.pairs)), flush=True)
    else:
        print("sets: NKS-mini %d pairs; no synthetic split under %s: nothing is tuned, the "
              "filters are reported at their NKS-mini-best (oracle) settings"
              % (len(nks.pairs), a.pack), flush=True)

    eng = Engine(a)
    rows, tuning = [], {}
    sets = [s for s in (nks, val) if s]

    def report(method, chosen_on, note=""):
        row = {"method": method["name"], "kind": method["kind"], "params": method["params"],
               "label": label(method["params"]), "chosen_on": chosen_on, "note": note}
        for s in sets:
            r = eng.evaluate(method, s)
            row[s.name] = {k: r[k] for k in ("psnr", "ssim", "ms", "n")}
            print("  %-34s %-40s %-14s PSNR %.2f SSIM %.4f  %.0f ms/img"
                  % (method["name"], row["label"], s.title, r["psnr"], r["ssim"], r["ms"]),
                  flush=True)
        rows.append(row)
        return row

    try:
        report({"kind": "input", "name": "input", "params": {}, "key": "input"}, "—")
        for name in names:
            if tune:
                t0 = time.time()
                grows = []
                for p in grids[name]:
                    r = eng.evaluate(filter_method(name, p), tune)
                    grows.append({"params": p, "label": label(p), "psnr": r["psnr"],
                                  "ssim": r["ssim"], "ms": r["ms"]})
                best = max(grows, key=lambda r: r["psnr"])
                tuning[name] = {"rows": grows, "best": best["label"], "n": len(tune.pairs),
                                "edges": at_edges(grows, best), "wall_s": time.time() - t0}
                print("%s: best on the synthetic split %s (%.2f dB)%s"
                      % (name, best["label"], best["psnr"],
                         "; " + ", ".join(tuning[name]["edges"]) if tuning[name]["edges"]
                         else ""), flush=True)
                report(filter_method(name, best["params"]), "synthetic val")
            else:
                report(filter_method(name, NKS_BEST[name]), "NKS-mini (oracle)",
                       "no synthetic split: NKS-mini's own best")
        if not a.no_oracle:
            m = filter_method("rtv", NKS_BEST["rtv"])
            m["name"] = "rtv (best on NKS-mini, oracle)"
            report(m, "NKS-mini (oracle)")
        learned = [model_method(f, a.model_set) for f in a.model]
        learned += [effect_method(c, a.effect_set) for c in a.effect_method]
        for m in learned:
            report(m, "—")
        wall = time.time() - t_all
        out = {"command": command_line(raw_argv), "wall_s": wall,
               "computed": eng.computed, "from_cache": eng.cached,
               "sets": {s.name: {"title": s.title, "root": os.path.relpath(s.root, REPO),
                                 "pairs": len(s.pairs), "sha256": s.hash} for s in sets},
               "tuning_set": ({"pairs": len(tune.pairs), "sha256": tune.hash} if tune else None),
               "rows": rows, "tuning": tuning,
               "papers_real_nks": {**PAPER, **dict(PAPER_NETS)},
               "filters_missing_pack": not tune}
        if not a.no_sheet and a.sheet not in ("", "-"):
            rtv_row = next((r for r in rows if r["kind"] == "filter"
                            and r["method"] == "rtv"), None) or \
                next((r for r in rows if r["kind"] == "filter"
                      and r["params"] == NKS_BEST["rtv"]), None)
            out["sheet"] = contact_sheet(a.sheet, eng, nks, val, rtv_row, learned)
        out["wall_s"] = time.time() - t_all
        out["evaluations"] = len(eng.used_wall)
        out["evaluations_wall_s"] = float(sum(eng.used_wall.values()))
    finally:
        eng.close()
    print("done in %.0f s (%d evaluations computed, %d from the cache)"
          % (out["wall_s"], eng.computed, eng.cached), flush=True)
    if a.json not in ("", "-"):
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    if not a.no_doc and a.doc not in ("", "-"):
        write_doc(a.doc, out)
    return out


def command_line(argv):
    return "taskset -c 1 tools/dev exec python3 tools/eval/texture-eval.py" + \
        ("" if not argv else " " + shlex.join(argv))


# --------------------------------------------------------------------------
# The contact sheet
# --------------------------------------------------------------------------


def crop_box(img, w, h):
    """A w×h window (clipped to the image) around the image's most textured
    and structured part: the centre of mass of its gradient energy."""
    H, W = img.shape[:2]
    w, h = min(w, W), min(h, H)
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    e = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1))
    e = cv2.boxFilter(e, -1, (w, h), normalize=True, borderType=cv2.BORDER_CONSTANT)
    # only windows that fit
    valid = e[h // 2: H - (h - h // 2) + 1, w // 2: W - (w - w // 2) + 1]
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return x, y, w, h


def text(img, s, org, scale=0.45, color=(0, 0, 0), thick=1):
    cv2.putText(img, s, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def contact_sheet(path, eng, nks, val, rtv_row, learned):
    """Rows: SHEET_NKS pairs and SHEET_VAL synthetic ones spread over the split; columns:
    input | RTV at its row's parameters | each learned method | ground truth,
    each a 1:1 crop with its PSNR under it."""
    pairs = [("NKS-mini", p) for p in nks.pairs if p["id"] in SHEET_NKS]
    if len(pairs) < len(SHEET_NKS):  # a trial subset: its first pairs instead
        pairs = [("NKS-mini", p) for p in nks.pairs[:len(SHEET_NKS)]]
    if val:
        # spread over the split: its neighbours share a structure
        pairs += [("synthetic val", val.pairs[i * len(val.pairs) // SHEET_VAL])
                  for i in range(SHEET_VAL)]
    cols = [("input", {"kind": "input", "key": "input"})]
    if rtv_row:
        m = filter_method("rtv", rtv_row["params"])
        cols.append(("RTV %s" % rtv_row["label"], m))
    for m in learned:
        cols.append((m["name"], m))
    folder = os.path.join(eng.scratch, "sheet")
    outs = {}
    for ci, (title, m) in enumerate(cols):
        outs[ci] = eng.outputs(m, [p for _, p in pairs], os.path.join(folder, "c%d" % ci))

    cw, ch = SHEET_CROP
    pad, head, foot, left, top = 6, 22, 16, 132, 20
    W = left + len(cols + [None]) * (cw + pad) + pad
    H = top + head + len(pairs) * (ch + foot + pad) + pad
    sheet = np.full((H, W, 3), 255, np.uint8)
    text(sheet, "Texture removal, crops at 1:1 (tools/eval/texture-eval.py); dB: PSNR of the "
         "whole image against the ground truth", (pad, 14), 0.4, (60, 60, 60))
    head += top
    for ci, (title, _) in enumerate(cols + [("ground truth", None)]):
        x0 = left + pad + ci * (cw + pad)
        t = title if len(title) <= 34 else title[:33] + "…"
        text(sheet, t.replace("…", "..."), (x0, head - 7), 0.4)
    for ri, (setname, p) in enumerate(pairs):
        y0 = head + ri * (ch + foot + pad)
        gt = cv2.imread(p["gt"], cv2.IMREAD_COLOR)
        x, y, w, h = crop_box(cv2.imread(p["input"], cv2.IMREAD_COLOR), cw, ch)
        text(sheet, setname, (pad, y0 + 16), 0.42)
        text(sheet, p["id"], (pad, y0 + 34), 0.42)
        text(sheet, "%dx%d, crop 1:1" % (gt.shape[1], gt.shape[0]), (pad, y0 + 52), 0.36,
             (90, 90, 90))
        for ci in range(len(cols) + 1):
            img = gt if ci == len(cols) else cv2.imread(outs[ci][p["id"]], cv2.IMREAD_COLOR)
            x0 = left + pad + ci * (cw + pad)
            sheet[y0:y0 + h, x0:x0 + w] = img[y:y + h, x:x + w]
            if ci < len(cols):
                text(sheet, "%.2f dB" % metrics.psnr(img, gt), (x0, y0 + h + 12), 0.38,
                     (60, 60, 60))
    cv2.imwrite(path, sheet)
    return {"rows": ["%s %s" % (s, p["id"]) for s, p in pairs],
            "columns": [t for t, _ in cols] + ["ground truth"], "crop": [cw, ch]}


# --------------------------------------------------------------------------
# The doc
# --------------------------------------------------------------------------


def ps(r, digits=4):
    return ("%.2f / %." + str(digits) + "f") % (r["psnr"], r["ssim"]) if r else "—"


def write_doc(path, out):
    rows = out["rows"]
    has_val = "val" in out["sets"]
    L = []
    L.append("| method | parameters | chosen on | NKS-mini PSNR / SSIM | synthetic val "
             "PSNR / SSIM | ms / image (NKS-mini; val) | papers, on the real NKS (not NKS-mini) |")
    L.append("|---|---|---|---|---|---|---|")
    for r in rows:
        ms = "—" if r["kind"] == "input" else "; ".join(
            "%.0f" % r[s]["ms"] for s in ("nksmini", "val") if s in r)
        base = r["method"].split(" (")[0]
        paper = PAPER.get(base, "—") if "oracle" not in r["method"] else "—"
        L.append("| %s | %s | %s | %s | %s | %s | %s |"
                 % (r["method"], r["label"], r["chosen_on"], ps(r.get("nksmini")),
                    ps(r.get("val")), ms, paper))
    for name, p in PAPER_NETS:
        L.append("| %s (paper) | — | — | — | — | — | %s |" % (name, p))
    L.append("")
    sets = out["sets"]
    L.append("Sets: NKS-mini, %d pairs (sha256 of the pairs %s…)%s.  PSNR / SSIM: means of the "
             "per-image values of `../shared/eval/metrics.py` on the 8-bit outputs."
             % (sets["nksmini"]["pairs"], sets["nksmini"]["sha256"][:12],
                "; synthetic val, %d pairs from `%s` (%s…), the filters' grids on %d of them"
                % (sets["val"]["pairs"], sets["val"]["root"], sets["val"]["sha256"][:12],
                   out["tuning_set"]["pairs"]) if has_val else
                "; **no synthetic split was found, so nothing was tuned: every filter row is "
                "at its NKS-mini-best setting (an oracle)**"))
    L.append("ms / image: classical filters, the time inside the filter alone (classic-batch, "
             "one thread); learned rows, the `lisse` process's wall time less its start-up "
             "(the same command on a 16 × 16 image), one thread.")
    L.append("")
    if out["tuning"]:
        L.append("Grids on the synthetic split (mean over the tuning pairs; the chosen setting "
                 "in bold):")
        L.append("")
        for name, t in out["tuning"].items():
            L.append("<details><summary>%s — %d settings × %d pairs: best %s%s</summary>"
                     % (name, len(t["rows"]), t["n"], t["best"],
                        " (" + ", ".join(t["edges"]) + ")" if t["edges"] else ""))
            L.append("")
            L.append("| parameters | PSNR | SSIM | ms/image |")
            L.append("|---|---|---|---|")
            for g in t["rows"]:
                b = "**" if g["label"] == t["best"] else ""
                L.append("| %s%s%s | %.2f | %.4f | %.0f |"
                         % (b, g["label"], b, g["psnr"], g["ssim"], g["ms"]))
            L.append("")
            L.append("</details>")
            L.append("")
    L.append("Run time: %.0f s wall (%d evaluations computed, %d taken from the cache); the "
             "%d evaluations behind these numbers took %.0f s wall when they were computed "
             "(contact sheet and start-up not included)."
             % (out["wall_s"], out["computed"], out["from_cache"],
                out.get("evaluations", out["computed"] + out["from_cache"]),
                out.get("evaluations_wall_s", 0.0)))
    body = {"results": "\n".join(L),
            "command": "```sh\n%s\n```" % out["command"]}

    if os.path.exists(path):
        text_ = open(path).read()
    else:
        text_ = ("# Texture removal: NKS-mini and the synthetic validation split\n\n"
                 "%s\n%s\n\n%s\n%s\n"
                 % (DOC_MARKERS["command"] + DOC_MARKERS["results"]))
    for part in ("command", "results"):
        begin, end = DOC_MARKERS[part]
        if begin not in text_ or end not in text_:
            text_ += "\n%s\n%s\n" % (begin, end)
        head, rest = text_.split(begin, 1)
        _, tail = rest.split(end, 1)
        text_ = head + begin + "\n" + body[part] + "\n" + end + tail
    with open(path, "w") as f:
        f.write(text_)


if __name__ == "__main__":
    main()
