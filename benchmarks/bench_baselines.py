"""Few-step against many-step inpainting: EMMD 4 steps, ResShift 4 steps and RePaint-style 250 steps.

The same network architecture (the shipped ``tiny`` checkpoints, 32x32) driven three ways on the
fixed validation faces (``mrs.data.validation_split``: synthetic faces and masks disjoint from
training, the split the Trainer validates on), the whole split in one sampling call:

1. EMMD, 4 steps: ``load_pretrained("emmd")`` and ``mrs.sample(proc, net.denoiser(proc), y, mask)``;
2. plain ResShift, 4 steps: ``load_pretrained("resshift")``, the same;
3. RePaint-style: the ResShift net on a 250-step exponential schedule with the same ``kappa``,
   ``min_noise_level``, ``etas_end`` and ``power`` as the 4-step one it was trained on (read from
   the checkpoint's training config and checked against its schedule), asked about fractional
   coarse times (``mrs.repaint.warp_denoiser``), sampled by ``mrs.repaint.repaint_sample`` with
   jump length 10 and 10 resamplings (2410 network evaluations per image).

Reported for each: network evaluations (NFE) per image (counted by ``repaint_sample`` and by a
wrapper around the 4-step denoisers), seconds per image (median over repeats after one warm-up
call for the 4-step samplers; RePaint once by default, it takes minutes), hole-PSNR and PSNR
(``mrs.metrics``; mean +- standard error over the images), and the ratios RePaint / EMMD and
ResShift / EMMD of the time, all from one run. Every sampler starts from the same seed.

For the ``paper`` preset (64x64, random weights: the speed does not depend on the weights) only
the time of one network evaluation per image is measured (a forward pass on the same number of
64x64 images); the RePaint and 4-step times are *estimated* as NFE x that.

Run:  .venv/bin/python benchmarks/bench_baselines.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import math

import common
import torch

import mrs
import mrs.repaint
from mrs.data import validation_split
from mrs.nets import SwinUNet, SwinUNetConfig
from mrs.sampling import CountingDenoiser
from mrs.train import list_pretrained, load_pretrained


def fine_schedule(info: dict, proc, steps: int) -> mrs.Schedule:
    """The ``steps``-step schedule with the coarse schedule's parameters; checks that the
    parameters in the training config reproduce the coarse schedule the net was trained on."""
    tc = info["train_config"]
    kw = dict(kappa=proc.kappa, min_noise_level=tc["min_noise_level"], etas_end=tc["etas_end"],
              power=tc["power"])
    coarse = mrs.Schedule.exponential(steps=proc.steps, **kw)
    if not torch.allclose(coarse.etas, proc.schedule.etas, rtol=0, atol=1e-12):
        raise SystemExit(f"the training config does not reproduce the checkpoint's schedule: "
                         f"{coarse!r} vs {proc.schedule!r}")
    return mrs.Schedule.exponential(steps=steps, **kw)


def quality(out, x0, mask) -> dict:
    hole = mrs.metrics.hole_psnr(out.cpu(), x0, mask)
    full = mrs.metrics.psnr(out.cpu(), x0)
    hm, hs = common.mean_sem(hole.tolist())
    pm, ps = common.mean_sem(full.tolist())
    return {"hole_psnr_mean": hm, "hole_psnr_sem": hs, "psnr_mean": pm, "psnr_sem": ps,
            "hole_psnr_per_image": hole.tolist(), "psnr_per_image": full.tolist()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(p)
    p.add_argument("--n", type=int, default=None,
                   help="validation images, sampled in one batch (default 16; --quick: 4)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls of each 4-step sampler (default 5; --quick: 1)")
    p.add_argument("--repaint-steps", type=int, default=None,
                   help="steps of the fine RePaint schedule (default 250; --quick: 50)")
    p.add_argument("--jump-length", type=int, default=10, help="RePaint jump length (default 10)")
    p.add_argument("--resamplings", type=int, default=10, help="RePaint resamplings (default 10)")
    p.add_argument("--repaint-repeats", type=int, default=1,
                   help="timed RePaint calls (default 1: it takes minutes on CPU)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed, the same for every sampler")
    p.add_argument("--no-paper", action="store_true", help="skip the paper-preset estimate")
    args = p.parse_args()
    device = common.resolve_device(args.device)
    n = args.n or (4 if args.quick else 16)
    repeats = args.repeats or (1 if args.quick else 5)
    fine_steps = args.repaint_steps or (50 if args.quick else 250)
    env = common.environment(device)
    common.progress(common.environment_line(env))

    shipped = list_pretrained()
    for name in ("emmd", "resshift"):
        if name not in shipped:
            raise SystemExit(f"no shipped checkpoint {name!r}; shipped: {shipped}")
    emmd_net, emmd_proc, emmd_info = load_pretrained("emmd", device=device)
    rs_net, rs_proc, rs_info = load_pretrained("resshift", device=device)
    size = int(emmd_info["train_config"]["image_size"])
    if int(rs_info["train_config"]["image_size"]) != size:
        raise SystemExit("the emmd and resshift checkpoints were trained at different sizes")
    x0, mask, y = validation_split(n, size)
    y_d, mask_d = y.to(device), mask.to(device)
    common.progress(f"{n} validation faces {size}x{size}, batch {n}")

    # 1. the 4-step samplers: one warm-up call, then `repeats` timed calls (same seed each time)
    runs = {}
    for label, net, proc in (("EMMD 4 steps", emmd_net, emmd_proc),
                             ("ResShift 4 steps", rs_net, rs_proc)):
        den = CountingDenoiser(net.denoiser(proc))
        outs = []

        def run(proc=proc, den=den, outs=outs):
            g = torch.Generator().manual_seed(args.seed)
            outs.append(mrs.sample(proc, den, y_d, mask_d, generator=g))

        common.progress(f"{label}: 1 warm-up + {repeats} timed calls")
        times = common.time_runs(run, repeats, 1, device)
        runs[label] = {"nfe_per_image": den.images / (n * (repeats + 1)), "times": times,
                       "quality": quality(outs[-1], x0, mask), "steps": proc.steps}

    # 2. RePaint-style: the resshift net on the fine schedule, fractional coarse times
    fine = fine_schedule(rs_info, rs_proc, fine_steps)
    fine_proc = mrs.make_process("resshift", fine)
    den = mrs.repaint.warp_denoiser(lambda x, tau, y_, m: rs_net(x, tau, y_, m), fine,
                                    rs_proc.schedule)
    expected = len(mrs.repaint.repaint_times(fine_steps, args.jump_length, args.resamplings)) - 1
    common.progress(f"RePaint {fine_steps} steps, jump {args.jump_length}, {args.resamplings} "
                    f"resamplings ({args.repaint_repeats} timed call(s); path of {expected} moves)")
    with torch.inference_mode():  # warm-up: one network evaluation at the fine schedule's top
        den(y_d, torch.full((n,), fine_steps, dtype=torch.long, device=device), y_d, mask_d)
    outs, nfes = [], []

    def run_repaint():
        g = torch.Generator().manual_seed(args.seed)
        out, nfe = mrs.repaint.repaint_sample(fine_proc, den, y_d, mask_d,
                                              jump_length=args.jump_length,
                                              resamplings=args.resamplings, generator=g,
                                              return_nfe=True, progress=True)
        outs.append(out)
        nfes.append(nfe)

    times = common.time_runs(run_repaint, args.repaint_repeats, 0, device)
    label_rp = f"RePaint {fine_steps} steps (ResShift net)"
    runs[label_rp] = {"nfe_per_image": float(nfes[-1]), "times": times,
                      "quality": quality(outs[-1], x0, mask), "steps": fine_steps}

    # 3. the paper preset: time of one network evaluation per image (random weights)
    paper = None
    if not args.no_paper:
        reps = 1 if args.quick else 3
        common.progress(f"paper 64x64: forward on {n} images (1 warm-up + {reps} timed)")
        torch.manual_seed(0)
        pnet = SwinUNet(SwinUNetConfig.preset("paper")).to(device).eval()
        _, pmask, py = validation_split(n, 64)
        py, pmask = py.to(device), pmask.to(device)
        t = torch.full((n,), pnet.cfg.steps, dtype=torch.long, device=device)

        def fwd():
            with torch.inference_mode():
                pnet(py, t, py, pmask)

        ptimes = common.time_runs(fwd, reps, 1, device)
        per_nfe = common.median(ptimes) / n
        paper = {"forward_batch": n, "forward": common.summary(ptimes),
                 "seconds_per_nfe_per_image": per_nfe,
                 "estimated_seconds_per_image": {k: r["nfe_per_image"] * per_nfe
                                                 for k, r in runs.items()}}
        del pnet

    # -- report ---------------------------------------------------------------------------------
    emmd_t = common.median(runs["EMMD 4 steps"]["times"]) / n
    print(f"\n## bench_baselines{' (--quick: not for reporting)' if args.quick else ''}\n")
    print(common.environment_line(env))
    rows, results = [], {}
    for label, r in runs.items():
        per_image = common.median(r["times"]) / n
        q = r["quality"]
        rows.append([label, r["nfe_per_image"], per_image, per_image / emmd_t,
                     f"{q['hole_psnr_mean']:.2f} ± {q['hole_psnr_sem']:.2f}",
                     f"{q['psnr_mean']:.2f} ± {q['psnr_sem']:.2f}"])
        results[label] = {"steps": r["steps"], "nfe_per_image": r["nfe_per_image"],
                          "seconds_per_image": per_image, "time_ratio_to_emmd": per_image / emmd_t,
                          "call": common.summary(r["times"]), **q}
    common.print_table(
        f"tiny checkpoints, {n} validation faces {size}x{size} in one batch",
        ["sampler", "NFE / image", "s / image", "time / EMMD", "hole-PSNR dB", "PSNR dB"], rows,
        notes=[f"4-step samplers: medians of {repeats} calls after 1 warm-up call; RePaint: "
               f"median of {args.repaint_repeats} call(s) after a one-evaluation warm-up",
               f"RePaint: jump length {args.jump_length}, {args.resamplings} resamplings; fine "
               f"schedule T={fine.steps}, kappa={fine.kappa:g}, eta_1={float(fine.etas[1]):.4f}, "
               f"eta_T={float(fine.etas[-1]):.4f} (the coarse one's end points)",
               "PSNR: mean ± standard error over the images; hole-PSNR over the hole pixels only",
               f"sampling seed {args.seed} for every sampler"])
    if paper is not None:
        rows = [["one network evaluation (measured)", 1, paper["seconds_per_nfe_per_image"], None]]
        for label, r in runs.items():
            est = paper["estimated_seconds_per_image"][label]
            rows.append([f"{label} (estimated)", r["nfe_per_image"], est, est / (
                paper["estimated_seconds_per_image"]["EMMD 4 steps"])])
        common.print_table(
            "paper preset (random weights), 64x64: estimated from the time per NFE",
            ["", "NFE / image", "s / image", "time / EMMD"], rows,
            notes=[f"time per NFE: median forward pass on {n} images of 64x64 divided by {n}; "
                   "estimated = NFE x that (the samplers' own arithmetic is not included)"])

    common.write_json(args.out or common.default_out(__file__, args.quick), {
        "benchmark": "bench_baselines", "quick": args.quick, "environment": env,
        "settings": {"n": n, "size": size, "repeats": repeats, "repaint_steps": fine_steps,
                     "jump_length": args.jump_length, "resamplings": args.resamplings,
                     "repaint_repeats": args.repaint_repeats, "seed": args.seed,
                     "checkpoints": {"emmd": emmd_info.get("sha256"),
                                     "resshift": rs_info.get("sha256")},
                     "fine_schedule": {"steps": fine.steps, "kappa": fine.kappa,
                                       "eta_1": float(fine.etas[1]), "eta_T": float(fine.etas[-1])}},
        "samplers": results,
        "ratios": {"repaint_over_emmd_time": results[label_rp]["time_ratio_to_emmd"],
                   "resshift_over_emmd_time": results["ResShift 4 steps"]["time_ratio_to_emmd"],
                   "repaint_over_emmd_nfe": runs[label_rp]["nfe_per_image"] / runs["EMMD 4 steps"][
                       "nfe_per_image"]},
        "paper_estimate": paper,
    })
    if not all(math.isfinite(v) for r in results.values() for v in r["psnr_per_image"]):
        common.progress("note: some PSNR values are not finite")


if __name__ == "__main__":
    main()
