"""Precomputed batches: what reading each step's E(x0), E(y) saves a latent-mode training step.

The recipe of the shipped models (``tiny_latent``: 64-px faces, the harmonic fill, the shipped
tiny autoencoder, batch 8) on one Trainer per variant, fed the same steps:

* ``computed``: ``Trainer.train_step`` as usual (rendering the faces, the fill and the encoder
  inside the step);
* ``read``: the same steps read from a folder that ``precompute_batches`` wrote (bit-identical
  training, ``tests/test_batch_cache.py``);
* ``precompute``: what ``precompute_batches`` does per step (``Trainer.batch`` + ``encode_pair``),
  paid once for every run that shares the data stream.

Medians of the steps, the two trainers in turn. The table then works out the cost of training
``--runs`` models of ``--recipe-steps`` steps each on ``--cores`` cores (one thread per run):
``runs * steps * step / cores`` computed against ``steps * precompute / cores + runs * steps * read / cores``.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_batch_cache.py [--quick]
"""

from __future__ import annotations

import itertools
import tempfile

import common

from mrs.training import TrainConfig, Trainer, precompute_batches


def add_args(p):
    p.add_argument("--steps", type=int, help="timed steps (default 60; --quick: 3)")
    p.add_argument("--process", default="emmd", help="process of the two trainers (default: emmd)")
    p.add_argument("--recipe-steps", type=int, default=24_000, help="steps per run in the estimate")
    p.add_argument("--runs", type=int, default=6, help="runs sharing the batches in the estimate")
    p.add_argument("--cores", type=int, default=2, help="runs at a time in the estimate")


def measure(args) -> dict:
    n = args.steps or (3 if args.quick else 60)
    warm = 1 if args.quick else 5
    extra = dict(train_pool=64, val_size=2) if args.quick else {}
    cfg = TrainConfig.preset("tiny_latent", process=args.process, latent_mask="max", lpips_weight=0.0,
                             steps=n + warm + 1, **extra)
    with tempfile.TemporaryDirectory(prefix="mrs_bench_cache_") as tmp:
        common.progress(f"precompute {n + warm} steps (timed per step)")
        tr = Trainer(cfg, f"{tmp}/pre", device=args.device, progress=False, lpips_model=None)
        pre = []
        for step in range(n + warm):
            start = common.clock()
            b = tr.batch(step)
            tr.encode_pair(b.x0.to(tr.device), b.y.to(tr.device))
            pre.append(common.clock() - start)
        precompute_batches(cfg, f"{tmp}/batches", stop=n + warm, chunk=n + warm, device=args.device,
                           progress=False)
        trainers = {"computed": Trainer(cfg, f"{tmp}/a", device=args.device, progress=False,
                                        lpips_model=None),
                    "read": Trainer(cfg, f"{tmp}/b", device=args.device, progress=False,
                                    lpips_model=None, batches=f"{tmp}/batches")}
        counters = {k: itertools.count() for k in trainers}

        def step_of(name):
            return lambda: trainers[name].train_step(next(counters[name]))

        common.progress(f"{warm} warm-up + {n} timed steps of each trainer, in turn")
        times = common.interleaved({k: step_of(k) for k in trainers}, n, warm)
    return {"settings": {"preset": "tiny_latent", "process": args.process, "batch": cfg.batch_size,
                         "timed_steps": n, "recipe_steps": args.recipe_steps, "runs": args.runs,
                         "cores": args.cores},
            "precompute": common.summary(pre[warm:]),
            "train_step": {k: common.summary(v) for k, v in times.items()}}


def report(d: dict) -> None:
    s, ts = d["settings"], d["train_step"]
    plain, read, pre = (ts["computed"]["median_s"], ts["read"]["median_s"], d["precompute"]["median_s"])
    common.print_table(
        f"one training step of tiny_latent ({s['process']}, batch {s['batch']}, 64x64 -> 16x16x3)",
        ["variant", "ms / step", "steps / hour", "vs computed"],
        [["computed (faces, fill, encoder in the step)", 1e3 * plain, 3600 / plain, 1.0],
         ["read (precomputed batches)", 1e3 * read, 3600 / read, plain / read],
         ["precompute (once per step, for all runs)", 1e3 * pre, 3600 / pre, None]],
        notes=[f"medians of {s['timed_steps']} steps, the two trainers in turn"])
    n, runs, cores = s["recipe_steps"], s["runs"], s["cores"]
    before = runs * n * plain / cores / 60
    after_pre, after_train = n * pre / cores / 60, runs * n * read / cores / 60
    common.print_table(
        f"estimate: {runs} runs of {n} steps on {cores} cores, one thread per run",
        ["plan", "precompute min", "training min", "total min"],
        [["every run computes its batches", 0.0, before, before],
         ["precompute once, every run reads", after_pre, after_train, after_pre + after_train]],
        notes=["the medians above times the steps; validation and checkpoints not counted, and runs "
               "side by side on one machine are each slower than one alone"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report)
