#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build Lisse's training corpus of photographs from pinned Debian packages.

    python3 training/corpus/build.py --out DIR [--crop-size 256] [--max-mb 50]
        [--val-fraction 0.15] [--seed 0] [--verify] [--update-reference]

For every package in packages.toml (next to this file) it downloads the .deb
at its pinned version with `apt-get download NAME=VERSION` into DIR/debs
(kept and reused: a later run needs no network), unpacks it with
`dpkg-deb -x` into DIR/extract/NAME, selects the listed photographs and
checks each file's SHA-256 against the committed manifest.json (the first
run, or --update-reference, writes it).  Packages reserved for independent
evaluation are refused whatever the configuration says.

It then holds out whole photographs for validation (per package, from the
seed), shrinks each photograph to at most --max-side pixels on its long side
with area interpolation, cuts random --crop-size crops and writes them as
RGB PNGs under DIR/crops/{train,val}/ with DIR/crops/index.json, the whole
crop folder kept under --max-mb megabytes; and DIR/manifest.json (package,
version, path, licence, sha256, width, height, split and crop count of every
photograph).  README.md next to this file explains the balancing and split
rules.  --verify only downloads, unpacks and compares checksums.

Standard library, NumPy and OpenCV only; apt-get and dpkg-deb for packages.
"""

import argparse
import heapq
import json
import os
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

try:
    import cv2
except ImportError:  # only the image steps need it; the error says so there
    cv2 = None

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import debpkg  # noqa: E402  (packages: download, unpack, select, reserved ones)
from debpkg import CorpusError, seed_int, sha256_bytes  # noqa: E402

DEFAULT_CONFIG = HERE / "packages.toml"
DEFAULT_REFERENCE = HERE / "manifest.json"
MANIFEST_FORMAT = "lisse-corpus-manifest-1"

PACKAGE_KEYS = {"name", "version", "dir", "include", "exclude", "expect",
                "licence", "copyright", "licence_source", "note", "files"}
REQUIRED_KEYS = {"name", "version", "dir", "include", "expect", "licence"}

# Crop selection: a candidate crop whose mean gray-level gradient (0-255
# scale) is below MIN_DETAIL is redrawn, up to CROP_TRIES candidates; so is
# one overlapping an earlier crop of the same photo by more than MAX_IOU.
MIN_DETAIL = 2.0
MAX_IOU = 0.25
CROP_TRIES = 12
PNG_LEVEL = 6  # with the FILTERED strategy: smaller than level 9 unfiltered, and faster
INDEX_BYTES_PER_CROP = 400  # room kept in the size budget for index.json


log = debpkg.logger("corpus")


# --------------------------------------------------------------- config

def check_package_config(cfg):
    """Validate one [[package]] table; return it with defaults filled in."""
    return debpkg.check_package_config(cfg, PACKAGE_KEYS, REQUIRED_KEYS)


def load_config(path):
    """Read packages.toml; return its list of checked package tables."""
    return debpkg.load_config(path, check_package_config)


# ------------------------------------------------------------ selection

def select_photos(cfg, root):
    """The photographs of one package, from its unpacked tree at ROOT.

    Returns records (dicts) sorted by file name, with 'path' (the path in
    the package, as installed), 'file' (where it is on disk), 'licence',
    'copyright' and 'note'.  Raises CorpusError when an include pattern
    matches nothing, an exclude or per-file entry names no file, the
    count differs from 'expect' or a photo has no licence of its own where
    the package's is 'per file'.
    """
    records = debpkg.select_files(cfg, root, noun="photo", config_name="packages.toml")
    for rec in records:
        if rec["licence"] == "per file":
            raise CorpusError(f"{cfg['name']}: {rec['rel']} needs its own licence in files")
    return records


# --------------------------------------------------------------- images

def load_rgb(path):
    """Decode an image file to uint8 RGB (H, W, 3).

    Gray and palette images become three equal channels, alpha is dropped
    (returned flag says whether it was other than opaque), 16-bit samples
    are reduced to 8 bits, EXIF orientation is applied (OpenCV's
    IMREAD_COLOR).  Returns (rgb, info) with info['gray'] and
    info['alpha'] in ('none', 'opaque', 'dropped').
    """
    if cv2 is None:
        raise CorpusError("OpenCV (python3-opencv) is needed to read images")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise CorpusError(f"cannot decode {path}")
    alpha = "none"
    if str(path).lower().endswith((".png", ".tif", ".tiff", ".webp")):
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is not None and raw.ndim == 3 and raw.shape[2] == 4:
            a = raw[..., 3]
            full = np.iinfo(a.dtype).max
            alpha = "opaque" if int(a.min()) == full else "dropped"
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    gray = bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and
                np.array_equal(rgb[..., 1], rgb[..., 2]))
    return rgb, {"gray": gray, "alpha": alpha}


def downscale(rgb, max_side):
    """Shrink so the long side is at most MAX_SIDE (area interpolation)."""
    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return rgb, 1.0
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), s


def detail(crop):
    """Mean absolute gray-level gradient of a uint8 RGB crop (0-255 scale)."""
    g = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return float((np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()) / 2)


def iou(a, b, size):
    """Intersection over union of two size x size squares at (y, x)."""
    dy = max(0, size - abs(a[0] - b[0]))
    dx = max(0, size - abs(a[1] - b[1]))
    inter = dy * dx
    return inter / (2 * size * size - inter)


def max_crops(h, w, size, cap):
    """How many crops a photo of h x w (after shrinking) may give."""
    if h < size or w < size:
        return 0
    return min(cap, max(1, int(h * w / (size * size) / 2)))


def make_crops(rgb, size, count, seed):
    """COUNT crop positions (y, x) for one photo, in a fixed order.

    Positions are uniform at random; a candidate is redrawn when it is flat
    (detail < MIN_DETAIL) or overlaps an earlier crop by IoU > MAX_IOU;
    after CROP_TRIES candidates the best one is kept (non-overlapping
    first, then most detailed).  The k-th position depends only on the
    photo, the seed and k, not on how many crops are wanted.
    """
    h, w = rgb.shape[:2]
    rng = random.Random(seed)
    chosen = []
    for _ in range(count):
        best = None
        for _t in range(CROP_TRIES):
            y = rng.randrange(h - size + 1)
            x = rng.randrange(w - size + 1)
            apart = all(iou((y, x), c, size) <= MAX_IOU for c in chosen)
            d = detail(rgb[y:y + size, x:x + size])
            key = (apart, d)
            if best is None or key > best[0]:
                best = (key, (y, x))
            if apart and d >= MIN_DETAIL:
                break
        chosen.append(best[1])
    return chosen


def encode_png(rgb):
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL,
                            cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_FILTERED])
    if not ok:
        raise CorpusError("PNG encoding failed")
    return buf.tobytes()


# ---------------------------------------------------------- split, plan

def assign_split(records, val_fraction, seed):
    """Set rec['split'] to 'train' or 'val', holding out whole photos.

    Per package, photos sorted by path are shuffled with a generator seeded
    from (seed, package); the first round(n * val_fraction) of them, at
    least one and at most n - 1, go to validation when the package has at
    least 3 photos; packages with 1 or 2 photos are all training.
    """
    return debpkg.split_per_package(records, val_fraction, seed, "split")


def package_shares(weights_by_pkg, max_share):
    """Each package's share of crops: proportional to its total weight,
    but none above MAX_SHARE (the excess is spread over the others)."""
    total = {p: w for p, w in weights_by_pkg.items() if w > 0}
    if not total:
        return {}
    if max_share * len(total) < 1:
        max_share = 1 / len(total)
    capped = set()
    while True:
        free = 1 - max_share * len(capped)
        rest = sum(w for p, w in total.items() if p not in capped)
        shares = {p: (max_share if p in capped else free * w / rest)
                  for p, w in total.items()}
        over = {p for p, s in shares.items() if p not in capped and s > max_share + 1e-12}
        if not over:
            return shares
        capped |= over


def plan_crops(photos, crop_size, cap_per_image, max_package_share):
    """The order in which photos give their crops, budget aside.

    PHOTOS: dicts with 'package', 'h', 'w' (after shrinking).  Returns a
    list of photo indices; the k-th time an index appears is that photo's
    k-th crop.  Every photo that can give a crop comes once first; then
    crops go by the Sainte-Laguë rule (highest weight / (crops + 0.5)) on
    weights proportional to the photo's area, each package's weights
    scaled so its share is at most MAX_PACKAGE_SHARE, each photo capped at
    max_crops().  Cut the list anywhere and the counts stay proportional.
    """
    cap = [max_crops(p["h"], p["w"], crop_size, cap_per_image) for p in photos]
    area = [p["h"] * p["w"] / crop_size ** 2 if cap[i] else 0.0
            for i, p in enumerate(photos)]
    by_pkg = {}
    for i, p in enumerate(photos):
        by_pkg[p["package"]] = by_pkg.get(p["package"], 0.0) + area[i]
    shares = package_shares(by_pkg, max_package_share)
    weight = [area[i] * shares[p["package"]] / by_pkg[p["package"]] if area[i] else 0.0
              for i, p in enumerate(photos)]
    order = [i for i in range(len(photos)) if cap[i] > 0]
    count = [1 if cap[i] > 0 else 0 for i in range(len(photos))]
    heap = [(-weight[i] / 1.5, i) for i in order if cap[i] > 1]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        order.append(i)
        count[i] += 1
        if count[i] < cap[i]:
            heapq.heappush(heap, (-weight[i] / (count[i] + 0.5), i))
    return order


def fill_budget(order, crop_bytes, budget):
    """How many crops of each photo fit: walk ORDER, stop at the first
    crop that would pass BUDGET bytes.  CROP_BYTES[i][k] is the size of
    photo i's k-th crop.  Returns a list of counts."""
    counts = [0] * len(crop_bytes)
    used = 0
    for i in order:
        k = counts[i]
        size = crop_bytes[i][k] + INDEX_BYTES_PER_CROP
        if used + size > budget:
            break
        used += size
        counts[i] = k + 1
    return counts


# ---------------------------------------------------------------- build

def prepare_photo(rec, settings):
    """Hash one selected photo and, unless only hashing, decode it, shrink
    it and cut its candidate crops (PNG-encoded) into rec['candidates']."""
    data = Path(rec["file"]).read_bytes()
    rec["sha256"] = sha256_bytes(data)
    if settings.get("hash_only"):
        return rec
    rgb, info = load_rgb(rec["file"])
    rec["height"], rec["width"] = rgb.shape[:2]
    rec["gray"] = info["gray"]
    if info["alpha"] == "dropped":
        log(f"note: {rec['path']}: alpha channel not fully opaque; dropped")
    small, scale = downscale(rgb, settings["max_side"])
    h, w = small.shape[:2]
    rec["h"], rec["w"], rec["scale"] = h, w, scale
    cs = settings["crop_size"]
    n = max_crops(h, w, cs, settings["cap_per_image"])
    pos = make_crops(small, cs, n, seed_int(settings["seed"], "crops", rec["sha256"]))
    rec["candidates"] = [(y, x, encode_png(small[y:y + cs, x:x + cs])) for y, x in pos]
    return rec


def process_package(cfg, out, settings, stats):
    """Download, unpack and select one package; hash its photos and cut
    their candidate crops.  Returns (package entry, photo records)."""
    t0 = time.time()
    deb, deb_sha, root = debpkg.fetch(cfg, out)
    recs = select_photos(cfg, root)
    jobs = settings.get("jobs") or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # OpenCV releases the GIL
        recs = list(pool.map(lambda r: prepare_photo(r, settings), recs))
    entry = debpkg.package_entry(cfg, deb, deb_sha)
    stats[cfg["name"]] = time.time() - t0
    return entry, recs


def check_duplicates(records):
    """Refuse byte-identical photos (within or across packages)."""
    seen = {}
    for rec in records:
        other = seen.setdefault(rec["sha256"], rec)
        if other is not rec:
            raise CorpusError(f"{rec['package']}: {rec['path']} is byte-identical to "
                              f"{other['package']}: {other['path']}; exclude one in packages.toml")


def compare_reference(ref, packages, records):
    """List the differences between this run and the reference manifest:
    package versions and .deb checksums, the set of photos and their
    SHA-256.  An empty list means they agree."""
    problems = debpkg.compare_packages(ref, packages)
    ref_imgs = {(i["package"], i["path"]): i for i in ref.get("images", [])}
    now = {(r["package"], r["path"]): r for r in records}
    for key in sorted(set(ref_imgs) | set(now)):
        if key not in now:
            problems.append(f"{key[0]}: {key[1]} in the reference, not selected now")
        elif key not in ref_imgs:
            problems.append(f"{key[0]}: {key[1]} selected now, not in the reference")
        elif ref_imgs[key]["sha256"] != now[key]["sha256"]:
            problems.append(f"{key[0]}: {key[1]} checksum differs from the reference")
    return problems


def image_entry(i, rec):
    e = {"id": i, "package": rec["package"], "version": rec["version"],
         "path": rec["path"], "licence": rec["licence"]}
    for k in ("copyright", "licence_note"):
        if k in rec:
            e[k] = rec[k]
    e.update({"sha256": rec["sha256"], "width": rec["width"], "height": rec["height"],
              "gray": rec["gray"], "split": rec["split"], "crops": rec["crops"]})
    return e


def write_pack(out, records, counts, settings):
    """Write the chosen crops as PNGs and crops/index.json; return the
    index entries and the pack's size in bytes."""
    crops_dir = out / "crops"
    if crops_dir.exists():
        shutil.rmtree(crops_dir)
    for split in ("train", "val"):
        (crops_dir / split).mkdir(parents=True)
    index = []
    serial = {"train": 0, "val": 0}
    for i, rec in enumerate(records):
        stem = Path(rec["path"]).stem
        for k in range(counts[i]):
            y, x, png = rec["candidates"][k]
            split = rec["split"]
            fname = f"{split}/{serial[split]:04d}-{rec['package']}-{stem}-{k}.png"
            serial[split] += 1
            (crops_dir / fname).write_bytes(png)
            index.append({"file": fname, "split": split, "image": i,
                          "package": rec["package"], "path": rec["path"],
                          "y": y, "x": x, "scale": round(rec["scale"], 6),
                          "size": settings["crop_size"]})
    doc = {"format": "lisse-corpus-crops-1",
           "note": "RGB PNG crops of the photographs in ../manifest.json "
                   "('image' is the photo's id there); y, x: top-left corner "
                   "in the photo after shrinking it by 'scale'.",
           "crop_size": settings["crop_size"], "crops": index}
    (crops_dir / "index.json").write_text(debpkg.dump_json(doc, {"crops"}))
    total = sum(f.stat().st_size for f in crops_dir.rglob("*") if f.is_file())
    return index, total


def build(args):
    t_start = time.time()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    pkgs = load_config(args.config)
    settings = {"crop_size": args.crop_size, "max_side": args.max_side,
                "max_mb": args.max_mb, "val_fraction": args.val_fraction,
                "seed": args.seed, "cap_per_image": args.cap_per_image,
                "max_package_share": args.max_package_share,
                "min_detail": MIN_DETAIL, "max_iou": MAX_IOU,
                "png": f"level {PNG_LEVEL}, filtered",
                "hash_only": args.verify, "jobs": args.jobs}
    reference = None
    ref_path = Path(args.reference)
    if ref_path.is_file():
        reference = json.loads(ref_path.read_text())
    elif args.verify:
        raise CorpusError(f"--verify needs a reference manifest; {ref_path} does not exist")

    packages, records, stats = [], [], {}
    for cfg in pkgs:
        entry, recs = process_package(cfg, out, settings, stats)
        packages.append(entry)
        records.extend(recs)
        log(f"{cfg['name']} {cfg['version']}: {len(recs)} photos ({stats[cfg['name']]:.1f} s)")
    check_duplicates(records)

    problems = compare_reference(reference, packages, records) if reference else []
    if args.verify:
        for p in problems:
            log(f"MISMATCH {p}")
        log(f"verify: {len(records)} photos in {len(packages)} packages, "
            f"{len(problems)} differences from {ref_path}")
        return 1 if problems else 0
    if problems and not args.update_reference:
        for p in problems:
            log(f"MISMATCH {p}")
        raise CorpusError(f"{len(problems)} differences from {ref_path}; "
                          "rerun with --update-reference if the change is intended")

    assign_split(records, args.val_fraction, args.seed)
    order = plan_crops(records, args.crop_size, args.cap_per_image, args.max_package_share)
    budget = int(args.max_mb * 1_000_000) - 4096
    counts = fill_budget(order, [[len(c[2]) for c in r["candidates"]] for r in records], budget)
    for rec, n in zip(records, counts):
        rec["crops"] = n
    index, pack_bytes = write_pack(out, records, counts, settings)
    if pack_bytes > args.max_mb * 1_000_000:
        raise CorpusError(f"crop pack is {pack_bytes} bytes, over --max-mb {args.max_mb}")

    for p in packages:
        mine = [r for r in records if r["package"] == p["name"]]
        p["photos"] = {"train": sum(r["split"] == "train" for r in mine),
                       "val": sum(r["split"] == "val" for r in mine)}
        p["crops"] = {"train": sum(r["crops"] for r in mine if r["split"] == "train"),
                      "val": sum(r["crops"] for r in mine if r["split"] == "val")}
    settings.pop("hash_only")
    settings.pop("jobs")
    manifest = {
        "format": MANIFEST_FORMAT,
        "generator": "training/corpus/build.py",
        "settings": settings,
        "packages": packages,
        "images": [image_entry(i, r) for i, r in enumerate(records)],
        "pack": {"dir": "crops", "index": "crops/index.json",
                 "train": sum(c["split"] == "train" for c in index),
                 "val": sum(c["split"] == "val" for c in index),
                 "bytes": pack_bytes},
    }
    text = debpkg.dump_json(manifest, {"packages", "images"})
    (out / "manifest.json").write_text(text)
    if reference is None or args.update_reference:
        ref_path.write_text(text)
        log(f"wrote the reference manifest {ref_path}")
    n_train = manifest["pack"]["train"]
    n_val = manifest["pack"]["val"]
    log(f"{len(records)} photos ({sum(r['split'] == 'val' for r in records)} held out), "
        f"{n_train} train + {n_val} val crops, pack {pack_bytes / 1e6:.1f} MB, "
        f"{time.time() - t_start:.0f} s")
    return 0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (debs, extract, crops, manifest)")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="package list (TOML)")
    ap.add_argument("--reference", default=str(DEFAULT_REFERENCE),
                    help="committed manifest the checksums are checked against")
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--max-mb", type=float, default=50.0, help="size cap of the crop pack (10^6 bytes)")
    ap.add_argument("--val-fraction", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-side", type=int, default=1024,
                    help="photos are shrunk to at most this long side before cropping")
    ap.add_argument("--cap-per-image", type=int, default=6, help="most crops from one photo")
    ap.add_argument("--max-package-share", type=float, default=0.2,
                    help="most of the crop weight one package may have")
    ap.add_argument("--jobs", type=int, default=0, help="threads (default: one per CPU)")
    ap.add_argument("--verify", action="store_true",
                    help="only download, unpack and compare checksums with the reference")
    ap.add_argument("--update-reference", action="store_true",
                    help="accept differences and rewrite the reference manifest")
    args = ap.parse_args(argv)
    if args.crop_size < 16 or args.max_side < args.crop_size:
        ap.error("need 16 <= --crop-size <= --max-side")
    if not 0 <= args.val_fraction < 1:
        ap.error("--val-fraction must be in [0, 1)")
    return args


def main(argv=None):
    return debpkg.run_main(lambda: build(parse_args(argv)), "corpus")


if __name__ == "__main__":
    sys.exit(main())
