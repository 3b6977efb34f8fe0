"""Autoencoders by name: the frozen encoder/decoder of latent mode (``TrainConfig.autoencoder``,
checkpoint JSONs, ``InpaintPipeline.autoencoder``).

* ``"tiny_vq_f4"``: the tiny VQ-f4 autoencoder this project trains on its synthetic faces
  (``python -m mrs train-autoencoder``; 64-px images -> 16x16x3 latents), shipped with the package;
* ``"resshift_face"`` / ``"resshift_imagenet"``: ResShift's released VQ-f4 autoencoders (256-px
  images -> 64x64x3 latents), from the cache or one download (``mrs.pipelines.official``);
* a path: a ResShift ``.pth`` state dict, or an mrs autoencoder checkpoint (``.json`` or its stem).
"""

from __future__ import annotations

from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint
from .official import OFFICIAL, official_file
from .weights import pretrained_dir

__all__ = ["AUTOENCODERS", "load_autoencoder", "autoencoder_names"]

AUTOENCODERS = {"tiny_vq_f4": "autoencoder_tiny_vq_f4",                  # shipped: data/checkpoints/<stem>
                "resshift_face": OFFICIAL["resshift_official_face"][1],  # the official files
                "resshift_imagenet": OFFICIAL["resshift_official_imagenet"][1]}


def autoencoder_names() -> tuple:
    return tuple(AUTOENCODERS)


def _from_checkpoint(stem, device):
    from ..nets.autoencoder import VQAutoencoder, _vq_model_class

    tensors, meta = load_checkpoint(stem)
    if meta.get("kind") != "autoencoder":
        raise CheckpointError(f"{stem}.json is not an autoencoder checkpoint")
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
    vq = _vq_model_class()(**cfg)
    try:
        vq.load_state_dict({k: v.float() for k, v in tensors.items()})
    except RuntimeError as err:
        raise CheckpointError(f"{stem}.safetensors does not match its config: {str(err)[:200]}") from None
    return VQAutoencoder(vq).to(device)


def load_autoencoder(spec: str, device="cpu", allow_download: bool = True):
    """The frozen autoencoder ``spec`` names (see the module docstring)."""
    from ..nets.autoencoder import load_resshift_vq

    if spec == "tiny_vq_f4":
        stem = pretrained_dir() / AUTOENCODERS[spec]
        if not stem.with_suffix(".json").exists():
            raise CheckpointError(f"the shipped autoencoder {stem}.json is missing: train it with "
                                  "python -m mrs train-autoencoder --out "
                                  "data/checkpoints/autoencoder_tiny_vq_f4")
        return _from_checkpoint(stem, device)
    if spec in AUTOENCODERS:
        return load_resshift_vq(official_file(AUTOENCODERS[spec], allow_download=allow_download),
                                device=device)
    p = Path(spec)
    if p.suffix in (".pth", ".pt", ".ckpt"):
        return load_resshift_vq(p, device=device)
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    if stem.with_suffix(".json").exists():
        return _from_checkpoint(stem, device)
    raise ValueError(f"autoencoder must be one of {autoencoder_names()} or a path to a .pth / mrs "
                     f"autoencoder checkpoint, got {spec!r}")
