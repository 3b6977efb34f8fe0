"""Few-step against many-step inpainting: EMMD 4 steps, ResShift 4 steps and RePaint 250 steps.

The shipped pixel-space ``tiny`` checkpoints (``pixel32/``, 32x32) on the fixed validation faces
(``mrs.data.validation_split``, mixed masks, the whole split in one sampling call), all through
``mrs.evaluation.evaluate`` with the same seed, so the same code samples, counts and times every sampler:

1. EMMD, 4 steps: ``load_pretrained("pixel32/emmd")`` (the ancestral sampler);
2. ResShift, 4 steps: ``load_pretrained("pixel32/resshift")``;
3. RePaint: the same ResShift pipeline with ``mrs.sampling.RePaintSampler`` (250-step exponential
   schedule with the 4-step one's parameters, asked about fractional coarse times; jump length
   10, 10 resamplings: 2410 network evaluations per image).

Reported for each: network evaluations (NFE) per image, seconds per image (median over the
rounds; the 4-step samplers 5 rounds, RePaint 1 by default: it takes minutes), hole-PSNR and
PSNR (mean +- standard error over the images) and the time ratios to EMMD, all from one run.

For the ``paper`` preset (64x64, random weights) only the time of one network evaluation per image
is measured (a forward pass on as many 64x64 images); the samplers' times are *estimated* as NFE x
that.

Run:  .venv/bin/python benchmarks/bench_baselines.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import dataclasses

import common

from mrs import ScheduleSpec
from mrs.evaluation import evaluate
from mrs.pipelines import load_pretrained
from mrs.sampling import RePaintSampler

EMMD, RESSHIFT = "EMMD 4 steps", "ResShift 4 steps"


def add_args(p):
    p.add_argument("--n", type=int, help="validation images, in one batch (default 16; --quick: 4)")
    p.add_argument("--repeats", type=int, help="timed rounds of the 4-step samplers (default 5; --quick: 1)")
    p.add_argument("--repaint-steps", type=int, help="RePaint's fine T (default 250; --quick: 50)")
    p.add_argument("--jump-length", type=int, default=10, help="RePaint jump length (default 10)")
    p.add_argument("--resamplings", type=int, default=10, help="RePaint resamplings (default 10)")
    p.add_argument("--repaint-repeats", type=int, default=1, help="timed RePaint rounds (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed, the same for every sampler")
    p.add_argument("--no-paper", action="store_true", help="skip the paper-preset estimate")


def measure(args) -> dict:
    dev = args.device
    n = args.n or (4 if args.quick else 16)
    repeats = args.repeats or (1 if args.quick else 5)
    T_fine = args.repaint_steps or (50 if args.quick else 250)
    repaint = RePaintSampler(T_fine=T_fine, jump_length=args.jump_length, resamplings=args.resamplings)
    rp = f"RePaint {T_fine} steps (ResShift net)"
    emmd, rs = load_pretrained("pixel32/emmd", device=dev), load_pretrained("pixel32/resshift", device=dev)
    models = {EMMD: emmd, RESSHIFT: rs, rp: dataclasses.replace(rs, sampler=repaint)}
    rounds = {EMMD: repeats, RESSHIFT: repeats, rp: args.repaint_repeats}
    size = emmd.image_size
    if rs.image_size != size:
        raise SystemExit("the emmd and resshift checkpoints were trained at different sizes")

    seconds, last = {k: [] for k in models}, {}
    for r in range(max(rounds.values())):
        todo = {k: m for k, m in models.items() if r < rounds[k]}
        common.progress(f"round {r + 1}: {', '.join(todo)} on {n} faces {size}x{size}")
        res = evaluate(todo, n=n, size=size, mask_kinds=("mixed",), seed=args.seed, device=dev)
        for k in todo:
            seconds[k].append(res.seconds[k, "mixed"] * n)      # one call samples all n images
            last[k] = res
    samplers = {}
    for k, m in models.items():
        per = last[k].per_image[k, "mixed"]
        (hm, hs), (pm, ps) = common.mean_sem(per["hole_psnr"]), common.mean_sem(per["psnr"])
        med = common.median(seconds[k]) / n
        samplers[k] = {"steps": T_fine if k == rp else m.process.T, "nfe_per_image": last[k].nfe[k, "mixed"],
                       "seconds_per_image": med, "call": common.summary(seconds[k]),
                       "hole_psnr_mean": hm, "hole_psnr_sem": hs, "psnr_mean": pm, "psnr_sem": ps,
                       "hole_psnr_per_image": per["hole_psnr"].tolist(),
                       "psnr_per_image": per["psnr"].tolist()}
    for s in samplers.values():
        s["time_ratio_to_emmd"] = s["seconds_per_image"] / samplers[EMMD]["seconds_per_image"]

    paper = None
    if not args.no_paper:
        reps = 1 if args.quick else 3
        common.progress(f"paper 64x64: forward on {n} images (Timer.blocked_autorange)")
        t = common.autorange(common.forward_fn(common.random_net("paper", dev), n, 64, dev), reps)
        per_nfe = t["median_s"] / n
        paper = {"forward_batch": n, "forward": t, "seconds_per_nfe_per_image": per_nfe,
                 "estimated_seconds_per_image": {k: s["nfe_per_image"] * per_nfe
                                                 for k, s in samplers.items()}}
    fine = ScheduleSpec(**{**rs.process.schedule.spec.to_dict(), "T": T_fine}).build()
    return {
        "settings": {"n": n, "size": size, "repeats": repeats, "repaint_steps": T_fine,
                     "jump_length": args.jump_length, "resamplings": args.resamplings,
                     "repaint_repeats": args.repaint_repeats, "seed": args.seed,
                     "checkpoints": {"emmd": emmd.meta.get("sha256"), "resshift": rs.meta.get("sha256")},
                     "fine_schedule": {"steps": fine.T, "kappa": fine.kappa,
                                       "eta_1": float(fine.etas[1]), "eta_T": float(fine.etas[-1])}},
        "samplers": samplers,
        "ratios": {"repaint_over_emmd_time": samplers[rp]["time_ratio_to_emmd"],
                   "resshift_over_emmd_time": samplers[RESSHIFT]["time_ratio_to_emmd"],
                   "repaint_over_emmd_nfe": samplers[rp]["nfe_per_image"] / samplers[EMMD]["nfe_per_image"]},
        "paper_estimate": paper}


def report(d: dict) -> None:
    s, fine = d["settings"], d["settings"]["fine_schedule"]
    common.print_table(
        f"tiny checkpoints, {s['n']} validation faces {s['size']}x{s['size']} in one batch",
        ["sampler", "NFE / image", "s / image", "time / EMMD", "hole-PSNR dB", "PSNR dB"],
        [[k, r["nfe_per_image"], r["seconds_per_image"], r["time_ratio_to_emmd"],
          *(f"{r[m + '_mean']:.2f} ± {r[m + '_sem']:.2f}" for m in ("hole_psnr", "psnr"))]
         for k, r in d["samplers"].items()],
        notes=[f"mrs.evaluation.evaluate, one call per round: medians of {s['repeats']} rounds for "
               f"the 4-step samplers, {s['repaint_repeats']} for RePaint",
               f"RePaint: RePaintSampler, jump length {s['jump_length']}, {s['resamplings']} "
               f"resamplings; fine schedule T={fine['steps']}, kappa={fine['kappa']:g}, "
               f"eta_1={fine['eta_1']:.4f}, eta_T={fine['eta_T']:.4f}",
               "PSNR: mean ± standard error over the images; hole-PSNR over the hole pixels only",
               f"sampling seed {s['seed']} for every sampler"])
    p = d["paper_estimate"]
    if p:
        est = p["estimated_seconds_per_image"]
        common.print_table(
            "paper preset (random weights), 64x64: estimated from the time per NFE",
            ["", "NFE / image", "s / image", "time / EMMD"],
            [["one network evaluation (measured)", 1, p["seconds_per_nfe_per_image"], None]]
            + [[f"{k} (estimated)", r["nfe_per_image"], est[k], est[k] / est[EMMD]]
               for k, r in d["samplers"].items()],
            notes=[f"time per NFE: median forward pass on {p['forward_batch']} images of 64x64 / "
                   f"{p['forward_batch']}; estimated = NFE x that (the samplers' own arithmetic "
                   "is not included)"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report)
