# SPDX-License-Identifier: GPL-3.0-or-later
"""Distillation targets for the Fan 2018 twin (training/lisse_train/fan18_distill.py)
and the trainer's distillation term: the λf → grid blend (exact at grid
values, log-linear between, per pixel for λf maps, clamped outside), the
stacks augmented with their image, a smoke run pulled towards its targets,
and a zero weight that leaves training as it was.

Needs no corpus: a fake crop pack (test_fan18_train.make_pack) and a fake
grid of "L0 outputs" (the crop blurred more at each level).

Run from the repository root:  python3 -m unittest tests/test_fan18_distill.py
"""

import json
import math
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
sys.path.insert(0, HERE)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lisse_train import fan18_distill as fd  # noqa: E402
from lisse_train import train as tr  # noqa: E402
from test_fan18_train import make_pack  # noqa: E402

GRID = (0.001, 0.004, 0.016)   # log-spaced, as build_filter_targets --grid writes them


def make_targets(pack: str, out: str, shift: int = 0) -> str:
    """A grid folder laid out as build_filter_targets.py --grid writes it:
    level j of a crop is the crop blurred with σ = j (level 0: the crop);
    with `shift`, that plus shift grey levels (targets that neither the
    energy nor the identity moves towards, and that the network can reach
    with its biases alone)."""
    with open(os.path.join(pack, "crops", "index.json")) as f:
        crops = json.load(f)["crops"]
    entries = []
    for c in crops:
        img = cv2.imread(os.path.join(pack, "crops", c["file"]), cv2.IMREAD_COLOR)
        stem = os.path.splitext(os.path.basename(c["file"]))[0]
        for j, lam in enumerate(GRID):
            rel = f"l0/{c['split']}/{stem}-{j}.png"
            os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
            t = img if j == 0 else cv2.GaussianBlur(img, (0, 0), float(j))
            if shift:
                t = np.clip(t.astype(np.int32) + shift, 0, 255).astype(np.uint8)
            cv2.imwrite(os.path.join(out, rel), t)
            entries.append(dict(filter="l0", **{"lambda": lam}, crop=c["file"],
                                split=c["split"], file=rel))
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"format": "lisse-filter-targets-1", "targets": entries}, f)
    return out


class DistillTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.mkdtemp(prefix="lisse-distill-")
        cls.pack = make_pack(os.path.join(cls.tmp, "pack"))
        cls.targets = make_targets(cls.pack, os.path.join(cls.tmp, "targets"))
        cls.shifted = make_targets(cls.pack, os.path.join(cls.tmp, "shifted"), shift=60)
        # λ_L0 = λf · 0.004: λf 1 is level 1 exactly, λf 0.25 level 0, 4 level 2
        cls.dt = fd.DistillTargets(cls.targets, os.path.join(cls.pack, "crops", "index.json"),
                                   "train", mapping=(0.004, 1.0))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def levels(self, i=0):
        return self.dt.stacks[i][None].float() / 255.0

    def test_stacks(self):
        self.assertEqual(self.dt.levels, 3)
        self.assertEqual(len(self.dt.stacks), 6)          # make_pack's train crops
        s = self.dt.stacks[2]
        self.assertEqual(tuple(s.shape), (9, 72, 72))
        crop = cv2.cvtColor(cv2.imread(os.path.join(self.pack, "crops", "train",
                                                    "0002-fake.png")), cv2.COLOR_BGR2RGB)
        self.assertTrue(np.array_equal(s[:3].permute(1, 2, 0).numpy(), crop))

    def test_blend_at_grid_values(self):
        lv = self.levels()
        for j, lf in enumerate((0.25, 1.0, 4.0)):
            t = self.dt.blend(lv, torch.tensor([lf]))
            self.assertLess(float((t - lv[:, 3 * j:3 * j + 3]).abs().max()), 1e-5, lf)

    def test_blend_between_and_outside(self):
        lv = self.levels()
        mid = self.dt.blend(lv, torch.tensor([0.5]))        # halfway in log λ: 0 and 1
        want = 0.5 * (lv[:, 0:3] + lv[:, 3:6])
        self.assertLess(float((mid - want).abs().max()), 1e-5)
        lo = self.dt.blend(lv, torch.tensor([0.01]))        # below the grid: level 0
        hi = self.dt.blend(lv, torch.tensor([100.0]))       # above: the last level
        self.assertLess(float((lo - lv[:, 0:3]).abs().max()), 1e-6)
        self.assertLess(float((hi - lv[:, 6:9]).abs().max()), 1e-6)

    def test_blend_per_pixel_map(self):
        lv = torch.cat([self.levels(0), self.levels(1)])
        m = torch.full((2, 1, 72, 72), 0.25)
        m[..., 36:] = 4.0
        t = self.dt.blend(lv, m)
        self.assertLess(float((t[..., :36] - lv[:, 0:3, :, :36]).abs().max()), 1e-5)
        self.assertLess(float((t[..., 36:] - lv[:, 6:9, :, 36:]).abs().max()), 1e-5)

    def test_incomplete_grid_refused(self):
        bad = os.path.join(self.tmp, "bad")
        shutil.copytree(self.targets, bad)
        with open(os.path.join(bad, "index.json")) as f:
            doc = json.load(f)
        doc["targets"] = doc["targets"][1:]                 # one crop lacks a level
        with open(os.path.join(bad, "index.json"), "w") as f:
            json.dump(doc, f)
        with self.assertRaises(ValueError):
            fd.DistillTargets(bad, os.path.join(self.pack, "crops", "index.json"), "train")

    def test_augment_keeps_image_and_targets_aligned(self):
        # level 0 of the fake grid is the crop itself, so after any augmentation
        # the first target must equal the image
        cfg = dict(tr.CONFIGS["smoke"], scale_max=1.25)
        gen = torch.Generator().manual_seed(5)
        crops = tr.load_crops(self.pack, "train")
        for _ in range(4):
            x, stk = tr.sample_batch(crops, cfg, gen, 2, extra=self.dt.stacks)
            self.assertEqual(tuple(stk.shape[1:]), (9,) + tuple(x.shape[2:]))
            self.assertLess(float((stk[:, 0:3] - x).abs().max()), 1e-6)

    def run_smoke(self, name, *sets):
        out = os.path.join(self.tmp, name)
        argv = ["--config", "smoke", "--out", out, "--crops", self.pack, "--threads", "1"]
        for s in sets:
            argv += ["--set", s]
        self.assertEqual(tr.main(argv), 0)
        with open(os.path.join(out, "log.jsonl")) as f:
            recs = [json.loads(line) for line in f]
        ck = torch.load(os.path.join(out, "last.pt"), map_location="cpu", weights_only=False)
        return recs, ck

    def test_zero_weight_is_plain_training(self):
        _, plain = self.run_smoke("plain")
        _, zero = self.run_smoke("zero", f"distill_targets={json.dumps(self.targets)}")
        for k, v in plain["model"].items():
            self.assertTrue(torch.allclose(v, zero["model"][k], atol=1e-6), k)

    def test_distillation_pulls_towards_targets(self):
        # brighter targets: only the distillation term moves the output there
        common = (f"distill_targets={json.dumps(self.shifted)}", "steps=40")
        pull, _ = self.run_smoke("pull", *common, "distill_weight=100",
                                 "distill_weight_end=100", "distill_energy=0")
        ctrl, _ = self.run_smoke("ctrl", *common)          # weight 0: the energy alone
        tp = [r for r in pull if r["kind"] == "train"]
        tc = [r for r in ctrl if r["kind"] == "train"]
        self.assertTrue(all(math.isfinite(r["distill_mse"]) for r in tp + tc))
        self.assertTrue(all(r["flat"] is None for r in tp))   # energy not computed
        self.assertTrue(all(r["flat"] is not None for r in tc))
        # the same batches in both runs (the same draws): the energy keeps the
        # output near the input, 60 grey levels from the targets
        self.assertLess(tp[-1]["distill_mse"], 0.25 * tc[-1]["distill_mse"],
                        (tp[-1]["distill_mse"], tc[-1]["distill_mse"]))
        self.assertLess(tp[-1]["distill_mse"], 0.25 * tp[0]["distill_mse"],
                        [r["distill_mse"] for r in tp])

if __name__ == "__main__":
    unittest.main()
