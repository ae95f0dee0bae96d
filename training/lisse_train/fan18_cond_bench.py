# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure λ-conditioning options of the Fan 2018 twin on a short CPU run.

Trains a reduced-width network (default 16 channels, full depth) for a fixed
number of Adam steps on random 64×64 crops of four skimage photos, with λf
and λe drawn per image from sets that leave out the evaluation values,
re-estimates the BatchNorm statistics, then reports the Fan 2018 energy the
eval-mode (running-statistics, tile-safe) network reaches at λf ∈ {0.25, 1,
4}, λe = 0.1, on fixed 96×96 crops of the training photos and of a fifth,
held-out photo, next to parameter count and cost.  The energy is the smooth
preset with window radius 2 (5×5) to keep the run short.  Result table:
docs/fan18-conditioning.md.

    tools/dev exec python3 -m lisse_train.fan18_cond_bench   (with training/ on PYTHONPATH)

Images come from python3-skimage's data folder (CC0 / public domain, see
../shared/notes/data.md); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from . import fan18_energy as fe
from . import fan18_model as fm

TRAIN_IMAGES = ("astronaut", "coffee", "chelsea", "motorcycle_left")
HELD_OUT_IMAGE = "rocket"
TRAIN_LAMBDA_F = (0.15, 0.4, 0.65, 1.6, 2.5, 6.0)   # excludes the evaluation values
TRAIN_LAMBDA_E = (0.05, 0.2)
EVAL_LAMBDA_F = (0.25, 1.0, 4.0)
EVAL_LAMBDA_E = 0.1


def skimage_photo(name: str) -> torch.Tensor:
    import skimage
    from skimage import io
    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    fname = next(f for f in sorted(os.listdir(folder)) if os.path.splitext(f)[0] == name)
    a = io.imread(os.path.join(folder, fname))[..., :3]
    return torch.from_numpy(a.astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()


def random_crops(images, size, gen):
    out = []
    for img in images:
        _, h, w = img.shape
        y = int(torch.randint(0, h - size + 1, (1,), generator=gen))
        x = int(torch.randint(0, w - size + 1, (1,), generator=gen))
        c = img[:, y:y + size, x:x + size]
        if torch.rand((), generator=gen) < 0.5:
            c = c.flip(2)
        out.append(c)
    return torch.stack(out)


def fixed_crops(img, size, n=4):
    _, h, w = img.shape
    ys = np.linspace(0, h - size, 2).astype(int)
    xs = np.linspace(0, w - size, n // 2).astype(int)
    return torch.stack([img[:, y:y + size, x:x + size] for y in ys for x in xs])


def evaluate(model, crops, params):
    model.eval()
    res = {}
    with torch.no_grad():
        for lf in EVAL_LAMBDA_F:
            out = model(crops, lf, EVAL_LAMBDA_E)
            e = fe.fan18_energy(out, crops, params, lambda_f=lf, lambda_e=EVAL_LAMBDA_E)
            ident = fe.fan18_energy(crops.clone(), crops, params, lambda_f=lf,
                                    lambda_e=EVAL_LAMBDA_E)
            res[lf] = dict(energy=e.total.mean().item(), identity=ident.total.mean().item(),
                           data=e.data.mean().item(), flat=e.flat.mean().item(),
                           edge=e.edge.mean().item(), output=out)
        # How much the output moves with λf: mean |T(λf max) − T(λf min)|.
        spread = (res[EVAL_LAMBDA_F[-1]]["output"] - res[EVAL_LAMBDA_F[0]]["output"]).abs().mean()
        for v in res.values():
            del v["output"]
        res["spread"] = spread.item()
    model.train()
    return res


def pretrain(args, train_imgs, params):
    """The shared start: an unconditioned trunk trained at λf = 1, λe = 0.1.

    From the identity the energy first rises for any small random residual
    (|d|^0.8 is steep at d = 0, and 8-bit photos have many exactly flat
    pairs), so a fresh network leaves the identity only after a few hundred
    steps, at a moment that depends on the seed more than on the
    conditioning.  Starting every option from the same working smoother
    measures what the comparison is about: learning the λ dependence."""
    torch.manual_seed(1000)
    gen = torch.Generator().manual_seed(1000)
    model = fm.Fan18Net(args.width, "none")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.time()
    for _ in range(args.pretrain_steps):
        x = random_crops(train_imgs, args.crop, gen)
        loss = fe.fan18_loss(model(x), x, params)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.state_dict(), time.time() - t0


def load_trunk(model, state):
    """Load an unconditioned state into any variant; the conditioning
    parameters keep their zero start, so the function is unchanged."""
    with torch.no_grad():
        own = model.state_dict()
        for k, v in state.items():
            if k == "conv0.weight" and own[k].shape != v.shape:
                own[k][:, :v.shape[1]].copy_(v)
            else:
                own[k].copy_(v)


def run(variant, seed, args, train_imgs, eval_sets, params, trunk=None):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = fm.Fan18Net(args.width, variant)
    if trunk is not None:
        load_trunk(model, trunk)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    lf_set = torch.tensor(TRAIN_LAMBDA_F)
    le_set = torch.tensor(TRAIN_LAMBDA_E)
    t0 = time.time()
    for step in range(args.steps):
        x = random_crops(train_imgs, args.crop, gen)
        lf = lf_set[torch.randint(0, len(lf_set), (x.shape[0],), generator=gen)]
        le = le_set[torch.randint(0, len(le_set), (x.shape[0],), generator=gen)]
        loss = fe.fan18_loss(model(x, lf, le), x, params, lambda_f=lf, lambda_e=le)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s = time.time() - t0

    def calib():
        for _ in range(args.calib_batches):
            x = random_crops(train_imgs, args.crop, gen)
            yield (x, lf_set[torch.randint(0, len(lf_set), (x.shape[0],), generator=gen)],
                   le_set[torch.randint(0, len(le_set), (x.shape[0],), generator=gen)])

    fm.recalibrate_batchnorm(model, calib())
    result = dict(variant=variant, seed=seed, params=fm.count_parameters(model),
                  macs_per_pixel=fm.macs_per_pixel(model), train_s=train_s,
                  s_per_step=train_s / args.steps)
    for key, crops in eval_sets.items():
        result[key] = evaluate(model, crops, params)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="none,input,film,wp")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--pretrain-steps", type=int, default=400)
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--eval-crop", type=int, default=96)
    ap.add_argument("--calib-batches", type=int, default=20)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--window-radius", type=int, default=2)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    params = fe.preset("smooth", window_radius=args.window_radius)
    train_imgs = [skimage_photo(n) for n in TRAIN_IMAGES]
    ec = args.eval_crop
    eval_sets = {"train_images": torch.cat([fixed_crops(i, ec, 2) for i in train_imgs]),
                 "held_out_image": fixed_crops(skimage_photo(HELD_OUT_IMAGE), ec)}
    results = []
    trunk, pre_s = None, 0.0
    if args.pretrain_steps > 0:
        trunk, pre_s = pretrain(args, train_imgs, params)
        m = fm.Fan18Net(args.width, "none")
        m.load_state_dict(trunk)
        start = evaluate(fm.recalibrate_batchnorm(m, (
            (random_crops(train_imgs, args.crop, torch.Generator().manual_seed(7 + k)), 1.0, 0.1)
            for k in range(args.calib_batches))), eval_sets["train_images"], params)
        print(f"pretrain {args.pretrain_steps} steps {pre_s:.0f} s; trunk E/E_identity on train "
              "images: " + " ".join(f"{start[lf]['energy'] / start[lf]['identity']:.3f}"
                                    for lf in EVAL_LAMBDA_F), flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for v in args.variants.split(","):
            r = run(v, seed, args, train_imgs, eval_sets, params, trunk)
            results.append(r)
            line = (f"seed {seed} {v:6s} params {r['params']:7d}  "
                    f"MAC/px {r['macs_per_pixel']:7.0f}  "
                    f"{r['s_per_step']:.3f} s/step  E/E_identity")
            for key, res in ((k, r[k]) for k in eval_sets):
                line += f"  {key}: " + " ".join(f"{res[lf]['energy'] / res[lf]['identity']:.3f}"
                                                 for lf in EVAL_LAMBDA_F)
                line += f" (spread {res['spread']:.4f})"
            print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(args=vars(args), pretrain_s=pre_s, results=results), f, indent=1)


if __name__ == "__main__":
    main()
