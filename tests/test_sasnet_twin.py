# SPDX-License-Identifier: GPL-3.0-or-later
"""The SASNet twin (training/lisse_train/sasnet_model.py): the Haar pair,
the identity at initialisation, invertibility, the size rule, the receptive
field and tiling, the noise latent, the export's tensor list, and a smoke
training run (train_sasnet) that resumes bit for bit and exports.

Run from the repository root:  python3 -m unittest tests/test_sasnet_twin.py
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

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lisse_testlib import random_sasnet_twin  # noqa: E402
from lisse_train import sasnet_export as se  # noqa: E402
from lisse_train import sasnet_model as sm  # noqa: E402

D = torch.float64


def setUpModule():
    torch.set_num_threads(1)


def twin(seed=0, **kw):
    return random_sasnet_twin(seed, **kw).to(D).eval()


class HaarTest(unittest.TestCase):
    def test_pair(self):
        x = torch.rand(2, 3, 6, 10, dtype=D)
        y = sm.haar_forward(x)
        self.assertEqual(y.shape, (2, 12, 3, 5))
        # band 0 is the 2×2 mean; the inverse is exact
        self.assertTrue(torch.allclose(y[:, :3], F.avg_pool2d(x, 2), atol=1e-15))
        self.assertTrue(torch.allclose(sm.haar_inverse(y), x, atol=1e-15))
        # band 1: left minus right (a − b + c − d) / 4
        x = torch.zeros(1, 1, 2, 2, dtype=D)
        x[..., :, 0] = 1.0
        self.assertEqual(sm.haar_forward(x)[0, :, 0, 0].tolist(), [0.5, 0.5, 0.0, 0.0])


class TwinTest(unittest.TestCase):
    def test_identity_couplings_at_start(self):
        """conv_out starts at zero: y is the input's 2×2 means, repeated."""
        m = sm.SASNet(width=4, n_blocks=2, ca_window=3, ca_hidden=2).to(D).eval()
        x = torch.rand(1, 3, 12, 14, dtype=D)
        with torch.no_grad():
            y, y_cor = m.forward_all(x)
        means = F.avg_pool2d(x, 2)
        self.assertTrue(torch.allclose(y_cor, means, atol=1e-14))
        self.assertTrue(torch.allclose(y, F.interpolate(means, scale_factor=2, mode="nearest"),
                                       atol=1e-14))

    def test_invertible(self):
        """decode(encode(x)) = x: the couplings are exactly invertible."""
        m = twin(1)
        x = torch.rand(2, 3, 16, 20, dtype=D)
        with torch.no_grad():
            y_cor, z = m.encode(x)
            back = m.decode(y_cor, z)
        self.assertTrue(torch.allclose(back, x, atol=1e-12))
        # and the smoothing output is not that: z is replaced by zero
        with torch.no_grad():
            y = m(x)
        self.assertGreater(float((y - x).abs().max()), 1e-2)

    def test_size_rule(self):
        """Odd sides: the last row / column repeated, the output cropped back."""
        m = twin(2)
        x = torch.rand(1, 3, 15, 18, dtype=D)
        with torch.no_grad():
            y = m(x)
            y_pad = m(F.pad(x, (0, 0, 0, 1), mode="replicate"))
        self.assertEqual(y.shape, x.shape)
        self.assertTrue(torch.equal(y, y_pad[..., :15, :]))
        for h, w in ((1, 1), (2, 1), (3, 5)):
            with torch.no_grad():
                self.assertEqual(m(torch.rand(1, 3, h, w, dtype=D)).shape, (1, 3, h, w))

    def test_receptive_field_and_tiles(self):
        """A pixel farther than the radius does not change the output, and a
        crop with a halo of the radius (aligned to 2) gives the whole
        image's values in its core."""
        m = twin(3, n_blocks=1, ca_window=3)
        r = sm.receptive_field_radius(1, 3)
        self.assertEqual(r, 2 * 4 * (3 + 1 + 3 + 1) + 1)
        size = 2 * r + 24
        x = torch.rand(1, 3, size, size, dtype=D)
        with torch.no_grad():
            y = m(x)
            x2 = x.clone()
            x2[..., size // 2, size // 2] += 0.5
            d = (m(x2) - y).abs().amax(1)[0]
        near = d[size // 2 - r:size // 2 + r + 1, size // 2 - r:size // 2 + r + 1]
        far = d.clone()
        far[size // 2 - r:size // 2 + r + 1, size // 2 - r:size // 2 + r + 1] = 0
        self.assertGreater(float(near.max()), 1e-6)
        self.assertEqual(float(far.max()), 0.0)
        # a tile: core [c0, c1) in both directions, crop [c0 − r', c1 + r') with
        # r' the radius rounded up to even
        rr = r + r % 2
        c0, c1 = rr, size - rr
        c0 += c0 % 2
        with torch.no_grad():
            t = m(x[..., c0 - rr:c1 + rr, c0 - rr:c1 + rr])
        core = t[..., rr:rr + (c1 - c0), rr:rr + (c1 - c0)]
        self.assertLess(float((core - y[..., c0:c1, c0:c1]).abs().max()), 1e-12)

    def test_noise_latent(self):
        m = twin(4)
        x = torch.rand(1, 3, 16, 16, dtype=D)
        with torch.no_grad():
            a, _ = m.forward_all(x, 0.5, torch.Generator().manual_seed(7))
            b, _ = m.forward_all(x, 0.5, torch.Generator().manual_seed(7))
            c, _ = m.forward_all(x)
        self.assertTrue(torch.equal(a, b))
        self.assertGreater(float((a - c).abs().max()), 1e-3)

    def test_bad_sizes(self):
        for kw in (dict(ca_window=4), dict(width=0), dict(n_blocks=0), dict(clamp=0.0)):
            with self.assertRaises(ValueError):
                sm.SASNet(**kw)


class ExportTest(unittest.TestCase):
    def test_file(self):
        from safetensors.numpy import load_file
        m = random_sasnet_twin(5, width=5, n_blocks=2, ca_window=7, ca_hidden=2)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.safetensors")
            se.export_sasnet(m, path, {"name": "t"})
            t = load_file(path)
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                meta = json.loads(f.read(n))["__metadata__"]
        shapes = sm.tensor_shapes(5, 2, 2)
        self.assertEqual({k: tuple(v.shape) for k, v in t.items()}, shapes)
        self.assertEqual(len(shapes), 2 * 3 * (4 * 2 + 4 + 2))
        self.assertEqual((meta["architecture"], meta["width"], meta["n_blocks"],
                          meta["ca_window"], meta["ca_hidden"], meta["noise"]),
                         ("sasnet", "5", "2", "7", "2", "zero"))
        self.assertEqual(float(meta["clamp"]), 1.0)
        self.assertEqual(int(meta["receptive_radius"]), sm.receptive_field_radius(2, 7))
        # the exported numbers are the twin's
        sd = m.state_dict()
        self.assertTrue((t["b1.g3.sa.weight"] == sd["blocks.1.g3.sa.conv.weight"].numpy()).all())
        self.assertTrue((t["b0.g2.ca.fc2.bias"] == sd["blocks.0.g2.ca.fc2.bias"].numpy()).all())
        with self.assertRaises(ValueError):
            se.export_sasnet(m, os.path.join(tempfile.gettempdir(), "x.safetensors"),
                             {"width": "9"})


class TrainTest(unittest.TestCase):
    def test_smoke_resume_and_export(self):
        from test_csgis_twin import smoke_resume_export
        from lisse_train import train_sasnet as ts
        tmp = tempfile.mkdtemp()
        try:
            a, recs, meta = smoke_resume_export(self, ts.main, se.main, tmp,
                                                ["--set", "noise_std=0.1"])
            self.assertEqual(a["format"], "lisse-sasnet-train/1")
            # it learned something: conv_out left zero
            self.assertGreater(float(a["model"]["blocks.0.g1.conv_out.weight"].abs().max()), 0)
            train = [r for r in recs if r["kind"] == "train"]
            self.assertTrue(train and all("coarse" in r and "l1" in r for r in train))
            self.assertEqual(recs[0]["receptive_radius"], sm.receptive_field_radius(1, 3))
            self.assertEqual((meta["architecture"], meta["n_blocks"]), ("sasnet", "1"))
            # the latent probe scores the checkpoint with zero and with noise
            from lisse_train import sasnet_noise_eval
            import contextlib
            import io
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                self.assertEqual(sasnet_noise_eval.main(
                    [os.path.join(tmp, "a", "last.pt"), "--pack", os.path.join(tmp, "pack"),
                     "--std", "0,0.5", "--count", "2"]), 0)
            rows = [json.loads(x) for x in buf.getvalue().splitlines()]
            self.assertEqual([(r["noise_std"], r["images"]) for r in rows], [(0.0, 2), (0.5, 2)])
            self.assertNotEqual(rows[0]["psnr"], rows[1]["psnr"])
            # a CSGIS checkpoint is refused by the SASNet trainer and exporter
            with self.assertRaises(ValueError):
                se.load_checkpoint(self._csgis_ckpt(tmp))
        finally:
            shutil.rmtree(tmp)

    @staticmethod
    def _csgis_ckpt(tmp):
        path = os.path.join(tmp, "csgis.pt")
        torch.save({"format": "lisse-csgis-train/1"}, path)
        return path


if __name__ == "__main__":
    unittest.main()
