# SPDX-License-Identifier: GPL-3.0-or-later
"""The vectorised Fan 2018 energy against the literal loops of eq. 1–8.

Run from the repository root:  python3 -m unittest tests/test_fan18_energy.py
(or tools/dev exec python3 -m unittest discover -s tests -p 'test_fan18*.py').
"""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lisse_train import fan18_energy as fe  # noqa: E402
from lisse_train import fan18_energy_literal as fl  # noqa: E402

H, W = 9, 11
RTOL = 1e-5


def setUpModule():
    # Results do not depend on it; on a busy 2-core machine OpenMP's spinning
    # threads make elementwise ops 100× slower.
    torch.set_num_threads(1)


def make_pair(seed):
    """A small input with structure (a strong step, a soft ramp, flat parts,
    faint noise) and an output that flattens part of it, adds a spurious
    step in a flat region and noise: every branch of eq. 8 and both values
    of B occur."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    base = np.where(x < 5, 0.2, 0.7)[..., None] * np.array([1.0, 0.8, 0.6])
    base = base + 0.03 * (y / H)[..., None] + 0.004 * rng.standard_normal((H, W, 3))
    base[6:, :] += np.array([0.0, 0.25, -0.1]) * (x[6:, :, None] > 7)
    img = np.clip(base, 0, 1)
    out = img.copy()
    out[:, :5] = out[:, :5].mean((0, 1))                   # flattened region
    out[:3, 7:] += 0.05 * (x[:3, 7:, None] > 8)           # spurious step
    out += 0.01 * rng.standard_normal((H, W, 3))
    sal = np.clip(0.5 + 0.6 * np.sin(0.7 * x + 0.4 * y + seed), 0, 1)
    lam_f = np.exp(rng.uniform(-1.5, 1.5, (H, W)))
    lam_e = 0.1 * np.exp(rng.uniform(-1, 1, (H, W)))
    return img, out, sal, lam_f, lam_e


def t4(a):
    a = torch.as_tensor(a, dtype=torch.float64)
    return a.permute(2, 0, 1)[None] if a.dim() == 3 else a[None, None]


class EnergyVsLiteral(unittest.TestCase):
    def compare(self, name, prm, seed, per_pixel, edge_map=False):
        img, out, sal, lf, le = make_pair(seed)
        kw_lit = dict(saliency=sal)
        kw_vec = dict(saliency=t4(sal))
        if per_pixel:
            kw_lit.update(lambda_f=lf, lambda_e=le)
            kw_vec.update(lambda_f=t4(lf), lambda_e=t4(le))
        if edge_map:
            b = (np.add.outer(np.arange(H), np.arange(W)) % 3 == 0)
            kw_lit["edge_map"] = b.astype(float)
            kw_vec["edge_map"] = t4(b.astype(float))
        ref = fl.energy(out, img, prm, **kw_lit)
        got = fe.fan18_energy(t4(out), t4(img), prm, **kw_vec)
        for key in ("data", "flat", "edge", "total"):
            v = getattr(got, key).item()
            self.assertLessEqual(abs(v - ref[key]), RTOL * abs(ref[key]) + 1e-12,
                                 f"{name} seed {seed} per_pixel {per_pixel}: {key} {v} vs {ref[key]}")
        self.assertAlmostEqual(got.edge_fraction.item(), ref["B"].mean(), places=12)
        self.assertAlmostEqual(got.large_fraction.item(), ref["large"].mean(), places=12)
        return ref

    def test_every_preset_constant_and_per_pixel_lambda(self):
        seen_large = set()
        for name, prm in fe.PRESETS.items():
            for seed in (0, 1):
                for per_pixel in (False, True):
                    with self.subTest(preset=name, seed=seed, per_pixel=per_pixel):
                        ref = self.compare(name, prm, seed, per_pixel)
                        seen_large.add(round(float(ref["large"].mean()), 6))
                        self.assertTrue(0 < ref["B"].mean() < 1, f"{name}: B is all one value")
        # Both p values of eq. 8 were exercised somewhere, not only one.
        self.assertTrue(any(0 < f < 1 for f in seen_large), seen_large)

    def test_window_radii_and_given_edge_map(self):
        for r in (1, 2, 3, 6):
            with self.subTest(radius=r):
                self.compare("smooth", fe.preset("smooth", window_radius=r), 2, True)
        self.compare("smooth", fe.preset("smooth", window_radius=2), 3, True, edge_map=True)

    def test_separate_l2_window(self):
        # Lisse's trained models: L0.8 over the preset's window, L2 over 5×5.
        for name in ("smooth", "detail"):
            for r_large in (1, 2):
                with self.subTest(preset=name, large_window_radius=r_large):
                    prm = fe.preset(name, window_radius=4, large_window_radius=r_large)
                    self.compare(name, prm, 1, True)
        # Radius equal to the window is the paper's single window.
        img, out, *_ = make_pair(2)
        a = fe.fan18_energy(t4(out), t4(img), fe.preset("smooth", window_radius=3))
        b = fe.fan18_energy(t4(out), t4(img), fe.preset("smooth", window_radius=3,
                                                         large_window_radius=3))
        c = fe.fan18_energy(t4(out), t4(img), fe.preset("smooth", window_radius=3,
                                                         large_window_radius=1))
        self.assertEqual(a.total.item(), b.total.item())
        self.assertGreater(a.large_fraction.item(), 0)
        self.assertLess(c.flat.item(), a.flat.item())   # fewer L2 pairs, same L0.8 pairs
        with self.assertRaises(ValueError):
            img, out, *_ = make_pair(0)
            fe.fan18_energy(t4(out), t4(img), fe.preset("smooth", window_radius=2,
                                                         large_window_radius=3))

    def test_smooth_preset_uses_both_norms(self):
        img, out, *_ = make_pair(0)
        ref = fl.energy(out, img, "smooth")
        self.assertTrue(0 < ref["large"].mean() < 1)

    def test_batch_with_per_image_lambda(self):
        pairs = [make_pair(s) for s in (4, 5)]
        imgs = torch.cat([t4(p[0]) for p in pairs])
        outs = torch.cat([t4(p[1]) for p in pairs])
        lam = torch.tensor([0.25, 4.0], dtype=torch.float64)
        got = fe.fan18_energy(outs, imgs, "texture", lambda_f=lam, lambda_e=lam / 10)
        for k, p in enumerate(pairs):
            ref = fl.energy(p[1], p[0], "texture", lambda_f=lam[k].item(),
                            lambda_e=lam[k].item() / 10)
            self.assertLessEqual(abs(got.total[k].item() - ref["total"]), RTOL * ref["total"])


class EnergySanity(unittest.TestCase):
    def test_constant_image_has_zero_energy(self):
        c = torch.full((1, 3, 8, 10), 0.4, dtype=torch.float64)
        for name in fe.PRESETS:
            e = fe.fan18_energy(c.clone(), c, name, saliency=torch.ones(1, 1, 8, 10))
            self.assertEqual(e.total.item(), 0.0, name)
            self.assertEqual(e.edge_fraction.item(), 0.0, name)

    def test_identity_and_uniform_shift(self):
        img, out, *_ = make_pair(6)
        i = t4(img)
        e0 = fe.fan18_energy(i.clone(), i, "smooth")
        self.assertEqual(e0.data.item(), 0.0)
        self.assertEqual(e0.edge.item(), 0.0)
        self.assertEqual(e0.large_fraction.item(), 0.0)  # E(T) − E(I) = 0 ≤ c2
        d = 0.05
        e1 = fe.fan18_energy(i + d, i, "smooth")
        self.assertAlmostEqual(e1.data.item(), 3 * d * d, places=12)
        self.assertAlmostEqual(e1.flat.item(), e0.flat.item(), places=10)
        self.assertAlmostEqual(e1.edge.item(), 0.0, places=12)

    def test_lambda_scales_its_term_and_constant_map_equals_scalar(self):
        img, out, *_ = make_pair(7)
        i, o = t4(img), t4(out)
        e1 = fe.fan18_energy(o, i, "smooth")
        e3 = fe.fan18_energy(o, i, "smooth", lambda_f=3.0, lambda_e=0.3)
        self.assertAlmostEqual(e3.flat.item(), 3 * e1.flat.item(), places=10)
        self.assertAlmostEqual(e3.edge.item(), 3 * e1.edge.item(), places=10)
        em = fe.fan18_energy(o, i, "smooth", lambda_f=torch.full((1, 1, H, W), 3.0,
                                                                  dtype=torch.float64),
                             lambda_e=torch.tensor([0.3], dtype=torch.float64))
        self.assertAlmostEqual(em.total.item(), e3.total.item(), places=12)

    def test_content_aware_needs_saliency(self):
        img, out, *_ = make_pair(8)
        with self.assertRaises(ValueError):
            fe.fan18_energy(t4(out), t4(img), "background")

    def test_masked_lambda(self):
        s = torch.tensor([[[[0.2, 0.5, 0.9]]]])
        m = fe.masked_lambda(s, 0.0, 2.0)
        self.assertEqual(m.flatten().tolist(), [2.0, 0.0, 0.0])

    def test_parameter_overrides_from_the_command_line(self):
        over = fe.parse_overrides(["c2=5", "c1=inf", "window_radius=3", "large_window_radius=none",
                                   "guidance=texture"])
        self.assertEqual(over, {"c2": 5.0, "c1": math.inf, "window_radius": 3,
                                "large_window_radius": None, "guidance": "texture"})
        self.assertIsInstance(over["window_radius"], int)
        self.assertEqual(fe.preset("detail", **fe.parse_overrides(["c2=5"])).c2, 5.0)
        for bad in (["c3=1"], ["c2"], ["window_radius=2.5"], ["alpha=x"]):
            with self.assertRaises(ValueError):
                fe.parse_overrides(bad)


class EnergyGradients(unittest.TestCase):
    def test_gradcheck_small(self):
        # The hand-written backward of eq. 5 against finite differences.  The
        # slope clamp of |d|^0.8 (lp_eps) is shrunk out of the way: it departs
        # from the true derivative on purpose where |d| < lp_eps.
        img, out, sal, lf, le = make_pair(9)
        i = t4(img)[..., :6, :7]
        o = t4(out)[..., :6, :7].clone().requires_grad_()
        for name in ("smooth", "detail", "texture", "background", "stylization"):
            prm = fe.preset(name, window_radius=2, lp_eps=1e-12)
            kw = dict(saliency=t4(sal)[..., :6, :7], lambda_f=t4(lf)[..., :6, :7])

            def f(t, prm=prm, kw=kw):
                return fe.fan18_energy(t, i, prm, **kw).total

            with self.subTest(preset=name):
                self.assertTrue(torch.autograd.gradcheck(f, (o,), eps=1e-7, atol=1e-6, rtol=1e-4))

    def test_gradient_finite_at_zero_differences(self):
        # Flat output: every |T_i − T_j|^0.8 sits at its infinite slope.
        for dtype in (torch.float32, torch.float64):
            img = torch.rand(2, 3, 12, 13, dtype=dtype)
            out = torch.full_like(img, 0.5).requires_grad_()
            loss = fe.fan18_loss(out, img, fe.preset("smooth", window_radius=3))
            loss.backward()
            self.assertTrue(torch.isfinite(out.grad).all())
            self.assertGreater(out.grad.abs().max().item(), 0.0)


if __name__ == "__main__":
    unittest.main()
