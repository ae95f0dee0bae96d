# SPDX-License-Identifier: GPL-3.0-or-later
"""The CSGIS-Net twin and its training: BatchNorm folding, the receptive
field, tiling, the blend, the losses, and a smoke training run that resumes
bit for bit.

Run from the repository root:  python3 -m unittest tests/test_csgis_twin.py
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
SHARED_EVAL = os.path.join(HERE, "..", "..", "shared", "eval")
sys.path.insert(0, SHARED_EVAL)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from lisse_train import csgis_loss as cl  # noqa: E402
from lisse_train import csgis_model as cm  # noqa: E402
from lisse_train import texture_blend as tb  # noqa: E402

D = torch.float64


def setUpModule():
    torch.set_num_threads(1)


def randomised(seed=0, **kw):
    """A twin with random weights everywhere (the output layers start at zero)
    and random BatchNorm statistics, in float64."""
    m = cm.CSGISNet(**{**dict(width=6, n_desc=2, n_smooth=1, n_refine=2), **kw}).to(D)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.rand(mod.num_features, generator=g, dtype=D) - 0.5)
                mod.running_var.copy_(0.5 + torch.rand(mod.num_features, generator=g, dtype=D))
                mod.weight.copy_(0.5 + torch.rand(mod.num_features, generator=g, dtype=D))
                mod.bias.copy_(0.2 * torch.rand(mod.num_features, generator=g, dtype=D) - 0.1)
            elif isinstance(mod, nn.Conv2d):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g, dtype=D)
                                 * (2.0 / mod.weight[0].numel()) ** 0.5)
                if mod.bias is not None:
                    mod.bias.copy_(0.05 * torch.randn(mod.bias.shape, generator=g, dtype=D))
    return m.eval()


class TwinTest(unittest.TestCase):
    def test_identity_at_start(self):
        m = cm.CSGISNet(width=4, n_desc=1, n_smooth=1, n_refine=1).eval()
        x = torch.rand(1, 3, 20, 17)
        self.assertTrue(torch.equal(m(x), x))

    def test_fold_equals_eval(self):
        m = randomised()
        x = torch.rand(2, 3, 23, 31, dtype=D)
        folded = cm.fold_batchnorm(m)
        self.assertFalse(any(isinstance(x_, nn.BatchNorm2d) for x_ in folded.modules()))
        self.assertLess((folded(x) - m(x)).abs().max().item(), 1e-10)

    def test_layer_list_covers_every_convolution(self):
        m = randomised()
        convs = {n for n, x in m.named_modules() if isinstance(x, nn.Conv2d)}
        listed = {p for _, p in cm.layer_list(m.n_desc, m.n_smooth, m.n_refine)}
        self.assertEqual(convs, listed)
        names = [n for n, _ in cm.layer_list(2, 1, 2)]
        self.assertEqual(len(names), len(set(names)))

    def test_receptive_radius_is_exact(self):
        """A pixel at the radius changes the centre output; one beyond does not."""
        m = randomised(n_desc=1, n_smooth=1, n_refine=1)
        r = cm.receptive_field_radius(1, 1, 1)
        n = 2 * r + 7
        c = n // 2
        x = torch.rand(1, 3, n, n, dtype=D)
        base = m(x)[0, :, c, c]
        for dist, changes in ((r, True), (r + 1, False)):
            y = x.clone()
            y[0, :, c, c + dist] += 0.5
            diff = (m(y)[0, :, c, c] - base).abs().max().item()
            self.assertEqual(diff > 1e-12, changes, f"distance {dist}: {diff}")

    def test_tile_with_halo_equals_whole(self):
        m = randomised(n_desc=1, n_smooth=1, n_refine=1)
        r = cm.receptive_field_radius(1, 1, 1)
        x = torch.rand(1, 3, 40, 3 * r + 25, dtype=D)
        whole = m(x)
        x0, x1 = r + 3, r + 20                     # an interior core
        crop = m(x[..., max(0, x0 - r): x1 + r])
        off = x0 - max(0, x0 - r)
        self.assertLess((crop[..., off: off + x1 - x0] - whole[..., x0:x1]).abs().max().item(), 1e-12)


class BlendTest(unittest.TestCase):
    def test_nks_rule_and_rms(self):
        """No zoom, no rotation, no tint: input − GT is the mean-free grey
        texture tiled from a random offset, at the drawn RMS."""
        rng = np.random.default_rng(3)
        tex = rng.integers(0, 256, (13, 9, 3)).astype(np.uint8)
        gt = np.full((40, 30, 3), 128, np.uint8)
        p = tb.BlendParams(scale=(1.0, 1.0), rms=(10.0, 10.0), rotate_p=0.0, tint_p=0.0)
        out = tb.blend(gt, tex, rng, p).astype(np.float64) - 128
        self.assertTrue(np.array_equal(out[..., 0], out[..., 1]))
        self.assertAlmostEqual(float(np.sqrt((out[..., 0] ** 2).mean())), 10.0, delta=0.3)
        self.assertLess(abs(out[..., 0].mean()), 0.5)
        # periodic: the field repeats with the texture's period (13 × 9,
        # or 9 × 13 after a quarter turn)
        f = out[..., 0]
        self.assertTrue(any(np.array_equal(f[:, :px], f[:, px:2 * px])
                            and np.array_equal(f[:py], f[py:2 * py])
                            for py, px in ((13, 9), (9, 13))))

    def test_deterministic(self):
        tex = np.random.default_rng(0).integers(0, 256, (50, 60, 3)).astype(np.uint8)
        gt = np.zeros((32, 32, 3), np.uint8) + 100
        a = tb.blend(gt, tex, np.random.default_rng(7))
        b = tb.blend(gt, tex, np.random.default_rng(7))
        self.assertTrue(np.array_equal(a, b))


class LossTest(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(os.path.join(SHARED_EVAL, "metrics.py")),
                         "no ../shared/eval/metrics.py next to the repository")
    def test_ssim_matches_metrics(self):
        import metrics
        rng = np.random.default_rng(1)
        a = rng.integers(0, 256, (40, 50, 3)).astype(np.float64)
        b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).round()
        ta = torch.from_numpy(a / 255).permute(2, 0, 1)[None]
        tb_ = torch.from_numpy(b / 255).permute(2, 0, 1)[None]
        ours = cl.ssim(ta, tb_).item()
        # metrics.ssim reflects at the border and drops 5 px: the same
        # valid region as an unpadded 11×11 window.
        ref = metrics.ssim(a, b)
        self.assertAlmostEqual(ours, ref, places=6)

    def test_perfect_prediction_is_best(self):
        torch.manual_seed(0)
        gt = torch.rand(2, 3, 48, 48)
        inp = (gt + 0.05 * torch.randn_like(gt)).clamp(0, 1)
        feat = cl.FixedFeatures()
        w = cl.LossWeights()
        edges = cl.edge_map(gt, w.edge_threshold)
        logit = (edges * 2 - 1) * 20
        best, _ = cl.total_loss((gt, gt, logit), gt, inp, feat, w)
        worse, _ = cl.total_loss((inp, inp, logit), gt, inp, feat, w)
        self.assertLess(best.item(), worse.item())
        self.assertLess(best.item(), 1e-3 + w.edge * 1e-6 * 1e3)

    def test_edge_map(self):
        gt = torch.zeros(1, 3, 8, 8)
        gt[..., 4:] = 1.0
        e = cl.edge_map(gt, 0.06)[0, 0]
        self.assertTrue(torch.equal(e[:, 3:5], torch.ones(8, 2)))
        self.assertEqual(float(e.sum()), 16.0)


def make_pack(root):
    """A tiny pack in the layout of training/corpus/build_textures.py."""
    rng = np.random.default_rng(0)
    idx = {"structures": [], "textures": [], "val_pairs": []}
    for d in ("structures/train", "textures/train", "val-pairs/input", "val-pairs/gt"):
        os.makedirs(os.path.join(root, d))
    for i in range(4):
        a = np.full((64, 64, 3), rng.integers(0, 255, 3), np.uint8)
        cv2.circle(a, (32, 32), 10 + 4 * i, tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
        f = f"structures/train/{i}.png"
        cv2.imwrite(os.path.join(root, f), a)
        idx["structures"].append({"file": f, "split": "train"})
        t = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
        f = f"textures/train/{i}.png"
        cv2.imwrite(os.path.join(root, f), t)
        idx["textures"].append({"file": f, "split": "train"})
        inp = tb.blend(a, t, rng)
        for kind, img in (("input", inp), ("gt", a)):
            cv2.imwrite(os.path.join(root, f"val-pairs/{kind}/{i}.png"), img)
        idx["val_pairs"].append({"input": f"val-pairs/input/{i}.png", "gt": f"val-pairs/gt/{i}.png"})
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(idx, f)


def smoke_resume_export(tc, train_main, export_main, tmp, extra=()):
    """What every texture trainer's test checks first: the smoke config run
    whole (a) and stopped at step 6 and resumed (b) end bit for bit alike,
    validated at steps 6 and 12 with a PSNR above 10 dB; a's checkpoint
    exports.  Returns (a's checkpoint, a's log records, the file's metadata)."""
    make_pack(os.path.join(tmp, "pack"))
    args = ["--config", "smoke", "--pack", os.path.join(tmp, "pack"), *extra]
    tc.assertEqual(train_main(args + ["--out", os.path.join(tmp, "a")]), 0)
    tc.assertEqual(train_main(args + ["--out", os.path.join(tmp, "b"), "--stop-at", "6"]), 0)
    tc.assertEqual(train_main(args + ["--out", os.path.join(tmp, "b"), "--resume"]), 0)
    a = torch.load(os.path.join(tmp, "a", "last.pt"), weights_only=False)
    b = torch.load(os.path.join(tmp, "b", "last.pt"), weights_only=False)
    tc.assertEqual(a["step"], 12)
    for k in a["model"]:
        tc.assertTrue(torch.equal(a["model"][k], b["model"][k]), k)
    with open(os.path.join(tmp, "a", "log.jsonl")) as f:
        recs = [json.loads(x) for x in f]
    vals = [r for r in recs if r["kind"] == "val"]
    tc.assertEqual([v["step"] for v in vals], [6, 12])
    tc.assertTrue(all(v["psnr"] > 10 for v in vals))
    out = os.path.join(tmp, "m.safetensors")
    tc.assertEqual(export_main([os.path.join(tmp, "a", "last.pt"), out, "--name", "t"]), 0)
    with open(out, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    tc.assertEqual(meta["steps"], "12")
    return a, recs, meta


class TrainTest(unittest.TestCase):
    def test_clean_pairs(self):
        """clean_p 1: every input is its structure; 0: textured inputs, and
        the random stream the same as a config without the key."""
        from lisse_train import train_csgis as tc
        tmp = tempfile.mkdtemp()
        try:
            make_pack(os.path.join(tmp, "pack"))
            pack = tc.Pack(os.path.join(tmp, "pack"))
            cfg = dict(tc.CONFIGS["smoke"])
            draws = {}
            for p in (None, 0.0, 1.0):
                c = dict(cfg)
                if p is None:
                    c.pop("clean_p")
                else:
                    c["clean_p"] = p
                draws[p] = tc.sample_batch(pack, c, np.random.default_rng(5), size=32)
            inp, gt = draws[1.0]
            self.assertTrue(torch.equal(inp, gt))
            inp, gt = draws[0.0]
            self.assertFalse(torch.equal(inp, gt))
            self.assertTrue(torch.equal(inp, draws[None][0]) and torch.equal(gt, draws[None][1]))
        finally:
            shutil.rmtree(tmp)

    def test_smoke_resume_and_export(self):
        from lisse_train import csgis_export as ce
        from lisse_train import train_csgis as tc
        tmp = tempfile.mkdtemp()
        try:
            _, _, meta = smoke_resume_export(self, tc.main, ce.main, tmp)
            self.assertEqual(meta["architecture"], "csgis")
            self.assertEqual(meta["receptive_radius"], str(cm.receptive_field_radius(1, 1, 1)))
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
