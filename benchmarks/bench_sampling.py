"""Sampling speed: seconds per image, images/s, network evaluations and peak memory of mrs.sample.

For the presets ``tiny`` (32x32) and ``paper`` (64x64) with random weights (speed does not depend
on them) at batch 1 and 8, on the validation faces:

* a full 4-step ``mrs.sample`` of the emmd process: seconds per image (median call / batch),
  images/s and network evaluations (NFE) per image (``CountingDenoiser``) for three variants of
  the same weights: ``plain`` (``net.eval()``) and ``fast`` (``prepare_for_inference``,
  channels-last), alternating inside every repeat, then ``fast+keep_freed_memory`` (after
  ``keep_freed_memory()``, which changes glibc's allocator for good, so it is measured last);
* the forward pass alone of ``paper`` at 1x64x64 for the three variants (a comparison with the
  official network belongs in a run beside a checkout of the official code, not against a constant);
* peak memory of one sampling call per configuration, in a fresh process (``common.peak_of``);
* ``--compile``: ``prepare_for_inference(net, compile=True)`` for ``tiny``, the compile time (the
  first call) apart from the steady state (``Timer.blocked_autorange``).

Run:  .venv/bin/python benchmarks/bench_sampling.py [--quick] [--device cpu|cuda] [--compile]
"""

from __future__ import annotations

import common
import torch

import mrs
from mrs.nets.fast import keep_freed_memory, prepare_for_inference

SIZES = {"tiny": 32, "paper": 64}
VARIANTS = ("plain", "fast", "fast+keep_freed_memory")


def add_args(p):
    p.add_argument("--presets", type=common.listof(str, SIZES), default="tiny,paper")
    p.add_argument("--batches", type=common.listof(int), help="default 1,8; --quick: 1,2")
    p.add_argument("--repeats", type=int, help="timed calls per configuration (default 5; --quick: 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls first (default 1)")
    p.add_argument("--forward-repeats", type=int, help="timed paper forward passes (default 10; --quick: 2)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    p.add_argument("--compile", action="store_true", help="also time compile=True for tiny (minutes)")


def memory_child(cfg: dict) -> dict:
    device = torch.device(cfg["device"])
    net = common.random_net(cfg["preset"], device)
    net = net if cfg["variant"] == "plain" else prepare_for_inference(net)
    proc = mrs.make_process("emmd", net.schedule)
    _, mask, y = common.faces(cfg["batch"], SIZES[cfg["preset"]], device)
    run = common.sampling_fn(proc, net.denoiser(proc), y, mask, cfg["seed"])
    if cfg["variant"] == "fast+keep_freed_memory":
        keep_freed_memory()
    if device.type == "cuda":
        run()                           # warm-up: first-call allocations are not the run's
    return common.peak_of(run, device)


def measure(args) -> dict:
    dev, presets = args.device, args.presets
    batches = args.batches or ([1, 2] if args.quick else [1, 8])
    repeats = args.repeats or (1 if args.quick else 5)
    fwd_repeats = args.forward_repeats or (2 if args.quick else 10)
    nets = {p: common.plain_and_fast(p, dev) for p in presets}
    for variants in nets.values():
        variants[VARIANTS[2]] = variants["fast"]          # the same module, measured later
    proc = mrs.make_process("emmd", mrs.Schedule.exponential())
    configs = [(p, b) for p in presets for b in batches]
    times, nfe, fwd = {}, {}, {}

    def time_variants(variants):
        for preset, batch in configs:
            common.progress(f"sampling {preset} batch {batch}: {', '.join(variants)}")
            _, mask, y = common.faces(batch, SIZES[preset], dev)
            fns = {v: common.sampling_fn(proc, nets[preset][v].denoiser(proc), y, mask, args.seed)
                   for v in variants}
            for v, ts in common.interleaved(fns, repeats, args.warmup).items():
                times[preset, batch, v] = ts
                nfe[preset, batch, v] = fns[v].counter.images / (batch * (repeats + args.warmup))
        if "paper" in presets:
            common.progress(f"forward paper 1x64x64: {', '.join(variants)}")
            fns = {v: common.forward_fn(nets["paper"][v], 1, 64, dev) for v in variants}
            fwd.update(common.interleaved(fns, fwd_repeats, 2))

    time_variants(VARIANTS[:2])
    kept = keep_freed_memory()
    time_variants(VARIANTS[2:])

    compiled = {}
    compile_tiny = args.compile and "tiny" in presets
    net = prepare_for_inference(common.random_net("tiny", dev), compile=True) if compile_tiny else None
    for batch in batches if compile_tiny else ():
        common.progress(f"compile=True: tiny batch {batch}")
        _, mask, y = common.faces(batch, 32, dev)
        run = common.sampling_fn(proc, net.denoiser(proc), y, mask, args.seed)
        try:
            start = common.clock()
            run()
            compiled[str(batch)] = {"compile_and_first_call_s": common.clock() - start,
                                    "times": common.autorange(run, repeats)}
        except Exception as err:        # report whatever the compiler raised
            compiled[str(batch)] = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
            break

    memory = {}
    for preset, batch in [] if args.no_memory else configs:
        for v in VARIANTS if not args.quick or batch == max(batches) else ():   # --quick: largest only
            common.progress(f"memory {preset} batch {batch} {v} (fresh process)")
            memory[preset, batch, v] = common.memory_in_subprocess(__file__, dict(
                preset=preset, batch=batch, variant=v, seed=args.seed, device=str(dev)))

    def row(p, b, v):
        med = common.median(times[p, b, v])
        return {"preset": p, "size": SIZES[p], "batch": b, "variant": v, "seconds_per_image": med / b,
                "images_per_s": b / med, "nfe_per_image": nfe[p, b, v],
                "call": common.summary(times[p, b, v]),
                "speedup_vs_plain": common.median(times[p, b, "plain"]) / med,
                "memory": memory.get((p, b, v), {})}

    forward = {v: {"forward": common.summary(ts)} for v, ts in fwd.items()}
    return {"settings": {"presets": presets, "batches": batches, "repeats": repeats,
                         "warmup": args.warmup, "forward_repeats": fwd_repeats, "seed": args.seed,
                         "process": "emmd", "schedule": repr(proc.schedule),
                         "keep_freed_memory_applied": kept, "no_memory": args.no_memory},
            "sampling": [row(p, b, v) for p, b in configs for v in VARIANTS],
            "forward_paper_1x64": forward,
            "compile": compiled}


def report(d: dict) -> None:
    s, cpu = d["settings"], d["environment"]["device"] == "cpu"
    common.print_table(
        "mrs.sample, 4 steps, emmd process, random weights",
        ["preset", "size", "batch", "variant", "s / image", "images / s", "NFE / image", "s / call",
         "speed-up vs plain", "peak MiB", "added MiB"],
        [[r["preset"], f"{r['size']}x{r['size']}", r["batch"], r["variant"], r["seconds_per_image"],
          r["images_per_s"], r["nfe_per_image"], r["call"]["median_s"], r["speedup_vs_plain"],
          r["memory"].get("peak_mib"), r["memory"].get("added_mib")] for r in d["sampling"]],
        notes=[f"medians of {s['repeats']} calls after {s['warmup']} warm-up call(s); plain and fast "
               "alternate inside every repeat; fast+keep_freed_memory is measured after them",
               "memory: " + ("skipped" if s.get("no_memory") else "peak RSS (VmHWM) of a fresh process "
                             "running one call; added = peak - RSS after imports, build and inputs"
                             if cpu else "torch.cuda.max_memory_allocated after a warm-up call")])
    if d["forward_paper_1x64"]:
        common.print_table(
            "forward pass alone: paper, batch 1, 64x64, torch.inference_mode()",
            ["variant", "s / forward"],
            [[v, f["forward"]["median_s"]] for v, f in d["forward_paper_1x64"].items()],
            notes=[f"medians of {s['forward_repeats']} passes after 2 warm-up passes, variants in turn"])
    if d["compile"]:
        plain = {r["batch"]: r["call"]["median_s"] for r in d["sampling"]
                 if r["preset"] == "tiny" and r["variant"] == "plain"}
        common.print_table(
            "torch.compile (prepare_for_inference(net, compile=True)), tiny",
            ["batch", "compile + first call s", "s / image", "speed-up vs plain", "error"],
            [[int(b), c.get("compile_and_first_call_s"), (m := c.get("times", {}).get("median_s"))
              and m / int(b), m and plain[int(b)] / m, c.get("error", "")[:60]]
             for b, c in d["compile"].items()],
            notes=["the first call compiles (again for a new batch size); steady state: "
                   "Timer.blocked_autorange median"])


if __name__ == "__main__":
    common.main(__file__, __doc__, add_args, measure, report, memory_child)
