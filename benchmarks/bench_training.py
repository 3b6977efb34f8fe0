"""Training speed: steps/s, ms/step and steps/hour of ``mrs.train.Trainer``, and where a step goes.

What is measured:

* ``trainer.train_step(step)`` of ``Trainer(TrainConfig.preset(name, lpips_weight=0.0), tmpdir,
  progress=False, lpips_model=None)`` for the presets ``tiny`` (32x32, batch 8) and ``paper``
  (64x64, batch 4; only a few steps: one takes seconds on CPU): median ms/step after warm-up
  steps, steps/s and steps/hour (3600 / median). Every step includes everything ``train_step``
  does: drawing the batch (synthetic faces rendered on the fly, masks), the forward process, the
  forward and backward pass, gradient clipping, the AdamW step and the EMA update;
* AdamW implementations side by side on the same net (the same ``Trainer``; its ``opt`` is
  swapped, one step of each in turn inside every repeat): ``fused=True`` (what the Trainer picks
  where it exists), ``foreach=True``, and torch's default (which resolves to the single-tensor
  for-loop on CPU and to ``foreach`` on CUDA; the table says which);
* a breakdown of one ``tiny`` step, phase by phase with the same code as ``train_step``: data
  (``trainer.batch(step)``), the forward process (t, noise, ``q_sample``), forward, loss +
  backward, gradient clipping, optimizer step, EMA update (medians per phase, and their sum
  against the median of the whole step);
* steps/hour of ``tiny`` against the target of 30,000 steps/hour, and whether it is met;
* peak memory of training: on CPU the peak RSS of a fresh process running the first 3 steps of
  a new Trainer (AdamW's moments are allocated in the first step), and what those steps added to
  the RSS after the Trainer was built; on CUDA ``torch.cuda.max_memory_allocated``.

Run:  .venv/bin/python benchmarks/bench_training.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import common
import torch

from mrs.nets import noise_map
from mrs.train import TrainConfig, Trainer, lr_at

SIZES = {"tiny": (32, 8), "paper": (64, 4)}  # preset -> (image size, batch)
TARGET_STEPS_PER_HOUR = {"tiny": 30_000}
# preset -> (warm-up steps, timed steps per optimizer): full run, --quick
STEPS = {"tiny": ((5, 40), (1, 3)), "paper": ((1, 4), (1, 1))}


def default_optimizer_kind(params, device) -> str:
    """What ``torch.optim.AdamW(params)`` with no fused/foreach argument runs on ``device``."""
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach

        fused, foreach = _default_to_fused_or_foreach(list(params), differentiable=False,
                                                      use_fused=False)
        return "fused" if fused else ("foreach" if foreach else "for-loop")
    except (ImportError, TypeError):
        return "foreach" if torch.device(device).type == "cuda" else "for-loop"


def make_optimizers(trainer: Trainer, names) -> dict:
    cfg, params = trainer.cfg, list(trainer.net.parameters())
    common_kw = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    out = {}
    for name in names:
        try:
            if name == "fused":
                out[name] = torch.optim.AdamW(params, fused=True, **common_kw)
            elif name == "foreach":
                out[name] = torch.optim.AdamW(params, foreach=True, **common_kw)
            elif name == "default":
                out[name] = torch.optim.AdamW(params, **common_kw)
            else:
                raise ValueError(f"unknown optimizer {name!r}")
        except (RuntimeError, ValueError, TypeError) as err:
            common.progress(f"AdamW {name} not available here: {err}")
    return out


def time_steps(trainer: Trainer, opts: dict, warmup: int, repeats: int, device) -> dict:
    """name -> durations (s) of ``trainer.train_step``, the optimizers taking turns."""
    step = [trainer.step]

    def runner(opt):
        def run():
            trainer.opt = opt
            trainer.train_step(step[0])
            step[0] += 1
        return run

    return common.time_interleaved({k: runner(o) for k, o in opts.items()}, repeats, warmup, device)


def step_phases(trainer: Trainer, step: int, device) -> dict:
    """One training step split into phases, timed (s); the same operations as ``train_step``."""
    cfg, dev = trainer.cfg, trainer.device
    clock = {}

    def mark(name, start):
        common.sync(device)
        now = time.perf_counter()
        clock[name] = now - start
        return now

    t0 = time.perf_counter()
    x0, mask, y, g = trainer.batch(step)
    t0 = mark("data (batch)", t0)
    t = torch.randint(1, cfg.diffusion_steps + 1, (cfg.batch_size,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    x0, mask, y, t, noise = (z.to(dev) for z in (x0, mask, y, t, noise))
    x_t = trainer.proc.q_sample(x0, y, mask, t, noise=noise)
    for group in trainer.opt.param_groups:
        group["lr"] = lr_at(cfg, step)
    t0 = mark("forward process", t0)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.amp and dev.type == "cuda")
    with autocast:
        extra = {"noise_map": noise_map(trainer.proc, mask, t)} if cfg.use_noise_map else {}
        pred = trainer.model(x_t, t, y, mask, **extra)
    t0 = mark("forward", t0)
    loss, _ = trainer.loss_fn(pred.float(), x0)
    trainer.opt.zero_grad(set_to_none=True)
    loss.backward()
    t0 = mark("loss + backward", t0)
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(trainer.net.parameters(), cfg.grad_clip)
    t0 = mark("grad clip", t0)
    trainer.opt.step()
    t0 = mark("optimizer step", t0)
    with torch.no_grad():
        torch._foreach_lerp_(list(trainer.ema.parameters()), list(trainer.net.parameters()),
                             1 - cfg.ema_decay)
        for be, b in zip(trainer.ema.buffers(), trainer.net.buffers()):
            be.copy_(b)
    mark("EMA update", t0)
    return clock


def memory_child(cfg: dict) -> dict:
    """In a fresh process: build the Trainer, then measure the peak over its first 3 steps."""
    device = torch.device(cfg["device"])
    with tempfile.TemporaryDirectory(prefix="mrs_bench_training_mem_") as tmp:
        trainer = Trainer(TrainConfig.preset(cfg["preset"], lpips_weight=0.0), tmp, device=device,
                          progress=False, lpips_model=None)

        def run():
            for step in range(3):
                trainer.train_step(step)
            common.sync(device)

        if device.type == "cuda":
            return common.cuda_peak_of(run, device)
        return common.cpu_peak_of(run)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(p)
    p.add_argument("--presets", default="tiny,paper", help="comma-separated presets (tiny,paper)")
    p.add_argument("--optimizers", default="fused,foreach,default",
                   help="AdamW variants to compare: fused, foreach, default (comma-separated)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per optimizer and preset (default: tiny 40, paper 4; "
                        "--quick: tiny 3, paper 1)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps per optimizer first (default: tiny 5, paper 1; --quick: 1)")
    p.add_argument("--breakdown-repeats", type=int, default=None,
                   help="timed phase breakdowns of a tiny step per optimizer (default 20; --quick: 3)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    args = common.parse_args_or_child(p, memory_child)
    if args is None:
        return
    device = common.resolve_device(args.device)
    presets = common.parse_presets(p, args.presets, SIZES)
    opt_names = [s for s in args.optimizers.split(",") if s]
    n_break = args.breakdown_repeats or (3 if args.quick else 20)
    env = common.environment(device)
    common.progress(common.environment_line(env))

    results, breakdown = {}, {}
    with tempfile.TemporaryDirectory(prefix="mrs_bench_training_") as tmp:
        for preset in presets:
            warmup, timed = STEPS[preset][1 if args.quick else 0]
            warmup = args.warmup if args.warmup is not None else warmup
            timed = args.steps or timed
            common.progress(f"{preset}: building the Trainer")
            cfg = TrainConfig.preset(preset, lpips_weight=0.0)
            trainer = Trainer(cfg, f"{tmp}/{preset}", device=device, progress=False,
                              lpips_model=None)
            trainer.net.train()
            opts = make_optimizers(trainer, opt_names)
            default_kind = default_optimizer_kind(trainer.net.parameters(), device)
            common.progress(f"{preset} {cfg.image_size}x{cfg.image_size} batch {cfg.batch_size}: "
                            f"{warmup} warm-up + {timed} timed steps for each of {list(opts)}")
            times = time_steps(trainer, opts, warmup, timed, device)
            results[preset] = {"image_size": cfg.image_size, "batch": cfg.batch_size,
                               "default_resolves_to": default_kind, "optimizers": {}}
            for name, ts in times.items():
                med = common.median(ts)
                target = TARGET_STEPS_PER_HOUR.get(preset)
                results[preset]["optimizers"][name] = {
                    "step": common.summary(ts), "ms_per_step": 1e3 * med, "steps_per_s": 1 / med,
                    "steps_per_hour": 3600 / med, "target_steps_per_hour": target,
                    "meets_target": None if target is None else 3600 / med >= target}
            if preset == "tiny":
                common.progress(f"tiny: phase breakdown, {n_break} steps per optimizer")
                step = trainer.step + 10_000
                phases = {name: [] for name in opts}
                for opt in opts.values():  # one warm-up each, then alternate
                    trainer.opt = opt
                    step_phases(trainer, step, device)
                    step += 1
                for _ in range(n_break):
                    for name, opt in opts.items():
                        trainer.opt = opt
                        phases[name].append(step_phases(trainer, step, device))
                        step += 1
                for name, runs in phases.items():
                    keys = list(runs[0])
                    breakdown[name] = {k: common.summary([r[k] for r in runs]) for k in keys}
            del trainer, opts

    memory = {}
    if not args.no_memory:
        for preset in presets:
            common.progress(f"{preset}: peak memory of the first 3 training steps (fresh process)")
            memory[preset] = common.memory_in_subprocess(
                __file__, dict(preset=preset, device=str(device)))
            if preset in results:
                results[preset]["memory"] = memory[preset]

    # -- report ---------------------------------------------------------------------------------
    print(f"\n## bench_training{' (--quick: not for reporting)' if args.quick else ''}\n")
    print(common.environment_line(env))
    rows = []
    for preset, r in results.items():
        for name, o in r["optimizers"].items():
            label = f"default ({r['default_resolves_to']})" if name == "default" else name
            rows.append([preset, f"{r['image_size']}x{r['image_size']}", r["batch"], label,
                         o["ms_per_step"], o["steps_per_s"], o["steps_per_hour"],
                         o["target_steps_per_hour"], o["meets_target"]])
    common.print_table(
        "Trainer.train_step (lpips_weight=0), AdamW variants on the same net",
        ["preset", "size", "batch", "AdamW", "ms / step", "steps / s", "steps / hour",
         "target / hour", "met?"], rows,
        notes=["medians over the timed steps after warm-up steps; the optimizers take turns, one "
               "step each, on the same net",
               "steps / hour = 3600 / median step time; target 30,000 steps/hour for tiny "
               "(none set for paper)"])
    if memory:
        common.print_table(
            "peak memory of training (first 3 steps of a new Trainer)",
            ["preset", "peak MiB", "added by the steps MiB", "source"],
            [[k, m.get("peak_mib"), m.get("added_mib"), m.get("source", m.get("kind", m.get("error")))]
             for k, m in memory.items()],
            notes=["CPU: peak RSS (VmHWM) of a fresh process; 'added' = peak minus the RSS after "
                   "imports and the Trainer's build (weights, EMA copy, validation split); the "
                   "steps add activations, gradients and AdamW's two moments per parameter"])
    if breakdown:
        names = list(breakdown)
        phases = list(breakdown[names[0]])
        rows = [[ph] + [1e3 * breakdown[n][ph]["median_s"] for n in names] for ph in phases]
        rows.append(["sum of phases"] + [1e3 * sum(breakdown[n][ph]["median_s"] for ph in phases)
                                         for n in names])
        rows.append(["whole train_step (above)"]
                    + [results["tiny"]["optimizers"][n]["ms_per_step"] for n in names])
        labels = [f"{n} (ms)" if n != "default" else
                  f"default = {results['tiny']['default_resolves_to']} (ms)" for n in names]
        common.print_table(
            "one tiny step (32x32, batch 8), phase by phase", ["phase"] + labels, rows,
            notes=[f"medians of {n_break} steps per optimizer, phases timed with the same code as "
                   "Trainer.train_step (re-implemented here: train_step is one piece)",
                   "forward process: t, noise and q_sample; optimizer step: AdamW only "
                   "(zero_grad is in loss + backward)"])

    common.write_json(args.out or common.default_out(__file__, args.quick), {
        "benchmark": "bench_training", "quick": args.quick, "environment": env,
        "settings": {"presets": presets, "optimizers": opt_names,
                     "breakdown_repeats": n_break, "lpips_weight": 0.0},
        "presets": results, "tiny_breakdown": breakdown,
        "target_steps_per_hour": TARGET_STEPS_PER_HOUR,
    })


if __name__ == "__main__":
    main()
