"""The training commands of ``python -m mrs``: ``train``, ``precompute`` (batches shared by runs)
and ``train-autoencoder`` (``mrs.ui.cli`` is the entry point)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def train_parser(sub):
    from ..core import process_names
    from ..training import PRESETS
    from ..training.precision import PRECISIONS

    p = sub.add_parser(
        "train", help="train a denoiser for one process",
        description="Train a denoiser. Writes ckpt_*.safetensors + ckpt_*.json (atomic), "
        "metrics.csv, config.json and train.log into --out (and split.json when --data names real "
        "images: a folder, a Hugging Face dataset id, a save_to_disk folder, celeba_hq_256 or ffhq_256). "
        "Under torchrun it trains data-parallel. Options left unset take the preset's value.")
    p.add_argument("--process", default="emmd_smooth", choices=list(process_names()),
                   help="forward process, any registered one (default: %(default)s)")
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS),
                   help="training preset: network, resolution, optimiser settings (default: %(default)s)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest checkpoint up to --steps in total "
                   "(--precision, --ckpt-minutes, --sample-every, --val-every, --ckpt-every may change)")
    p.add_argument("--precision", default=None, choices=list(PRECISIONS),
                   help="auto: bf16 on GPUs of compute capability >= 8.0, fp16 with a gradient scaler "
                   "below, fp32 on CPU (preset default if unset: auto)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--batches", default=None,
                   help="a folder of precomputed batches (python -m mrs precompute) to read the latents "
                   "of x0 and y from: the same training, about twice as fast on a CPU")
    _config_options(p)
    return p


def _config_options(p) -> None:
    """The TrainConfig, schedule and process options of ``train`` and ``precompute``."""
    from ..core import ScheduleSpec, option_defaults, process_names
    from ..training import TrainConfig

    for f in dataclasses.fields(TrainConfig):
        if f.name in ("process", "schedule", "precision"):
            continue
        _add_option(p, f.name, f.type, f.metadata["help"])
    for f in dataclasses.fields(ScheduleSpec):
        _add_option(p, f.name, f.type, f"schedule: {_SCHEDULE_HELP[f.name]}")
    options, kinds = {}, {}
    for name in process_names():
        for k, v in option_defaults(name).items():
            options.setdefault(k, []).append(f"{name} {v!r}")
            kinds[k] = type(v).__name__
    for k, where in sorted(options.items()):
        _add_option(p, k, kinds[k], f"process option (default: {', '.join(where)})")


_SCHEDULE_HELP = {"T": "number of diffusion steps T", "kappa": "noise scale kappa",
                  "min_noise_level": "sqrt(eta_1) = min(min_noise_level / kappa, min_noise_level)",
                  "etas_end": "sqrt(eta_T)", "power": "warping of the step positions"}


def _add_option(p, name: str, kind, help: str) -> None:
    flag = "--" + name.replace("_", "-")
    if kind in ("bool", bool):
        p.add_argument(flag, dest=name, default=None, action=argparse.BooleanOptionalAction,
                       help=f"{help} (preset default if unset)")
    else:
        conv = {"int": int, "float": float, "str": str}.get(str(kind), str)
        p.add_argument(flag, dest=name, type=conv, default=None, help=f"{help} (preset default if unset)")


def _overrides(args) -> dict:
    """The config options given on the command line."""
    from ..core import ScheduleSpec, option_defaults
    from ..training import TrainConfig

    names = ({f.name for f in dataclasses.fields(TrainConfig)} - {"process", "schedule"}
             | {f.name for f in dataclasses.fields(ScheduleSpec)} | set(option_defaults(args.process)))
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def run_train(args) -> int:
    from ..training import TrainConfig, Trainer

    overrides = _overrides(args)
    kw = dict(device=args.device, progress=not args.no_progress, batches=args.batches)
    if args.resume:  # other options must agree with the saved run (Trainer.resume checks)
        trainer = Trainer.resume(args.out, steps=overrides.pop("steps", None), changes=overrides, **kw)
    else:
        cfg = TrainConfig.preset(args.preset, process=args.process, **overrides)
        trainer = Trainer(cfg, args.out, **kw)
    if trainer.rank == 0:
        print(f"{'resuming at' if trainer.step else 'training from'} step {trainer.step} of "
              f"{trainer.cfg.steps} on {trainer.device}, precision {trainer.precision}; "
              f"data {trainer.data_summary()}; log: {Path(args.out) / 'train.log'}", flush=True)
    last = trainer.run()
    if trainer.rank == 0:
        print(f"trained {trainer.cfg.process.name} to step {trainer.step}; checkpoint: {last}")
    return 0


def precompute_parser(sub):
    from ..training import PRESETS

    p = sub.add_parser(
        "precompute", help="compute the latents of training batches once, for several runs",
        description="Compute E(x0) and E(y) of the training batches of steps --start .. --stop - 1 into "
        "--out (latent mode), for `train --batches`: runs of one seed, data, masks, fill and "
        "autoencoder draw the same batches, whatever their process. Shards already there are kept; "
        "two calls on disjoint step ranges can run side by side.")
    p.add_argument("--preset", default="tiny_latent", choices=sorted(PRESETS),
                   help="training preset (default: %(default)s); options left unset take its value")
    p.add_argument("--process", default="emmd", help=argparse.SUPPRESS)
    p.add_argument("--out", required=True, help="folder of the batches")
    p.add_argument("--start", type=int, default=0, help="first step (a multiple of --chunk; default 0)")
    p.add_argument("--stop", type=int, default=None, help="step after the last (default: the config's steps)")
    p.add_argument("--chunk", type=int, default=500, help="steps per shard file (default: %(default)s)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _config_options(p)


def run_precompute(args) -> int:
    from ..training import TrainConfig, precompute_batches

    cfg = TrainConfig.preset(args.preset, process=args.process, **_overrides(args))
    res = precompute_batches(cfg, args.out, start=args.start, stop=args.stop, chunk=args.chunk,
                             device=args.device, progress=not args.no_progress)
    print(f"batches of steps {args.start}-{args.stop or cfg.steps}: {res['written']} shards written, "
          f"{res['kept']} already there, in {res['folder']}")
    return 0


def ae_parser(sub):
    from ..training.autoencoder import AutoencoderTrainConfig

    p = sub.add_parser(
        "train-autoencoder", help="train the tiny VQ-f4 autoencoder of latent mode on synthetic faces",
        description="Train the tiny VQ-f4 autoencoder (64-px synthetic faces -> 16x16x3 latents) and "
        "write OUT.safetensors + OUT.json; the validation PSNR is printed and stored in the JSON. "
        "The shipped one is data/checkpoints/autoencoder_tiny_vq_f4.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="checkpoint path without suffix (OUT.json, OUT.safetensors)")
    for f in dataclasses.fields(AutoencoderTrainConfig):
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=type(f.default), default=f.default,
                       help=f"AutoencoderTrainConfig.{f.name}")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_ae(args) -> int:
    from ..training.autoencoder import AutoencoderTrainConfig, train_autoencoder

    cfg = AutoencoderTrainConfig(**{f.name: getattr(args, f.name)
                                    for f in dataclasses.fields(AutoencoderTrainConfig)})
    res = train_autoencoder(cfg, args.out, progress=not args.no_progress, log=print)
    print(f"autoencoder: validation PSNR {res['val_psnr']:.2f} dB after {cfg.steps} steps "
          f"({res['seconds']:.0f} s); wrote {args.out}.json")
    return 0
