"""benchmarks/gpu_check.sh --quick runs on a CPU in seconds, writes its JSON where told (not into
benchmarks/results) and prints the same tables again from that file alone (--report)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


@pytest.mark.skipif(sys.platform == "win32", reason="a bash script")
def test_gpu_check_quick_on_cpu(tmp_path):
    out = tmp_path / "gpu_quick.json"
    before = sorted((ROOT / "benchmarks" / "results").glob("gpu_*.json"))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHON=sys.executable)
    start = time.monotonic()
    r = subprocess.run(["bash", str(SCRIPT), "--quick", "--device", "cpu", "--out", str(out)],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stderr[-3000:]
    # about 10 s of CPU time with one thread; the bound leaves room for a machine shared with others
    assert took < 60, f"--quick took {took:.0f} s"
    assert sorted((ROOT / "benchmarks" / "results").glob("gpu_*.json")) == before   # nothing written there
    d = json.loads(out.read_text())
    assert d["quick"] and d["precisions"] == ["bf16", "fp32"] and d["settings"]["preset"] == "tiny_latent"
    for p in ("bf16", "fp32"):
        tr = d["training"][p]
        assert tr["steps_per_s"] > 0 and tr["images_per_s"] == pytest.approx(tr["batch"] * tr["steps_per_s"])
        assert tr["flops_per_step"] > 0 and tr["achieved_tflops"] > 0 and tr["fraction_of_matmul"] > 0
        assert tr["peak_tflops"] is None                                   # a CPU is not in the table
        assert d["sampling"][p]["images_per_s"] > 0 and d["sampling"][p]["finite"]
    big = d["largest_batch"]
    assert big["largest"] == 4 and big["note"] == "stopped at --max-batch 4" and big["steps_per_s"] > 0
    assert "### training" in r.stdout and "\n| " in r.stdout
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--report", str(out)],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.split("### ", 1)[1] == r.stdout.split("### ", 1)[1]


def test_gpu_check_knows_the_device_peaks_and_names_its_results():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert gpu_check.PEAKS["T4"] == {"fp16": 65.0, "fp32": 8.1}          # no bf16 on a T4
    r = gpu_check.rates(int(1e12), 2.0, "bf16", {"peak_key": "A100"}, {"bf16": {"tflops": 200.0}})
    assert r["achieved_tflops"] == pytest.approx(2.0)
    assert r["fraction_of_peak"] == pytest.approx(2.0 / 312)
    assert r["fraction_of_matmul"] == pytest.approx(0.01)
    quick = gpu_check.default_out(["x.py", "--quick", "--device", "cpu"])
    assert quick[-2:] == ["--out", "gpu_cpu_quick.json"]
    assert gpu_check.default_out(["x.py", "--out", "mine.json"]) == ["x.py", "--out", "mine.json"]
