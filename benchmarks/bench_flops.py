"""FLOPs of the network, the machine's matmul rate, and how close a forward pass gets to it.

What is measured:

* the FLOPs of one forward pass of each preset at its own size and batch (``tiny``: 8x3x32x32,
  its training batch; ``paper``: 1x3x64x64, the sampling configuration), counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add; only the ops it knows:
  convolutions, matrix products and attention; normalisations and element-wise ops are not
  counted), split by op: convolution, addmm/mm (linear layers), bmm and attention kernels. On CPU,
  ``scaled_dot_product_attention`` with the Swin mask runs its math path, so the attention appears
  as ``bmm``; on CUDA a fused attention kernel may be counted as ``attention``;
* the measured matmul rate of this machine: the median time of a float32 2048x2048 @ 2048x2048
  product (and 4096 on CUDA), as ``2 n^3 / time`` in GFLOP/s: a practical upper limit for this
  network's dense layers;
* the forward time of each preset (median after warm-up, under ``torch.inference_mode()``, plain
  eval and channels-last ``mrs.fast.prepare_for_inference``), the achieved rate ``FLOPs / time``
  and its fraction of the matmul rate (how far the network is from that limit).

Run:  .venv/bin/python benchmarks/bench_flops.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import copy

import common
import torch
from torch.utils.flop_counter import FlopCounterMode

import mrs.fast
from mrs.data import validation_split
from mrs.nets import SwinUNet, SwinUNetConfig, count_parameters

# preset -> (batch, size): the configuration each preset is used at
CONFIGS = {"tiny": (8, 32), "paper": (1, 64)}
GROUPS = ("convolution", "addmm/mm", "bmm", "attention", "other")


def op_group(op) -> str:
    name = str(op).replace("aten.", "").split(".")[0]
    if "attention" in name:
        return "attention"
    if "conv" in name:
        return "convolution"
    if name in ("addmm", "mm", "matmul", "linear"):
        return "addmm/mm"
    if name in ("bmm", "baddbmm"):
        return "bmm"
    return "other"


def inputs(batch: int, size: int, device):
    x0, mask, y = validation_split(batch, size)
    g = torch.Generator().manual_seed(0)
    x = y + torch.randn(y.shape, generator=g)
    return x.to(device), y.to(device), mask.to(device)


def count_flops(net, batch: int, size: int, device) -> tuple:
    x, y, mask = inputs(batch, size, device)
    t = torch.full((batch,), net.cfg.steps, dtype=torch.long, device=device)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(x, t, y, mask)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    groups = dict.fromkeys(GROUPS, 0)
    for op, n in by_op.items():
        groups[op_group(op)] += n
    return int(counter.get_total_flops()), groups, by_op


def matmul_rate(n: int, repeats: int, device) -> dict:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)
    out = torch.empty(n, n, device=device)
    times = common.time_runs(lambda: torch.mm(a, b, out=out), repeats, 2, device)
    med = common.median(times)
    return {"n": n, "dtype": "float32", "time": common.summary(times), "gflops": 2 * n**3 / med / 1e9}


def forward_times(net, batch, size, repeats, device) -> list:
    x, y, mask = inputs(batch, size, device)
    t = torch.full((batch,), net.cfg.steps, dtype=torch.long, device=device)

    def run():
        with torch.inference_mode():
            net(x, t, y, mask)

    return common.time_runs(run, repeats, 2, device)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(p)
    p.add_argument("--presets", default="tiny,paper", help="comma-separated presets (tiny,paper)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed forward passes and matmuls (default 10; --quick: 2)")
    args = p.parse_args()
    device = common.resolve_device(args.device)
    presets = common.parse_presets(p, args.presets, CONFIGS)
    repeats = args.repeats or (2 if args.quick else 10)
    env = common.environment(device)
    common.progress(common.environment_line(env))
    if device.type == "cuda":
        env["float32_matmul_precision"] = torch.get_float32_matmul_precision()

    # 1. the machine's matmul rate
    sizes = [2048] + ([4096] if device.type == "cuda" else [])
    mm = {}
    for n in sizes:
        common.progress(f"matmul {n}x{n} float32 ({repeats} timed)")
        mm[n] = matmul_rate(n, repeats, device)
    limit = mm[max(sizes)]["gflops"]

    # 2. FLOPs and forward times per preset
    results = {}
    for preset in presets:
        batch, size = CONFIGS[preset]
        common.progress(f"{preset} {batch}x3x{size}x{size}: FLOPs, forward ({repeats} timed)")
        torch.manual_seed(0)
        net = SwinUNet(SwinUNetConfig.preset(preset)).to(device).eval()
        total, groups, by_op = count_flops(net, batch, size, device)
        lib_total = None
        if hasattr(mrs.fast, "forward_flops"):  # the library's own count, as a cross-check
            lib_total = int(mrs.fast.forward_flops(net, batch, size)["total"])
        fast = mrs.fast.prepare_for_inference(copy.deepcopy(net))
        times = {"plain": forward_times(net, batch, size, repeats, device),
                 "fast": forward_times(fast, batch, size, repeats, device)}
        results[preset] = {"batch": batch, "size": size, "parameters": count_parameters(net),
                           "flops": total, "flops_by_group": groups, "flops_by_op": by_op,
                           "mrs_fast_forward_flops_total": lib_total,
                           "forward": {}}
        for variant, ts in times.items():
            med = common.median(ts)
            results[preset]["forward"][variant] = {
                "time": common.summary(ts), "achieved_gflops": total / med / 1e9,
                "fraction_of_matmul": total / med / 1e9 / limit}
        del net, fast

    # -- report ---------------------------------------------------------------------------------
    print(f"\n## bench_flops{' (--quick: not for reporting)' if args.quick else ''}\n")
    print(common.environment_line(env))
    common.print_table(
        "FLOPs of one forward pass (FlopCounterMode, GFLOP)",
        ["preset", "input", "params (M)", "total"] + list(GROUPS),
        [[k, f"{r['batch']}x3x{r['size']}x{r['size']}", r["parameters"] / 1e6, r["flops"] / 1e9]
         + [r["flops_by_group"][g] / 1e9 for g in GROUPS] for k, r in results.items()],
        notes=["2 FLOPs per multiply-add; normalisations, activations and other element-wise ops "
               "are not counted",
               "on CPU the masked window attention runs scaled_dot_product_attention's math path "
               "and is counted under bmm"]
        + ["cross-check, mrs.fast.forward_flops total: " + ", ".join(
            f"{k} {'agrees' if r['mrs_fast_forward_flops_total'] == r['flops'] else 'DIFFERS'}"
            for k, r in results.items() if r["mrs_fast_forward_flops_total"] is not None)]
        if any(r["mrs_fast_forward_flops_total"] is not None for r in results.values()) else [])
    common.print_table(
        "matmul rate of this machine",
        ["product", "median s", "GFLOP/s"],
        [[f"{n}x{n} @ {n}x{n} float32", m["time"]["median_s"], m["gflops"]] for n, m in mm.items()],
        notes=[f"median of {repeats} products after 2 warm-up products; 2 n^3 FLOPs each"]
        + ([f"torch.get_float32_matmul_precision() = {env['float32_matmul_precision']!r}"]
           if device.type == "cuda" else []))
    rows = []
    for k, r in results.items():
        for variant, f in r["forward"].items():
            rows.append([k, f"{r['batch']}x3x{r['size']}x{r['size']}", variant,
                         f["time"]["median_s"], r["flops"] / 1e9, f["achieved_gflops"], limit,
                         f["fraction_of_matmul"]])
    common.print_table(
        "forward pass: achieved rate against the matmul rate",
        ["preset", "input", "variant", "median s", "GFLOP", "achieved GFLOP/s",
         "matmul GFLOP/s", "fraction"], rows,
        notes=[f"medians of {repeats} forward passes under torch.inference_mode() after 2 warm-up "
               f"passes; fraction = achieved / the {max(sizes)}x{max(sizes)} matmul rate",
               "plain: net.eval(), NCHW; fast: mrs.fast.prepare_for_inference (channels-last)"])

    common.write_json(args.out or common.default_out(__file__, args.quick), {
        "benchmark": "bench_flops", "quick": args.quick, "environment": env,
        "settings": {"presets": presets, "configs": {k: CONFIGS[k] for k in presets},
                     "repeats": repeats},
        "matmul": {str(n): m for n, m in mm.items()}, "matmul_limit_gflops": limit,
        "presets": results,
    })


if __name__ == "__main__":
    main()
