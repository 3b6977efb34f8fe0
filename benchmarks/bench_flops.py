"""FLOPs of the network, the machine's matmul rate, and how close a forward pass gets to it.

* FLOPs of one forward pass of each preset at the size and batch it is used at (``tiny``:
  8x3x32x32, its training batch; ``paper``: 1x3x64x64, sampling), from the library's counter
  ``mrs.nets.fast.forward_flops`` (``FlopCounterMode``; 2 FLOPs per multiply-add; convolutions,
  linear layers and attention, element-wise work not counted), by kind;
* the matmul rate of this machine: a float32 2048x2048 product (and 4096 on CUDA), ``2 n^3 /
  median time`` in GFLOP/s, a practical upper limit for the network's dense layers;
* the forward time of each preset under ``torch.inference_mode()``, plain (``net.eval()``) and
  ``prepare_for_inference`` (channels-last), the achieved rate ``FLOPs / time`` and its fraction
  of the matmul rate. Times: ``torch.utils.benchmark.Timer.blocked_autorange`` medians.

Run:  .venv/bin/python benchmarks/bench_flops.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import common
import torch

from mrs.nets import count_parameters
from mrs.nets.fast import forward_flops

CONFIGS = {"tiny": (8, 32), "paper": (1, 64)}   # preset -> (batch, size)


def add_args(p):
    p.add_argument("--presets", type=common.listof(str, CONFIGS), default="tiny,paper")
    p.add_argument("--repeats", type=int, help="timing budget of each measurement, in units of "
                                               "its first call (default 10; --quick: 2)")


def matmul(n: int, repeats: int, device) -> dict:
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(device) for _ in range(2))
    out = torch.empty(n, n, device=device)
    t = common.autorange(lambda: torch.mm(a, b, out=out), repeats)
    return {"n": n, "dtype": "float32", "time": t, "gflops": 2 * n**3 / t["median_s"] / 1e9}


def measure(args) -> dict:
    dev = args.device
    repeats = args.repeats or (2 if args.quick else 10)
    sizes = [2048] + ([4096] if dev.type == "cuda" else [])
    common.progress(f"matmul {sizes} float32")
    mm = {str(n): matmul(n, repeats, dev) for n in sizes}
    limit = mm[str(max(sizes))]["gflops"]
    presets = {}
    for preset in args.presets:
        batch, size = CONFIGS[preset]
        common.progress(f"{preset} {batch}x3x{size}x{size}: FLOPs and forward times")
        nets = common.plain_and_fast(preset, dev)
        kinds = forward_flops(nets["plain"], batch, size)
        total = kinds.pop("total")
        forward = {}
        for variant, net in nets.items():
            t = common.autorange(common.forward_fn(net, batch, size, dev), repeats)
            rate = total / t["median_s"] / 1e9
            forward[variant] = {"time": t, "achieved_gflops": rate, "fraction_of_matmul": rate / limit}
        presets[preset] = {"batch": batch, "size": size, "parameters": count_parameters(nets["plain"]),
                           "flops": total, "flops_by_group": kinds, "forward": forward}
    return {"settings": {"presets": args.presets, "configs": {k: CONFIGS[k] for k in args.presets},
                         "repeats": repeats},
            "matmul": mm, "matmul_limit_gflops": limit, "presets": presets}


def report(d: dict) -> None:
    res = d["presets"]
    kinds = list(next(iter(res.values()))["flops_by_group"]) if res else []
    shape = {k: f"{r['batch']}x3x{r['size']}x{r['size']}" for k, r in res.items()}
    common.print_table(
        "FLOPs of one forward pass (mrs.nets.fast.forward_flops, GFLOP)",
        ["preset", "input", "params (M)", "total"] + kinds,
        [[k, shape[k], r["parameters"] / 1e6, r["flops"] / 1e9]
         + [r["flops_by_group"][g] / 1e9 for g in kinds] for k, r in res.items()],
        notes=["2 FLOPs per multiply-add; normalisations, activations and other element-wise ops "
               "are not counted"])
    common.print_table(
        "matmul rate of this machine", ["product", "median s", "GFLOP/s"],
        [[f"{n}x{n} @ {n}x{n} float32", m["time"]["median_s"], m["gflops"]]
         for n, m in d["matmul"].items()],
        notes=["Timer.blocked_autorange median; 2 n^3 FLOPs per product",
               f"torch.get_float32_matmul_precision() = "
               f"{d['environment'].get('float32_matmul_precision')!r}"])
    common.print_table(
        "forward pass: achieved rate against the matmul rate",
        ["preset", "input", "variant", "median s", "GFLOP", "achieved GFLOP/s", "matmul GFLOP/s",
         "fraction"],
        [[k, shape[k], v, f["time"]["median_s"], r["flops"] / 1e9, f["achieved_gflops"],
          d["matmul_limit_gflops"], f["fraction_of_matmul"]]
         for k, r in res.items() for v, f in r["forward"].items()],
        notes=["Timer.blocked_autorange medians under torch.inference_mode(); fraction = achieved "
               "/ the largest matmul's rate",
               "plain: net.eval(), NCHW; fast: prepare_for_inference (channels-last)"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report)
