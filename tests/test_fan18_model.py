# SPDX-License-Identifier: GPL-3.0-or-later
"""The Fan 2018 twin: sizes, the odd-size rule, BatchNorm folding, the
receptive field, tiling, λ conditioning and export names.

Run from the repository root:  python3 -m unittest tests/test_fan18_model.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from lisse_train import fan18_model as fm  # noqa: E402

D = torch.float64


def setUpModule():
    torch.set_num_threads(1)  # see test_fan18_energy


def randomise(model, seed=0, positive=False):
    """Non-trivial BN statistics and conditioning weights (the defaults are
    identity-like: zero last layer, zero FiLM/wp, unit BN)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.2 * torch.rand(m.num_features, generator=g) - 0.1)
                if positive:
                    m.running_mean.zero_()
                    m.bias.abs_()
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                w = torch.randn(m.weight.shape, generator=g, dtype=m.weight.dtype)
                w *= (2.0 / (m.weight[0].numel())) ** 0.5
                m.weight.copy_(w.abs() if positive else w)
                if m.bias is not None:
                    m.bias.copy_(0.01 * torch.rand(m.bias.shape, generator=g, dtype=m.bias.dtype))
    return model


def net(width=4, conditioning="input", seed=0, positive=False):
    return randomise(fm.Fan18Net(width, conditioning).to(D), seed, positive).eval()


class Shapes(unittest.TestCase):
    def test_output_shape_equals_input_shape(self):
        for cond in fm.CONDITIONING:
            m = net(4, cond)
            for h, w in ((1, 1), (2, 2), (7, 9), (8, 8), (16, 13), (33, 40)):
                x = torch.rand(2, 3, h, w, dtype=D)
                with self.subTest(cond=cond, h=h, w=w):
                    self.assertEqual(m(x, 2.0, 0.05).shape, x.shape)
                    lf = torch.rand(2, 1, h, w, dtype=D) * 4
                    self.assertEqual(m(x, lf, torch.tensor([0.1, 0.2], dtype=D)).shape, x.shape)

    def test_untrained_network_is_identity(self):
        x = torch.rand(1, 3, 10, 12)
        self.assertTrue(torch.equal(fm.Fan18Net(8, "film").eval()(x, 3.0), x))

    def test_odd_size_rule(self):
        # THE SIZE RULE: replicate one row/column to even, run, crop.
        m = net(4, "film", seed=1)
        for h, w in ((7, 9), (8, 9), (7, 8), (1, 5)):
            x = torch.rand(1, 3, h, w, dtype=D)
            lf = torch.rand(1, 1, h, w, dtype=D) + 0.5
            padded = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
            lfp = F.pad(lf, (0, w % 2, 0, h % 2), mode="replicate")
            ref = m(padded, lfp)[..., :h, :w]
            self.assertLess((m(x, lf) - ref).abs().max().item(), 1e-12)

    def test_state_dict_names(self):
        keys = set(fm.Fan18Net(8, "wp").state_dict())
        for k in ("conv0.weight", "bn0.running_mean", "conv1.weight", "bn1.weight",
                  "down.weight", "bn_down.running_var", "res0.conv_a.weight", "res0.bn_a.bias",
                  "res9.conv_b.weight", "res9.bn_b.weight", "res3.conv_a_lam.weight",
                  "up.weight", "bn_up.weight", "conv_out1.weight", "bn_out1.weight",
                  "conv_out2.weight", "conv_out2.bias"):
            self.assertIn(k, keys)
        self.assertIn("film_b.weight", fm.Fan18Net(8, "film").state_dict())
        folded = fm.fold_batchnorm(fm.Fan18Net(8, "input")).state_dict()
        self.assertFalse([k for k in folded if ".bn" in k or k.startswith("bn")])
        self.assertIn("res4.conv_a.bias", folded)


class FoldBatchNorm(unittest.TestCase):
    def test_folded_equals_eval_mode(self):
        for cond in fm.CONDITIONING:
            m = net(8, cond, seed=2)
            f = fm.fold_batchnorm(m)
            self.assertFalse(any(isinstance(x, nn.BatchNorm2d) for x in f.modules()))
            x = torch.rand(2, 3, 21, 26, dtype=D)
            lf = torch.exp(torch.randn(2, 1, 21, 26, dtype=D))
            with self.subTest(cond=cond):
                a, b = m(x, lf, 0.2), f(x, lf, 0.2)
                self.assertLessEqual((a - b).abs().max().item(), 1e-5 * max(1.0, a.abs().max().item()))
                self.assertGreater((a - x).abs().max().item(), 1e-3)  # not a trivial identity

    def test_folded_float32(self):
        m = randomise(fm.Fan18Net(16, "input"), seed=3).eval()
        f = fm.fold_batchnorm(m)
        x = torch.rand(1, 3, 24, 24)
        self.assertLessEqual((m(x) - f(x)).abs().max().item(), 1e-4)


class ReceptiveField(unittest.TestCase):
    def test_analytic_radius(self):
        self.assertEqual(fm.receptive_field_radius(), 254)
        ext = fm.receptive_field_extent()
        self.assertEqual(ext[0], (253, 253))
        self.assertEqual(ext[1], (254, 252))

    def check_axis(self, axis):
        """Along one axis: input changes beyond the extent leave the output
        pixel alone; a change exactly at the extent moves it."""
        length, across = 600, 4
        o = 301  # odd: the extent is (254, 252)
        left, right = fm.receptive_field_extent()[1]
        shape = (1, 3, across, length) if axis == 3 else (1, 3, length, across)

        def pick(y):
            return y[0, :, 1, o] if axis == 3 else y[0, :, o, 1]

        def poke(x, pos, value):
            x = x.clone()
            if axis == 3:
                x[..., pos] = value
            else:
                x[..., pos, :] = value
            return x

        g = torch.Generator().manual_seed(4)
        x = torch.rand(shape, generator=g, dtype=D)
        m = net(4, "input", seed=5)
        base = pick(m(x))
        far = x.clone()
        noise = torch.rand(shape, generator=g, dtype=D)
        if axis == 3:
            far[..., :o - left] = noise[..., :o - left]
            far[..., o + right + 1:] = noise[..., o + right + 1:]
        else:
            far[..., :o - left, :] = noise[..., :o - left, :]
            far[..., o + right + 1:, :] = noise[..., o + right + 1:, :]
        self.assertLessEqual((pick(m(far)) - base).abs().max().item(), 1e-12)
        # Within: positive weights and inputs make every path count.
        mp = net(4, "input", seed=6, positive=True)
        base = pick(mp(x))
        for pos in (o - left, o + right):
            self.assertGreater((pick(mp(poke(x, pos, 5.0))) - base).abs().max().item(), 0.0)
        for pos in (o - left - 1, o + right + 1):
            self.assertEqual((pick(mp(poke(x, pos, 5.0))) - base).abs().max().item(), 0.0)

    def test_horizontal(self):
        self.check_axis(3)

    def test_vertical(self):
        self.check_axis(2)


class Tiling(unittest.TestCase):
    def test_tile_with_even_origin_and_full_margin_equals_whole(self):
        m = fm.fold_batchnorm(net(4, "film", seed=7))
        r = fm.receptive_field_radius()
        x = torch.rand(1, 3, 6, 900, dtype=D)
        lf = torch.exp(torch.randn(1, 1, 6, 900, dtype=D))
        whole = m(x, lf)
        keep0, keep1 = 300, 340
        a, b = keep0 - r - 2, keep1 + r  # a even
        self.assertEqual(a % 2, 0)
        tile = m(x[..., a:b], lf[..., a:b])
        self.assertLessEqual((tile[..., keep0 - a:keep1 - a] - whole[..., keep0:keep1])
                             .abs().max().item(), 1e-12)
        # An odd origin shifts the stride-2 phase: not the same network output.
        tile = m(x[..., a + 1:b], lf[..., a + 1:b])
        self.assertGreater((tile[..., keep0 - a - 1:keep1 - a - 1] - whole[..., keep0:keep1])
                           .abs().max().item(), 1e-6)


class Conditioning(unittest.TestCase):
    def test_lambda_changes_output_and_constant_map_equals_scalar(self):
        x = torch.rand(2, 3, 14, 18, dtype=D)
        for cond in ("input", "film", "wp"):
            m = net(8, cond, seed=8)
            with self.subTest(cond=cond):
                a, b = m(x, 0.25, 0.1), m(x, 4.0, 0.1)
                self.assertGreater((a - b).abs().max().item(), 1e-6)
                c = m(x, 4.0, 0.3)
                self.assertGreater((c - b).abs().max().item(), 1e-6)
                mp = m(x, torch.full((2, 1, 14, 18), 4.0, dtype=D), torch.tensor([0.1, 0.1], dtype=D))
                self.assertLessEqual((mp - b).abs().max().item(), 1e-12)
                per_image = m(x, torch.tensor([0.25, 4.0], dtype=D))
                self.assertLessEqual((per_image[0] - a[0]).abs().max().item(), 1e-12)
                self.assertLessEqual((per_image[1] - b[1]).abs().max().item(), 1e-12)
        m = net(8, "none", seed=8)
        self.assertTrue(torch.equal(m(x, 0.25), m(x, 4.0)))

    def test_lambda_features(self):
        phi = fm.lambda_features(1.0, 0.1, torch.zeros(1, 3, 2, 2))
        self.assertEqual(phi.abs().max().item(), 0.0)
        phi = fm.lambda_features(0.0, 1.0, torch.zeros(1, 3, 2, 2, dtype=D))
        self.assertAlmostEqual(phi[0, 0, 0, 0].item(), torch.log(torch.tensor(1e-3, dtype=D)).item())

    def test_training_step_runs_for_every_conditioning(self):
        from lisse_train import fan18_energy as fe
        for cond in fm.CONDITIONING:
            m = fm.Fan18Net(4, cond)
            opt = torch.optim.Adam(m.parameters(), 1e-3)
            x = torch.rand(2, 3, 16, 16)
            lam = torch.tensor([0.5, 2.0])
            loss = fe.fan18_loss(m(x, lam), x, fe.preset("smooth", window_radius=1), lambda_f=lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.assertTrue(all(torch.isfinite(p.grad).all() for p in m.parameters()
                                if p.grad is not None))


if __name__ == "__main__":
    unittest.main()
