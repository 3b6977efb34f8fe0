"""Several processes: torchrun data parallel with the latent preset (a random-weight tiny VQ-f4
autoencoder) on a folder of real photographs, two CPU processes over gloo. The pixel-mode case is
tests/test_train.py::test_ddp_two_cpu_processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mrs.pipelines.checkpoint import load_checkpoint

pytest.importorskip("diffusers")
skdata = pytest.importorskip("skimage.data")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def random_vq(tmp_path_factory):
    """A tiny VQ-f4 autoencoder checkpoint with random weights (no training step)."""
    from mrs.training.autoencoder import AutoencoderTrainConfig, train_autoencoder

    stem = tmp_path_factory.mktemp("vq") / "vq"
    cfg = AutoencoderTrainConfig(image_size=16, steps=0, pool=2, val_size=2)
    train_autoencoder(cfg, stem, progress=False)
    return stem


def test_torchrun_two_processes_latent_preset_on_photographs(tmp_path, random_vq):
    from PIL import Image

    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry"):
        where = photos / "more" if name == "rocket" else photos
        Image.fromarray(getattr(skdata, name)()).save(where / f"{name}.png")
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
           "-m", "mrs", "train", "--preset", "tiny_latent", "--process", "emmd",
           "--autoencoder", str(random_vq),
           "--data", str(photos), "--steps", "2", "--out", str(out), "--batch-size", "1", "--val-size", "2",
           "--val-every", "2", "--ckpt-every", "2", "--lpips-weight", "0", "--no-progress", "--device", "cpu"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("trained emmd to step 2") == 1                  # rank 0 reports
    split = json.loads((out / "split.json").read_text())
    assert len(split["val"]) == 2 and len(split["train"]) == 3 and not set(split["train"]) & set(split["val"])
    tensors, meta = load_checkpoint(sorted(out.glob("ckpt_*.json"))[-1])
    assert meta["step"] == 2 and meta["autoencoder"] == str(random_vq) and meta["precision"] == "fp32"
    assert all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point())
    log = (out / "train.log").read_text()
    assert "(world 2)" in log and log.count("start at step 0") == 1        # rank 0 alone logs
