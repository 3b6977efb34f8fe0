"""Region-adaptive inference against full-image sampling (``mrs.fast.region_denoiser``).

What is measured, for square holes covering a fraction f of the image (5 % ... 75 %, placed at a
seeded random position in each face) and for irregular masks:

* time per image of a whole 4-step EMMD sampling run, full image vs the crop
  ``region_box(mask, margin, multiple=16)`` for several margins (median over images and repeats,
  after a warm-up; both variants run side by side in this process, one image at a time);
* ``PSNR(region, full)`` over the hole: how far the cropped result is from the full one (the
  same seed, so the same noise; the known pixels are identical by construction), next to
  ``PSNR(full, full with another seed)``: the sampler's own spread, the scale to read it on;
* hole-PSNR of each against the ground truth, and their difference (region - full).

The net is the shipped ``emmd`` tiny checkpoint, trained on 32x32 faces. Larger sizes render the
same procedural faces at 64/128/256 pixels: there the net works outside its training scale, for
the full image and the crop alike, so the hole-PSNRs there compare the two, not the net's quality.

    python benchmarks/bench_region.py [--quick] [--sizes 64 128 256] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import common
import torch

import mrs
from mrs.fast import keep_freed_memory, prepare_for_inference, region_box, region_denoiser
from mrs.metrics import hole_psnr, psnr
from mrs.train import load_pretrained

FRACTIONS = (0.05, 0.10, 0.25, 0.50, 0.75)


def square_masks(n: int, size: int, fraction: float, seed: int) -> torch.Tensor:
    """``n`` masks ``[n, 1, size, size]``, each a square hole of area ``fraction`` at a seeded
    random position."""
    side = max(1, round(math.sqrt(fraction) * size))
    g = torch.Generator().manual_seed(seed)
    masks = []
    for _ in range(n):
        top, left = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=g))
        masks.append(mrs.masks.box_mask(size, top, left, side, side))
    return torch.cat(masks)


def run_case(net, proc, x0, mask, margins, repeats):
    """Full vs region sampling of each image (batch 1); returns one row per variant."""
    den = net.denoiser(proc)
    variants = {"full": den}
    variants.update({f"margin {m}": region_denoiser(den, margin=m, multiple=net.cfg.size_multiple)
                     for m in margins})
    y = mrs.masks.degrade(x0, mask)
    times = {k: [] for k in variants}
    outs = {k: [] for k in variants}
    for i in range(x0.shape[0]):
        yi, mi = y[i:i + 1], mask[i:i + 1]
        for r in range(repeats + 1):                     # r = 0 is the warm-up
            for name, d in variants.items():
                g = torch.Generator().manual_seed(1000 + i)
                t0 = time.perf_counter()
                out = mrs.sample(proc, d, yi, mi, generator=g)
                dt = time.perf_counter() - t0
                if r:
                    times[name].append(dt)
                else:
                    outs[name].append(out)
    full = torch.cat(outs["full"])
    hp_full = hole_psnr(full, x0, mask)
    hole = (mask > 0.5).to(x0.dtype)
    # the sampler's own spread: the full image sampled again with other seeds (not timed)
    other = torch.cat([mrs.sample(proc, den, y[i:i + 1], mask[i:i + 1],
                                  generator=torch.Generator().manual_seed(5000 + i))
                       for i in range(x0.shape[0])])
    psnr_seeds = float(psnr(other, full, hole).mean())
    rows = []
    for name in variants:
        out = torch.cat(outs[name])
        hp = hole_psnr(out, x0, mask)
        diff = hp - hp_full
        m = None if name == "full" else int(name.split()[1])
        boxes = [region_box(mask[i:i + 1], m, net.cfg.size_multiple) if m is not None else
                 (0, x0.shape[2], 0, x0.shape[3]) for i in range(x0.shape[0])]
        area = statistics.mean((b - a) * (r_ - l_) for a, b, l_, r_ in boxes) / x0[0, 0].numel()
        rows.append(dict(
            variant=name, margin=m, crop_area=area,
            ms_per_image=1000 * statistics.median(times[name]),
            psnr_vs_full=float("inf") if name == "full" else float(psnr(out, full, hole).mean()),
            psnr_full_other_seed=psnr_seeds,
            hole_psnr=float(hp.mean()),
            hole_psnr_diff=float(diff.mean()),
            hole_psnr_diff_se=float(diff.std() / math.sqrt(len(diff))) if len(diff) > 1 else 0.0,
        ))
    t_full = rows[0]["ms_per_image"]
    for row in rows:
        row["speedup"] = t_full / row["ms_per_image"]
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few images and sizes (a smoke run)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="image sizes (default "
                    "64 128 256; --quick: 64)")
    ap.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    ap.add_argument("--no-irregular", action="store_true")
    ap.add_argument("--margins", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--images", type=int, default=None, help="faces per case (default 8)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per image (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", default="benchmarks/results/bench_region.json")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([64] if args.quick else [64, 128, 256])
    n_img = args.images or (2 if args.quick else 8)
    repeats = args.repeats or (1 if args.quick else 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    net, proc, _ = load_pretrained("emmd")
    net = prepare_for_inference(net)

    results = []
    header = (f"{'size':>4} {'mask':>9} {'variant':>9} {'crop':>5} {'ms/img':>8} {'speed-up':>8} "
              f"{'PSNR vs full':>12} {'(seeds)':>7} {'hole-PSNR':>9} {'diff (dB)':>14}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        n = n_img if size <= 128 else max(2, n_img // 2)
        x0 = mrs.data.synthetic_faces(n, size, seed=4242)
        cases = [(f"{round(100 * f)} %", f, square_masks(n, size, f, seed=size + round(1000 * f)))
                 for f in args.fractions]
        irr = mrs.masks.random_masks("irregular", n, size, torch.Generator().manual_seed(size))
        if not args.no_irregular:
            cases.append(("irregular", float(irr.mean()), irr))
        for label, _, mask in cases:
            print(f"[size {size}, {label}] ...", file=sys.stderr, flush=True)
            for row in run_case(net, proc, x0, mask, args.margins, repeats):
                row.update(size=size, mask=label, hole_fraction=float(mask.mean()))
                results.append(row)
                pv = "-" if row["margin"] is None else f"{row['psnr_vs_full']:.1f}"
                print(f"{size:>4} {label:>9} {row['variant']:>9} {row['crop_area']:>5.2f} "
                      f"{row['ms_per_image']:>8.1f} {row['speedup']:>7.2f}x {pv:>12} "
                      f"{row['psnr_full_other_seed']:>7.1f} "
                      f"{row['hole_psnr']:>9.2f} {row['hole_psnr_diff']:>+7.2f} ± "
                      f"{row['hole_psnr_diff_se']:.2f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = dict(quick=args.quick, images=n_img, repeats=repeats, sizes=sizes,
                    margins=args.margins, fractions=args.fractions, checkpoint="emmd")
    out.write_text(json.dumps(dict(benchmark="bench_region", environment=common.environment(),
                                   settings=settings, results=results), indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
