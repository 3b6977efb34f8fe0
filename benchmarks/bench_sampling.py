"""Sampling speed: time per image, images/s, network evaluations and peak memory of ``mrs.sample``.

What is measured, for the network presets ``tiny`` (32x32) and ``paper`` (64x64) with random
weights (speed does not depend on the weights) at batch 1 and 8:

* a full 4-step ``mrs.sample(proc, denoiser, y, mask, generator=g)`` with
  ``proc = mrs.make_process("emmd", mrs.Schedule.exponential())`` and ``denoiser =
  net.denoiser(proc)`` on validation faces (``mrs.data.validation_split``): seconds per image
  (median over repeats, after warm-up, divided by the batch), images per second, and network
  evaluations (NFE) per image, counted by wrapping the denoiser;
* three variants of the same weights:
    - ``plain``: ``net.eval()``, NCHW;
    - ``fast``: ``mrs.fast.prepare_for_inference(net)`` (eval, no gradients, channels-last);
    - ``fast+keep_freed_memory``: ``fast`` after ``mrs.fast.keep_freed_memory()``, which changes
      glibc's allocator for the whole process and cannot be undone, so it is measured last:
      ``plain`` and ``fast`` first (alternating inside every repeat), then the switch, then this;
* the forward pass alone of ``paper`` at batch 1, 64x64 under ``torch.inference_mode()`` for the
  three variants, against the reference 0.71 s of ResShift's official ``UNetModelSwin`` at the same
  configuration on the same 2 CPU cores (a number given in the issue, not measured here): the
  ratio 0.71 / ours and whether it reaches 1.5;
* peak memory of one sampling call: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the peak
  RSS of a fresh subprocess per configuration, and the part the run added (see ``common.py``);
* with ``--compile``: ``prepare_for_inference(net, compile=True)`` for ``tiny``, its compile time
  (the first call) reported apart from the steady-state time.

Run:  .venv/bin/python benchmarks/bench_sampling.py [--quick] [--device cpu|cuda] [--compile]
"""

from __future__ import annotations

import argparse
import copy
import time

import common
import torch

import mrs
import mrs.fast
from mrs.data import validation_split
from mrs.nets import SwinUNet, SwinUNetConfig
from mrs.sampling import CountingDenoiser

SIZES = {"tiny": 32, "paper": 64}
REFERENCE_FORWARD_S = 0.71  # ResShift's UNetModelSwin, paper config, 1x64x64, 2 CPU cores (issue)
REFERENCE_TARGET = 1.5
VARIANTS = ("plain", "fast", "fast+keep_freed_memory")


def build_net(preset: str, device) -> SwinUNet:
    torch.manual_seed(0)
    return SwinUNet(SwinUNetConfig.preset(preset)).to(device)


def make_variant(net: SwinUNet, variant: str) -> torch.nn.Module:
    """``plain``: the net in eval mode; ``fast*``: a prepared copy (prepare_for_inference changes
    the module in place, so the plain one is kept apart)."""
    if variant == "plain":
        return net.eval()
    return mrs.fast.prepare_for_inference(copy.deepcopy(net))


def inputs(batch: int, size: int, device):
    x0, mask, y = validation_split(batch, size)
    return y.to(device), mask.to(device)


def sampler(proc, net, y, mask, seed: int, counter: list | None = None, denoise=None):
    """A closure running one full ``mrs.sample`` with a fixed seed (NFE counted into counter);
    the denoiser is ``net.denoiser(proc)`` unless ``denoise`` is given."""
    den = CountingDenoiser(denoise or net.denoiser(proc))
    if counter is not None:
        counter.append(den)

    def run():
        g = torch.Generator().manual_seed(seed)
        return mrs.sample(proc, den, y, mask, generator=g)

    return run


def forward_call(net, batch: int, size: int, device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y, mask = inputs(batch, size, device)
    t = torch.full((batch,), net.cfg.steps, dtype=torch.long, device=device)

    def run():
        with torch.inference_mode():
            return net(x, t, y, mask)

    return run


# -- the memory child (a fresh process per configuration) ---------------------------------------

def memory_child(cfg: dict) -> dict:
    device = torch.device(cfg["device"])
    net = make_variant(build_net(cfg["preset"], device), cfg["variant"])
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    y, mask = inputs(cfg["batch"], SIZES[cfg["preset"]], device)
    run = sampler(proc, net, y, mask, cfg["seed"])
    if cfg["variant"] == "fast+keep_freed_memory":
        mrs.fast.keep_freed_memory()
    return common.cpu_peak_of(run)


def measure_memory(args, device, nets, proc, configs) -> dict:
    """(preset, batch, variant) -> memory dict."""
    out = {}
    for preset, batch in configs:
        for variant in VARIANTS:
            common.progress(f"memory {preset} batch {batch} {variant}")
            if device.type == "cuda":
                y, mask = inputs(batch, SIZES[preset], device)
                run = sampler(proc, nets[(preset, variant)], y, mask, args.seed)
                run()  # warm-up: the first call's one-off allocations are not the run's
                out[(preset, batch, variant)] = common.cuda_peak_of(run, device)
            else:
                cfg = dict(preset=preset, batch=batch, variant=variant, seed=args.seed,
                           device=str(device))
                out[(preset, batch, variant)] = common.memory_in_subprocess(__file__, cfg)
    return out


# -- main ---------------------------------------------------------------------------------------

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(p)
    p.add_argument("--presets", default="tiny,paper", help="comma-separated presets (tiny,paper)")
    p.add_argument("--batches", default=None,
                   help="comma-separated batch sizes (default 1,8; --quick: 1,2)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed sampling calls per configuration and variant (default 5; --quick: 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls before timing (default 1)")
    p.add_argument("--forward-repeats", type=int, default=None,
                   help="timed forward passes of paper 1x64x64 per variant (default 10; --quick: 2)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    p.add_argument("--compile", action="store_true",
                   help="also time prepare_for_inference(net, compile=True) for tiny "
                        "(compilation takes minutes on CPU)")
    args = common.parse_args_or_child(p, memory_child)
    if args is None:
        return

    device = common.resolve_device(args.device)
    presets = common.parse_presets(p, args.presets, SIZES)
    batches = [int(b) for b in (args.batches or ("1,2" if args.quick else "1,8")).split(",")]
    repeats = args.repeats or (1 if args.quick else 5)
    fwd_repeats = args.forward_repeats or (2 if args.quick else 10)
    env = common.environment(device)
    common.progress(common.environment_line(env))

    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    nets = {}
    for preset in presets:
        common.progress(f"building {preset}")
        base = build_net(preset, device)
        nets[(preset, "fast")] = make_variant(base, "fast")
        nets[(preset, "plain")] = make_variant(base, "plain")
        nets[(preset, "fast+keep_freed_memory")] = nets[(preset, "fast")]  # same module, later
    configs = [(preset, b) for preset in presets for b in batches]

    # 1. plain and fast, alternating inside every repeat
    times, nfe = {}, {}
    for preset, batch in configs:
        common.progress(f"sampling {preset} {SIZES[preset]}x{SIZES[preset]} batch {batch}: "
                        f"plain, fast ({args.warmup} warm-up + {repeats} timed each)")
        y, mask = inputs(batch, SIZES[preset], device)
        counters = {}
        fns = {}
        for variant in ("plain", "fast"):
            counters[variant] = []
            fns[variant] = sampler(proc, nets[(preset, variant)], y, mask, args.seed,
                                   counters[variant])
        res = common.time_interleaved(fns, repeats, args.warmup, device)
        for variant in ("plain", "fast"):
            times[(preset, batch, variant)] = res[variant]
            den = counters[variant][0]
            nfe[(preset, batch, variant)] = den.images / (batch * (repeats + args.warmup))
    fwd = {}
    paper_fwd = "paper" in presets
    if paper_fwd:
        common.progress(f"forward paper 1x64x64: plain, fast ({fwd_repeats} timed each)")
        fns = {v: forward_call(nets[("paper", v)], 1, 64, device) for v in ("plain", "fast")}
        fwd.update(common.time_interleaved(fns, fwd_repeats, 2, device))

    # 2. the allocator switch (process-wide, irreversible), then fast again
    kept = mrs.fast.keep_freed_memory()
    common.progress(f"keep_freed_memory() -> {kept}")
    for preset, batch in configs:
        common.progress(f"sampling {preset} batch {batch}: fast+keep_freed_memory")
        y, mask = inputs(batch, SIZES[preset], device)
        counter = []
        run = sampler(proc, nets[(preset, "fast")], y, mask, args.seed, counter)
        times[(preset, batch, "fast+keep_freed_memory")] = common.time_runs(run, repeats,
                                                                            args.warmup, device)
        nfe[(preset, batch, "fast+keep_freed_memory")] = counter[0].images / (
            batch * (repeats + args.warmup))
    if paper_fwd:
        common.progress("forward paper 1x64x64: fast+keep_freed_memory")
        fwd["fast+keep_freed_memory"] = common.time_runs(
            forward_call(nets[("paper", "fast")], 1, 64, device), fwd_repeats, 2, device)

    # 3. optional: torch.compile (tiny)
    compiled = {}
    if args.compile and "tiny" in presets:
        common.progress("compile: prepare_for_inference(tiny, compile=True)")
        net_c = mrs.fast.prepare_for_inference(copy.deepcopy(build_net("tiny", device)), compile=True)
        compiled_denoiser = net_c.denoiser(proc)   # runs the compiled network body

        for batch in batches:
            y, mask = inputs(batch, 32, device)
            run = sampler(proc, None, y, mask, args.seed, denoise=compiled_denoiser)
            try:
                start = time.perf_counter()
                run()
                common.sync(device)
                first = time.perf_counter() - start
                compiled[batch] = {"compile_and_first_call_s": first,
                                   "times": common.time_runs(run, repeats, args.warmup, device)}
            except Exception as err:  # report whatever the compiler raised
                compiled[batch] = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
                common.progress(f"compile failed: {compiled[batch]['error']}")
                break

    # 4. peak memory (fresh subprocesses on CPU)
    # (--quick: only the largest batch, to keep the check short)
    mem_configs = [c for c in configs if c[1] == max(batches)] if args.quick else configs
    memory = {} if args.no_memory else measure_memory(args, device, nets, proc, mem_configs)

    # -- report ---------------------------------------------------------------------------------
    print(f"\n## bench_sampling{' (--quick: not for reporting)' if args.quick else ''}\n")
    print(common.environment_line(env))
    rows, results = [], []
    for preset, batch in configs:
        base = common.median(times[(preset, batch, "plain")])
        for variant in VARIANTS:
            t = times[(preset, batch, variant)]
            med = common.median(t)
            mem = memory.get((preset, batch, variant), {})
            rows.append([preset, f"{SIZES[preset]}x{SIZES[preset]}", batch, variant, med / batch,
                         batch / med, nfe[(preset, batch, variant)], med, base / med,
                         mem.get("peak_mib"), mem.get("added_mib")])
            results.append({"preset": preset, "size": SIZES[preset], "batch": batch,
                            "variant": variant, "seconds_per_image": med / batch,
                            "images_per_s": batch / med, "nfe_per_image": nfe[(preset, batch, variant)],
                            "call": common.summary(t), "speedup_vs_plain": base / med,
                            "memory": mem})
    mem_kind = ("torch.cuda.max_memory_allocated after warm-up" if device.type == "cuda" else
                "peak RSS of a fresh process running one sampling call, no warm-up (VmHWM, the "
                "counter behind ru_maxrss, reset after the build); 'added' = peak minus the RSS "
                "after imports, model build and inputs")
    common.print_table(
        "mrs.sample, 4 steps, emmd process, random weights",
        ["preset", "size", "batch", "variant", "s / image", "images / s", "NFE / image",
         "s / call", "speed-up vs plain", "peak MiB", "added MiB"], rows,
        notes=[f"medians of {repeats} timed calls after {args.warmup} warm-up call(s); plain and "
               "fast alternate inside every repeat; fast+keep_freed_memory is measured after them",
               f"memory: {mem_kind}" + (" (skipped)" if args.no_memory else
                                        " (--quick: largest batch only)" if args.quick else "")])

    forward = {}
    if paper_fwd:
        rows = []
        for variant in VARIANTS:
            med = common.median(fwd[variant])
            ratio = REFERENCE_FORWARD_S / med
            ok = ratio >= REFERENCE_TARGET if device.type == "cpu" else None
            rows.append([variant, med, REFERENCE_FORWARD_S, ratio, ok])
            forward[variant] = {"forward": common.summary(fwd[variant]), "ratio": ratio,
                                "meets_target": ok}
        common.print_table(
            "forward pass alone: paper, batch 1, 64x64, torch.inference_mode()",
            ["variant", "ours s", "reference s", "ratio ref / ours", f">= {REFERENCE_TARGET}?"],
            rows,
            notes=[f"reference {REFERENCE_FORWARD_S} s: ResShift's official UNetModelSwin at the same "
                   "configuration on these 2 CPU cores, a number given in the issue (not measured "
                   "by this script)",
                   f"medians of {fwd_repeats} forward passes after 2 warm-up passes"]
            + ([] if device.type == "cpu" else
               ["the reference is a CPU number: on cuda the ratio is not a like-for-like comparison"]))

    if compiled:
        rows = []
        for batch, c in compiled.items():
            if "error" in c:
                rows.append(["tiny", batch, None, None, None, c["error"][:60]])
                continue
            med = common.median(c["times"])
            plain = common.median(times[("tiny", batch, "plain")])
            rows.append(["tiny", batch, c["compile_and_first_call_s"], med / batch, plain / med, ""])
            c["times"] = common.summary(c["times"])
        common.print_table("torch.compile (prepare_for_inference(net, compile=True))",
                           ["preset", "batch", "compile + first call s", "s / image",
                            "speed-up vs plain", "error"], rows,
                           notes=["compile time: the first sampling call, which compiles the graphs "
                                  "(a new batch size may compile again)",
                                  "sampled through net.denoiser(proc), which runs the compiled "
                                  "network body"])

    common.write_json(args.out or common.default_out(__file__, args.quick), {
        "benchmark": "bench_sampling", "quick": args.quick, "environment": env,
        "settings": {"presets": presets, "batches": batches, "repeats": repeats,
                     "warmup": args.warmup, "forward_repeats": fwd_repeats, "seed": args.seed,
                     "process": "emmd", "schedule": repr(proc.schedule),
                     "keep_freed_memory_applied": kept},
        "sampling": results, "forward_paper_1x64": forward,
        "reference": {"forward_s": REFERENCE_FORWARD_S, "target_ratio": REFERENCE_TARGET,
                      "source": "ResShift's official UNetModelSwin, paper config, batch 1, 64x64, "
                                "2 CPU cores; number given in the issue"},
        "compile": {str(k): v for k, v in compiled.items()},
    })


if __name__ == "__main__":
    main()
