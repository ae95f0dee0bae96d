# SPDX-License-Identifier: GPL-3.0-or-later
"""The MGPNet twin (training/lisse_train/mgpnet_model.py): the reflect
padding, the block and grid groupings, the locality of the block branch and
the reach of the grid branch, the size rule, global perception, the size
at the paper's widths, the multi-scale loss, the export's tensor list, and a
smoke training run (train_mgpnet) that resumes bit for bit and exports.

Run from the repository root:  python3 -m unittest tests/test_mgpnet_twin.py
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "training"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lisse_testlib import random_mgpnet_twin  # noqa: E402
from lisse_train import mgpnet_export as me  # noqa: E402
from lisse_train import mgpnet_model as mm  # noqa: E402

D = torch.float64
TINY = dict(widths=(4, 6, 8), in_feat=3, blocks=(2, 2, 4), grid=4, n_pairs=1, multiple=16)


def setUpModule():
    torch.set_num_threads(1)


def twin(seed=0, **kw):
    return random_mgpnet_twin(seed, **{**TINY, **kw}).to(D).eval()


class PaddingTest(unittest.TestCase):
    def test_reflect_index(self):
        for n in (2, 3, 5, 16):
            for pad in (1, n - 1):
                want = np.pad(np.arange(n), (0, pad), mode="reflect")
                got = mm.reflect_index(torch.arange(n + pad), n).numpy()
                self.assertEqual(got.tolist(), want.tolist(), (n, pad))
        # beyond one reflection (images smaller than the padding), and n = 1
        self.assertEqual(mm.reflect_index(torch.arange(9), 3).tolist(),
                         [0, 1, 2, 1, 0, 1, 2, 1, 0])
        self.assertEqual(mm.reflect_index(torch.arange(5), 1).tolist(), [0] * 5)

    def test_pad_to_multiple(self):
        x = torch.rand(1, 3, 5, 17)
        p = mm.pad_reflect_to(x, 16)
        self.assertEqual(tuple(p.shape), (1, 3, 16, 32))
        self.assertTrue(torch.equal(p[..., :5, :17], x))
        self.assertTrue(torch.equal(p[..., 5, :17], x[..., 3, :]))   # reflect, not repeat
        self.assertIs(mm.pad_reflect_to(p, 16), p)


class GroupsTest(unittest.TestCase):
    def test_groupings_are_the_documented_ones(self):
        h, w, s = 8, 12, 4
        x = torch.arange(h * w, dtype=D).reshape(1, 1, h, w)
        blk = mm.to_groups(x, "block", s)[0, 0]
        grd = mm.to_groups(x, "grid", s)[0, 0]
        for y in range(h):
            for xx in range(w):
                v = y * w + xx
                # block: group (y//s, x//s), position (y%s, x%s)
                self.assertEqual(blk[(y // s) * (w // s) + xx // s, (y % s) * s + xx % s], v)
                # grid: cells of (h/s) × (w/s); group = offset in the cell, position = cell
                fh, fw = h // s, w // s
                self.assertEqual(grd[(y % fh) * fw + xx % fw, (y // fh) * s + xx // fw], v)
        for kind in ("block", "grid"):
            self.assertTrue(torch.equal(mm.from_groups(mm.to_groups(x, kind, s), kind, s, h, w), x))

    def test_branch_reach(self):
        """A pixel reaches, through one gMLP, exactly its block window (block)
        or the pixels at its offset in every grid cell (grid)."""
        torch.manual_seed(1)
        h, w, s = 8, 8, 4
        for kind in ("block", "grid"):
            g = mm.Gmlp(3, kind, s).to(D).eval()
            torch.nn.init.normal_(g.spatial.weight, std=0.5)
            x = torch.rand(1, 3, h, w, dtype=D)
            x2 = x.clone()
            x2[:, 0, 1, 2] += 1.0     # one channel: LayerNorm ignores a shift of all three
            with torch.no_grad():
                changed = (g(x2) - g(x)).abs().amax(1)[0] > 1e-12
            want = torch.zeros(h, w, dtype=torch.bool)
            if kind == "block":
                want[0:4, 0:4] = True
            else:
                want[1::2, 0::2] = True      # cells of 2 × 2: offset (1, 0)
            self.assertTrue(torch.equal(changed, want), kind)


class TwinTest(unittest.TestCase):
    def test_size_rule(self):
        m = twin(2)
        for h, w in ((1, 1), (2, 1), (5, 70), (16, 32), (37, 29)):
            x = torch.rand(1, 3, h, w, dtype=D)
            with torch.no_grad():
                y = m(x)
                full = m.forward_all(mm.pad_reflect_to(x, 16))[0][..., :h, :w]
            self.assertEqual(tuple(y.shape), (1, 3, h, w))
            self.assertTrue(torch.equal(y, full))

    def test_outputs_at_three_scales(self):
        m = twin(3)
        x = torch.rand(2, 3, 32, 48, dtype=D)
        with torch.no_grad():
            x1, x2, x3 = m.forward_all(x)
        self.assertEqual([tuple(t.shape[-2:]) for t in (x1, x2, x3)], [(32, 48), (16, 24), (8, 12)])

    def test_global_perception(self):
        m = twin(4)
        x = torch.rand(1, 3, 48, 64, dtype=D)
        x2 = x.clone()
        x2[..., -1, -1] = 1 - x2[..., -1, -1]
        with torch.no_grad():
            d = float((m(x2) - m(x))[..., 0, 0].abs().max())
        self.assertGreater(d, 1e-8)

    def test_paper_size(self):
        """Its widths (32/64/128) come to ≈ 0.95 TFLOP a megapixel
        (../shared/notes/network-costs.md counts it from the authors' code)."""
        m = mm.MGPNet(**mm.PAPER_SIZES)
        flop_per_mp = 2 * mm.macs_per_pixel(m) * 1e6
        self.assertLess(abs(flop_per_mp / 0.95e12 - 1), 0.05, flop_per_mp)

    def test_bad_multiple(self):
        with self.assertRaises(ValueError):
            mm.MGPNet(widths=(4, 6, 8), blocks=(2, 2, 4), grid=4, multiple=24)

    def test_loss(self):
        gt = torch.rand(2, 3, 16, 16, dtype=D)
        outs = (gt, F.avg_pool2d(gt, 2), F.avg_pool2d(gt, 4))
        loss, terms = mm.multiscale_l1(outs, gt)
        self.assertAlmostEqual(float(loss), 0.0, places=14)
        loss, terms = mm.multiscale_l1((gt + 0.1, outs[1] - 0.2, outs[2]), gt)
        self.assertAlmostEqual(float(loss), 0.3, places=12)
        self.assertEqual(len(terms), 3)


class ExportTest(unittest.TestCase):
    def test_file(self):
        from safetensors.numpy import load_file
        m = random_mgpnet_twin(5, **TINY)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.safetensors")
            me.export_mgpnet(m, path, {"name": "t"})
            t = load_file(path)
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                meta = json.loads(f.read(n))["__metadata__"]
        shapes = mm.tensor_shapes(TINY["widths"], TINY["in_feat"], TINY["blocks"], TINY["grid"],
                                  TINY["n_pairs"])
        self.assertEqual({k: tuple(v.shape) for k, v in t.items()}, shapes)
        self.assertEqual({k: tuple(v.shape) for k, v in m.state_dict().items()}, shapes)
        self.assertEqual([meta[k] for k in ("architecture", "width1", "width2", "width3",
                                            "in_feat", "block1", "block2", "block3", "grid",
                                            "n_pairs", "multiple")],
                         ["mgpnet", "4", "6", "8", "3", "2", "2", "4", "4", "1", "16"])
        sd = m.state_dict()
        name = "db2.layers.0.grid_branch.spatial.weight"
        self.assertTrue((t[name] == sd[name].numpy()).all())
        with self.assertRaises(ValueError):
            me.export_mgpnet(m, os.path.join(tempfile.gettempdir(), "x.safetensors"),
                             {"grid": "9"})


class TrainTest(unittest.TestCase):
    def test_smoke_resume_and_export(self):
        from test_csgis_twin import smoke_resume_export
        from lisse_train import train_mgpnet as tm
        tmp = tempfile.mkdtemp()
        try:
            a, recs, meta = smoke_resume_export(self, tm.main, me.main, tmp)
            self.assertEqual(a["format"], "lisse-mgpnet-train/1")
            train = [r for r in recs if r["kind"] == "train"]
            self.assertTrue(train and all({"l1", "l1_half", "l1_quarter"} <= set(r)
                                          for r in train))
            self.assertEqual((meta["architecture"], meta["grid"]), ("mgpnet", "4"))
            path = os.path.join(tmp, "sas.pt")
            torch.save({"format": "lisse-sasnet-train/1"}, path)
            with self.assertRaises(ValueError):
                me.load_checkpoint(path)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
