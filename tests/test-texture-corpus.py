#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast checks of the texture-removal pack builder, training/corpus/build_textures.py.

No network and no real package: fake .debs (made with dpkg-deb, put in the
download cache so apt is never called) of synthetic GIMP patterns, PNG
textures and RGBA clip-art pieces, and a fake crop pack.  Lisse's L0 filter
is replaced by a Gaussian blur so the test needs no build.  It checks
  - decoding of a synthetic .pat of each pixel depth (1-4 bytes), alpha
    composited over white, corrupt headers refused;
  - the texture split: per package, about the val fraction, deterministic;
    the clip-art piece split by path hash; check_disjoint() catching a
    texture in both splits and a validation pair using a training texture;
  - a whole build on the fake input: index.json format (the layout
    train_csgis.py reads), image sizes and types, small textures tiled,
    flat ones dropped, clip-art over the pixel cap never decoded, splits
    disjoint, manifest fields; a second build is
    byte-identical; --verify passes, then catches a changed checksum;
  - the committed texture-packages.toml passes the checks and refuses no
    reserved package.
Prints TAP (the plan comes last).  Usage: test-texture-corpus.py
"""

import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import cv2

import corpus_testlib
from corpus_testlib import REPO

bt = corpus_testlib.load_builder("build_textures", "build_textures.py")
suite = corpus_testlib.Suite("lisse-texture-test-")
test = suite.test


def pat_bytes(px, name="test pattern"):
    """A GIMP .pat file holding PX (H x W x bpp uint8)."""
    h, w, bpp = px.shape
    raw = name.encode() + b"\0"
    header = struct.pack(">5I", 24 + len(raw), 1, w, h, bpp) + b"GPAT" + raw
    return header + px.tobytes()


@test
def pat_decoding_every_depth(tmp):
    rng = np.random.default_rng(1)
    for bpp in (1, 2, 3, 4):
        px = rng.integers(0, 256, size=(5, 7, bpp), dtype=np.uint8)
        name, got = bt.decode_pat(pat_bytes(px, f"depth {bpp} é"))
        assert name == f"depth {bpp} é"
        assert got.shape == (5, 7, bpp) and np.array_equal(got, px)
        rgb = bt.to_rgb(got)
        assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8
        if bpp == 1:
            assert np.array_equal(rgb, px.repeat(3, 2))
        if bpp == 3:
            assert np.array_equal(rgb, px)
    # alpha over white: transparent -> 255, opaque -> the colour
    px = np.array([[[10, 20, 30, 0], [10, 20, 30, 255]]], np.uint8)
    assert bt.to_rgb(px).tolist() == [[[255, 255, 255], [10, 20, 30]]]
    px = np.array([[[0, 128]]], np.uint8)
    assert bt.to_rgb(px).tolist() == [[[127, 127, 127]]]
    good = pat_bytes(np.zeros((4, 4, 3), np.uint8))
    for bad in (good[:20], good.replace(b"GPAT", b"GIMP"), good[:-5],
                good[:4] + struct.pack(">I", 2) + good[8:],
                good[:16] + struct.pack(">I", 5) + good[20:]):
        try:
            bt.decode_pat(bad)
        except bt.CorpusError:
            continue
        raise AssertionError("a corrupt pattern was accepted")


@test
def tiling_small_textures(tmp):
    png = cv2.imencode(".png", np.zeros((7, 300, 4), np.uint8))[1].tobytes()
    assert bt.png_size(png) == (300, 7) and bt.png_size(b"GIF89a" + bytes(30)) == (0, 0)
    t = np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3)
    up = bt.tile_up(t)
    assert up.shape == (90, 80, 3) and np.array_equal(up[30:60, 40:80], t)
    big = np.zeros((64, 100, 3), np.uint8)
    assert bt.tile_up(big) is big


@test
def texture_split_is_per_package_and_seeded(tmp):
    tex = [{"package": p, "path": f"/x/{p}/{i:02d}"} for p, n in (("a", 20), ("b", 7), ("c", 2))
           for i in range(n)]
    bt.split_textures(tex, 0.15, 0)
    first = [t["split"] for t in tex]
    val = {p: sum(t["split"] == "val" for t in tex if t["package"] == p) for p in "abc"}
    assert val == {"a": 3, "b": 1, "c": 0}, val
    bt.split_textures(tex, 0.15, 0)
    assert [t["split"] for t in tex] == first
    bt.split_textures(tex, 0.15, 1)
    assert [t["split"] for t in tex] != first
    splits = [bt.piece_split(f"p/{i}.png", 0, 0.1) for i in range(2000)]
    assert 120 < splits.count("val") < 280
    assert splits == [bt.piece_split(f"p/{i}.png", 0, 0.1) for i in range(2000)]


@test
def disjointness_rule(tmp):
    idx = {"textures": [{"file": "textures/train/a.png", "split": "train", "package": "p", "path": "/a"},
                        {"file": "textures/val/b.png", "split": "val", "package": "p", "path": "/b"}],
           "structures": [{"file": "structures/train/0001.png", "split": "train", "kind": "clipart",
                           "source": {"pieces": ["x.png"]}},
                          {"file": "structures/val/0001.png", "split": "val", "kind": "clipart",
                           "source": {"pieces": ["y.png"]}}],
           "val_pairs": [{"input": "val-pairs/input/0001.png", "gt": "val-pairs/gt/0001.png",
                          "structure": "structures/val/0001.png", "texture": "textures/val/b.png"}]}
    bt.check_disjoint(idx)
    for mutate in (lambda d: d["textures"].append(dict(d["textures"][0], split="val")),
                   lambda d: d["structures"][1]["source"]["pieces"].append("x.png"),
                   lambda d: d["val_pairs"][0].update(texture="textures/train/a.png"),
                   lambda d: d["val_pairs"][0].update(structure="structures/train/0001.png")):
        d = json.loads(json.dumps(idx))
        mutate(d)
        try:
            bt.check_disjoint(d)
        except bt.CorpusError:
            continue
        raise AssertionError("check_disjoint missed a leak")


# ------------------------------------------------------------ fake input

TEX_DIR = "/usr/share/fake/textures"
CLIP_DIR = "/usr/share/fake/clip"


def noise_texture(h, w, seed, channels=3):
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.normal(128, 60, (h, w, channels)).astype(np.float32), (0, 0), 1.5)
    return np.clip(t, 0, 255).astype(np.uint8).reshape(h, w, channels)


def make_texture_tree(root):
    d = Path(root) / TEX_DIR.lstrip("/")
    (d / "sub").mkdir(parents=True)
    (d / "sub/one.pat").write_bytes(pat_bytes(noise_texture(30, 40, 1, 1)))
    ga = np.dstack([noise_texture(70, 70, 2, 1), np.full((70, 70, 1), 200, np.uint8)])
    (d / "sub/two.pat").write_bytes(pat_bytes(ga))
    (d / "three.pat").write_bytes(pat_bytes(noise_texture(80, 90, 3)))
    rgba = np.dstack([noise_texture(64, 64, 4), np.full((64, 64, 1), 255, np.uint8)])
    (d / "four.pat").write_bytes(pat_bytes(rgba))
    cv2.imwrite(str(d / "five.png"), noise_texture(100, 120, 5))
    cv2.imwrite(str(d / "six.jpg"), noise_texture(96, 96, 6), [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(d / "seven.png"), noise_texture(128, 128, 7, 1))
    cv2.imwrite(str(d / "flat.png"), np.full((80, 80, 3), 90, np.uint8))
    cv2.imwrite(str(d / "logo.png"), np.zeros((80, 80, 3), np.uint8))


def make_clip_tree(root):
    d = Path(root) / CLIP_DIR.lstrip("/")
    d.mkdir(parents=True)
    rng = np.random.default_rng(9)
    for i in range(30):
        img = np.zeros((200, 240, 4), np.uint8)
        for _ in range(3):
            col = [int(c) for c in rng.integers(0, 256, 3)] + [255]
            c = (int(rng.integers(60, 180)), int(rng.integers(60, 140)))
            cv2.ellipse(img, c, (int(rng.integers(20, 60)), int(rng.integers(20, 60))), 0, 0, 360, col, -1)
        cv2.circle(img, (120, 100), 50, (0, 0, 0, 255), 3)
        cv2.imwrite(str(d / f"piece{i:02d}.png"), img)
    tiny = np.zeros((40, 40, 4), np.uint8)
    cv2.circle(tiny, (20, 20), 15, (0, 0, 255, 255), -1)
    cv2.imwrite(str(d / "tiny.png"), tiny)
    cv2.imwrite(str(d / "opaque.png"), np.full((200, 200, 3), 60, np.uint8))
    huge = np.zeros((300, 300, 4), np.uint8)
    cv2.circle(huge, (150, 150), 120, (0, 200, 0, 255), -1)
    cv2.imwrite(str(d / "huge.png"), huge)   # over the test's pixel cap: never decoded


def make_deb(tmp, name, filler):
    corpus_testlib.make_deb(tmp, name, filler, Path(tmp) / "debs")


def make_crops(tmp):
    d = Path(tmp) / "crops"
    crops = []
    for split, n in (("train", 4), ("val", 3)):
        (d / split).mkdir(parents=True)
        for i in range(n):
            img = noise_texture(256, 256, 100 + i + (10 if split == "val" else 0))
            img[:, 128:] //= 2
            f = f"{split}/{i:04d}-fake-p{i}-0.png"
            cv2.imwrite(str(d / f), img)
            # The whole photo, where build.py leaves it: the thumbnails read it.
            photo = Path(tmp) / "extract" / "fake-photos" / "usr/share/fake" / f"{split}{i}.jpg"
            photo.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(photo), cv2.resize(img, (400, 300)))
            crops.append({"file": f, "split": split, "image": i, "package": "fake-photos",
                          "path": f"/usr/share/fake/{split}{i}.jpg", "y": 0, "x": 0,
                          "scale": 1.0, "size": 256})
    (d / "index.json").write_text(json.dumps({"format": "lisse-corpus-crops-1", "crops": crops}))
    return d


CONFIG = "\n".join(corpus_testlib.package_toml(p) for p in (
    {"name": "fake-textures", "version": "1.0-1", "role": "texture", "dir": TEX_DIR,
     "include": ["*.pat", "*.png", "*.jpg"], "expect": 8, "licence": "CC0-1.0",
     "exclude": {"logo.png": "a logo"},
     "files": {"five.png": {"licence": "GPL-2+", "copyright": "Someone"}}},
    {"name": "fake-clipart", "version": "1.0-1", "role": "clipart", "dir": CLIP_DIR,
     "include": ["*.png"], "expect": 33, "licence": "public-domain"}))


def fake_l0(jobs, tool):
    for src, dst, lam in jobs:
        img = cv2.imread(str(src), cv2.IMREAD_COLOR)
        cv2.imwrite(str(dst), cv2.GaussianBlur(img, (0, 0), 2.0))


@test
def whole_build_on_fake_input(tmp):
    if not shutil.which("dpkg-deb"):
        return "SKIP no dpkg-deb"
    try:
        import lisse_train.texture_blend  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO / "training"))
    make_deb(tmp, "fake-textures", make_texture_tree)
    make_deb(tmp, "fake-clipart", make_clip_tree)
    crops = make_crops(tmp)
    cfg = Path(tmp) / "texture-packages.toml"
    cfg.write_text(CONFIG)
    ref = Path(tmp) / "reference.json"
    outs = [Path(tmp) / "out1", Path(tmp) / "out2"]
    for o in outs:
        shutil.copytree(Path(tmp) / "debs", o / "debs")
    saved = bt.run_l0, bt.find_l0_tool, bt.PIECE_MAX_PIXELS
    bt.run_l0, bt.find_l0_tool = fake_l0, lambda: ("fake", "")
    bt.PIECE_MAX_PIXELS = 250 * 250
    try:
        def run(out, *extra):
            return bt.main(["--out", str(out), "--config", str(cfg), "--reference", str(ref),
                            "--crops", str(crops), "--clipart-train", "6", "--clipart-val", "2",
                            "--photo-val", "2", "--piece-val-fraction", "0.3", "--max-mb", "5",
                            *extra])
        assert run(outs[0]) == 0
        assert ref.read_text() == (outs[0] / "texture-manifest.json").read_text()
        assert run(outs[1]) == 0, "a second build must match the reference"
        pack = outs[0] / "pack"
        files1 = sorted(p.relative_to(pack) for p in pack.rglob("*") if p.is_file())
        files2 = sorted(p.relative_to(outs[1] / "pack") for p in (outs[1] / "pack").rglob("*") if p.is_file())
        assert files1 == files2
        for f in files1:
            assert (pack / f).read_bytes() == (outs[1] / "pack" / f).read_bytes(), f"{f} differs"

        idx = json.loads((pack / "index.json").read_text())
        assert set(idx) >= {"structures", "textures", "val_pairs"}
        st, tx, vp = idx["structures"], idx["textures"], idx["val_pairs"]
        kinds = {(s["split"], s["kind"]) for s in st}
        assert kinds == {("train", "clipart"), ("train", "photo-cartoon"), ("train", "photo-thumb"),
                         ("val", "clipart"), ("val", "photo-cartoon")}, kinds
        assert sum(s["split"] == "train" for s in st) == 6 + 4 + 4 * 4   # 4 thumbnails a photo
        assert sum(s["split"] == "val" for s in st) == 2 + 2
        # Thumbnails of the val photos: their own list and pairs, one each.
        th, tp = idx["thumb_structures"], idx["val_thumb_pairs"]
        assert len(th) == 3 and len(tp) == 3 and all(t["split"] == "val" for t in th)
        for p in tp:
            im = cv2.imread(str(pack / p["input"]), cv2.IMREAD_UNCHANGED)
            assert im.shape == (256, 256, 3)
            assert (pack / p["gt"]).read_bytes() == (pack / p["structure"]).read_bytes()
        for s in st:
            assert s["file"].startswith(f"structures/{s['split']}/") and "source" in s
            im = cv2.imread(str(pack / s["file"]), cv2.IMREAD_UNCHANGED)
            assert im.shape == (256, 256, 3) and im.dtype == np.uint8, s["file"]
        names = {t["path"].rsplit("/", 1)[1] for t in tx}
        assert names == {"one.pat", "two.pat", "three.pat", "four.pat", "five.png", "six.jpg",
                         "seven.png"}, names
        for t in tx:
            assert t["file"].startswith(f"textures/{t['split']}/") and t["package"] == "fake-textures"
            im = cv2.imread(str(pack / t["file"]), cv2.IMREAD_UNCHANGED)
            assert im.ndim == 3 and im.shape[2] == 3 and min(im.shape[:2]) >= 64
        one = next(t for t in tx if t["path"].endswith("one.pat"))
        assert (one["width"], one["height"]) == (80, 90) and one["tiled_from"] == [40, 30]
        assert {t["split"] for t in tx} == {"train", "val"}
        assert len(vp) == 2 * 4
        for p in vp:
            for key in ("input", "gt"):
                im = cv2.imread(str(pack / p[key]), cv2.IMREAD_UNCHANGED)
                assert im.shape == (256, 256, 3) and im.dtype == np.uint8
            assert (pack / p["gt"]).read_bytes() == (pack / p["structure"]).read_bytes()
            assert (pack / p["input"]).read_bytes() != (pack / p["gt"]).read_bytes()
        bt.check_disjoint(idx)

        m = json.loads(ref.read_text())
        assert [p["name"] for p in m["packages"]] == ["fake-textures", "fake-clipart"]
        for p in m["packages"]:
            assert p["version"] == "1.0-1" and len(p["deb_sha256"]) == 64 and p["licence"]
        by_path = {f["path"].rsplit("/", 1)[1]: f for f in m["files"]}
        assert by_path["flat.png"]["dropped"] == "nearly flat" and by_path["flat.png"]["split"] is None
        assert by_path["five.png"]["licence"] == "GPL-2+"
        for left_out in ("logo.png", "tiny.png", "opaque.png", "huge.png"):
            assert left_out not in by_path, left_out
        for f in m["files"]:
            for key in ("package", "path", "licence", "sha256", "split", "kind"):
                assert key in f, key
            data = (outs[0] / "extract" / f["package"] / f["path"].lstrip("/")).read_bytes()
            assert bt.sha256_bytes(data) == f["sha256"]
        clip = [f for f in m["files"] if f["kind"] == "clipart"]
        assert clip and {f["split"] for f in clip} == {"train", "val"}

        assert run(outs[0], "--verify") == 0
        bad = json.loads(ref.read_text())
        bad["files"][0]["sha256"] = "0" * 64
        ref.write_text(json.dumps(bad))
        assert run(outs[0], "--verify") == 1
        assert run(outs[1]) == 1, "a build must refuse checksums that differ"
    finally:
        bt.run_l0, bt.find_l0_tool, bt.PIECE_MAX_PIXELS = saved


@test
def committed_config_is_sane(tmp):
    pkgs = bt.load_config(bt.DEFAULT_CONFIG)
    names = {p["name"] for p in pkgs}
    assert not names & bt.debpkg.RESERVED
    assert {p["role"] for p in pkgs} == {"texture", "clipart"}
    for p in pkgs:
        assert p["version"] and p["expect"] >= 1 and p["licence"] and p["licence"] != "per file"
    for reserved in sorted(bt.debpkg.RESERVED)[:2]:
        try:
            bt.check_package_config({"name": reserved, "version": "1", "role": "texture",
                                     "dir": "/", "include": ["*"], "expect": 1, "licence": "x"})
        except bt.CorpusError:
            continue
        raise AssertionError(f"{reserved} was not refused")
    ref = bt.DEFAULT_REFERENCE
    if ref.is_file():
        m = json.loads(ref.read_text())
        assert {p["name"]: p["version"] for p in m["packages"]} == \
            {p["name"]: p["version"] for p in pkgs}, "texture-manifest.json and the toml disagree"
        tex = [f for f in m["files"] if f["kind"] == "texture"]
        assert len(tex) == sum(p["expect"] for p in pkgs if p["role"] == "texture")


if __name__ == "__main__":
    sys.exit(suite.main())
