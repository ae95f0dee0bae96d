# SPDX-License-Identifier: GPL-3.0-or-later
"""The Fang 2019 twin and its training: the λ-conditioned convolution, the
deformable weighted average, the halo, tiling, the training targets' λ, and
a smoke training run that resumes bit for bit and exports.

Run from the repository root:  python3 -m unittest tests/test_fang19_twin.py
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
sys.path.insert(0, os.path.join(HERE, "..", "training", "corpus"))
sys.path.insert(0, HERE)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import build_filter_targets as bft  # noqa: E402
from lisse_testlib import random_fang19_twin  # noqa: E402
from lisse_train import fang19_export as fe  # noqa: E402
from lisse_train import fang19_model as fm  # noqa: E402
from lisse_train import train_fang19 as tf  # noqa: E402

D = torch.float64


def setUpModule():
    torch.set_num_threads(1)


class TestFang19Twin(unittest.TestCase):
    def test_conditioned_conv_is_per_image_conv(self):
        """The grouped convolution gives each image the weight W0 + t·A0 + A1/t."""
        torch.manual_seed(0)
        conv = fm.CondConv2d(3, 4, dilation=2).to(D)
        with torch.no_grad():
            conv.a_weight.normal_()
            conv.a_bias.normal_()
        x = torch.rand(3, 3, 11, 9, dtype=D)
        p = fm.lambda_params([0.003, 0.01, 0.04], 0.01, 3, dtype=D)
        y = conv(x, p)
        for i in range(3):
            t = p[i, 0]
            w = conv.weight + t * conv.a_weight[0] + conv.a_weight[1] / t
            b = conv.bias + t * conv.a_bias[0] + conv.a_bias[1] / t
            ref = F.conv2d(x[i:i + 1], w, b, padding=2, dilation=2)
            self.assertLess(float((y[i:i + 1] - ref).abs().max()), 1e-12)

    def test_average_is_an_average(self):
        """Weights sum to one: a constant image stays constant, up to its
        borders too (the plane of ones), whatever the offsets."""
        g = torch.Generator().manual_seed(1)
        feat = torch.randn(1, 5, 13, 17, generator=g, dtype=D)
        offs = 3 * torch.randn(1, 18, 13, 17, generator=g, dtype=D)
        z = torch.full((1, 3, 13, 17), 0.7, dtype=D)
        out = fm.weighted_average(z, feat, offs)
        self.assertLess(float((out - 0.7).abs().max()), 1e-12)

    def test_zero_offsets_read_the_grid(self):
        """With zero offsets and equal features the layer is a 3×3 box mean
        (with the pixel's own value at weight ε added)."""
        z = torch.rand(1, 1, 9, 8, dtype=D)
        out = fm.weighted_average(z, torch.zeros(1, 5, 9, 8, dtype=D),
                                  torch.zeros(1, 18, 9, 8, dtype=D))
        eps = fm.BORDER_EPS
        box = (F.avg_pool2d(z, 3, 1, 1, count_include_pad=False) + eps * z) / (1 + eps)
        inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
        self.assertLess(float((out - box)[inner].abs().max()), 1e-12)

    def test_halo_covers_the_influence(self):
        """A change outside the halo leaves the centre pixel as it was."""
        m = random_fang19_twin(2, width=4, n_layers=2, offset_bound=3.0, dilations=(1, 2)).to(D)
        r = fm.halo_radius(2, 3.0, (1, 2))
        size = 2 * r + 21
        x = torch.rand(1, 3, size, size, dtype=D)
        c = size // 2
        with torch.no_grad():
            y0 = m(x, 0.01)[0, :, c, c]
            x2 = x.clone()
            x2[:, :, : c - r - 1] = torch.rand_like(x2[:, :, : c - r - 1])
            x2[:, :, c + r + 2:] = 0.5
            x2[:, :, :, : c - r - 1] = 0.0
            y1 = m(x2, 0.01)[0, :, c, c]
        self.assertLess(float((y0 - y1).abs().max()), 1e-12)

    def test_export_layout(self):
        m = random_fang19_twin(3, width=4, n_layers=1, dilations=(1,))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.safetensors")
            meta = fe.export_fang19(m, path, "l0")
            from safetensors.numpy import load_file
            t = load_file(path)
        self.assertEqual(t["c5.a_weight"].shape, (2 * (5 + 18), 4, 3, 3))
        self.assertEqual(t["c0.a_bias"].shape, (2, 4))
        self.assertTrue(np.array_equal(t["c1.a_weight"][:4], m.c1.a_weight[0].detach().numpy()))
        self.assertEqual(json.loads(meta["params"])[0]["max"], 0.05)

    def test_target_lambdas(self):
        """Training λ are log-uniform within the range and fixed by the seed;
        validation crops get the paper's five test values."""
        a = bft.lambdas("rtv", "train/x.png", "train", 7, 0)
        self.assertEqual(a, bft.lambdas("rtv", "train/x.png", "train", 7, 0))
        self.assertNotEqual(a, bft.lambdas("rtv", "train/y.png", "train", 7, 0))
        lo, hi = bft.RANGES["rtv"]
        self.assertTrue(all(lo <= v <= hi for v in a))
        self.assertEqual(bft.lambdas("wls", "val/x.png", "val", 7, 0), list(bft.EVAL_LAMBDAS["wls"]))

    def test_smoke_resume_and_export(self):
        """Two halves of a smoke run equal one whole run, bit for bit."""
        tmp = tempfile.mkdtemp(prefix="lisse-fang19-smoke-")
        try:
            crops, targets = os.path.join(tmp, "crops"), os.path.join(tmp, "targets")
            os.makedirs(os.path.join(crops, "train"))
            os.makedirs(os.path.join(crops, "val"))
            rng = np.random.default_rng(0)
            entries, index = [], []
            for split, n in (("train", 3), ("val", 1)):
                for i in range(n):
                    name = f"{split}/{i}.png"
                    img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
                    cv2.imwrite(os.path.join(crops, name), img)
                    index.append({"file": name, "split": split})
                    for j, lam in enumerate(bft.lambdas("l0", name, split, 2, 0)):
                        rel = f"l0/{split}/{i}-{j}.png"
                        os.makedirs(os.path.dirname(os.path.join(targets, rel)), exist_ok=True)
                        k = 3 if lam > 0.01 else 1
                        cv2.imwrite(os.path.join(targets, rel), cv2.blur(img, (2 * k + 1, 2 * k + 1)))
                        entries.append({"filter": "l0", "lambda": lam, "crop": name, "split": split,
                                        "file": rel})
            with open(os.path.join(crops, "index.json"), "w") as f:
                json.dump({"crops": index}, f)
            with open(os.path.join(targets, "index.json"), "w") as f:
                json.dump({"targets": entries}, f)
            common = ["--filter", "l0", "--config", "smoke", "--targets", targets, "--crops", crops]
            whole, half = os.path.join(tmp, "whole"), os.path.join(tmp, "half")
            self.assertEqual(tf.main(common + ["--out", whole]), 0)
            self.assertEqual(tf.main(common + ["--out", half, "--set", "steps=3"]), 0)
            self.assertEqual(tf.main(common + ["--out", half, "--resume", "--set", "steps=6"]), 0)
            a = torch.load(os.path.join(whole, "last.pt"), weights_only=False)
            b = torch.load(os.path.join(half, "last.pt"), weights_only=False)
            self.assertEqual(a["step"], 6)
            for k in a["model"]:
                self.assertTrue(torch.equal(a["model"][k], b["model"][k]), k)
            out = os.path.join(tmp, "m.safetensors")
            self.assertEqual(fe.main([os.path.join(whole, "best.pt"), out]), 0)
            self.assertTrue(os.path.getsize(out) > 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
