"""Training pipeline: configs, deterministic resume, checkpoints, LPIPS fallback, CLI, DDP."""

import json
import os
import subprocess
import sys
import urllib.error
import warnings
from pathlib import Path

import pytest
import torch

import mrs
from mrs.pipelines import export_weights, load_pretrained
from mrs.pipelines.checkpoint import CheckpointError, load_checkpoint
from mrs.training import TrainConfig, Trainer, losses, lr_at

ROOT = Path(__file__).resolve().parent.parent


def small(**kw):
    base = dict(image_size=16, batch_size=2, steps=6, warmup_steps=2, val_every=3, ckpt_every=3,
                val_size=2, lpips_weight=0.0, train_pool=64)
    return TrainConfig.preset("tiny", **{**base, **kw})


def test_presets_follow_the_paper_table():
    p = TrainConfig.preset("paper")
    assert (p.lr, p.warmup_steps, p.ema_decay, p.batch_size, p.steps) == (5e-5, 5000, 0.99, 4, 200_000)
    assert (p.beta1, p.beta2, p.schedule.T, p.schedule.kappa, p.lpips_weight) == (0.9, 0.999, 4, 2.0, 10.0)
    assert p.net == "paper" and p.image_size == 256 and p.autoencoder == "resshift_face"
    assert TrainConfig.preset("paper_pixel").image_size == 64
    with pytest.raises(ValueError, match="preset"):
        TrainConfig.preset("huge")
    with pytest.raises(ValueError, match="process"):
        TrainConfig(process="ddpm")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)


def test_lr_schedule():
    cfg = TrainConfig(lr=1.0, warmup_steps=10, steps=110)
    assert lr_at(cfg, 0) == pytest.approx(0.1) and lr_at(cfg, 9) == pytest.approx(1.0)
    assert lr_at(cfg, 60) == pytest.approx(0.5)
    assert lr_at(cfg, 110) == pytest.approx(0.0, abs=1e-12)


def state(trainer):
    return {**{f"n.{k}": v for k, v in trainer.net.state_dict().items()},
            **{f"e.{k}": v for k, v in trainer.ema.state_dict().items()}}


def test_resume_is_bit_identical(tmp_path):
    cfg = small(process="emmd_smooth", steps=6, ckpt_every=3)
    a = Trainer(cfg, tmp_path / "a", progress=False)
    a.run()
    b = Trainer(cfg, tmp_path / "b", progress=False)
    b.run(until=3)  # "interrupted" after the checkpoint at step 3
    del b
    c = Trainer.resume(tmp_path / "b", progress=False)
    assert c.step == 3
    c.run()
    sa, sc = state(a), state(c)
    assert sa.keys() == sc.keys()
    assert all(torch.equal(sa[k], sc[k]) for k in sa)
    rows_a = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    rows_c = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    assert len(rows_a) == len(rows_c) == 3  # header + steps 3 and 6
    strip = [lambda r: r.rsplit(",", 5)[0]]  # the losses (not the times) agree
    seconds = [float(r.rsplit(",", 1)[1]) for r in rows_c[1:]]
    assert 0 < seconds[0] <= seconds[1]   # the clock goes on across the resume
    assert [strip[0](r) for r in rows_a[1:]] == [strip[0](r) for r in rows_c[1:]]
    assert not list((tmp_path / "b").glob("*.tmp"))


def test_a_resumed_run_counts_on_from_the_recorded_seconds(tmp_path):
    import csv

    cfg = small(process="emmd", steps=6, ckpt_every=3)
    b = Trainer(cfg, tmp_path, progress=False)
    b.run(until=3)
    del b
    path = tmp_path / "metrics.csv"
    rows = list(csv.DictReader(open(path)))
    rows[0]["seconds"] = "1000"   # as if the first 3 steps had taken 1000 s
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    Trainer.resume(tmp_path, progress=False).run()
    last = list(csv.DictReader(open(path)))[-1]
    assert last["step"] == "6" and 1000 < float(last["seconds"]) < 1000 + 600


def test_training_seconds_sums_the_segments_of_a_log_whose_clock_restarted(tmp_path):
    from mrs.training.monitor import training_seconds

    path = tmp_path / "metrics.csv"
    assert training_seconds(path) == 0.0
    # steps 500..1000 in 120 s, then a resume (older runs restarted the clock) 500 steps in 70 s
    path.write_text("step,seconds\n500,60\n1000,120\n1500,40\n2000,70\n")
    assert training_seconds(path) == pytest.approx(190.0)
    path.write_text("step,seconds\n500,60\n1000,120\n1500,160\n")   # one clock: its last value
    assert training_seconds(path) == pytest.approx(160.0)


def test_a_resume_puts_an_older_log_on_one_clock(tmp_path):
    """Rows a resume keeps are written on one clock, so the rows it appends (which go on from the
    summed seconds) are not counted twice."""
    import csv

    from mrs.training.monitor import training_seconds, truncate_metrics

    path = tmp_path / "metrics.csv"
    path.write_text("step,seconds\n500,60\n1000,120\n1500,40\n2000,70\n2500,99\n")
    assert truncate_metrics(path, 2000, ["step", "seconds"]) == pytest.approx(190.0)
    assert [r["seconds"] for r in csv.DictReader(open(path))] == ["60", "120", "160", "190"]
    with open(path, "a") as f:
        f.write("2500,250\n")      # what the resumed run appends
    assert training_seconds(path) == pytest.approx(250.0)


def test_training_learns_and_logs(tmp_path):
    cfg = small(process="emmd", steps=40, val_every=20, ckpt_every=40, lr=2e-3, warmup_steps=5,
                batch_size=4)
    tr = Trainer(cfg, tmp_path, progress=False)
    first = [tr.train_step(s)["mse"] for s in range(3)]
    tr.step = 3
    tr.run()
    import csv

    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [20, 40]
    assert float(rows[-1]["mse"]) < 0.8 * sum(first) / 3
    assert rows[-1]["val_lpips"] == ""  # no real LPIPS weights: no number
    assert float(rows[-1]["val_psnr"]) > 0


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    cfg = small(steps=3, ckpt_every=3)
    Trainer(cfg, tmp_path / "run", progress=False).run()
    stem = sorted((tmp_path / "run").glob("ckpt_*.json"))[-1].with_suffix("")
    load_checkpoint(stem)  # fine
    w = stem.with_suffix(".safetensors")
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(stem)
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(stem, verify=False)
    w.write_bytes(data)
    stem.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(stem)
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Trainer.resume(tmp_path / "empty")


def test_mismatched_weights_are_refused(tmp_path):
    Trainer(small(steps=3), tmp_path / "a", progress=False).run()
    stem = sorted((tmp_path / "a").glob("ckpt_*.json"))[-1].with_suffix("")
    other = Trainer(small(steps=3, use_noise_map=True), tmp_path / "b", progress=False)
    with pytest.raises(CheckpointError, match="does not match"):
        other.load(stem)


def test_export_and_load_pretrained(tmp_path):
    cfg = small(process="emmd", steps=3)
    tr = Trainer(cfg, tmp_path / "run", progress=False)
    tr.run()
    ck = sorted((tmp_path / "run").glob("ckpt_*.json"))[-1]
    out = export_weights(ck, tmp_path / "exported")
    tensors, info = load_checkpoint(out)
    assert all(v.dtype == torch.float16 for v in tensors.values() if v.is_floating_point())
    pipe = load_pretrained(out)
    net, proc, info = pipe.net, pipe.process, pipe.meta
    assert proc.name == "emmd" and info["step"] == 3 and info["loss"] == "mse"
    x0 = mrs.synthetic_faces(2, 16)
    mask = mrs.masks.box_mask(16, 4, 4, 6, 6, n=2)
    y = mrs.degrade(x0, mask)
    res = mrs.sample(proc, net.denoiser(proc), y, mask, generator=torch.Generator().manual_seed(0))
    ref = mrs.sample(proc, tr.ema.module.float().denoiser(proc), y, mask,
                     generator=torch.Generator().manual_seed(0))
    # the run folder itself loads too (its latest checkpoint, EMA weights in full precision)
    run = load_pretrained(tmp_path / "run")
    assert torch.equal(run.sample(y, mask, generator=torch.Generator().manual_seed(0)), ref)
    assert torch.allclose(res, ref, atol=2e-2)  # fp16 export stays close to the EMA net
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_pretrained("no-such-model")


def test_lpips_random_backbone_path():
    model = losses.load_lpips(random_backbone=True)
    assert model is not None and model.random_backbone
    loss = losses.InpaintingLoss(10.0, model)
    x = mrs.synthetic_faces(2, 32)
    pred = (x + 0.1).clamp(-1, 1).requires_grad_(True)
    total, parts = loss(pred, x)
    assert set(parts) == {"mse", "lpips", "loss"}
    assert parts["loss"] == pytest.approx(parts["mse"] + 10 * parts["lpips"], rel=1e-5)
    total.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_lpips_missing_weights_warns_clearly(monkeypatch):
    import lpips

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(lpips, "LPIPS", offline)
    monkeypatch.setattr(losses, "_CACHE", {})
    monkeypatch.setattr(losses, "_WARNED", set())
    with pytest.warns(UserWarning, match="LPIPS weights unavailable.*alexnet-owt-7be5be79.pth"):
        assert losses.load_lpips("alex") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert losses.load_lpips("alex") is None


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mrs", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_cli_help_documents_every_option():
    r = _cli("train", "--help")
    assert r.returncode == 0
    for f in ["--process", "--preset", "--steps", "--out", "--resume", "--batch-size", "--lr",
              "--image-size", "--use-noise-map", "--blur-width", "--noise-floor", "--ema-decay",
              "--lpips-weight", "--val-every", "--ckpt-every", "--seed", "--data", "--compile"]:
        assert f in r.stdout, f


def test_harmonic_fill_trains_records_and_samples_as_trained(tmp_path, monkeypatch):
    cfg = small(process="emmd", steps=2, fill="harmonic")
    assert TrainConfig.preset("tiny", fill="-1").fill == -1.0
    with pytest.raises(ValueError, match="fill"):
        small(fill="laplace")
    tr = Trainer(cfg, tmp_path / "run", progress=False)
    batch = tr.batch(0)
    assert torch.allclose(batch.y, mrs.baselines.harmonic_fill(mrs.degrade(batch.x0, batch.mask), batch.mask),
                          atol=1e-6)
    tr.run()
    pipe = load_pretrained(tmp_path / "run")
    assert pipe.fill == "harmonic" and pipe.meta["fill"] == "harmonic"
    seen = []
    made = pipe.denoiser

    def spy(y_image=None, mask_image=None):
        den = made(y_image, mask_image)

        def call(x_t, t, y, mask):
            seen.append(y.clone())
            return den(x_t, t, y, mask)
        return call

    monkeypatch.setattr(pipe, "denoiser", spy)
    x0 = mrs.synthetic_faces(2, 16, seed=5)
    mask = mrs.masks.box_mask(16, 4, 4, 6, 6, n=2)
    pipe.sample(mrs.degrade(x0, mask), mask, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(seen[0], mrs.degrade(x0, mask, fill="harmonic"), atol=1e-6)


def test_cli_train_and_resume(tmp_path):
    common = ["--image-size", "16", "--batch-size", "2", "--val-size", "2", "--val-every", "2",
              "--ckpt-every", "2", "--lpips-weight", "0", "--train-pool", "32", "--no-progress"]
    r = _cli("train", "--process", "emmd", "--steps", "2", "--out", str(tmp_path), *common)
    assert r.returncode == 0, r.stderr
    r = _cli("train", "--resume", "--steps", "4", "--out", str(tmp_path), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "step 4" in r.stdout
    assert len(list(tmp_path.glob("ckpt_*.safetensors"))) == 2
    assert json.loads((tmp_path / "config.json").read_text())["steps"] == 4
    r = _cli("train", "--resume", "--out", str(tmp_path / "missing"))
    assert r.returncode == 2 and "no checkpoint" in r.stderr


def test_ddp_two_cpu_processes(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29533", "-m", "mrs", "train", "--process", "emmd", "--steps", "2",
           "--out", str(tmp_path), "--image-size", "16", "--batch-size", "2", "--val-size", "2",
           "--val-every", "2", "--ckpt-every", "2", "--lpips-weight", "0", "--train-pool", "32",
           "--no-progress", "--device", "cpu"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("trained emmd to step 2") == 1  # rank 0 reports
    tensors, meta = load_checkpoint(sorted(tmp_path.glob("ckpt_*.json"))[-1])
    assert meta["step"] == 2
    assert all(torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point())
