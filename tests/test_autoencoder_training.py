"""The tiny VQ-f4 autoencoder's trainer: runs, learns, writes a loadable checkpoint."""

import pytest
import torch

pytest.importorskip("diffusers")

from mrs.pipelines.checkpoint import load_checkpoint  # noqa: E402
from mrs.training.autoencoder import AutoencoderTrainConfig, build_tiny_vq, train_autoencoder  # noqa: E402


def test_tiny_vq_is_f4_with_three_latent_channels():
    vq = build_tiny_vq()
    z = vq.encode(torch.zeros(1, 3, 32, 32)).latents
    assert z.shape == (1, 3, 8, 8)
    assert sum(p.numel() for p in vq.parameters()) * 2 < 5e6       # fp16 under 5 MB


def test_train_autoencoder_writes_a_checkpoint(tmp_path):
    cfg = AutoencoderTrainConfig(image_size=16, steps=4, batch_size=2, pool=4, restart_every=2, val_size=2)
    res = train_autoencoder(cfg, tmp_path / "vq", progress=False)
    tensors, meta = load_checkpoint(tmp_path / "vq")
    assert meta["kind"] == "autoencoder" and meta["factor"] == 4 and meta["result"] == res
    vq = build_tiny_vq()
    vq.load_state_dict({k: v.float() for k, v in tensors.items()})
    assert res["val_psnr"] > 0 and res["codes_used_on_val"] >= 1


def test_cli_train_autoencoder(tmp_path):
    from mrs.ui.cli import main

    rc = main(["train-autoencoder", "--out", str(tmp_path / "ae"), "--image-size", "16", "--steps", "2",
               "--batch-size", "2", "--pool", "4", "--val-size", "2", "--no-progress"])
    assert rc == 0 and (tmp_path / "ae.json").is_file() and (tmp_path / "ae.safetensors").is_file()
