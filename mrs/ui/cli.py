"""The command line of ``mrs`` (``python -m mrs COMMAND --help`` lists every option).

    python -m mrs train --process emmd_smooth --out runs/emmd_smooth
    python -m mrs evaluate --checkpoint all --data synthetic --out out/eval
    python -m mrs inpaint face.png mask.png --process emmd_smooth -o out.png
    python -m mrs demo --out out/demo
    python -m mrs precompute --preset tiny_latent --stop 24000 --out runs/batches
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_train import ae_parser, precompute_parser, run_ae, run_precompute, run_train, train_parser

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mrs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser(sub)
    _eval_parser(sub)
    _inpaint_parser(sub)
    _demo_parser(sub)
    ae_parser(sub)
    precompute_parser(sub)
    args = parser.parse_args(argv)
    run = {"train": run_train, "evaluate": _run_evaluate, "inpaint": _run_inpaint, "demo": _run_demo,
           "train-autoencoder": run_ae, "precompute": run_precompute}
    try:
        return run[args.command](args)
    except ValueError as err:  # bad options, files, corrupt checkpoints: one clear line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. an output folder that cannot be written
        if args.command in ("train", "train-autoencoder", "precompute"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
