#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast checks of tools/eval/texture-eval.py, the texture-removal evaluation.

On a fake NKS-mini (3 pairs, the SS_TT / SS layout) and a fake texture pack
(3 validation pairs listed in index.json as the pack builder lists them),
with one filter at one parameter set and a tiny random-weight fan18 model:
  - the input row's and the filter row's PSNR / SSIM equal what
    ../shared/eval/metrics.py gives on `lisse filter`'s own outputs (so the
    batch runner's pixels are the command line's), the model row's what it
    gives on `lisse run`'s, and the model row is named by the file's stem;
    an --effect-method 'NICK key=value' row's what it gives on `lisse
    effect`'s with that setting;
  - the doc's table is written between its markers, the text around them
    kept, a stale table replaced; the command is at the top;
  - the JSON and the contact sheet are written;
  - a second run takes every score from the cache.
Prints TAP.  Usage: test-texture-eval.py LISSE [CLASSIC_BATCH]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import lisse_testlib as tl

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "eval", "texture-eval.py")
METRICS = os.path.join(REPO, "..", "shared", "eval")


def main():
    if len(sys.argv) < 2:
        print("usage: test-texture-eval.py LISSE [CLASSIC_BATCH]", file=sys.stderr)
        return 2
    lisse = sys.argv[1]
    batch = sys.argv[2] if len(sys.argv) > 2 else "/nonexistent/classic-batch"
    np, cv2 = tl.import_or_skip("numpy", "cv2")
    if not os.path.isfile(os.path.join(METRICS, "metrics.py")):
        tl.skip_all("no ../shared/eval/metrics.py next to the repository")
    sys.path.insert(0, METRICS)
    import metrics

    tap = tl.Tap()
    tmp = tempfile.mkdtemp(prefix="lisse-texture-eval-")
    try:
        return checks(tap, tmp, lisse, batch, np, cv2, metrics)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def checks(tap, tmp, lisse, batch, np, cv2, metrics):
    rng = np.random.default_rng(7)
    nks, pack = os.path.join(tmp, "nks"), os.path.join(tmp, "pack")
    for d in (nks + "/input", nks + "/gt", pack + "/val-pairs/input", pack + "/val-pairs/gt"):
        os.makedirs(d)

    def structure(h, w):
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = rng.integers(40, 200, 3)
        for _ in range(3):
            y, x = rng.integers(0, h - 16), rng.integers(0, w - 16)
            img[y:y + rng.integers(8, 24), x:x + rng.integers(8, 24)] = rng.integers(0, 256, 3)
        return img

    def textured(gt):
        yy, xx = np.mgrid[0:gt.shape[0], 0:gt.shape[1]]
        t = 12 * np.sin(0.9 * xx) * np.sin(0.7 * yy) + rng.normal(0, 3, yy.shape)
        return np.clip(np.round(gt + t[..., None]), 0, 255).astype(np.uint8)

    for g in ("01", "02"):
        cv2.imwrite(f"{nks}/gt/{g}.png", structure(40, 56))
    for name in ("01_01", "01_02", "02_01"):
        cv2.imwrite(f"{nks}/input/{name}.png", textured(cv2.imread(f"{nks}/gt/{name[:2]}.png")))
    entries = []
    for i in range(3):
        gt = structure(48, 48)
        cv2.imwrite(f"{pack}/val-pairs/gt/{i:04d}.png", gt)
        cv2.imwrite(f"{pack}/val-pairs/input/{i:04d}.png", textured(gt))
        entries.append({"input": f"val-pairs/input/{i:04d}.png", "gt": f"val-pairs/gt/{i:04d}.png"})
    with open(f"{pack}/index.json", "w") as f:
        json.dump({"val_pairs": entries}, f)
    model = tl.tiny_fan18_model(os.path.join(tmp, "tiny-remover.safetensors"), 3)

    doc = os.path.join(tmp, "eval.md")
    with open(doc, "w") as f:
        f.write("# Title\n\nIntro kept.\n\n<!-- texture-eval-command: begin -->\nold command\n"
                "<!-- texture-eval-command: end -->\n\nMiddle kept.\n\n"
                "<!-- texture-eval: begin -->\n| stale | table |\n<!-- texture-eval: end -->\n"
                "\nTail kept.\n")
    out_json, sheet = os.path.join(tmp, "eval.json"), os.path.join(tmp, "sheet.png")
    args = [sys.executable, TOOL, "--nks", nks, "--pack", pack, "--filters", "guided",
            "--grid", "guided radius=2 epsilon=0.02", "--no-oracle", "--model", model,
            "--model-set", "lambda-f=2", "--effect-method", "rolling-guidance strength=2",
            "--lisse", lisse, "--batch", batch,
            "--scratch", os.path.join(tmp, "scratch"), "--cache", os.path.join(tmp, "cache.json"),
            "--doc", doc, "--json", out_json, "--sheet", sheet]
    env = dict(os.environ, LISSE_THREADS="1")
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    if not tap(r.returncode == 0, "texture-eval runs", r.stdout + r.stderr):
        return tap.finish()
    with open(out_json) as f:
        res = json.load(f)
    rows = {row["method"]: row for row in res["rows"]}
    effect_row = "remove-texture (rolling-guidance, strength=2)"
    tap(sorted(rows) == ["guided", "input", effect_row, "tiny-remover"],
        "rows: input, the filter, the effect method named with its own setting, the model named "
        "by its stem", sorted(rows))
    tap(res["sets"]["nksmini"]["pairs"] == 3 and res["sets"]["val"]["pairs"] == 3,
        "3 + 3 pairs", res["sets"])

    pairs = {"nksmini": [(f"{nks}/input/{n}.png", f"{nks}/gt/{n[:2]}.png")
                         for n in ("01_01", "01_02", "02_01")],
             "val": [(f"{pack}/val-pairs/input/{i:04d}.png", f"{pack}/val-pairs/gt/{i:04d}.png")
                     for i in range(3)]}

    def expected(make):
        """{set: (mean PSNR, mean SSIM)} of make(input, out) against the GT."""
        e = {}
        for s, ps in pairs.items():
            vals = []
            for k, (inp, gt) in enumerate(ps):
                out = os.path.join(tmp, f"direct-{s}-{k}.png")
                src = make(inp, out)
                a, b = cv2.imread(src, cv2.IMREAD_COLOR), cv2.imread(gt, cv2.IMREAD_COLOR)
                vals.append((metrics.psnr(a, b), metrics.ssim(a, b)))
            e[s] = tuple(np.mean(vals, axis=0))
        return e

    def same(row, exp, what):
        diffs = {s: (row[s]["psnr"] - exp[s][0], row[s]["ssim"] - exp[s][1]) for s in exp}
        tap(all(abs(d[0]) < 1e-9 and abs(d[1]) < 1e-12 for d in diffs.values()),
            f"{what}: PSNR and SSIM equal metrics.py's on both sets", diffs)

    same(rows["input"], expected(lambda inp, out: inp), "input row")

    def lisse_out(cmd):
        def make(inp, out):
            p = subprocess.run([lisse] + cmd + [inp, out], capture_output=True, text=True,
                               env=env)
            assert p.returncode == 0, p.stderr
            return out
        return make

    same(rows["guided"], expected(lisse_out(["filter", "guided", "--set", "radius=2",
                                             "--set", "epsilon=0.02"])),
         "guided row (against `lisse filter`)")
    tap(rows["guided"]["chosen_on"] == "synthetic val" and
        res["tuning"]["guided"]["best"] == "radius=2, epsilon=0.02",
        "the filter's setting is chosen on the synthetic split", res["tuning"])
    same(rows["tiny-remover"], expected(lisse_out(["run", "--model", model, "--set", "lambda-f=2",
                                                   "--threads", "1"])),
         "model row (against `lisse run`)")
    same(rows[effect_row], expected(lisse_out(["effect", "remove-texture", "--choice",
                                               "rolling-guidance", "--set", "strength=2"])),
         "effect row (against `lisse effect`)")

    text = open(doc).read()
    begin, end = "<!-- texture-eval: begin -->", "<!-- texture-eval: end -->"
    inside = text.split(begin, 1)[1].split(end, 1)[0] if begin in text and end in text else ""
    g = rows["guided"]
    line = "| guided | radius=2, epsilon=0.02 | synthetic val | %.2f / %.4f | %.2f / %.4f |" % (
        g["nksmini"]["psnr"], g["nksmini"]["ssim"], g["val"]["psnr"], g["val"]["ssim"])
    tap(line in inside and "| input |" in inside and "CSGIS-Net" in inside
        and "stale" not in text, "the table is written between the markers", inside[:2000])
    tap(all(s in text for s in ("# Title", "Intro kept.", "Middle kept.", "Tail kept."))
        and text.count(begin) == 1 and text.count(end) == 1, "the text around the markers is kept",
        text[:2000])
    cmd_part = text.split("<!-- texture-eval-command: begin -->", 1)[1].split(
        "<!-- texture-eval-command: end -->", 1)[0]
    tap("tools/eval/texture-eval.py" in cmd_part and "old command" not in cmd_part
        and "--filters guided" in cmd_part, "the command is written at the top", cmd_part)
    img = cv2.imread(sheet)
    tap(img is not None and img.shape[0] > 5 * 40 and img.shape[1] > 4 * 40,
        "the contact sheet is written (5 rows, 4 columns)", None if img is None else img.shape)

    r2 = subprocess.run(args + ["--no-sheet"], capture_output=True, text=True, env=env,
                        timeout=120)
    with open(out_json) as f:
        res2 = json.load(f)
    tap(r2.returncode == 0 and res2["computed"] == 0 and res2["from_cache"] > 0
        and res2["rows"] == res["rows"], "a second run takes every score from the cache",
        r2.stdout + r2.stderr)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
