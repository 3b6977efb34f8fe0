"""Latent-mode measurements (``mrs.evaluation.latent``): the encoder's leak of the hole into
known latents, and the fractional band of the authors' latent mask."""

import pytest
import torch

import mrs


def test_encoder_leak_is_zero_for_a_local_encoder_and_positive_for_a_global_one():
    from mrs.evaluation.latent import encoder_leak

    class Pool:                                   # each latent sees only its own 4x4 block
        factor = 4

        def encode(self, x):
            return torch.nn.functional.avg_pool2d(x, 4)

    class Global(Pool):                           # every latent sees the image mean
        def encode(self, x):
            return super().encode(x) + x.mean((2, 3), keepdim=True)

    x0 = mrs.synthetic_faces(2, 32, seed=0)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:16, 8:20] = 1
    local = encoder_leak(Pool(), x0, mask, fill=-1.0)
    assert local[1] == 0 and local["far"] == 0 and local["scale"] > 0 and local["count"][1] > 0
    glob = encoder_leak(Global(), x0, mask, fill=-1.0)
    assert glob[1] > 0 and abs(glob[1] - glob["far"]) < 1e-6    # the same leak everywhere
    with pytest.raises(ValueError, match="distances"):
        encoder_leak(Pool(), x0, mask, distances=(0,))


def test_latent_mask_stats_counts_the_fractional_band():
    from mrs.evaluation.latent import latent_mask_stats

    mask = torch.zeros(2, 1, 64, 64)
    mask[0, :, 16:48, 16:48] = 1                 # 8 x 8 latents
    mask[1, :, 24:40, 24:40] = 1                 # 4 x 4 latents: too narrow to reach 1
    auth, hard = latent_mask_stats(mask, 4, "authors"), latent_mask_stats(mask, 4, "max")
    assert hard["fractional"] == 0 and abs(hard["hole"] - (64 + 16) / 512) < 1e-9
    assert float(auth["max_per_image"][0]) == 1.0 and float(auth["max_per_image"][1]) < 1.0
    assert float(auth["fractional_per_image"][0]) > 0.5          # the band covers most of the hole
    assert abs(auth["fractional"] + auth["hole"] + auth["known"] - 1) < 1e-9
