# SPDX-License-Identifier: GPL-3.0-or-later
"""Train CSGIS-Net (csgis_model) for texture removal on the texture pack.

    PYTHONPATH=training python3 -m lisse_train.train_csgis --config smoke|cpu|gpu \\
        --out training/runs/NAME [--resume] [--pack build-textures/pack] \\
        [--set key=value]… [--minutes M] [--init CHECKPOINT]

Data: the pack of training/corpus/build_textures.py (pack/index.json):
clean structure images (train split) and textures (train split, never the
validation textures).  Each training pair is made on the fly: a random
sub-crop of a structure (size per batch from crop_min…crop_max), a random
90° rotation and flip, a random permutation of its colour channels and a
brightness gain, then texture_blend.blend() with a random training texture
(random zoom, rotation, amplitude and tint: texture_blend.BlendParams).
All draws come from one seeded generator (numpy), saved in checkpoints, so a
resumed run continues the same sequence.

Loss: csgis_loss.total_loss (the paper's eq. 11 as far as it can be had
here; the module docstring lists what differs and why).

Optimiser: Adam (β 0.9, 0.999) as §4.2, linear warm-up then cosine decay
from lr to lr_min over `steps` (the paper halves every 30 of 250 epochs; a
cosine suits a run that is cut into sessions and resumed).

Validation: PSNR (8-bit, as ../shared/eval/metrics.py) of S1 against the
ground truth on the first val_count fixed validation pairs (textures and
structures never seen in training), in eval mode after re-estimating the
BatchNorm statistics on fixed training batches (csgis_model.
recalibrate_batchnorm), every val_every steps; the input's PSNR is logged
once for reference.  Two more sets where the pack gives them: the same
held-out structures at half size (psnr_half) and whole held-out photos at
thumbnail scale (psnr_thumb).  Best-by-validation is kept as best.pt, by
psnr or (select=mean) by the mean of the sets.

--minutes M: stop (with a checkpoint) when the next step would end past M
minutes of wall time, so a background run ends inside a session; --resume
continues it exactly (same thread count: bit for bit on the CPU).

Checkpoint (last.pt, best.pt, step-NNNNNN.pt): torch.save of a dict with
format "lisse-csgis-train/1", model (state_dict, BN recalibrated), config
({"model": CSGISNet args, "train": the config}), step, optimizer, rng,
val (the last validation record), best_psnr.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from typing import Dict, List

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from . import csgis_loss as cl  # noqa: E402
from . import csgis_model as cm  # noqa: E402
from . import texture_blend as tb  # noqa: E402
from .csgis_export import CHECKPOINT_FORMAT  # noqa: E402
from .train import Logger, lr_at, parse_set, resolve_device  # noqa: E402
from .trainer_base import CheckpointedTrainer  # noqa: E402

_COMMON = dict(
    seed=0, device="cpu", threads=1, bf16=False,
    width=32, n_desc=4, n_smooth=3, n_refine=6, batchnorm=True,
    lr=1e-3, lr_min=1e-5, warmup_steps=100, steps=6000,
    batch=8, crop_min=96, crop_max=128, crop_step=16,
    blend_scale=(0.5, 2.0), blend_rms=(4.0, 22.0), blend_rotate_p=0.5, blend_tint_p=0.25,
    # Structure zoom, log-uniform: a crop of size/z pixels resized to the
    # training size, so structures appear smaller (z < 1) than drawn, as
    # they are in thumbnails and downsized photos.  (1, 1) draws nothing.
    struct_scale=(1.0, 1.0),
    # Share of training pairs whose input is the structure itself, no texture
    # added: what a remover should leave as it is (fine shading, thin lines).
    # 0 draws nothing, so runs without it keep their random stream.
    clean_p=0.0,
    # Which validation number picks best.pt: "psnr" (the held-out pairs) or
    # "mean" (the mean over every validation set of the pack: pairs,
    # half-size pairs, thumbnail pairs).
    select="psnr",
    loss_edge=0.05, loss_contrast=0.1, edge_threshold=0.06,
    log_every=20, val_every=500, ckpt_every=500, val_count=48, val_batch=4,
    recal_batches=8, recal_batch=8, recal_size=128,
)

CONFIGS: Dict[str, Dict] = {
    "smoke": {**_COMMON, **dict(width=8, n_desc=1, n_smooth=1, n_refine=1, steps=12, batch=2,
                                crop_min=48, crop_max=48, warmup_steps=2, log_every=4,
                                val_every=6, ckpt_every=6, val_count=2, val_batch=2,
                                recal_batches=1, recal_batch=2, recal_size=48)},
    # One core of the 2-core host; the run is cut into sessions with
    # --minutes and continued with --resume.  Width and depth: training/
    # README.md ("CSGIS-Net: choosing the size").
    "cpu": dict(_COMMON),
    # One H100/H200: the paper's sizes and batch, bf16 autocast.  NOT RUN
    # (no GPU lent when written).
    "gpu": {**_COMMON, **dict(device="auto", threads=8, bf16=True, width=64, n_desc=12,
                              steps=60000, batch=8, crop_min=128, crop_max=128,
                              val_every=2000, ckpt_every=2000, val_count=200)},
}


# --------------------------------------------------------------------------
# data


def read_rgb(path: str) -> np.ndarray:
    a = cv2.imread(path, cv2.IMREAD_COLOR)
    if a is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(a, cv2.COLOR_BGR2RGB)


HALF_VAL_SEED = 20261206


class Pack:
    def __init__(self, root: str):
        if os.path.isdir(os.path.join(root, "pack")):
            root = os.path.join(root, "pack")
        idx_path = os.path.join(root, "index.json")
        if not os.path.exists(idx_path):
            raise SystemExit(f"no texture pack at {root} (build it: training/corpus/README.md)")
        with open(idx_path) as f:
            idx = json.load(f)
        self.root = root
        self.structures = [read_rgb(os.path.join(root, s["file"]))
                           for s in idx["structures"] if s["split"] == "train"]
        self.textures = [read_rgb(os.path.join(root, t["file"]))
                         for t in idx["textures"] if t["split"] == "train"]
        self.val = [(read_rgb(os.path.join(root, p["input"])), read_rgb(os.path.join(root, p["gt"])))
                    for p in idx["val_pairs"]]
        if not self.structures or not self.textures or not self.val:
            raise SystemExit(f"{root}: the pack needs train structures, train textures and val pairs")
        # The same held-out structures at half size, blended with the same
        # held-out textures at their own pixel scale: structures small
        # against the texture period, as in thumbnails.  Fixed seeds, so
        # every run validates on the same pairs.
        self.val_half = []
        for i, p in enumerate(idx["val_pairs"]):
            if "structure" not in p or "texture" not in p:
                self.val_half = []      # a pack without them: no half-size check
                break
            gt = read_rgb(os.path.join(root, p["structure"]))
            gt = cv2.resize(gt, (gt.shape[1] // 2, gt.shape[0] // 2), interpolation=cv2.INTER_AREA)
            tex = read_rgb(os.path.join(root, p["texture"]))
            inp = tb.blend(gt, tex, np.random.default_rng([HALF_VAL_SEED, i]))
            self.val_half.append((inp, gt))
        # Whole held-out photos at thumbnail scale (packs built since
        # 2026-12-06): fine structures, as NKS's ground truths have.
        self.val_thumb = [(read_rgb(os.path.join(root, p["input"])),
                           read_rgb(os.path.join(root, p["gt"])))
                          for p in idx.get("val_thumb_pairs", [])]


def to_tensor(batch: List[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float().div_(255.0)


def sample_pair(pack: Pack, size: int, cfg: Dict, rng: np.random.Generator):
    s = pack.structures[int(rng.integers(len(pack.structures)))]
    h, w = s.shape[:2]
    size = min(size, h, w)
    lo, hi = cfg.get("struct_scale", (1.0, 1.0))
    side = size
    if (lo, hi) != (1.0, 1.0):
        z = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        side = max(size // 2, min(round(size / z), h, w))
    y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    gt = s[y:y + side, x:x + side]
    if side != size:
        gt = cv2.resize(gt, (size, size), interpolation=cv2.INTER_AREA if side > size
                        else cv2.INTER_CUBIC)
    gt = np.rot90(gt, int(rng.integers(4)))
    if rng.random() < 0.5:
        gt = gt[:, ::-1]
    gt = gt[..., rng.permutation(3)]
    gain = math.exp(rng.uniform(-0.15, 0.15))
    gt = np.clip(np.rint(gt.astype(np.float32) * gain), 0, 255).astype(np.uint8)
    if cfg.get("clean_p", 0.0) > 0 and rng.random() < cfg["clean_p"]:
        gt = np.ascontiguousarray(gt)
        return gt.copy(), gt
    tex = pack.textures[int(rng.integers(len(pack.textures)))]
    p = tb.BlendParams(scale=tuple(cfg["blend_scale"]), rms=tuple(cfg["blend_rms"]),
                       rotate_p=cfg["blend_rotate_p"], tint_p=cfg["blend_tint_p"])
    inp = tb.blend(np.ascontiguousarray(gt), tex, rng, p)
    return inp, np.ascontiguousarray(gt)


def sample_batch(pack: Pack, cfg: Dict, rng: np.random.Generator, size: int = None):
    if size is None:
        n = (cfg["crop_max"] - cfg["crop_min"]) // cfg["crop_step"] + 1
        size = cfg["crop_min"] + cfg["crop_step"] * int(rng.integers(n))
    pairs = [sample_pair(pack, size, cfg, rng) for _ in range(cfg["batch"])]
    return to_tensor([p[0] for p in pairs]), to_tensor([p[1] for p in pairs])


def val_line(rec: Dict) -> str:
    line = f"val step {rec['step']}: PSNR {rec['psnr']:.2f} dB (input {rec['input_psnr']:.2f})"
    if "psnr_half" in rec:
        line += f", half-size {rec['psnr_half']:.2f} (input {rec['input_psnr_half']:.2f})"
    if "psnr_thumb" in rec:
        line += f", thumbnails {rec['psnr_thumb']:.2f} (input {rec['input_psnr_thumb']:.2f})"
    return line


def psnr8(x: torch.Tensor, y: torch.Tensor) -> List[float]:
    """Per-image PSNR of 8-bit quantised [0,1] images (metrics.py's rule)."""
    a = torch.clamp(torch.round(x * 255), 0, 255).double()
    b = torch.clamp(torch.round(y * 255), 0, 255).double()
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return [float("inf") if m == 0 else 10 * math.log10(255.0 ** 2 / float(m)) for m in mse]


# --------------------------------------------------------------------------


class TextureTrainer(CheckpointedTrainer):
    """The supervised texture-removal loop on the pack, for any network: a
    subclass builds the model (build_model), computes the loss of one batch
    (compute_loss), readies the model for evaluation (prepare_eval) and
    describes it for the log (describe).  The data, validation, schedule,
    checkpoints and --minutes / --resume behaviour are shared."""

    def __init__(self, cfg: Dict, out: str, pack: Pack, config_name: str):
        self.cfg, self.out, self.pack = cfg, out, pack
        self.device = resolve_device(cfg["device"])
        torch.set_num_threads(cfg["threads"])
        torch.manual_seed(cfg["seed"])
        self.model = self.build_model(cfg).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"], betas=(0.9, 0.999))
        self.rng = np.random.default_rng(cfg["seed"])
        self.step = 0
        self.best = -1.0
        self.last_val: Dict = {}
        self.log = Logger(os.path.join(out, "log.jsonl"))
        self.config_name = config_name
        self.stop_requested = False

    def build_model(self, cfg: Dict) -> torch.nn.Module:
        raise NotImplementedError

    def compute_loss(self, x: torch.Tensor, y: torch.Tensor):
        """(loss tensor, {term: float}) of one batch, with an "l1" term."""
        raise NotImplementedError

    def prepare_eval(self):
        """Called before validation and before the final checkpoint."""

    def describe(self) -> Dict:
        """Facts about the model for the log's start record."""
        return {}

    def forward_all(self, x: torch.Tensor):
        """The model's forward_all, under bf16 autocast when configured."""
        if self.cfg["bf16"]:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                out = self.model.forward_all(x)
            return tuple(o.float() for o in out)
        return self.model.forward_all(x)

    # -- validation
    def validate(self) -> Dict:
        t0 = time.time()
        self.prepare_eval()
        self.model.eval()
        rec = {"kind": "val", "step": self.step}
        for suffix, pairs in (("", self.pack.val), ("_half", self.pack.val_half),
                              ("_thumb", self.pack.val_thumb)):
            pairs = pairs[: self.cfg["val_count"]]
            if not pairs:
                continue
            ps, base = [], []
            with torch.no_grad():
                for i in range(0, len(pairs), self.cfg["val_batch"]):
                    chunk = pairs[i:i + self.cfg["val_batch"]]
                    x = to_tensor([p[0] for p in chunk]).to(self.device)
                    y = to_tensor([p[1] for p in chunk]).to(self.device)
                    ps += psnr8(self.model(x).float(), y)
                    base += psnr8(x, y)
            rec["psnr" + suffix] = float(np.mean(ps))
            rec["input_psnr" + suffix] = float(np.mean(base))
        self.model.train()
        rec.update(images=len(ps), seconds=round(time.time() - t0, 1))
        sets = [rec[k] for k in ("psnr", "psnr_half", "psnr_thumb") if k in rec]
        rec["select"] = rec["psnr"] if self.cfg.get("select", "psnr") == "psnr" \
            else float(np.mean(sets))
        self.last_val = rec
        return rec

    # -- the loop
    def run(self, minutes: float = None, stop_at: int = None):
        cfg = self.cfg
        t_start = time.time()
        acc: Dict[str, float] = {}
        n_acc = 0
        t_win = time.time()
        cpu_win = time.process_time()
        step_time = None
        end = min(cfg["steps"], stop_at) if stop_at else cfg["steps"]
        while self.step < end and not self.stop_requested:
            if minutes is not None and step_time is not None:
                if time.time() - t_start + 1.5 * step_time > minutes * 60:
                    self.log({"kind": "stop", "step": self.step, "reason": "minutes"},
                             f"stop: --minutes {minutes} reached at step {self.step}")
                    break
            t0 = time.time()
            lr = lr_at(self.step, cfg)
            for g in self.opt.param_groups:
                g["lr"] = lr
            x, y = sample_batch(self.pack, cfg, self.rng)
            x, y = x.to(self.device), y.to(self.device)
            loss, terms = self.compute_loss(x, y)
            self.opt.zero_grad(set_to_none=True)
            if torch.isfinite(loss):
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.opt.step()
            self.step += 1
            terms["loss"] = float(loss.detach())
            for k, v in terms.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            dt = time.time() - t0
            step_time = dt if step_time is None else 0.9 * step_time + 0.1 * dt
            if self.step % cfg["log_every"] == 0:
                rec = {"kind": "train", "step": self.step, "lr": lr,
                       "s_per_step": round((time.time() - t_win) / n_acc, 3),
                       # CPU seconds of this process a step: the cost of a step even
                       # when the core is shared (runs compared at equal CPU time).
                       "cpu_s_per_step": round((time.process_time() - cpu_win) / n_acc, 3),
                       **{k: round(v / n_acc, 5) for k, v in acc.items()}}
                self.log(rec, f"step {self.step} loss {rec['loss']:.4f} l1 {rec['l1']:.4f} "
                              f"{rec['s_per_step']} s/step")
                acc, n_acc, t_win = {}, 0, time.time()
                cpu_win = time.process_time()
            if self.step % cfg["val_every"] == 0 or self.step == cfg["steps"]:
                rec = self.validate()
                self.log(rec, val_line(rec))
                if rec["select"] > self.best:
                    self.best = rec["select"]
                    self.save("best.pt")
            if self.step % cfg["ckpt_every"] == 0:
                self.save("last.pt")
                self.save(f"step-{self.step:06d}.pt")
        # Always leave a resumable checkpoint, ready for evaluation (CSGIS-Net:
        # recalibrated BatchNorm statistics).
        self.prepare_eval()
        self.save("last.pt")
        self.log({"kind": "done" if self.step >= cfg["steps"] else "checkpoint",
                  "step": self.step, "best_psnr": self.best},
                 f"{'done' if self.step >= cfg['steps'] else 'paused'} at step {self.step}")


class Trainer(TextureTrainer):
    """CSGIS-Net: csgis_loss.total_loss, BatchNorm recalibrated on fixed
    training batches before every evaluation."""
    CHECKPOINT_FORMAT = CHECKPOINT_FORMAT

    def __init__(self, cfg: Dict, out: str, pack: Pack, config_name: str):
        super().__init__(cfg, out, pack, config_name)
        self.feat = cl.FixedFeatures().to(self.device)
        self.weights = cl.LossWeights(edge=cfg["loss_edge"], contrast=cfg["loss_contrast"],
                                      edge_threshold=cfg["edge_threshold"])
        # Fixed batches for BatchNorm recalibration: their own generator, so
        # they do not depend on when validation happens.
        rr = np.random.default_rng(cfg["seed"] + 1)
        rc = {**cfg, "batch": cfg["recal_batch"]}
        self.recal = [sample_batch(pack, rc, rr, cfg["recal_size"])[0]
                      for _ in range(cfg["recal_batches"])]

    def build_model(self, cfg: Dict) -> torch.nn.Module:
        return cm.CSGISNet(width=cfg["width"], n_desc=cfg["n_desc"], n_smooth=cfg["n_smooth"],
                           n_refine=cfg["n_refine"], batchnorm=cfg["batchnorm"])

    def compute_loss(self, x, y):
        return cl.total_loss(self.forward_all(x), y, x, self.feat, self.weights)

    def prepare_eval(self):
        cm.recalibrate_batchnorm(self.model, [x.to(self.device) for x in self.recal])

    def describe(self) -> Dict:
        cfg = self.cfg
        return {"params": cm.count_parameters(self.model),
                "macs_per_pixel": cm.macs_per_pixel(self.model),
                "receptive_radius": cm.receptive_field_radius(cfg["n_desc"], cfg["n_smooth"],
                                                              cfg["n_refine"])}


def main(argv=None, trainer_cls=Trainer, configs=None) -> int:
    """The command line of a texture trainer (train_sasnet passes its own
    class and configurations)."""
    configs = CONFIGS if configs is None else configs
    ap = argparse.ArgumentParser(
        description=sys.modules[trainer_cls.__module__].__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(configs), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pack", default="build-textures/pack")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", default=None, help="start from these weights (fresh optimiser)")
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--stop-at", type=int, default=None)
    ap.add_argument("--validate", action="store_true",
                    help="with --resume: validate OUT/last.pt, log the record, and exit")
    a = ap.parse_args(argv)
    if a.validate and not (a.resume and os.path.exists(os.path.join(a.out, "last.pt"))):
        raise SystemExit("--validate needs --resume and OUT/last.pt (it validates that checkpoint)")
    cfg = parse_set(a.set, configs[a.config])
    os.makedirs(a.out, exist_ok=True)
    last = os.path.join(a.out, "last.pt")
    if os.path.exists(last) and not a.resume:
        raise SystemExit(f"{last} exists: pass --resume to continue it")
    if a.resume and os.path.exists(last):
        saved = torch.load(last, map_location="cpu", weights_only=False)["config"]["train"]
        # Keys added since the checkpoint was written take the config's
        # defaults, which keep the old behaviour.
        cfg = parse_set(a.set, {**configs[a.config], **saved})
    pack = Pack(a.pack)
    tr = trainer_cls(cfg, a.out, pack, a.config)
    if a.resume and os.path.exists(last):
        tr.load(last, full=True)
        tr.log.truncate_after(tr.step)
        tr.log({"kind": "resume", "step": tr.step}, f"resumed at step {tr.step}")
    else:
        if a.init:
            tr.load(a.init, full=False)
        tr.log({"kind": "start", "step": 0, "config": cfg, "config_name": a.config,
                "torch": torch.__version__, "threads": torch.get_num_threads(),
                **tr.describe(),
                "structures": len(pack.structures), "textures": len(pack.textures),
                "val_pairs": len(pack.val)},
               f"start: {sum(p.numel() for p in tr.model.parameters())} parameters")

    if a.validate:
        rec = tr.validate()
        tr.log(rec, val_line(rec))
        return 0

    def on_term(signum, frame):
        tr.stop_requested = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    tr.run(minutes=a.minutes, stop_at=a.stop_at)
    return 130 if tr.stop_requested else 0


if __name__ == "__main__":
    sys.exit(main())
