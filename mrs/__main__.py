"""Command line: ``python -m mrs train ...`` (``python -m mrs train --help`` lists every option)."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def _train_parser(sub):
    from .train import TrainConfig

    p = sub.add_parser(
        "train", help="train a Swin-UNet denoiser for one process",
        description="Train a denoiser. Writes ckpt_*.safetensors + ckpt_*.json (atomic), "
        "metrics.csv and config.json into --out. Under torchrun it trains data-parallel.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--process", default="emmd_smooth",
                   choices=["resshift", "mvd", "emmd", "emmd_smooth"], help="forward process")
    p.add_argument("--preset", default="tiny", choices=["tiny", "paper"],
                   help="training preset (network, resolution, optimiser settings)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, metrics.csv)")
    p.add_argument("--steps", type=int, default=None, help="total optimisation steps (preset's if unset)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest checkpoint up to --steps in total")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    help_of = {f.name: (f.metadata.get("help") or "") for f in dataclasses.fields(TrainConfig)}
    skip = {"process", "steps"}
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, default=None, action=argparse.BooleanOptionalAction,
                           help=f"TrainConfig.{f.name} {help_of[f.name]}(preset default if unset)")
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(f.type), str)
            p.add_argument(flag, type=kind, default=None,
                           help=f"TrainConfig.{f.name} (preset default if unset)")
    return p


def _run_train(args) -> int:
    from .train import TrainConfig, Trainer

    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"process", "steps"}
    overrides = {k: getattr(args, k) for k in fields if getattr(args, k, None) is not None}
    if args.resume:
        trainer = Trainer.resume(args.out, steps=args.steps, device=args.device,
                                 progress=not args.no_progress)
    else:
        extra = {"steps": args.steps} if args.steps else {}
        cfg = TrainConfig.preset(args.preset, process=args.process, **extra, **overrides)
        trainer = Trainer(cfg, args.out, device=args.device, progress=not args.no_progress)
    last = trainer.run()
    if trainer.rank == 0:
        print(f"trained {trainer.cfg.process} to step {trainer.step}; checkpoint: {last}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mrs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _run_train(args)
    except ValueError as err:  # bad options, corrupt checkpoints: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
