"""What the benchmark scripts share: builders, command line, timing, peak memory, tables, JSON.

Every script is ``measure(args) -> dict`` (JSON-ready numbers) and ``report(data)`` (tables from that
dict alone; ``--report FILE`` re-prints a saved run), joined by ``main``.

Timing: ``autorange`` is ``torch.utils.benchmark.Timer.blocked_autorange``; variants compared by a
ratio run ``interleaved``, one call of each per round on torch's synchronising clock, so a slow spell
of a shared machine hits all alike. Tables show medians; the JSON keeps every time.

Peak memory (``peak_of``), one configuration per fresh process (``--memory-child``): CUDA
``max_memory_allocated``; CPU the high-water mark ``VmHWM``, reset just before the run (``ru_maxrss``
reads it too, but a child inherits its parent's at ``exec``), and what the run added to the RSS.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.benchmark import Timer
from torch.utils.benchmark import timer as clock

import mrs
from mrs.data import validation_split
from mrs.nets import build_net, net_config
from mrs.nets.fast import prepare_for_inference
from mrs.sampling import CountingDenoiser

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIB = 2.0**20
CHILD = "--memory-child"
median = statistics.median


def progress(msg: str) -> None:
    """A progress line on stderr (stdout holds the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- builders -----------------------------------------------------------------------------------

def random_net(preset: str, device, arch: str = "swin_unet") -> torch.nn.Module:
    """``arch``'s ``preset`` with seeded random weights (speed does not depend on them), eval mode."""
    torch.manual_seed(0)
    return build_net(arch, net_config(arch, preset)).to(device).eval()


def plain_and_fast(preset: str, device) -> dict:
    """``{"plain": random_net(...), "fast": a prepare_for_inference copy}`` (same weights)."""
    net = random_net(preset, device)
    return {"plain": net, "fast": prepare_for_inference(copy.deepcopy(net))}   # it works in place


def faces(batch: int, size: int, device) -> tuple:
    """``(x0, mask, y)`` of the fixed validation split, on ``device``."""
    return tuple(z.to(device) for z in validation_split(batch, size))


def forward_fn(net, batch: int, size: int, device):
    """A closure: one forward pass at ``t = T`` on validation faces, under ``inference_mode``."""
    _, mask, y = faces(batch, size, device)
    x = y + torch.randn(y.shape, generator=torch.Generator().manual_seed(0)).to(device)
    t = torch.full((batch,), net.cfg.T, dtype=torch.long, device=device)

    def run():
        with torch.inference_mode():
            return net(x, t, y, mask)
    return run


def sampling_fn(proc, denoiser, y, mask, seed: int):
    """A closure: one ``mrs.sample`` with a fixed seed; ``.counter`` counts the network evaluations
    (``CountingDenoiser``), ``.out`` holds the last sample."""
    counter = CountingDenoiser(denoiser)

    def run():
        run.out = mrs.sample(proc, counter, y, mask, generator=torch.Generator().manual_seed(seed))
        return run.out
    run.counter = counter
    return run


# -- command line and JSON ----------------------------------------------------------------------

def listof(kind=str, known=None):
    """An argparse type: comma-separated values of ``kind`` (each in ``known`` if given)."""
    def parse(text):
        vals = [kind(s) for s in text.split(",") if s]
        if not vals or (known is not None and any(v not in known for v in vals)):
            raise argparse.ArgumentTypeError(f"{text!r}: comma-separated values from {sorted(known or [])}")
        return vals
    return parse


def main(script: str, doc: str, add_args, measure, report, child=None) -> None:
    """The command line: ``measure`` -> ``report`` -> JSON; or a memory child; or ``--report``."""
    name = Path(script).stem
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny settings: checks that it runs (not to report)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=("cpu", "cuda")[torch.cuda.is_available()])
    p.add_argument("--out", help=f"JSON path (default: results/{name}[_quick].json; a bare name goes there)")
    p.add_argument("--report", metavar="JSON", help="print the tables of a saved result; measure nothing")
    p.add_argument(CHILD, help=argparse.SUPPRESS)
    add_args(p)
    args = p.parse_args()
    if args.memory_child:
        print(json.dumps(child(json.loads(args.memory_child)), default=str), flush=True)
        return
    if args.report:
        data = json.loads(Path(args.report).read_text())
    else:
        if args.device == "cuda" and not torch.cuda.is_available():
            p.error("--device cuda, but torch.cuda.is_available() is False")
        args.device = torch.device(args.device)
        env = environment(args.device)
        progress(environment_line(env))
        data = {"benchmark": name, "quick": args.quick, "environment": env, **measure(args)}
    print(f"\n## {name}{' (--quick: not for reporting)' if data.get('quick') else ''}\n")
    print(environment_line(data["environment"]))
    report(data)
    if not args.report:
        out = Path(args.out or f"{name}{'_quick' if args.quick else ''}.json")
        out = RESULTS_DIR / out if out.parent == Path(".") else out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1, default=str) + "\n")
        progress(f"wrote {out}")


def environment(device) -> dict:
    """Where the numbers were taken: torch, threads, CPU model, GPU, date, commit, command."""
    def sh(*cmd):
        try:
            return subprocess.run(cmd, cwd=RESULTS_DIR.parent, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    cpu = [ln.split(":", 1)[1].strip() for ln in sh("cat", "/proc/cpuinfo").splitlines()
           if ln.startswith("model name")]
    commit = sh("git", "rev-parse", "--short", "HEAD")
    commit += "-dirty" if commit and sh("git", "status", "--porcelain") else ""
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(), "cpu_model": cpu[0] if cpu else platform.machine(),
            "platform": platform.platform(), "python": platform.python_version(), "device": str(device),
            "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "git_commit": commit or None,
            "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "mrs": mrs.__version__}


def environment_line(env: dict) -> str:
    gpu = f", GPU {env['cuda_device']}" if env.get("cuda_device") else ""
    return (f"torch {env['torch']}, {env['torch_threads']} threads, {env['cpu_model']}{gpu}, "
            f"device {env['device']}, {env['date']}")


# -- timing -------------------------------------------------------------------------------------

def summary(times, **extra) -> dict:
    """Median, min, max and every duration (s), for the JSON files."""
    return {"median_s": median(times), "min_s": min(times), "max_s": max(times), "n": len(times),
            "times_s": list(times), **extra}


def autorange(fn, repeats: int) -> dict:
    """``Timer.blocked_autorange`` of ``fn()`` with a budget of ``repeats`` x one untimed first call;
    ``times_s`` are per-call means of its blocks."""
    start = clock()
    fn()
    budget = repeats * (clock() - start)
    timer = Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    m = timer.blocked_autorange(min_run_time=budget)
    return summary(m.times, number_per_run=m.number_per_run)


def interleaved(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """name -> durations (s) of ``repeats`` calls of each callable, in turn, after ``warmup`` each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return times


def mean_sem(values) -> tuple:
    """Mean and standard error of the mean (0 for a single value)."""
    v = [float(x) for x in values]
    return statistics.fmean(v), statistics.stdev(v) / len(v) ** 0.5 if len(v) > 1 else 0.0


# -- peak memory --------------------------------------------------------------------------------

def peak_of(run, device) -> dict:
    """Peak memory (MiB) of one ``run()`` in this process and what it added (see the top)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / MIB
        run()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / MIB
        return {"peak_mib": peak, "rss_before_mib": before, "added_mib": peak - before,
                "kind": "torch.cuda.max_memory_allocated"}

    def status(field):
        lines = Path("/proc/self/status").read_text().splitlines() if os.path.exists("/proc") else []
        return next((int(ln.split()[1]) / 1024 for ln in lines if ln.startswith(field + ":")), None)
    gc.collect()
    before = status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")    # VmHWM := the current RSS (Linux >= 4.0)
        reset = True
    except OSError:
        reset = False
    run()
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (MIB if sys.platform == "darwin" else 1024)
    peak = status("VmHWM")
    return {"peak_mib": ru if peak is None else peak, "rss_before_mib": before,
            "added_mib": None if None in (peak, before) else peak - before, "peak_was_reset": reset,
            "source": "ru_maxrss" if peak is None else "VmHWM", "ru_maxrss_mib": ru,
            "kind": "cpu peak RSS of a fresh process running the configuration once"}


def memory_in_subprocess(script: str, config: dict, timeout: float = 1800) -> dict:
    """``script --memory-child JSON(config)`` in a fresh interpreter: the dict it prints last."""
    proc = subprocess.run([sys.executable, script, CHILD, json.dumps(config)], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return {"error": f"child exited with {proc.returncode}: "
                         + " / ".join(proc.stderr.strip().splitlines()[-5:])}
    return json.loads(lines[-1])


# -- tables -------------------------------------------------------------------------------------

def fmt(x) -> str:
    """A table cell: 3 significant digits (commas from 1,000 on), None as '-'."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    if isinstance(x, float):
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.3g}" if abs(x) < 1e-3 else f"{x:#.3g}".rstrip(".")
    return str(x)


def print_table(title: str, headers, rows, notes=()) -> None:
    """A titled markdown table on stdout (numeric columns right-aligned), notes under it."""
    cells = [[fmt(c) for c in row] for row in rows]
    num = [bool(rows) and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows)
           for i in range(len(headers))]
    w = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(items):
        return "| " + " | ".join(s.rjust(n) if a else s.ljust(n) for s, n, a in zip(items, w, num)) + " |"
    sep = "|" + "|".join("-" * (n + 1) + ":" if a else "-" * (n + 2) for n, a in zip(w, num)) + "|"
    text = "\n".join([line([str(h) for h in headers]), sep] + [line(r) for r in cells])
    print(f"\n### {title}\n\n{text}\n" + "".join(f"\n- {n}" for n in notes) + "\n", flush=True)
