"""Region-adaptive inference (mrs.nets.fast.region_denoiser) against full-image sampling.

With the shipped pixel-space ``pixel32/emmd`` checkpoint (``prepare_for_inference``,
``keep_freed_memory``), per image
(batch 1), for square holes of a fraction f of the image (5 % ... 75 %, at a seeded random spot)
and irregular masks, the full image against the crop ``region_box(mask, margin, size_multiple)``:

* ms per image of a whole 4-step sampling run (medians over images and repeats after a warm-up,
  the variants alternating), the speed-up and the crop's share of the pixels;
* ``PSNR(region, full)`` over the hole (same seed, same noise; the known pixels agree by
  construction) next to ``PSNR(full, full with another seed)``, the sampler's own spread;
* hole-PSNR of each against the ground truth, and the difference region - full (+- SE).

The net was trained on 32x32 faces: at 64-256 px it works outside its training scale for the full
image and the crop alike, so there the hole-PSNRs compare the two, not the net's quality.

Run:  .venv/bin/python benchmarks/bench_region.py [--quick] [--sizes 64,128,256]
"""

from __future__ import annotations

import math
import statistics

import common
import torch

import mrs
from mrs.nets.fast import keep_freed_memory, prepare_for_inference, region_box, region_denoiser
from mrs.pipelines import load_pretrained

FRACTIONS = (0.05, 0.10, 0.25, 0.50, 0.75)


def add_args(p):
    p.add_argument("--sizes", type=common.listof(int), help="image sizes (default 64,128,256; --quick: 64)")
    p.add_argument("--fractions", type=common.listof(float), default=list(FRACTIONS),
                   help="hole areas of the square masks")
    p.add_argument("--margins", type=common.listof(int), default=[4, 8, 16], help="crop margins")
    p.add_argument("--no-irregular", action="store_true", help="skip the irregular masks")
    p.add_argument("--images", type=int, help="faces per case (default 8, half above 128 px; --quick: 2)")
    p.add_argument("--repeats", type=int, help="timed runs per image and variant (default 2; --quick: 1)")


def square_masks(n: int, size: int, fraction: float, seed: int) -> torch.Tensor:
    """``n`` masks ``[n, 1, size, size]``, each a square hole of area ``fraction`` at a seeded spot."""
    side = max(1, round(math.sqrt(fraction) * size))
    g, masks = torch.Generator().manual_seed(seed), []
    for _ in range(n):
        top, left = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=g))
        masks.append(mrs.masks.box_mask(size, top, left, side, side))
    return torch.cat(masks)


def run_case(pipe, x0, mask, margins, repeats) -> list:
    """Full against region sampling of each image; one row per variant."""
    proc, den, multiple = pipe.process, pipe.denoiser(), pipe.net.cfg.size_multiple
    variants = {"full": den, **{f"margin {m}": region_denoiser(den, m, multiple) for m in margins}}
    y = mrs.degrade(x0, mask)
    times, outs = {k: [] for k in variants}, {k: [] for k in variants}
    for i in range(len(x0)):
        fns = {k: common.sampling_fn(proc, d, y[i:i + 1], mask[i:i + 1], 1000 + i)
               for k, d in variants.items()}
        for k, ts in common.interleaved(fns, repeats, 1).items():
            times[k] += ts
            outs[k].append(fns[k].out)
    full = torch.cat(outs["full"])
    hole = (mask > 0.5).to(x0.dtype)
    other = torch.cat([common.sampling_fn(proc, den, y[i:i + 1], mask[i:i + 1], 5000 + i)()
                       for i in range(len(x0))])       # the sampler's own spread (not timed)
    hp_full = mrs.hole_psnr(full, x0, mask)
    rows = []
    for k, d in variants.items():
        out = torch.cat(outs[k])
        diff = mrs.hole_psnr(out, x0, mask) - hp_full
        margin = getattr(d, "margin", None)
        boxes = [region_box(mask[i:i + 1], margin, multiple) if margin is not None
                 else (0, x0.shape[2], 0, x0.shape[3]) for i in range(len(x0))]
        rows.append(dict(
            variant=k, margin=margin,
            crop_area=statistics.mean((b - a) * (r - c) for a, b, c, r in boxes) / x0[0, 0].numel(),
            ms_per_image=1e3 * statistics.median(times[k]),
            psnr_vs_full=float("inf") if margin is None else float(mrs.psnr(out, full, hole).mean()),
            psnr_full_other_seed=float(mrs.psnr(other, full, hole).mean()),
            hole_psnr=float(mrs.hole_psnr(out, x0, mask).mean()), hole_psnr_diff=float(diff.mean()),
            hole_psnr_diff_se=float(diff.std() / math.sqrt(len(diff))) if len(diff) > 1 else 0.0))
    for row in rows:
        row["speedup"] = rows[0]["ms_per_image"] / row["ms_per_image"]
    return rows


def measure(args) -> dict:
    sizes = args.sizes or ([64] if args.quick else [64, 128, 256])
    n_img = args.images or (2 if args.quick else 8)
    repeats = args.repeats or (1 if args.quick else 2)
    keep_freed_memory()
    pipe = load_pretrained("pixel32/emmd", device=args.device)
    prepare_for_inference(pipe.net)
    results = []
    for size in sizes:
        n = n_img if size <= 128 else max(2, n_img // 2)
        x0 = mrs.synthetic_faces(n, size, seed=4242).to(args.device)
        cases = [(f"{round(100 * f)} %", square_masks(n, size, f, seed=size + round(1000 * f)))
                 for f in args.fractions]
        if not args.no_irregular:
            cases.append(("irregular", mrs.masks.random_masks("irregular", n, size,
                                                              torch.Generator().manual_seed(size))))
        for label, mask in cases:
            common.progress(f"size {size}, {label}: {n} images")
            for row in run_case(pipe, x0, mask.to(args.device), args.margins, repeats):
                results.append({**row, "size": size, "mask": label, "hole_fraction": float(mask.mean())})
    return {"settings": dict(quick=args.quick, images=n_img, repeats=repeats, sizes=sizes,
                             margins=args.margins, fractions=args.fractions, checkpoint="pixel32/emmd"),
            "results": results}


def report(d: dict) -> None:
    common.print_table(
        "region-adaptive (region_denoiser) against full-image sampling, emmd checkpoint",
        ["size", "mask", "variant", "crop", "ms / image", "speed-up", "PSNR vs full", "(seeds)",
         "hole-PSNR", "diff dB", "± SE"],
        [[r["size"], r["mask"], r["variant"], r["crop_area"], r["ms_per_image"], r["speedup"],
          None if r["margin"] is None else r["psnr_vs_full"], r["psnr_full_other_seed"],
          r["hole_psnr"], r["hole_psnr_diff"], r["hole_psnr_diff_se"]] for r in d["results"]],
        notes=[f"medians over images and {d['settings']['repeats']} repeat(s) after a warm-up, "
               "variants alternating; crop = the crop's share of the pixels",
               "PSNR vs full: over the hole, same seed; (seeds): the full image against itself "
               "with another seed; diff: hole-PSNR region - full, ± its standard error"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report)
