# SPDX-License-Identifier: GPL-3.0-or-later
"""Train a Fang et al. 2019 learned filter (fang19_model) to reproduce one of
Lisse's exact filters over its λ range (§3.3: MSE to the filter's output).

    PYTHONPATH=training python3 -m lisse_train.train_fang19 --filter rtv \\
        --config cpu --out training/runs/fang19-rtv [--targets build-filter-targets] \\
        [--crops build-corpus/crops] [--resume] [--init CKPT] [--minutes M] [--set KEY=VALUE]

Data: training/corpus/build_filter_targets.py's targets (7 λ per training
crop, the paper's five test λ per validation crop; crops held out by photo).
A step draws `batch` (crop, λ, target) triples of the filter, a random
crop_size window of each (the same for input and target), a random flip and
rotation, and minimises the mean squared error of the network (guide =
target image = the crop) against the filter's output.

Validation: PSNR (8-bit, as ../shared/eval/metrics.py) against the exact
filter on the first val_count validation crops at each of the five test λ
(whole 256² crops), per λ and on average, every val_every steps; best.pt is
the best average.

Checkpoint (last.pt, best.pt, step-NNNNNN.pt): torch.save of a dict with
format "lisse-fang19-train/1", model (state_dict), config ({"model":
Fang19Net args, "train": the config, "filter"}), step, optimizer, rng,
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

from . import fang19_model as fm  # noqa: E402
from .train import Logger, lr_at, parse_set, resolve_device  # noqa: E402
from .trainer_base import CheckpointedTrainer  # noqa: E402

CHECKPOINT_FORMAT = "lisse-fang19-train/1"
# λ_ref per filter: the geometric middle of the training range
# (build_filter_targets.RANGES), so that t = λ/λ_ref spans about 1/5…5.
LAMBDA_REF = {"wls": 1.0, "l0": 0.01, "rtv": 0.01}

_COMMON = dict(
    seed=0, device="cpu", threads=1, bf16=False,
    width=32, n_layers=4, offset_bound=8.0,
    lr=1e-3, lr_min=1e-5, warmup_steps=100, steps=20000,
    batch=8, crop_size=96,
    log_every=20, val_every=500, ckpt_every=500, val_count=12,
)

CONFIGS: Dict[str, Dict] = {
    "smoke": {**_COMMON, **dict(width=8, steps=6, batch=2, crop_size=48, warmup_steps=2,
                                log_every=2, val_every=3, ckpt_every=3, val_count=1)},
    # One core of the 2-core host, cut into sessions with --minutes / --resume.
    "cpu": dict(_COMMON),
    # One H100/H200 (NOT RUN: no GPU lent when written): the paper's batch
    # and crop, bf16 autocast.
    "gpu": {**_COMMON, **dict(device="auto", threads=8, bf16=True, width=64, steps=200000,
                              batch=16, crop_size=128, val_every=5000, ckpt_every=5000,
                              val_count=100)},
}


def read_rgb(path: str) -> np.ndarray:
    a = cv2.imread(path, cv2.IMREAD_COLOR)
    if a is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(a, cv2.COLOR_BGR2RGB)


def to_tensor(batch: List[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float().div_(255.0)


class Data:
    """The crops and one filter's targets, decoded once (a few hundred 256²
    images: well under 1 GB)."""

    def __init__(self, targets: str, crops: str, filt: str):
        if os.path.isfile(os.path.join(crops, "crops", "index.json")):
            crops = os.path.join(crops, "crops")
        idx_path = os.path.join(targets, "index.json")
        if not os.path.exists(idx_path):
            raise SystemExit(f"no filter targets at {targets} (make them with "
                             "training/corpus/build_filter_targets.py)")
        with open(idx_path) as f:
            entries = [e for e in json.load(f)["targets"] if e["filter"] == filt]
        cache: Dict[str, np.ndarray] = {}

        def crop(name):
            if name not in cache:
                cache[name] = read_rgb(os.path.join(crops, name))
            return cache[name]

        # A build still under way has written some targets: use those.
        made = [e for e in entries if os.path.isfile(os.path.join(targets, e["file"]))]
        self.missing = len(entries) - len(made)
        self.train = [(crop(e["crop"]), e["lambda"], read_rgb(os.path.join(targets, e["file"])))
                      for e in made if e["split"] == "train"]
        self.val = [(crop(e["crop"]), e["lambda"], read_rgb(os.path.join(targets, e["file"])))
                    for e in made if e["split"] == "val"]
        if not self.train or not self.val:
            raise SystemExit(f"{targets}: no training or validation targets for {filt}")
        self.val_lambdas = sorted({e[1] for e in self.val})


def sample_batch(data: Data, cfg: Dict, rng: np.random.Generator):
    xs, ys, lams = [], [], []
    s = cfg["crop_size"]
    for _ in range(cfg["batch"]):
        x, lam, y = data.train[int(rng.integers(len(data.train)))]
        h, w = x.shape[:2]
        s_ = min(s, h, w)
        oy, ox = int(rng.integers(h - s_ + 1)), int(rng.integers(w - s_ + 1))
        x, y = x[oy:oy + s_, ox:ox + s_], y[oy:oy + s_, ox:ox + s_]
        k = int(rng.integers(4))
        x, y = np.rot90(x, k), np.rot90(y, k)
        if rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        xs.append(np.ascontiguousarray(x))
        ys.append(np.ascontiguousarray(y))
        lams.append(lam)
    return to_tensor(xs), torch.tensor(lams, dtype=torch.float32), to_tensor(ys)


def psnr8(x: torch.Tensor, y: torch.Tensor) -> List[float]:
    a = torch.clamp(torch.round(x * 255), 0, 255).double()
    b = torch.clamp(torch.round(y * 255), 0, 255).double()
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return [float("inf") if m == 0 else 10 * math.log10(255.0 ** 2 / float(m)) for m in mse]


class Trainer(CheckpointedTrainer):
    CHECKPOINT_FORMAT = CHECKPOINT_FORMAT

    def __init__(self, cfg: Dict, out: str, data: Data, filt: str, config_name: str):
        self.cfg, self.out, self.data, self.filter = cfg, out, data, filt
        self.device = resolve_device(cfg["device"])
        torch.set_num_threads(cfg["threads"])
        torch.manual_seed(cfg["seed"])
        self.model = fm.Fang19Net(width=cfg["width"], n_layers=cfg["n_layers"],
                                  offset_bound=cfg["offset_bound"],
                                  lambda_ref=LAMBDA_REF[filt]).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg["lr"])
        self.rng = np.random.default_rng(cfg["seed"])
        self.step, self.best, self.last_val = 0, -1.0, {}
        self.log = Logger(os.path.join(out, "log.jsonl"))
        self.config_name = config_name
        self.stop_requested = False

    def config_record(self) -> Dict:
        return {**super().config_record(), "filter": self.filter}

    def check(self, ck: Dict, path: str, full: bool):
        """A resume must continue the same filter's run; weights to start
        from (--init) may come from another filter's model: the network sees
        λ only as t = λ/λ_ref, and every filter's training range spans the
        same t ≈ 1/5…5 (LAMBDA_REF), so another filter's features and offsets
        are a better start than random."""
        other = ck["config"].get("filter")
        if full and other != self.filter:
            raise SystemExit(f"{path}: a {other} model, not {self.filter}")

    def validate(self) -> Dict:
        t0 = time.time()
        self.model.eval()
        per: Dict[float, List[float]] = {}
        count = self.cfg["val_count"]
        crops_seen: Dict[float, int] = {}
        with torch.no_grad():
            for x, lam, y in self.data.val:
                if crops_seen.get(lam, 0) >= count:
                    continue
                crops_seen[lam] = crops_seen.get(lam, 0) + 1
                out = self.model(to_tensor([x]).to(self.device), lam)
                per.setdefault(lam, []).extend(psnr8(out.float(), to_tensor([y])))
        self.model.train()
        rec = {"kind": "val", "step": self.step,
               "psnr_by_lambda": {f"{k:g}": float(np.mean(v)) for k, v in sorted(per.items())}}
        rec["psnr"] = float(np.mean(list(rec["psnr_by_lambda"].values())))
        rec.update(images=sum(len(v) for v in per.values()), seconds=round(time.time() - t0, 1))
        self.last_val = rec
        return rec

    def run(self, minutes: float = None):
        cfg = self.cfg
        t_start, t_win, n_acc, acc, step_time = time.time(), time.time(), 0, 0.0, None
        while self.step < cfg["steps"] and not self.stop_requested:
            if minutes is not None and step_time is not None and \
                    time.time() - t_start + 1.5 * step_time > minutes * 60:
                self.log({"kind": "stop", "step": self.step, "reason": "minutes"},
                         f"stop: --minutes {minutes} reached at step {self.step}")
                break
            t0 = time.time()
            for g in self.opt.param_groups:
                g["lr"] = lr_at(self.step, cfg)
            x, lam, y = sample_batch(self.data, cfg, self.rng)
            x, lam, y = x.to(self.device), lam.to(self.device), y.to(self.device)
            if cfg["bf16"]:
                with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                    out = self.model(x, lam).float()
            else:
                out = self.model(x, lam)
            loss = torch.mean((out - y) ** 2)
            self.opt.zero_grad(set_to_none=True)
            if torch.isfinite(loss):
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.opt.step()
            self.step += 1
            acc += float(loss.detach())
            n_acc += 1
            dt = time.time() - t0
            step_time = dt if step_time is None else 0.9 * step_time + 0.1 * dt
            if self.step % cfg["log_every"] == 0:
                mse = acc / n_acc
                rec = {"kind": "train", "step": self.step, "lr": lr_at(self.step - 1, cfg),
                       "s_per_step": round((time.time() - t_win) / n_acc, 3), "mse": mse,
                       "psnr": 10 * math.log10(1.0 / max(mse, 1e-12))}
                self.log(rec, f"step {self.step} mse {mse:.3g} ({rec['psnr']:.2f} dB) "
                              f"{rec['s_per_step']} s/step")
                acc, n_acc, t_win = 0.0, 0, time.time()
            if self.step % cfg["val_every"] == 0 or self.step == cfg["steps"]:
                rec = self.validate()
                self.log(rec, f"val step {self.step}: {rec['psnr']:.2f} dB "
                              f"{json.dumps({k: round(v, 2) for k, v in rec['psnr_by_lambda'].items()})}")
                if rec["psnr"] > self.best:
                    self.best = rec["psnr"]
                    self.save("best.pt")
            if self.step % cfg["ckpt_every"] == 0:
                self.save("last.pt")
                self.save(f"step-{self.step:06d}.pt")
        self.save("last.pt")
        self.log({"kind": "done" if self.step >= cfg["steps"] else "checkpoint",
                  "step": self.step, "best_psnr": self.best},
                 f"{'done' if self.step >= cfg['steps'] else 'paused'} at step {self.step}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--filter", choices=sorted(LAMBDA_REF), required=True)
    ap.add_argument("--config", choices=sorted(CONFIGS), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--targets", default="build-filter-targets")
    ap.add_argument("--crops", default="build-corpus/crops")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", default=None, help="start from these weights (fresh optimiser)")
    ap.add_argument("--minutes", type=float, default=None)
    a = ap.parse_args(argv)
    cfg = parse_set(a.set, CONFIGS[a.config])
    os.makedirs(a.out, exist_ok=True)
    last = os.path.join(a.out, "last.pt")
    if os.path.exists(last) and not a.resume:
        raise SystemExit(f"{last} exists: pass --resume to continue it")
    if a.resume and os.path.exists(last):
        saved = torch.load(last, map_location="cpu", weights_only=False)["config"]["train"]
        cfg = parse_set(a.set, {**CONFIGS[a.config], **saved})
    data = Data(a.targets, a.crops, a.filter)
    tr = Trainer(cfg, a.out, data, a.filter, a.config)
    if a.resume and os.path.exists(last):
        tr.load(last, full=True)
        tr.log.truncate_after(tr.step)
        tr.log({"kind": "resume", "step": tr.step}, f"resumed at step {tr.step}")
    else:
        if a.init:
            tr.load(a.init, full=False)
        tr.log({"kind": "start", "step": 0, "config": cfg, "filter": a.filter,
                "config_name": a.config, "torch": torch.__version__,
                "params": fm.count_parameters(tr.model), "macs_per_pixel": fm.macs_per_pixel(tr.model),
                "halo": fm.halo_radius(cfg["n_layers"], cfg["offset_bound"]),
                "train_targets": len(data.train), "val_targets": len(data.val),
                "missing_targets": data.missing},
               f"start: {fm.count_parameters(tr.model)} parameters, "
               f"{len(data.train)} training targets")

    def on_term(signum, frame):
        tr.stop_requested = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    tr.run(minutes=a.minutes)
    return 130 if tr.stop_requested else 0


if __name__ == "__main__":
    sys.exit(main())
