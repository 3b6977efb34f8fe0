"""What a non-editable install (``pip install git+...``, as on Colab) ships: every subpackage, and
the benchmark results notebook 12 reads (found in a checkout, shipped with the package)."""

import json
from pathlib import Path

import pytest

from mrs.pipelines import bench_results as B

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_config() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_subpackage_is_listed_in_pyproject():
    """pyproject.toml lists the packages by hand: one that is missing installs without its files,
    and ``import mrs`` then fails outside a checkout."""
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mrs").rglob("__init__.py")}
    missing = sorted(found - set(_setuptools_config()["packages"]))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_a_checkout_reads_benchmarks_results():
    assert B.bench_results_dir() == ROOT / "benchmarks" / "results"
    data = B.load_bench_result("bench_sampling")
    assert data == json.loads((ROOT / "benchmarks" / "results" / "bench_sampling.json").read_text())
    assert B.load_bench_result("bench_sampling.json") == data
    assert "environment" in data


def test_an_installed_package_reads_its_own_copy():
    """The second place looked in is the package mrs.benchmark_results, which pyproject.toml
    must build from benchmarks/results with its JSON files."""
    assert B._candidates()[1] == ROOT / "mrs" / "benchmark_results"
    cfg = _setuptools_config()
    assert "mrs.benchmark_results" in cfg["packages"]
    assert cfg["package-dir"]["mrs.benchmark_results"] == "benchmarks/results"
    assert "*.json" in cfg["package-data"]["mrs.benchmark_results"]


def test_missing_files_give_none_and_bad_input_an_error(tmp_path):
    assert B.load_bench_result("bench_nothing") is None
    assert B.load_bench_result("bench_sampling", directory=tmp_path) is None
    (tmp_path / "bench_x.json").write_text('{"a": 1}')
    assert B.load_bench_result("bench_x", directory=tmp_path) == {"a": 1}
    (tmp_path / "bench_bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        B.load_bench_result("bench_bad", directory=tmp_path)
    for bad in ("", ".json", "../bench_sampling", "a/b", 3, None):
        with pytest.raises(ValueError, match="name must be"):
            B.load_bench_result(bad)
