"""Precision by capability: auto -> bf16 (CUDA >= 8.0) / fp16 with a gradient scaler (below) / fp32
(CPU), the mode recorded in checkpoints and the log, older configs with ``amp`` still load."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mrs.training import TrainConfig, Trainer
from mrs.training.precision import autocast, grad_scaler, resolve_precision

ROOT = Path(__file__).resolve().parent.parent


def small(**kw):
    base = dict(image_size=16, batch_size=2, steps=2, warmup_steps=1, val_every=2, ckpt_every=2,
                val_size=2, lpips_weight=0.0, train_pool=8)
    return TrainConfig.preset("tiny", **{**base, **kw})


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16"),
                                                  ((6, 1), "fp16")])
def test_auto_picks_by_the_faked_capability(monkeypatch, capability, expected):
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda device=None: asked.append(device) or capability)
    assert resolve_precision("auto", "cuda") == expected
    assert resolve_precision("auto", "cuda:1") == expected and asked[-1] == torch.device("cuda:1")
    assert resolve_precision("fp32", "cuda") == "fp32" and resolve_precision("fp16", "cuda") == "fp16"
    if capability < (8, 0):
        with pytest.raises(ValueError, match="capability >= 8.0; this one is 7.5|6.1"):
            resolve_precision("bf16", "cuda")


def test_auto_is_fp32_on_cpu_and_never_asks_cuda(monkeypatch):
    def no_cuda(*a, **k):
        raise AssertionError("the CPU path must not query CUDA")

    monkeypatch.setattr(torch.cuda, "get_device_capability", no_cuda)
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", "cpu")
    assert grad_scaler("bf16", "cpu") is None and grad_scaler("fp32", "cpu") is None
    assert isinstance(grad_scaler("fp16", "cpu"), torch.amp.GradScaler)
    conv = torch.nn.Conv2d(3, 3, 3)
    with autocast("bf16", "cpu"):
        assert conv(torch.zeros(1, 3, 8, 8)).dtype == torch.bfloat16
    with autocast("fp32", "cpu"):
        assert conv(torch.zeros(1, 3, 8, 8)).dtype == torch.float32


def test_config_checks_and_older_configs_with_amp():
    assert TrainConfig().precision == "auto" and TrainConfig().requested_precision == "auto"
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="half")
    with pytest.raises(ValueError, match="contradicts"):
        TrainConfig(amp=False, precision="bf16")
    old = {k: v for k, v in small().to_dict().items() if k not in ("precision", "ckpt_minutes",
                                                                    "sample_every", "val_holdout")}
    assert TrainConfig.from_dict({**old, "amp": True}).requested_precision == "auto"
    assert TrainConfig.from_dict({**old, "amp": False}).requested_precision == "fp32"
    older = ROOT / "data" / "checkpoints" / "pixel32" / "emmd.json"     # saved with amp, before precision
    shipped = json.loads(older.read_text())["train_config"]
    assert TrainConfig.from_dict(shipped).requested_precision == "auto"
    for bad in (dict(ckpt_minutes=-1.0), dict(sample_every=-2), dict(val_holdout=1.5)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_the_mode_is_recorded_in_the_checkpoint_and_the_log(tmp_path, precision):
    tr = Trainer(small(precision=precision), tmp_path / "run", device="cpu", progress=False)
    assert tr.precision == precision and (tr.scaler is not None) == (precision == "fp16")
    before = [p.detach().clone() for p in tr.net.parameters()]
    last = tr.run()
    meta = json.loads(last.read_text())
    assert meta["precision"] == precision and meta["train_config"]["precision"] == precision
    assert ("grad_scaler" in meta) == (precision == "fp16")
    assert f"precision {precision} (requested {precision})" in (tmp_path / "run" / "train.log").read_text()
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.net.parameters()))   # it trained
    assert all(torch.isfinite(p).all() for p in tr.net.parameters())
    if precision == "fp16":   # the scaler's state comes back on resume
        scale = meta["grad_scaler"]["scale"]
        again = Trainer.resume(tmp_path / "run", steps=3, progress=False)
        assert again.scaler.get_scale() == scale and again.precision == "fp16"


def test_an_old_run_without_precision_resumes_and_may_change_it(tmp_path):
    Trainer(small(), tmp_path / "run", progress=False).run()
    ck = sorted((tmp_path / "run").glob("ckpt_*.json"))[-1]
    meta = json.loads(ck.read_text())
    for k in ("precision", "ckpt_minutes", "sample_every", "val_holdout"):   # as an older mrs wrote it
        meta["train_config"].pop(k)
    meta.pop("precision")
    ck.write_text(json.dumps(meta))
    tr = Trainer.resume(tmp_path / "run", steps=3, progress=False)
    assert tr.precision == "fp32" and tr.step == 2
    tr = Trainer.resume(tmp_path / "run", steps=3, progress=False, changes={"precision": "bf16"})
    assert tr.precision == "bf16"
    with pytest.raises(ValueError, match="keeps its \\['lr'\\]"):
        Trainer.resume(tmp_path / "run", changes={"lr": 1.0})


def test_cli_precision_option():
    r = subprocess.run([sys.executable, "-m", "mrs", "train", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0 and "--precision {auto,fp32,fp16,bf16}" in r.stdout
    assert "--ckpt-minutes" in r.stdout and "--sample-every" in r.stdout
    r = subprocess.run([sys.executable, "-m", "mrs", "train", "--out", "x", "--precision", "fp8"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "invalid choice" in r.stderr
