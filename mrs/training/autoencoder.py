"""Training a tiny VQ-f4 autoencoder on the procedural faces (the latent mode's offline stand-in).

The paper runs in the latent space of ResShift's VQ-f4 face autoencoder (256-px faces -> 64x64x3
latents). Its weights need a download; this module trains a small autoencoder of the same kind
(diffusers' ``VQModel``: an encoder that halves the resolution twice, 3 latent channels, a
codebook, a decoder) on 64-px synthetic faces -> 16x16x3 latents, so that latent mode runs
offline, in the tests and in the notebooks. The loss per step::

    L = MSE(D(q(E(x))), x) + || sg[q(E(x))] - E(x) ||^2 + beta || q(E(x)) - sg[E(x)] ||^2

(reconstruction, commitment and codebook terms, straight-through gradients; diffusers computes the
last two). Codebook entries unused for ``restart_every`` steps restart at random encoder outputs,
so that the codebook is used. ``python -m mrs train-autoencoder`` runs it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..core import metrics
from ..data import SyntheticFaces, validation_split
from ..pipelines.checkpoint import save_checkpoint

__all__ = ["AutoencoderTrainConfig", "build_tiny_vq", "train_autoencoder", "TINY_VQ"]

# the tiny VQ-f4 autoencoder's architecture (diffusers VQModel keyword arguments)
# (widths 16/32/64 at batch 8: small enough to train on 2 CPU cores within the 15-minute budget;
# widths 32/64/96 at batch 16 were several times slower per step)
TINY_VQ = dict(in_channels=3, out_channels=3, block_out_channels=(16, 32, 64), layers_per_block=1,
               down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
               latent_channels=3, num_vq_embeddings=1024, vq_embed_dim=3, norm_num_groups=8,
               mid_block_add_attention=True, lookup_from_codebook=False, sample_size=64)


def build_tiny_vq(**overrides):
    """A diffusers ``VQModel`` with the ``TINY_VQ`` architecture (random weights)."""
    from diffusers import VQModel

    return VQModel(**{**TINY_VQ, **overrides})


@dataclass(frozen=True)
class AutoencoderTrainConfig:
    """A training run of the tiny autoencoder (saved in its checkpoint JSON)."""

    image_size: int = 64            # training resolution (latents are image_size / 4)
    steps: int = 5000               # optimisation steps
    batch_size: int = 8             # images per step
    lr: float = 1e-3                # peak learning rate (AdamW, 100 warm-up steps, cosine to 0)
    pool: int = 4000                # distinct synthetic training faces (rendered once)
    restart_every: int = 200        # restart codebook entries unused for this many steps
    val_size: int = 16              # validation faces (the fixed split of mrs.data)
    seed: int = 0                   # initial weights, data order, restarts


def _lr(cfg: AutoencoderTrainConfig, step: int) -> float:
    if step < 100:
        return cfg.lr * (step + 1) / 100
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - 100) / max(1, cfg.steps - 100)))


@torch.no_grad()
def _restart_dead_codes(vq, used: torch.Tensor, z: torch.Tensor, g: torch.Generator) -> int:
    """Move codebook entries not used since the last restart onto random encoder outputs."""
    dead = (~used).nonzero().flatten()
    if dead.numel() == 0:
        return 0
    flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    pick = torch.randint(0, flat.shape[0], (dead.numel(),), generator=g)
    vq.quantize.embedding.weight[dead] = flat[pick] + 1e-3 * torch.randn(dead.numel(), flat.shape[1],
                                                                        generator=g)
    return int(dead.numel())


@torch.no_grad()
def reconstruction_psnr(vq, x: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of ``decode(quantize(encode(x)))`` against ``x``, per image."""
    vq.eval()
    out = vq.decode(vq.encode(x).latents).sample.clamp(-1, 1)
    return metrics.psnr(out, x)


def train_autoencoder(cfg: AutoencoderTrainConfig, out_stem, progress: bool = True, log=None) -> dict:
    """Train ``build_tiny_vq()`` on synthetic faces; write ``out_stem.safetensors`` + ``.json``.

    Returns ``{"val_psnr": ..., "seconds": ..., "codes_used": ...}`` (also stored in the JSON)."""
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    vq = build_tiny_vq()
    opt = torch.optim.AdamW(vq.parameters(), lr=cfg.lr, weight_decay=0.0)
    faces = SyntheticFaces(cfg.image_size, cfg.seed, length=cfg.pool, cache=True)
    pool = torch.stack([faces[i] for i in range(cfg.pool)])                 # [pool, 3, S, S]
    x_val = validation_split(cfg.val_size, cfg.image_size)[0]
    g = torch.Generator().manual_seed(cfg.seed + 1)
    used = torch.zeros(vq.quantize.n_e, dtype=torch.bool)
    start = time.time()
    for step in tqdm(range(cfg.steps), disable=not progress, desc="autoencoder", leave=False):
        vq.train()
        x = pool[torch.randint(0, cfg.pool, (cfg.batch_size,), generator=g)]
        z = vq.encode(x).latents
        quant, commit, (_, _, idx) = vq.quantize(z)
        rec = vq.decoder(vq.post_quant_conv(quant))
        loss = F.mse_loss(rec, x) + commit.mean()
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        used[idx.flatten()] = True
        if (step + 1) % cfg.restart_every == 0 and step + 1 < 0.8 * cfg.steps:
            _restart_dead_codes(vq, used, z.detach(), g)
            used.zero_()
        if log is not None and (step + 1) % 500 == 0:
            log(f"step {step + 1}: loss {float(loss.detach()):.5f}, val PSNR "
                f"{float(reconstruction_psnr(vq, x_val).mean()):.2f} dB")
    psnr = float(reconstruction_psnr(vq, x_val).mean())
    with torch.no_grad():
        idx = vq.quantize(vq.encode(x_val).latents)[2][2]
    result = {"val_psnr": round(psnr, 3), "seconds": round(time.time() - start, 1),
              "codes_used_on_val": int(idx.unique().numel())}
    meta = {"kind": "autoencoder", "arch": "diffusers.VQModel", "config": _jsonable(TINY_VQ),
            "factor": 4, "train_config": asdict(cfg), "result": result}
    save_checkpoint(Path(out_stem), {k: v.half() for k, v in vq.state_dict().items()}, meta)
    return result


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
