"""Precomputed training batches: each step's latents ``E(x0)``, ``E(y)``, computed once for many runs.

In latent mode half of a training step on the CPU goes to data that does not depend on the
process or the network: rendering the images, the harmonic fill of ``y``'s hole and the
frozen encoder's ``E(x0)``, ``E(y)`` (``benchmarks/bench_batch_cache.py`` measures it). Runs
that share the seed, data, masks, fill and autoencoder draw identical batches at every step
(``Trainer.batch``), so these latents can be computed once,

    python -m mrs precompute --preset tiny_latent --stop 24000 --out runs/batches

and read by every such run (``python -m mrs train ... --batches runs/batches``). What is stored is
the very tensor ``Trainer.encode_pair`` returns for the step's batch, so a run that reads it trains
bit-identically to one that computes it, when both use the same number of threads (the test
``tests/test_batch_cache.py`` checks this). The run still draws the mask, ``t`` and the noise
itself and converts the mask with its own latent-mask rule, so one folder serves every process.

A folder holds ``batches.json`` (the settings the batches depend on, ``fingerprint``) and shards
``steps_SSSSSSS_EEEEEEE`` (mrs checkpoints, written atomically; ``x0`` and ``y`` of shape
``[steps, B, C, h, w]`` float32, ``check`` of shape ``[steps, 2]``: the step's image indices and
the sum of its pixel masks, compared with the run's own at every read). A run that reads a step
does not render its images (unless LPIPS needs them) nor fill its hole. Steps no shard holds are
computed as usual and counted (``BatchCache.summary``). What the checks cannot see is a change in
how an image is made from its index (the face renderer, a dataset's files): precompute again then.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch

from ..pipelines.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["precompute_batches", "BatchCache", "fingerprint", "META_FILE"]

META_FILE = "batches.json"
FORMAT = "mrs-batches-1"
# the TrainConfig fields a step's images, pixel mask and y depend on (with the autoencoder)
KEYS = ("seed", "image_size", "batch_size", "mask_kind", "fill", "data", "train_pool", "val_holdout",
        "val_size", "autoencoder", "latent_scale")
_SHARD = re.compile(r"steps_(\d{7})_(\d{7})\.json$")


def _digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def fingerprint(trainer) -> dict:
    """What a trainer's batches depend on: ``KEYS`` of its config, its precision and a digest of
    its autoencoder's weights."""
    if trainer.autoencoder is None:
        raise ValueError("precomputed batches are for latent mode: the config names no autoencoder")
    if trainer.world > 1:
        raise ValueError("precomputed batches are for one process (WORLD_SIZE 1)")
    cfg = trainer.cfg
    out = {k: getattr(cfg, k) for k in KEYS}
    out.update(precision=trainer.precision, autoencoder_sha256=_digest(trainer.autoencoder))
    return out


def _check(items: list, mask: torch.Tensor) -> torch.Tensor:
    """The step's image indices (weighted by position) and the sum of its pixel masks, float64."""
    return torch.stack([torch.tensor(float(sum((k + 1) * i for k, i in enumerate(items))),
                                     dtype=torch.float64), mask.double().sum()])


def _read_meta(folder: Path) -> dict | None:
    path = folder / META_FILE
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} cannot be read: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a folder of precomputed batches (format {FORMAT!r})")
    return meta


def _compare(folder: Path, held: dict, wanted: dict) -> None:
    diff = {k: (held.get(k), wanted[k]) for k in wanted if held.get(k) != wanted[k]}
    if diff:
        what = "; ".join(f"{k}: {a!r} there, {b!r} here" for k, (a, b) in diff.items())
        raise ValueError(f"the batches in {folder} were computed for other settings ({what})")


def precompute_batches(cfg, out_dir, start: int = 0, stop: int | None = None, chunk: int = 500,
                       device=None, progress: bool = True) -> dict:
    """Compute the latents of the training batches of steps ``start .. stop - 1`` (default: up to
    ``cfg.steps``) into ``out_dir``, ``chunk`` steps per shard. Shards already there are kept, so
    an interrupted call can be repeated, and two calls on disjoint ranges can run side by side.
    Returns ``{"written": shards written, "kept": shards found, "folder": out_dir}``."""
    from tqdm.auto import tqdm

    from .trainer import Trainer

    stop = cfg.steps if stop is None else int(stop)
    if not (isinstance(chunk, int) and chunk >= 1):
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if not (0 <= start < stop) or start % chunk:
        raise ValueError(f"need 0 <= start < stop and start a multiple of chunk ({chunk}); "
                         f"got start={start}, stop={stop}")
    out = Path(out_dir)
    trainer = Trainer(cfg, out, device=device, progress=False, lpips_model=None)
    fp = fingerprint(trainer)
    held = _read_meta(out)
    if held is not None:
        _compare(out, held["fingerprint"], fp)
    else:
        out.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "fingerprint": fp, "threads": torch.get_num_threads(),
                "torch": torch.__version__}
        tmp = out / f".{META_FILE}.{start}.tmp"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        tmp.replace(out / META_FILE)
    written = kept = 0
    starts = range(start, stop, chunk)
    for s0 in tqdm(starts, disable=not progress, desc=f"precompute steps {start}-{stop}"):
        s1 = min(s0 + chunk, stop)
        stem = out / f"steps_{s0:07d}_{s1:07d}"
        if stem.with_suffix(".json").exists():
            kept += 1
            continue
        z0, zy, checks = [], [], []
        for step in range(s0, s1):
            b = trainer.batch(step)
            a, c = trainer.encode_pair(b.x0.to(trainer.device), b.y.to(trainer.device))
            z0.append(a.cpu())
            zy.append(c.cpu())
            checks.append(_check(trainer.items(step), b.mask))
        save_checkpoint(stem, {"x0": torch.stack(z0), "y": torch.stack(zy), "check": torch.stack(checks)},
                        {"kind": "batches", "start": s0, "stop": s1})
        written += 1
    return {"written": written, "kept": kept, "folder": str(out)}


class BatchCache:
    """The precomputed batches in ``folder``, for ``trainer`` (``Trainer(..., batches=folder)``).

    Raises ``ValueError`` when they were computed for other settings, or when the trainer cannot
    use them (pixel mode, a net that also sees the image-resolution ``y``, several processes)."""

    def __init__(self, folder, trainer):
        self.folder = Path(folder)
        meta = _read_meta(self.folder)
        if meta is None:
            raise ValueError(f"batches: {self.folder / META_FILE} does not exist (make the folder with "
                             "python -m mrs precompute)")
        if getattr(trainer.net, "conditions_on_image", False):
            raise ValueError("batches: this net also sees the image-resolution y, which is not stored")
        _compare(self.folder, meta["fingerprint"], fingerprint(trainer))
        self.threads = meta.get("threads")
        self.shards = []
        for p in sorted(self.folder.glob("steps_*.json")):
            m = _SHARD.search(p.name)
            if m:
                self.shards.append((int(m[1]), int(m[2]), p.with_suffix("")))
        self.read = self.computed = 0
        self._held = (None, None)

    def _shard(self, step: int):
        for s0, s1, stem in self.shards:
            if s0 <= step < s1:
                return s0, stem
        return None, None

    def get(self, step: int, items: list, mask: torch.Tensor):
        """``(E(x0), E(y))`` of step ``step``, or None when no shard holds it. The step's image
        indices ``items`` and pixel ``mask`` are checked against what the shard stored."""
        s0, stem = self._shard(step)
        if stem is None:
            self.computed += 1
            return None
        if self._held[0] != stem:
            tensors, _ = load_checkpoint(stem)
            self._held = (stem, tensors)
        tensors, i = self._held[1], step - s0
        if not torch.equal(tensors["check"][i], _check(items, mask)):
            raise ValueError(f"batches: step {step} in {stem}.safetensors was computed from other images "
                             "or masks than this run draws (the data or mask code changed?)")
        self.read += 1
        return tensors["x0"][i], tensors["y"][i]

    def summary(self) -> str:
        return (f"precomputed batches {self.folder} (written with {self.threads} threads): "
                f"{self.read} steps read, {self.computed} computed")
