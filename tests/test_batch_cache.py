"""Precomputed batches (mrs.training.batch_cache): a run that reads them trains bit-identically to
one that computes its batches; other settings, changed data and corrupt shards are refused."""

import json

import pytest
import torch

import mrs
from mrs.pipelines.checkpoint import CheckpointError
from mrs.training import Trainer, precompute_batches
from mrs.training.batch_cache import META_FILE
from mrs.training.losses import load_lpips

pytest.importorskip("diffusers")   # vq_file (conftest) trains a tiny autoencoder


def cfg_for(vq_file, **kw):
    base = dict(process="emmd", autoencoder=str(vq_file), image_size=32, batch_size=2, steps=5,
                val_size=2, val_every=5, ckpt_every=5, lpips_weight=0.0, train_pool=6, sample_every=0)
    return mrs.TrainConfig.preset("tiny_latent", **dict(base, **kw))


def state(trainer):
    return {k: v.clone() for k, v in trainer.net.state_dict().items()}


@pytest.mark.parametrize("process, rule", [("emmd", "max"), ("authors", "authors")])
def test_a_run_reading_the_batches_is_bit_identical(tmp_path, vq_file, process, rule):
    cfg = cfg_for(vq_file, process=process, latent_mask=rule)
    res = precompute_batches(cfg_for(vq_file), tmp_path / "b", stop=4, chunk=3, progress=False)
    assert res["written"] == 2 and sorted(p.name for p in (tmp_path / "b").glob("steps_*.json")) == [
        "steps_0000000_0000003.json", "steps_0000003_0000004.json"]
    plain = Trainer(cfg, tmp_path / "plain", progress=False)
    cached = Trainer(cfg, tmp_path / "cached", progress=False, batches=tmp_path / "b")
    b = cached.batch(1)
    assert b.x0 is None and b.y is None and b.latents is not None
    for got, want in zip(cached.noisy(b), plain.noisy(plain.batch(1))):
        assert torch.equal(got, want)
    plain.run()
    cached = Trainer(cfg, tmp_path / "cached2", progress=False, batches=tmp_path / "b")
    cached.run()
    sa, sc = state(plain), state(cached)
    assert all(torch.equal(sa[k], sc[k]) for k in sa)
    assert (cached.cache.read, cached.cache.computed) == (4, 1)   # steps 0-3 read, step 4 computed
    assert "4 steps read, 1 computed" in (tmp_path / "cached2" / "train.log").read_text()
    # a loss with LPIPS compares decoded images with x0: then the images are still rendered; a
    # weight without LPIPS weights (offline: MSE alone) does not need them
    lp_cfg = cfg_for(vq_file, process=process, latent_mask=rule, lpips_weight=0.5)
    lp = Trainer(lp_cfg, tmp_path / "lp", progress=False, batches=tmp_path / "b",
                 lpips_model=load_lpips(random_backbone=True))
    assert torch.equal(lp.batch(1).x0, plain.batch(1).x0)
    assert Trainer(lp_cfg, tmp_path / "no", progress=False, batches=tmp_path / "b",
                   lpips_model=None).batch(1).x0 is None


def test_precompute_keeps_what_is_there_and_refuses_other_settings(tmp_path, vq_file):
    folder = tmp_path / "b"
    precompute_batches(cfg_for(vq_file), folder, stop=2, chunk=2, progress=False)
    shard = folder / "steps_0000000_0000002.safetensors"
    before = shard.stat().st_mtime_ns
    res = precompute_batches(cfg_for(vq_file), folder, stop=4, chunk=2, progress=False)
    assert (res["written"], res["kept"]) == (1, 1) and shard.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="mask_kind: 'mixed' there, 'box' here"):
        precompute_batches(cfg_for(vq_file, mask_kind="box"), folder, stop=4, chunk=2, progress=False)
    with pytest.raises(ValueError, match="seed: 0 there, 1 here"):
        Trainer(cfg_for(vq_file, seed=1), tmp_path / "run", progress=False, batches=folder)
    with pytest.raises(ValueError, match="start a multiple of chunk"):
        precompute_batches(cfg_for(vq_file), folder, start=1, stop=4, chunk=2, progress=False)
    with pytest.raises(ValueError, match="does not exist"):
        Trainer(cfg_for(vq_file), tmp_path / "run", progress=False, batches=tmp_path / "nothing")
    with pytest.raises(ValueError, match="latent mode"):
        precompute_batches(cfg_for(vq_file, autoencoder=""), tmp_path / "pix", stop=2, progress=False)


def test_changed_data_and_corrupt_shards_are_named(tmp_path, vq_file):
    folder = tmp_path / "b"
    precompute_batches(cfg_for(vq_file), folder, stop=2, chunk=2, progress=False)
    tr = Trainer(cfg_for(vq_file), tmp_path / "run", progress=False, batches=folder)
    b = tr.batch(0)
    with pytest.raises(ValueError, match="step 0 in .*steps_0000000_0000002.safetensors was computed"):
        tr.cache.get(0, tr.items(1), b.mask)                      # other images
    with pytest.raises(ValueError, match="step 0 in .*steps_0000000_0000002.safetensors was computed"):
        tr.cache.get(0, tr.items(0), 1 - b.mask)                  # other masks
    shard = folder / "steps_0000000_0000002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-7] + b"garbage")
    tr = Trainer(cfg_for(vq_file), tmp_path / "run", progress=False, batches=folder)
    with pytest.raises(CheckpointError, match="steps_0000000_0000002"):
        tr.batch(0)
    (folder / META_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a folder of precomputed batches"):
        Trainer(cfg_for(vq_file), tmp_path / "run", progress=False, batches=folder)


def test_the_command_line_precomputes_and_trains_from_the_batches(tmp_path, vq_file, capsys):
    from mrs.ui.cli import main

    small = ["--autoencoder", str(vq_file), "--image-size", "32", "--batch-size", "2", "--train-pool", "6",
             "--val-size", "2", "--lpips-weight", "0", "--sample-every", "0"]
    assert main(["precompute", "--out", str(tmp_path / "b"), "--stop", "3", "--chunk", "2",
                 "--no-progress", *small]) == 0
    assert "2 shards written, 0 already there" in capsys.readouterr().out
    assert main(["train", "--preset", "tiny_latent", "--process", "authors", "--latent-mask", "authors",
                 "--steps", "3", "--val-every", "3", "--ckpt-every", "3", "--out", str(tmp_path / "run"),
                 "--batches", str(tmp_path / "b"), "--no-progress", *small]) == 0
    assert "3 steps read, 0 computed" in (tmp_path / "run" / "train.log").read_text()
    assert main(["train", "--preset", "tiny_latent", "--steps", "3", "--out", str(tmp_path / "run2"),
                 "--batches", str(tmp_path / "b"), "--no-progress", *small, "--seed", "5"]) == 2
    assert "seed: 0 there, 5 here" in capsys.readouterr().err
