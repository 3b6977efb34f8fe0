"""The command line of ``mrs`` (``python -m mrs COMMAND --help`` lists every option).

    python -m mrs train --process emmd_smooth --out runs/emmd_smooth
    python -m mrs evaluate --checkpoint all --data synthetic --out out/eval
    python -m mrs inpaint face.png mask.png --process emmd_smooth -o out.png
    python -m mrs demo --out out/demo
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


def _train_parser(sub):
    from ..core import ScheduleSpec, option_defaults, process_names
    from ..training import PRESETS, TrainConfig
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
    return p


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


def _run_train(args) -> int:
    from ..core import ScheduleSpec, option_defaults
    from ..training import TrainConfig, Trainer

    names = ({f.name for f in dataclasses.fields(TrainConfig)} - {"process", "schedule"}
             | {f.name for f in dataclasses.fields(ScheduleSpec)} | set(option_defaults(args.process)))
    overrides = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    if args.resume:  # other options must agree with the saved run (Trainer.resume checks)
        trainer = Trainer.resume(args.out, steps=overrides.pop("steps", None), changes=overrides,
                                 device=args.device, progress=not args.no_progress)
    else:
        cfg = TrainConfig.preset(args.preset, process=args.process, **overrides)
        trainer = Trainer(cfg, args.out, device=args.device, progress=not args.no_progress)
    if trainer.rank == 0:
        print(f"{'resuming at' if trainer.step else 'training from'} step {trainer.step} of "
              f"{trainer.cfg.steps} on {trainer.device}, precision {trainer.precision}; "
              f"data {trainer.data_summary()}; log: {Path(args.out) / 'train.log'}", flush=True)
    last = trainer.run()
    if trainer.rank == 0:
        print(f"trained {trainer.cfg.process.name} to step {trainer.step}; checkpoint: {last}")
    return 0


# -- evaluate, inpaint, demo ---------------------------------------------------------------------

def _eval_parser(sub):
    p = sub.add_parser(
        "evaluate", help="compare checkpoints on a fixed validation set (metrics + image grids)",
        description="Sample every checkpoint on the fixed validation images for each mask kind and "
        "score the samples twice: as they leave the sampler, and with the known pixels pasted back "
        "(what `inpaint` gives a user). Print both tables and, for each, every model's paired "
        "difference from --reference (mean ± standard error over the same images; resolved when "
        "|mean| > 2 SE). Writes report.md (all of it), metrics.md, metrics.csv, grid_<kind>.png "
        "and comparison.png (as sampled) into --out, and the same for the pasted samples into "
        "--out/pasted.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", action="append", required=True, metavar="NAME_OR_PATH",
                   help="a shipped checkpoint name, an exported checkpoint (NAME.json or its stem), "
                   "or 'all' (every shipped one); repeat to compare several")
    p.add_argument("--checkpoints", metavar="DIR", default=None,
                   help="folder of exported checkpoints that 'all' stands for (default: the shipped ones)")
    p.add_argument("--data", default="synthetic", metavar="synthetic|DIR|DATASET",
                   help="'synthetic' (procedural faces), a folder of face images or a dataset name "
                   "(as for train)")
    p.add_argument("--split", default=None, metavar="SPLIT_JSON|RUN_DIR",
                   help="evaluate only on the held-out images of a training run's split.json (its "
                   "recorded source unless --data names it)")
    p.add_argument("--out", required=True, help="folder for metrics.md, metrics.csv and the PNG grids")
    p.add_argument("--n", type=int, default=16, help="number of validation images")
    p.add_argument("--size", type=int, default=None,
                   help="image side (default: the first checkpoint's training size, 32 for the shipped)")
    p.add_argument("--mask-kinds", default="irregular,box,outpaint", help="comma-separated mask kinds")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (the same for every model)")
    p.add_argument("--reference", default=None, metavar="MODEL",
                   help="model the paired differences are taken against (default: resshift when "
                   "evaluated, else the first model)")
    _baselines_option(p)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _baselines_option(p):
    p.add_argument("--baselines", default="harmonic,telea", metavar="NAMES",
                   help="classical fills scored beside the models (comma-separated: harmonic, telea, "
                   "navier_stokes; '' for none); every model also gets paired differences against "
                   "the first of them")


def _with_baselines(models: dict, names: str) -> tuple:
    """``models`` plus the classical fills ``names`` (comma-separated), and the first fill's label."""
    from ..core.baselines import Baseline

    fills = [n.strip() for n in names.split(",") if n.strip()]
    for name in fills:
        if name in models:
            raise ValueError(f"--baselines {name} clashes with a checkpoint of the same name")
        models[name] = Baseline(name)
    return models, (fills[0] if fills else None)


def _inpaint_parser(sub):
    from ..core import process_names

    p = sub.add_parser(
        "inpaint", help="inpaint your own image with a trained checkpoint",
        description="Inpaint IMAGE where MASK is white. The image (any size) is centre-padded to a "
        "square, resized to the checkpoint's training size, inpainted, resized back, and every "
        "known pixel is pasted back exactly from the original.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("image", help="the image file (png, jpg, ...)")
    p.add_argument("mask", help="mask image: white = hole (grayscale or RGB, thresholded at 0.5); "
                   "resized to the image's size if it differs")
    p.add_argument("--process", default=None, choices=list(process_names()),
                   help="forward process; picks the shipped checkpoint of that name (default: emmd_smooth)")
    p.add_argument("--checkpoint", default=None, metavar="NAME_OR_PATH",
                   help="checkpoint to use instead (default: the shipped one named after --process)")
    p.add_argument("-o", "--out", required=True, help="output image (PNG keeps known pixels exact)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")


def _demo_parser(sub):
    p = sub.add_parser(
        "demo", help="inpaint the validation faces with every shipped checkpoint",
        description="Load every shipped checkpoint, inpaint the synthetic validation faces with each "
        "(irregular, box and outpaint masks) beside the classical fills (--baselines), write "
        "comparison.png, metrics.md, metrics.csv and "
        "one grid per mask kind into --out, and print the table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="out/demo", help="output folder")
    p.add_argument("--n", type=int, default=8, help="number of validation faces")
    p.add_argument("--checkpoints", metavar="DIR", default=None,
                   help="folder of exported checkpoints (default: the shipped ones)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    _baselines_option(p)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")


def _load_models(specs, folder, device):
    """label -> pipeline and the first checkpoint's training size, for evaluate and demo."""
    from ..pipelines import find_checkpoints, load_pretrained

    names = []
    for spec in specs:
        if spec == "all":
            found = find_checkpoints(folder)
            if not found:
                where = folder or "data/checkpoints"
                raise ValueError(f"no exported checkpoints in {where}: train and export them first "
                                 "(python -m mrs train ..., then mrs.pipelines.export_all)")
            names += found
        else:
            names.append(spec)
    models, size = {}, None
    for spec in names:
        pipe = load_pretrained(spec, device=device)
        label = pipe.name
        while label in models:
            label += "'"
        models[label] = pipe
        size = size or pipe.image_size
    return models, size


def _use_agg():
    import matplotlib

    matplotlib.use("Agg")  # files only, no window


def _reference(labels, wanted):
    """The model the paired differences are taken against: ``wanted``, else resshift, else the first."""
    if wanted is not None and wanted not in labels:
        raise ValueError(f"--reference {wanted} is not among the evaluated models {list(labels)}")
    return wanted or ("resshift" if "resshift" in labels else labels[0])


def _report(result, reference, out, baseline=None) -> str:
    """Both protocols (as sampled, pasted back) with paired differences against ``reference`` and
    against the classical fill ``baseline``; files into ``out``."""
    from ..evaluation import paired_markdown, paste_back

    pasted = paste_back(result)
    parts = []
    against = [reference] + ([baseline] if baseline not in (None, reference) else [])
    for title, res in (("As sampled", result), ("Known pixels pasted back", pasted)):
        parts += [f"## {title}", "", res.to_markdown(timings=True)]
        for ref in against if len(res.labels) > 1 else []:
            parts += [f"Paired differences against {ref}:", "", paired_markdown(res, ref)]
    text = "\n".join(parts)
    written = result.save(out)
    written.update({f"pasted/{k}": v for k, v in pasted.save(Path(out) / "pasted").items()})
    (Path(out) / "report.md").write_text(text)
    written["report.md"] = Path(out) / "report.md"
    return text + f"\nwrote {', '.join(sorted(written))} into {out}"


def _run_evaluate(args) -> int:
    from ..data.sources import held_out_images
    from ..evaluation import evaluate

    _use_agg()
    models, train_size = _load_models(args.checkpoint, args.checkpoints, args.device)
    models, baseline = _with_baselines(models, args.baselines)
    reference = _reference(tuple(models), args.reference)
    size = args.size or train_size
    images, n = None, args.n
    if args.split is not None or args.data != "synthetic":
        images = held_out_images(None if args.data == "synthetic" else args.data, size, args.split)
        if len(images) < n:
            print(f"evaluating on all {len(images)} images of {args.split or args.data} (asked for {n})")
            n = len(images)
    kinds = tuple(k.strip() for k in args.mask_kinds.split(",") if k.strip())
    result = evaluate(models, images=images, n=n, size=size, mask_kinds=kinds, seed=args.seed,
                      device=args.device, progress=not args.no_progress)
    print(_report(result, reference, args.out, baseline))
    return 0


def _run_inpaint(args) -> int:
    from ..pipelines import list_pretrained, load_pretrained, read_inpainting_inputs

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"):
        raise ValueError(f"-o must name an image file (.png, .jpg, ...), got {out}")
    image, hole = read_inpainting_inputs(args.image, args.mask)  # bad files fail before loading
    name = args.checkpoint or args.process or "emmd_smooth"
    if args.checkpoint is None and name not in list_pretrained():
        raise ValueError(f"no shipped checkpoint for --process {name} (shipped: {list_pretrained()}); "
                         "pass --checkpoint NAME_OR_PATH")
    pipe = load_pretrained(name, device=args.device)
    if args.process is not None and args.process != pipe.process.name:
        raise ValueError(f"checkpoint {args.checkpoint} was trained with process {pipe.process.name!r}, "
                         f"not {args.process!r}: drop --process or pick another checkpoint")
    result = pipe.inpaint(image, hole, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.save(out)
    print(f"inpainted {args.image} ({result.size[0]}x{result.size[1]}) with "
          f"{name} ({pipe.process.name}); wrote {out}")
    return 0


def _run_demo(args) -> int:
    from ..evaluation import evaluate

    _use_agg()
    models, size = _load_models(["all"], args.checkpoints, args.device)
    models, baseline = _with_baselines(models, args.baselines)
    result = evaluate(models, n=args.n, size=size, seed=args.seed, device=args.device)
    print(_report(result, _reference(tuple(models), None), args.out, baseline))
    return 0


def _ae_parser(sub):
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


def _run_ae(args) -> int:
    from ..training.autoencoder import AutoencoderTrainConfig, train_autoencoder

    cfg = AutoencoderTrainConfig(**{f.name: getattr(args, f.name)
                                    for f in dataclasses.fields(AutoencoderTrainConfig)})
    res = train_autoencoder(cfg, args.out, progress=not args.no_progress, log=print)
    print(f"autoencoder: validation PSNR {res['val_psnr']:.2f} dB after {cfg.steps} steps "
          f"({res['seconds']:.0f} s); wrote {args.out}.json")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mrs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _eval_parser(sub)
    _inpaint_parser(sub)
    _demo_parser(sub)
    _ae_parser(sub)
    args = parser.parse_args(argv)
    run = {"train": _run_train, "evaluate": _run_evaluate, "inpaint": _run_inpaint, "demo": _run_demo,
           "train-autoencoder": _run_ae}
    try:
        return run[args.command](args)
    except ValueError as err:  # bad options, files, corrupt checkpoints: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. an output folder that cannot be written
        if args.command in ("train", "train-autoencoder"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
