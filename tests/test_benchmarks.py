"""The benchmark scripts run end to end (smoke runs with --quick and small settings).

Timings are not asserted: only that each script finishes, prints its table and writes a JSON
file with the fields notebook 12 reads, and that ``--report`` prints the tables again from that
file alone (measuring and reporting are separate), so that the scripts cannot rot unnoticed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "bench_flops": ["--presets", "tiny", "--repeats", "1"],
    "bench_sampling": ["--presets", "tiny", "--batches", "1", "--no-memory", "--repeats", "1"],
    "bench_training": ["--presets", "tiny", "--steps", "1", "--warmup", "1",
                       "--breakdown-repeats", "1", "--optimizers", "fused,foreach"],
    "bench_baselines": ["--n", "2", "--repaint-steps", "12", "--resamplings", "2",
                        "--jump-length", "5", "--no-paper"],
    "bench_region": ["--sizes", "32", "--fractions", "0.1", "--images", "1", "--repeats", "1",
                     "--margins", "4", "--no-irregular"],
    "bench_latent": ["--repeats", "1", "--forward-repeats", "1", "--warmup", "0"],
    "bench_shipped": ["--n", "2"],
    "bench_batch_cache": ["--steps", "2"],
}
FIELDS = {
    "bench_batch_cache": lambda d: (d["train_step"]["read"]["median_s"] > 0
                                    and d["precompute"]["n"] == 2 and d["train_step"]["computed"]["n"] == 2),
    "bench_flops": lambda d: d["presets"]["tiny"]["forward"]["fast"]["achieved_gflops"] > 0,
    "bench_sampling": lambda d: {r["variant"] for r in d["sampling"]} >= {"plain", "fast"},
    "bench_training": lambda d: d["presets"]["tiny"]["optimizers"]["fused"]["steps_per_hour"] > 0,
    "bench_baselines": lambda d: d["samplers"]["EMMD 4 steps"]["nfe_per_image"] == 4,
    "bench_region": lambda d: {r["variant"] for r in d["results"]} == {"full", "margin 4"},
    "bench_latent": lambda d: (
        all({"total", "encode", "network", "decode", "other"} <= set(d["end_to_end"][k])
            for k in ("ours fp32", "ours bf16"))
        and d["end_to_end"]["ours fp32"]["nfe"] == [4] and d["end_to_end"]["ours bf16"]["finite"]
        and {"ours fp32", "ours bf16", "matmul fp32", "matmul bf16"} <= set(d["forward"])
        and "gflops" in d["forward"]["matmul fp32"]
        and all(d["flops"][p]["total"] > 0 for p in ("network", "encode", "decode"))),
    "bench_shipped": lambda d: (
        {"harmonic", "telea", "navier_stokes", "emmd"} <= set(d["pasted"])
        and "vs_harmonic" in d["pasted"]["emmd"] and "vs_harmonic" not in d["pasted"]["harmonic"]
        and all(d["train_minutes"][m] > 0 for m in d["train_minutes"])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_script_runs(name, tmp_path):
    out = tmp_path / f"{name}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    script = str(ROOT / "benchmarks" / f"{name}.py")
    cmd = [sys.executable, script, "--out", str(out), "--quick", "--device", "cpu"]
    proc = subprocess.run(cmd + CASES[name], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "\n| " in proc.stdout                                # a table was printed
    data = json.loads(out.read_text())
    assert FIELDS[name](data)
    again = subprocess.run([sys.executable, script, "--report", str(out)], capture_output=True,
                           text=True, timeout=120, cwd=ROOT, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.split("### ", 1)[1] == proc.stdout.split("### ", 1)[1]
