"""Helpers shared by the benchmark scripts: timing, tables, JSON results, environment, peak memory.

Timing. ``time_runs(fn, repeats, warmup, device)`` calls ``fn`` ``warmup`` times untimed, then
``repeats`` times, each between two ``time.perf_counter()`` readings (after a
``torch.cuda.synchronize()`` on CUDA, so that queued kernels are counted), and returns the list of
durations in seconds. Scripts report the **median** of that list (robust to the occasional slow
run of a shared machine); the JSON files keep every duration. ``time_interleaved`` does the same
for several variants at once, alternating them inside every repeat so that a slow period of the
machine hits all of them alike.

Peak memory. On CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``
(tensors only, not the CUDA context or the allocator's cache). On CPU each configuration runs
once in a fresh subprocess (the same script, started with a hidden argument): it imports, builds
the model and inputs, reads its resident set size (``VmRSS``), clears the kernel's high-water mark
(``/proc/self/clear_refs``), runs the configuration once and reads the peak. It reports both the
peak RSS of the process and the part added by the run (peak minus the RSS after imports and model
build). The peak is read from ``VmHWM`` in ``/proc/self/status``, which is the counter
``getrusage(RUSAGE_SELF).ru_maxrss`` reports, but per address space: ``ru_maxrss`` itself is
useless in a child started from the big benchmark process, because at ``exec`` Linux records the
parent's high-water mark in it (measured: a child of a 1.7 GB parent reports 1.7 GB). Where
``/proc`` is missing, ``ru_maxrss`` is the fallback (and the JSON says so).
"""

from __future__ import annotations

import argparse
import datetime
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

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIB = 1024.0 * 1024.0


# -- command line -------------------------------------------------------------------------------

def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--quick``, ``--device``, ``--out`` (every script has them)."""
    parser.add_argument("--quick", action="store_true",
                        help="tiny repeats and sizes: checks that the script runs end to end; the "
                             "numbers are not meant to be reported")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=default_device(),
                        help="where to run (default: cuda if available, else cpu)")
    parser.add_argument("--out", default=None,
                        help="JSON result path; a bare file name goes into benchmarks/results/ "
                             "(default: benchmarks/results/<script>[_quick].json)")
    return parser


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for but torch.cuda.is_available() is False")
    return torch.device(name)


def default_out(script_file: str, quick: bool) -> Path:
    stem = Path(script_file).stem
    return RESULTS_DIR / f"{stem}{'_quick' if quick else ''}.json"


def progress(msg: str) -> None:
    """One progress line on stderr (stdout holds the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- timing -------------------------------------------------------------------------------------

def sync(device) -> None:
    """Wait for queued work on ``device`` (a no-op on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_runs(fn, repeats: int, warmup: int = 1, device="cpu") -> list:
    """``warmup`` untimed calls of ``fn()``, then the durations (s) of ``repeats`` timed calls."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def time_interleaved(fns: dict, repeats: int, warmup: int = 1, device="cpu") -> dict:
    """``time_runs`` for several callables, alternating them inside every repeat.

    Returns name -> list of durations (s). The warm-up calls are made for every callable first.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync(device)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def median(xs) -> float:
    return float(statistics.median(xs))


def summary(times) -> dict:
    """Median, min, max and every duration of a list of timings (s), for the JSON files."""
    return {"median_s": median(times), "min_s": float(min(times)), "max_s": float(max(times)),
            "n": len(times), "times_s": [float(t) for t in times]}


def mean_sem(values) -> tuple:
    """Mean and standard error of the mean (sample std / sqrt(n); 0 for a single value)."""
    vals = [float(v) for v in values]
    m = statistics.fmean(vals)
    sem = statistics.stdev(vals) / len(vals) ** 0.5 if len(vals) > 1 else 0.0
    return m, sem


# -- output -------------------------------------------------------------------------------------

def fmt(x, digits: int = 3) -> str:
    """A table cell: numbers with ``digits`` significant digits (ints as they are), None as '-'."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    if isinstance(x, float):
        if x != x:
            return "nan"
        if x == 0:
            return "0"
        if abs(x) >= 10 ** digits:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}" if abs(x) < 1e-3 else f"{x:#.{digits}g}".rstrip(".")
    return str(x)


def format_table(headers, rows, digits: int = 3) -> str:
    """A markdown table (readable as plain text too); numeric columns are right-aligned."""
    cells = [[fmt(c, digits) for c in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows
               for i in range(len(headers))]
    widths = [max([len(str(h))] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(items):
        out = []
        for i, s in enumerate(items):
            out.append(s.rjust(widths[i]) if numeric[i] else s.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if numeric[i] else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line([str(h) for h in headers]), sep] + [line(r) for r in cells])


def print_table(title: str, headers, rows, notes=(), digits: int = 3) -> str:
    """Print a titled table (and notes under it) on stdout; returns the text."""
    text = f"\n### {title}\n\n{format_table(headers, rows, digits)}\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print(text, flush=True)
    return text


def write_json(path, data: dict) -> Path:
    """Write ``data`` as indented JSON. A bare file name goes into ``benchmarks/results/``; the
    folder is created. Returns the path written."""
    path = Path(path)
    if path.parent == Path("."):
        path = RESULTS_DIR / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=_json_default) + "\n")
    progress(f"wrote {path}")
    return path


def _json_default(obj):
    if isinstance(obj, (torch.device, torch.dtype, Path)):
        return str(obj)
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                               text=True, timeout=10)
        if rev.returncode != 0:
            return None
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device="cpu") -> dict:
    """Where the numbers were taken: torch, threads, CPU model, GPU, date, ..."""
    env = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "device": str(device),
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "git_commit": _git_commit(),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
    }
    try:
        import mrs

        env["mrs"] = mrs.__version__
    except ImportError:
        pass
    return env


def environment_line(env: dict) -> str:
    gpu = f", GPU {env['cuda_device']}" if env.get("cuda_device") else ""
    return (f"torch {env['torch']}, {env['torch_threads']} threads, {env['cpu_model']}{gpu}, "
            f"device {env['device']}, {env['date']}")


# -- peak memory --------------------------------------------------------------------------------

def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def ru_maxrss_mib() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak * 1024 / MIB


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / MIB
    except OSError:
        pass
    return None


def rss_mib() -> float | None:
    """This process's current resident set size (MiB), from /proc/self/status; None elsewhere."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> tuple:
    """``(peak RSS in MiB, source)``: ``VmHWM`` where /proc exists, else ``ru_maxrss``."""
    hwm = _status_mib("VmHWM")
    return (hwm, "VmHWM") if hwm is not None else (ru_maxrss_mib(), "ru_maxrss")


def cpu_peak_of(run) -> dict:
    """Call ``run()`` once in this (fresh) process and return its peak RSS (MiB) and what it
    added to the RSS measured just before. For the subprocess side of ``memory_in_subprocess``."""
    import gc

    gc.collect()
    before = rss_mib()
    reset = reset_peak_rss()
    run()
    peak, source = peak_rss_mib()
    return {"peak_mib": peak, "rss_before_mib": before,
            "added_mib": None if before is None else peak - before, "peak_was_reset": reset,
            "source": source, "ru_maxrss_mib": ru_maxrss_mib(),
            "kind": "cpu peak RSS of a fresh process running the configuration once"}


def cuda_peak_of(run, device) -> dict:
    """Peak allocated CUDA memory (MiB) during ``run()`` and what it added to the memory allocated
    before (tensors only)."""
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run()
    sync(device)
    peak = torch.cuda.max_memory_allocated(device)
    return {"peak_mib": peak / MIB, "rss_before_mib": before / MIB, "added_mib": (peak - before) / MIB,
            "kind": "torch.cuda.max_memory_allocated"}


CHILD_FLAG = "--memory-child"


def add_child_arg(parser: argparse.ArgumentParser) -> None:
    """The hidden argument with which a script re-runs itself to measure one configuration."""
    parser.add_argument(CHILD_FLAG, default=None, help=argparse.SUPPRESS)


def memory_in_subprocess(script_file: str, config: dict, timeout: float = 1800) -> dict:
    """Run ``script_file --memory-child JSON(config)`` in a fresh interpreter and return the dict
    it prints as its last stdout line (the child calls ``child_reply``)."""
    cmd = [sys.executable, str(script_file), CHILD_FLAG, json.dumps(config)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        return {"error": f"child exited with {proc.returncode}: " + " / ".join(tail)}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"child printed no JSON: {lines[-1][:200]}"}


def parse_args_or_child(parser: argparse.ArgumentParser, child):
    """Parse the command line. A memory child (``--memory-child JSON``) runs ``child(config)``,
    prints its reply and gets ``None``; the parent gets the parsed arguments."""
    add_child_arg(parser)
    args = parser.parse_args()
    if args.memory_child is not None:
        child_reply(child(json.loads(args.memory_child)))
        return None
    return args


def parse_presets(parser: argparse.ArgumentParser, text: str, known) -> list:
    """``"tiny,paper"`` as a list, each checked against ``known`` (a parser error otherwise)."""
    presets = [s for s in text.split(",") if s]
    for s in presets:
        if s not in known:
            parser.error(f"unknown preset {s!r}; choose from {sorted(known)}")
    return presets


def child_reply(result: dict) -> None:
    print(json.dumps(result, default=_json_default), flush=True)
