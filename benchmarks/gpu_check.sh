#!/usr/bin/env bash
# GPU check (benchmarks/gpu_check.py --help says what it measures): the paper's latent setting on one
# accelerator within 8 minutes; results in benchmarks/results/gpu_<device>.json.
#   benchmarks/gpu_check.sh                 # on the GPU
#   benchmarks/gpu_check.sh --quick         # seconds on a CPU: checks that it runs
# Options are passed on (--out PATH, --budget-s S, --max-batch N, --device cpu|cuda, --report FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
fi
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
# a hard stop at 8 minutes; the script keeps its own budget (--budget-s, 420 s) below it
exec timeout 480 "$PY" benchmarks/gpu_check.py "$@"
