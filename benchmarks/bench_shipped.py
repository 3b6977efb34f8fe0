"""The shipped models against the classical fills, on faces and masks no notebook and no training run used.

Every shipped checkpoint (``mrs.list_pretrained()``) and the classical fills of ``mrs.baselines``
(harmonic, OpenCV Telea, OpenCV Navier-Stokes) inpaint the same held-out synthetic faces (face seed
``--face-seed``, disjoint from the training stream and from ``validation_split``'s) under masks from
``--mask-seed`` (not the notebooks' 12345), every mask kind, the same sampling seed for every model,
all through ``mrs.evaluate``. Reported per model, with the known pixels pasted back (what
``pipe.inpaint`` gives a user) and as sampled: hole-PSNR, SSIM and the seam excess (mean absolute
jump of the error across the hole's edge), means over all images and kinds; and the paired
difference of hole-PSNR against the harmonic fill and against Telea (mean +- standard error over
the same image/mask pairs; "gain - 2 SE" > 0 means resolved). Also each model's training time,
read from its training log.

Run:  .venv/bin/python benchmarks/bench_shipped.py [--quick] [--n 64]
"""

from __future__ import annotations

import common
import torch

import mrs
from mrs.core.baselines import BASELINES, Baseline
from mrs.evaluation import evaluate, paired_difference, paste_back
from mrs.pipelines import list_pretrained, load_pretrained, pretrained_dir
from mrs.training.monitor import training_seconds

KINDS = ("irregular", "box", "outpaint")
METRICS = ("hole_psnr", "ssim", "seam")


def add_args(p):
    p.add_argument("--n", type=int, help="held-out faces per mask kind (default 64; --quick: 4)")
    p.add_argument("--face-seed", type=int, default=7_000_001, help="seed of the held-out faces")
    p.add_argument("--mask-seed", type=int, default=424_242, help="seed of the held-out masks")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (the same for every model)")


def _train_minutes(name: str):
    log = pretrained_dir() / f"{name}.metrics.csv"
    if not log.exists():
        return None
    return training_seconds(log) / 60 or None   # summed over the run's resumes


def _summary(res, labels) -> dict:
    out = {}
    for label in labels:
        row = {m: float(res.values(label, m).double().mean()) for m in METRICS}
        for ref in ("harmonic", "telea"):
            if ref != label:
                d = paired_difference(res, "hole_psnr", label, ref)
                row[f"vs_{ref}"] = {"mean": d.mean, "se": d.se, "n": d.n}
        out[label] = row
    return out


def measure(args) -> dict:
    n = args.n or (4 if args.quick else 64)
    names = list_pretrained()
    pipes = {name: load_pretrained(name) for name in names}
    size = max(p.image_size for p in pipes.values())
    models = {**pipes, **{b: Baseline(b) for b in BASELINES}}
    images = mrs.synthetic_faces(n, size, seed=args.face_seed)
    common.progress(f"{len(names)} shipped models + {len(BASELINES)} fills on {n} held-out {size}-px "
                    f"faces x {len(KINDS)} mask kinds")
    with torch.no_grad():
        res = evaluate(models, images=images, n=n, size=size, mask_kinds=KINDS, seed=args.seed,
                       mask_seed=args.mask_seed, progress=True)
    labels = list(models)
    return {"n": n, "size": size, "mask_kinds": list(KINDS), "face_seed": args.face_seed,
            "mask_seed": args.mask_seed,
            "pasted": _summary(paste_back(res), labels), "as_sampled": _summary(res, labels),
            "train_minutes": {name: _train_minutes(name) for name in names},
            "train_steps": {name: p.meta.get("step") for name, p in pipes.items()},
            "latent": {name: p.latent for name, p in pipes.items()}}


def report(data) -> None:
    for key, title in (("pasted", "known pixels pasted back"), ("as_sampled", "as sampled")):
        rows = []
        for label, r in data[key].items():
            cells = [label, f"{r['hole_psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['seam']:.4f}"]
            for ref in ("harmonic", "telea"):
                d = r.get(f"vs_{ref}")
                lo = None if d is None else d["mean"] - 2 * d["se"]
                cells.append("-" if d is None else f"{d['mean']:+.2f} ± {d['se']:.2f} ({lo:+.2f})")
            minutes = data["train_minutes"].get(label)
            cells.append("-" if minutes is None else f"{minutes:.1f}")
            rows.append(cells)
        common.print_table(
            f"{data['n']} held-out {data['size']}-px faces x {len(data['mask_kinds'])} mask kinds, {title}",
            ["model", "hole PSNR", "SSIM", "seam excess", "hole PSNR - harmonic (gain - 2 SE)",
             "hole PSNR - Telea (gain - 2 SE)", "train min"], rows,
            notes=["means over all images and kinds; paired differences: mean ± SE over the same "
                   "image/mask pairs; resolved when gain - 2 SE > 0"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report)
