"""The benchmark results that notebook 12 reads: the JSON files written by the scripts in
``benchmarks/`` (``benchmarks/README.md`` says what each one measures).

They are looked up in ``benchmarks/results`` of a source checkout, where re-running a script
replaces them, and otherwise in the copy installed with the package as ``mrs.benchmark_results``
(what ``pip install`` ships, e.g. on Colab). Every file records in ``environment`` the machine,
library versions and date of its measurement: the numbers describe that machine, not the one
reading them.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["bench_results_dir", "load_bench_result"]


def _candidates() -> list:
    here = Path(__file__).resolve()
    return [here.parents[2] / "benchmarks" / "results",   # a source checkout
            here.parents[1] / "benchmark_results"]        # installed: the package mrs.benchmark_results


def bench_results_dir() -> Path | None:
    """``benchmarks/results`` of a source checkout, else the installed ``mrs/benchmark_results``;
    ``None`` when neither holds a JSON file."""
    for d in _candidates():
        if d.is_dir() and any(d.glob("*.json")):
            return d
    return None


def load_bench_result(name: str, directory: str | Path | None = None) -> dict | None:
    """The saved result of one benchmark script, e.g. ``load_bench_result("bench_sampling")``.

    Args:
        name: the file's stem (``"bench_region"``; a trailing ``.json`` is accepted), no folders.
        directory: where to look; default ``bench_results_dir()``.

    Returns the parsed JSON, or ``None`` when there is no such file (nothing was measured).
    Raises ``ValueError`` for a bad name or a file that is not valid JSON.
    """
    if not isinstance(name, str) or not name.removesuffix(".json") or "/" in name or "\\" in name:
        raise ValueError(f"name must be a benchmark's file name such as 'bench_sampling', got {name!r}")
    folder = Path(directory) if directory is not None else bench_results_dir()
    if folder is None:
        return None
    path = folder / f"{name.removesuffix('.json')}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
