#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast checks of the training corpus builder, training/corpus/build.py.

No network and no real package: it makes a fake package tree of procedural
PNG / JPEG files (OpenCV writes them) in a temporary folder and checks
  - photo selection: include / exclude / per-file licences, symlinks
    ignored, stale entries and wrong counts refused;
  - reserved packages refused by every entry point;
  - the train / validation split holds out whole photos, per package,
    deterministically;
  - image loading (gray, alpha) and the crop plan (every photo once first,
    package share capped, budget respected);
  - a whole build from a fake .deb (made with dpkg-deb, already in the
    download cache, so apt is never called): manifest fields, split by
    photo, pack within its size cap, --verify passing and then catching a
    changed checksum;
  - the committed packages.toml passes the same checks.
Prints TAP (the plan comes last).  Usage: test-corpus.py
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import cv2

import corpus_testlib

build = corpus_testlib.load_builder("corpus_build", "build.py")
debpkg = build.debpkg
suite = corpus_testlib.Suite("lisse-corpus-test-")
test = suite.test


def raises(fn, *args, match=None):
    try:
        fn(*args)
    except build.CorpusError as e:
        if match and match not in str(e):
            raise AssertionError(f"error {e!r} does not mention {match!r}")
        return
    raise AssertionError(f"{fn.__name__} did not refuse")


def photo(h, w, seed, gray=False):
    """A procedural 'photo': smooth blobs, an edge and some noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(4):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 120)
            img[..., c] += rng.uniform(40, 120) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    img[:, w // 2:] += 40
    img += rng.normal(0, 6, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., 0] if gray else img


DIR = "/usr/share/fake-photos/images"


def make_tree(root):
    d = Path(root) / DIR.lstrip("/")
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "a-gray.png"), photo(300, 400, 1, gray=True))
    cv2.imwrite(str(d / "b.jpg"), photo(600, 800, 2), [cv2.IMWRITE_JPEG_QUALITY, 95])
    rgba = np.dstack([photo(512, 700, 3), np.full((512, 700), 255, np.uint8)])
    cv2.imwrite(str(d / "c-alpha.png"), rgba)
    cv2.imwrite(str(d / "d.jpg"), photo(700, 500, 4))
    cv2.imwrite(str(d / "e.png"), photo(400, 400, 5))
    cv2.imwrite(str(d / "logo.png"), np.zeros((300, 300, 3), np.uint8))
    (d / "link.png").symlink_to("e.png")
    return d


FAKE_PACKAGE = {"name": "fake-photos", "version": "1.0-1", "dir": DIR,
                "include": ["*.png", "*.jpg"], "expect": 5, "licence": "CC0-1.0",
                "exclude": {"logo.png": "a flat drawing"},
                "files": {"b.jpg": {"licence": "CC-BY-4.0", "copyright": "Someone"}}}


def fake_cfg(**over):
    cfg = dict(FAKE_PACKAGE, copyright="Nobody")
    cfg.update(over)
    return build.check_package_config(cfg)


@test
def selection_fields_and_overrides(tmp):
    make_tree(tmp)
    recs = build.select_photos(fake_cfg(), tmp)
    names = [Path(r["path"]).name for r in recs]
    assert names == ["a-gray.png", "b.jpg", "c-alpha.png", "d.jpg", "e.png"], names
    for r in recs:
        assert r["package"] == "fake-photos" and r["version"] == "1.0-1"
        assert r["path"].startswith(DIR + "/") and Path(r["file"]).is_file()
    by = {Path(r["path"]).name: r for r in recs}
    assert by["b.jpg"]["licence"] == "CC-BY-4.0" and by["b.jpg"]["copyright"] == "Someone"
    assert by["d.jpg"]["licence"] == "CC0-1.0" and by["d.jpg"]["copyright"] == "Nobody"


@test
def selection_refuses_stale_config(tmp):
    make_tree(tmp)
    raises(build.select_photos, fake_cfg(expect=6), tmp, match="expects 6")
    raises(build.select_photos, fake_cfg(include=["*.tif"]), tmp, match="matches no file")
    raises(build.select_photos, fake_cfg(exclude={"gone.png": "x"}), tmp, match="names no file")
    raises(build.select_photos, fake_cfg(files={"logo.png": {"licence": "x"}}), tmp,
           match="not a selected photo")
    raises(build.select_photos, fake_cfg(dir="/usr/share/nowhere"), tmp, match="not in the package")
    raises(build.select_photos, fake_cfg(licence="per file", files={}), tmp, match="own licence")


@test
def reserved_packages_refused(tmp):
    assert len(debpkg.RESERVED) == 7
    for name in ("ukui-wallpapers", "plasma-workspace-wallpapers", "krita-data",
                 "propaganda-debian", "liblemonldap-ng-portal-perl", "palapeli-data",
                 "libjxl-testdata"):
        assert name in debpkg.RESERVED
        raises(debpkg.refuse_reserved, name, match="reserved")
        raises(build.check_package_config, dict(fake_cfg(), name=name), match="reserved")
        # refused before apt-get or the cache is touched
        raises(debpkg.download, name, "1.0", Path(tmp) / "nocache", match="reserved")
        assert not (Path(tmp) / "nocache").exists()
    toml = Path(tmp) / "bad.toml"
    toml.write_text('[[package]]\nname = "krita-data"\nversion = "1"\ndir = "/x"\n'
                    'include = ["*"]\nexpect = 1\nlicence = "GPL-3+"\n')
    raises(build.load_config, toml, match="reserved")


@test
def split_holds_out_whole_photos(tmp):
    recs = ([{"package": "big", "path": f"/p/{i:02d}.jpg"} for i in range(20)] +
            [{"package": "three", "path": f"/q/{i}.jpg"} for i in range(3)] +
            [{"package": "two", "path": f"/r/{i}.jpg"} for i in range(2)])
    build.assign_split(recs, 0.15, seed=0)
    split = {(r["package"], r["path"]): r["split"] for r in recs}
    assert set(split.values()) == {"train", "val"}
    count = lambda pkg, s: sum(r["split"] == s for r in recs if r["package"] == pkg)
    assert count("big", "val") == 3, count("big", "val")
    assert count("three", "val") == 1          # >= 3 photos: at least one held out
    assert count("two", "val") == 0            # fewer than 3: all training
    again = [dict(r) for r in reversed(recs)]  # order of the input does not matter
    build.assign_split(again, 0.15, seed=0)
    assert {(r["package"], r["path"]): r["split"] for r in again} == split
    seeds = set()
    for seed in range(6):
        other = [dict(r) for r in recs]
        build.assign_split(other, 0.15, seed=seed)
        seeds.add(tuple(r["split"] for r in other if r["package"] == "big"))
    assert len(seeds) > 1, "the seed changes nothing"


@test
def image_loading(tmp):
    d = make_tree(tmp)
    rgb, info = build.load_rgb(d / "a-gray.png")
    assert rgb.shape == (300, 400, 3) and rgb.dtype == np.uint8 and info["gray"]
    rgb, info = build.load_rgb(d / "c-alpha.png")
    assert rgb.shape == (512, 700, 3) and info["alpha"] == "opaque" and not info["gray"]
    bgr = cv2.imread(str(d / "c-alpha.png"), cv2.IMREAD_UNCHANGED)[..., :3]
    assert np.array_equal(rgb, bgr[..., ::-1]), "not RGB order"
    rgba = np.dstack([photo(64, 64, 9), np.full((64, 64), 10, np.uint8)])
    cv2.imwrite(str(d / "t.png"), rgba)
    assert build.load_rgb(d / "t.png")[1]["alpha"] == "dropped"
    small, s = build.downscale(photo(600, 2000, 1), 1024)
    assert small.shape[:2] == (307, 1024) and abs(s - 0.512) < 1e-9
    same, s = build.downscale(photo(100, 200, 1), 1024)
    assert same.shape[:2] == (100, 200) and s == 1.0


@test
def crop_plan_balances(tmp):
    big = {"h": 768, "w": 1024}                   # 12 crop areas: up to 6 crops
    photos = ([dict(big, package="reef") for _ in range(40)] +
              [dict(big, package="lake") for _ in range(10)] +
              [dict(big, package="city") for _ in range(10)] +
              [{"package": "tiny", "h": 200, "w": 300}])  # too small for a crop
    order = build.plan_crops(photos, 256, cap_per_image=6, max_package_share=0.2)
    assert sorted(order[:60]) == list(range(60)), "every photo first gives one crop"
    assert 60 not in order, "a photo smaller than a crop gave one"
    # reef has 2/3 of the area but its share is capped at 20 %, lake and
    # city get 40 % each: they reach their 6 crops before reef gets a 2nd.
    counts = np.bincount(order[:160], minlength=61)
    assert list(counts[:40]) == [1] * 40 and list(counts[40:60]) == [6] * 20, counts
    counts = np.bincount(order, minlength=61)
    assert list(counts) == [6] * 60 + [0]
    shares = build.package_shares({"a": 100.0, "b": 10.0, "c": 10.0, "d": 10.0, "e": 10.0}, 0.2)
    assert abs(shares["a"] - 0.2) < 1e-9 and abs(sum(shares.values()) - 1) < 1e-9
    sizes = [[1000] * 6 for _ in photos]
    counts = build.fill_budget(order, sizes, 75 * (1000 + build.INDEX_BYTES_PER_CROP))
    assert sum(counts) == 75 and counts == list(np.bincount(order[:75], minlength=61))


@test
def crops_are_deterministic_and_apart(tmp):
    img = photo(700, 900, 7)
    a = build.make_crops(img, 128, 6, seed=42)
    b = build.make_crops(img, 128, 3, seed=42)
    assert a[:3] == b, "the k-th crop depends on how many are asked for"
    for i in range(len(a)):
        for j in range(i):
            assert build.iou(a[i], a[j], 128) <= build.MAX_IOU
    for y, x in a:
        assert 0 <= y <= 700 - 128 and 0 <= x <= 900 - 128


def make_deb(tmp):
    return corpus_testlib.make_deb(tmp, "fake-photos", make_tree, Path(tmp) / "out/debs",
                                   description="test photos")


@test
def whole_build_from_a_fake_deb(tmp):
    if not shutil.which("dpkg-deb"):
        return "SKIP no dpkg-deb"
    make_deb(tmp)
    out = Path(tmp) / "out"
    cfg = Path(tmp) / "packages.toml"
    cfg.write_text(corpus_testlib.package_toml(FAKE_PACKAGE))
    ref = Path(tmp) / "reference.json"
    max_mb = 0.2
    common = ["--out", str(out), "--config", str(cfg), "--reference", str(ref),
              "--crop-size", "64", "--max-side", "256", "--val-fraction", "0.25"]
    assert build.main(common + ["--max-mb", str(max_mb)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert ref.read_text() == (out / "manifest.json").read_text(), "first run writes the reference"
    assert len(m["images"]) == 5
    for img in m["images"]:
        for key in ("package", "version", "path", "licence", "sha256", "width", "height", "split"):
            assert key in img, key
        data = (out / "extract/fake-photos" / img["path"].lstrip("/")).read_bytes()
        assert build.sha256_bytes(data) == img["sha256"]
    assert {i["split"] for i in m["images"]} == {"train", "val"}
    by_path = {i["path"]: i for i in m["images"]}
    assert by_path[DIR + "/a-gray.png"]["gray"] and by_path[DIR + "/b.jpg"]["width"] == 800
    index = json.loads((out / "crops/index.json").read_text())["crops"]
    assert index, "no crops"
    for c in index:
        assert c["split"] == m["images"][c["image"]]["split"], "a crop left its photo's split"
        assert c["file"].startswith(c["split"] + "/")
    per_image = np.bincount([c["image"] for c in index], minlength=5)
    assert list(per_image) == [i["crops"] for i in m["images"]]
    size = sum(f.stat().st_size for f in (out / "crops").rglob("*") if f.is_file())
    assert size <= max_mb * 1e6, size
    crop = cv2.imread(str(out / "crops" / index[0]["file"]), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    # A tighter cap gives fewer crops, still under the cap.
    assert build.main(common + ["--max-mb", "0.05"]) == 0
    small = sum(f.stat().st_size for f in (out / "crops").rglob("*") if f.is_file())
    assert small <= 0.05e6 and len(json.loads((out / "crops/index.json").read_text())["crops"]) < len(index)
    # --verify agrees, then catches a changed checksum.
    assert build.main(common + ["--verify"]) == 0
    bad = json.loads(ref.read_text())
    bad["images"][0]["sha256"] = "0" * 64
    ref.write_text(json.dumps(bad))
    assert build.main(common + ["--verify"]) == 1
    assert build.main(common) == 1, "a build must refuse checksums that differ"


@test
def committed_config_is_sane(tmp):
    pkgs = build.load_config(build.DEFAULT_CONFIG)
    names = {p["name"] for p in pkgs}
    assert not names & debpkg.RESERVED
    for p in pkgs:
        assert p["version"] and p["expect"] >= 1 and p["licence"]
        if p["licence"] == "per file":
            assert p["files"], p["name"]
    ref = build.DEFAULT_REFERENCE
    if ref.is_file():
        m = json.loads(ref.read_text())
        assert {p["name"]: p["version"] for p in m["packages"]} == \
            {p["name"]: p["version"] for p in pkgs}, "manifest.json and packages.toml disagree"
        assert sum(p["expect"] for p in pkgs) == len(m["images"])


if __name__ == "__main__":
    sys.exit(suite.main())
