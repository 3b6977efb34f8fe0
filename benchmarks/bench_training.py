"""Training speed: ms/step, steps/s and steps/hour of mrs.training.Trainer, and where a step goes.

``Trainer(TrainConfig.preset(name, lpips_weight=0.0), ..., lpips_model=None)`` for ``tiny`` (32x32,
batch 8) and ``paper`` (64x64, batch 4; a step takes seconds on CPU):

* ``train_step``, all a step does (synthetic faces and masks, forward process, forward, loss,
  backward, clipping, AdamW, EMA): median ms/step after warm-up steps, steps/s, steps/hour (3600 /
  median) and, for ``tiny``, the target of 30,000 steps/hour;
* AdamW side by side on the same Trainer (``opt`` swapped, one step of each in turn): ``fused``
  (the Trainer's choice where it exists), ``foreach`` and torch's default (the table says what it
  resolves to: the for-loop on CPU, foreach on CUDA);
* a ``tiny`` step phase by phase, timing the Trainer's own phases: ``batch``, ``noisy``, ``loss``
  (forward + loss), ``update`` (backward, clipping, AdamW), ``update_ema``; their sum against the
  whole step;
* peak memory of a new Trainer's first 3 steps (AdamW's moments appear in the first) in a fresh
  process, and what they added to the RSS after the build (``common.peak_of``).

Run:  .venv/bin/python benchmarks/bench_training.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import itertools
import tempfile

import common
import torch

from mrs.training import TrainConfig, Trainer

TARGET = {"tiny": 30_000}                                           # steps per hour
STEPS = {"tiny": ((5, 40), (1, 3)), "paper": ((1, 4), (1, 1))}      # (warm-up, timed): full, --quick
OPTIMIZERS = {"fused": {"fused": True}, "foreach": {"foreach": True}, "default": {}}
PHASES = ("data (batch)", "forward process (noisy)", "forward + loss (loss)",
          "backward + clip + AdamW (update)", "EMA (update_ema)")


def add_args(p):
    p.add_argument("--presets", type=common.listof(str, STEPS), default="tiny,paper")
    p.add_argument("--optimizers", type=common.listof(str, OPTIMIZERS), default="fused,foreach,default")
    p.add_argument("--steps", type=int, help="timed steps per optimizer (default: tiny 40, paper 4; "
                                             "--quick: 3, 1)")
    p.add_argument("--warmup", type=int, help="untimed steps per optimizer (default: tiny 5, paper 1)")
    p.add_argument("--breakdown-repeats", type=int, help="tiny phase breakdowns per optimizer "
                                                         "(default 20; --quick: 3)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")


def trainer(preset: str, out_dir, device) -> Trainer:
    # "paper" is timed as the pixel recipe (paper_pixel, 64x64): the latent paper preset needs
    # ResShift's autoencoder weights, which this offline benchmark does not download
    name = {"paper": "paper_pixel"}.get(preset, preset)
    return Trainer(TrainConfig.preset(name, lpips_weight=0.0), out_dir, device=device,
                   progress=False, lpips_model=None)


def phase_times(tr: Trainer, step: int) -> dict:
    """One step through the Trainer's phases (what ``train_step`` composes), each timed (s)."""
    laps = [common.clock()]

    def lap(value):
        laps.append(common.clock())
        return value

    batch = lap(tr.batch(step))
    noisy = lap(tr.noisy(batch))
    loss, _ = lap(tr.loss(*noisy))
    lap(tr.update(loss, step))
    lap(tr.update_ema())
    return {ph: b - a for ph, a, b in zip(PHASES, laps, laps[1:])}


def time_preset(preset: str, out_dir, args, n_break: int) -> tuple:
    """Whole steps per optimizer (interleaved) and, for tiny, the phase breakdown."""
    warmup, timed = STEPS[preset][1 if args.quick else 0]
    warmup, timed = warmup if args.warmup is None else args.warmup, args.steps or timed
    tr = trainer(preset, out_dir, args.device)
    tr.net.train()
    cfg, opts, steps = tr.cfg, {}, itertools.count()
    for name in args.optimizers:
        try:
            opts[name] = torch.optim.AdamW(tr.net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                           weight_decay=cfg.weight_decay, **OPTIMIZERS[name])
        except (RuntimeError, ValueError, TypeError) as err:
            common.progress(f"AdamW {name} not available here: {err}")

    def step_with(opt):
        def run():
            tr.opt = opt
            tr.train_step(next(steps))
        return run

    common.progress(f"{preset}: {warmup} warm-up + {timed} timed steps for each of {list(opts)}")
    times = common.interleaved({n: step_with(o) for n, o in opts.items()}, timed, warmup)
    default = "foreach" if args.device.type == "cuda" else "for-loop"   # what torch's AdamW() picks
    result = {"image_size": cfg.image_size, "batch": cfg.batch_size, "default_resolves_to": default,
              "optimizers": {}}
    for name, ts in times.items():
        med, target = common.median(ts), TARGET.get(preset)
        result["optimizers"][name] = {
            "step": common.summary(ts), "ms_per_step": 1e3 * med, "steps_per_s": 1 / med,
            "steps_per_hour": 3600 / med, "target_steps_per_hour": target,
            "meets_target": None if target is None else 3600 / med >= target}
    runs = {name: [] for name in opts}
    if preset == "tiny":
        common.progress(f"tiny: phase breakdown, 1 warm-up + {n_break} steps per optimizer")
    for r in range(n_break + 1 if preset == "tiny" else 0):       # r = 0: warm-up
        for name, opt in opts.items():
            tr.opt = opt
            laps = phase_times(tr, next(steps))
            if r:
                runs[name].append(laps)
    return result, {n: {ph: common.summary([laps[ph] for laps in ls]) for ph in PHASES}
                    for n, ls in runs.items() if ls}


def memory_child(cfg: dict) -> dict:
    device = torch.device(cfg["device"])
    with tempfile.TemporaryDirectory(prefix="mrs_bench_training_") as tmp:
        tr = trainer(cfg["preset"], tmp, device)
        return common.peak_of(lambda: [tr.train_step(s) for s in range(3)], device)


def measure(args) -> dict:
    results, breakdown = {}, {}
    n_break = args.breakdown_repeats or (3 if args.quick else 20)
    with tempfile.TemporaryDirectory(prefix="mrs_bench_training_") as tmp:
        for preset in args.presets:
            results[preset], bd = time_preset(preset, f"{tmp}/{preset}", args, n_break)
            breakdown = bd or breakdown
    for preset in [] if args.no_memory else args.presets:
        common.progress(f"{preset}: peak memory of the first 3 steps (fresh process)")
        results[preset]["memory"] = common.memory_in_subprocess(
            __file__, {"preset": preset, "device": str(args.device)})
    return {"settings": {"presets": args.presets, "optimizers": args.optimizers,
                         "breakdown_repeats": n_break, "lpips_weight": 0.0},
            "presets": results, "tiny_breakdown": breakdown, "target_steps_per_hour": TARGET}


def report(d: dict) -> None:
    res, bd = d["presets"], d["tiny_breakdown"]
    label = {p: {n: f"default ({r['default_resolves_to']})" if n == "default" else n
                 for n in r["optimizers"]} for p, r in res.items()}
    common.print_table(
        "Trainer.train_step (lpips_weight=0), AdamW variants on the same net",
        ["preset", "size", "batch", "AdamW", "ms / step", "steps / s", "steps / hour", "target / hour",
         "met?"],
        [[p, f"{r['image_size']}x{r['image_size']}", r["batch"], label[p][n], o["ms_per_step"],
          o["steps_per_s"], o["steps_per_hour"], o["target_steps_per_hour"], o["meets_target"]]
         for p, r in res.items() for n, o in r["optimizers"].items()],
        notes=["medians of the timed steps after warm-up steps, the optimizers in turn on the same net"])
    if any("memory" in r for r in res.values()):
        common.print_table(
            "peak memory of training (first 3 steps of a new Trainer, fresh process)",
            ["preset", "peak MiB", "added by the steps MiB", "source"],
            [[p, m.get("peak_mib"), m.get("added_mib"), m.get("source", m.get("error"))]
             for p, m in ((p, r["memory"]) for p, r in res.items() if "memory" in r)],
            notes=["added = peak - RSS after imports and the build: activations, gradients, AdamW's moments"])
    if bd:
        names = list(bd)
        rows = [[ph] + [1e3 * bd[n][ph]["median_s"] for n in names] for ph in bd[names[0]]]
        rows += [["sum of phases"] + [sum(row[i + 1] for row in rows) for i in range(len(names))],
                 ["whole train_step (above)"] + [res["tiny"]["optimizers"][n]["ms_per_step"] for n in names]]
        common.print_table(
            "one tiny step (32x32, batch 8), phase by phase (Trainer methods)",
            ["phase"] + [f"{label['tiny'][n]} ms" for n in names], rows,
            notes=[f"medians of {d['settings']['breakdown_repeats']} steps per optimizer after a "
                   "warm-up step, the optimizers in turn"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report, memory_child)
