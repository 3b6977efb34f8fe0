"""Checkpoints: safetensors weights + a JSON sidecar, written atomically, loaded without pickle.

A checkpoint ``NAME`` is the pair ``NAME.safetensors`` (tensors only) and ``NAME.json`` (config,
step, optimiser scalars, the SHA-256 of the weights file). Both are written to a temporary file in
the same folder and renamed into place, the JSON last, so a crash never leaves a half-written pair
that looks complete. Loading checks the hash, so a truncated or swapped weights file gets a clear
error instead of garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "load_state_strict", "CheckpointError", "FORMAT",
           "FORMATS"]

FORMAT = "mrs-checkpoint-2"                   # what this version writes
FORMATS = ("mrs-checkpoint-1", FORMAT)        # what it reads (mrs.pipelines.weights upgrades 1)


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match what it is loaded into."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; checkpoints are ordinary shared files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_checkpoint(stem, tensors: dict, meta: dict) -> Path:
    """Write ``stem.safetensors`` and ``stem.json`` atomically; returns the JSON path."""
    from safetensors.torch import save_file

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights, sidecar = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    _atomic_write(weights, lambda p: save_file(flat, p))
    meta = dict(meta, format=FORMAT, weights=weights.name, sha256=_sha256(weights))
    _atomic_write(sidecar, lambda p: Path(p).write_text(json.dumps(meta, indent=1, sort_keys=True)))
    return sidecar


def load_checkpoint(stem, verify: bool = True):
    """Read a checkpoint pair: ``(tensors, meta)``. Raises ``CheckpointError`` with the reason."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    stem = Path(stem)
    if stem.suffix in (".json", ".safetensors"):
        stem = stem.with_suffix("")
    weights, sidecar = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for p in (weights, sidecar):
        if not p.is_file():
            raise CheckpointError(f"checkpoint file missing: {p}")
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{sidecar} is not valid JSON (corrupt checkpoint?): {err}") from None
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        raise CheckpointError(f"{sidecar} is not an mrs checkpoint (format {FORMAT!r} expected)")
    if verify and meta.get("sha256") != _sha256(weights):
        raise CheckpointError(
            f"{weights} does not match the hash recorded in {sidecar.name}: the weights file is "
            "corrupt, truncated or from another checkpoint"
        )
    try:
        tensors = load_file(weights)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"cannot read {weights} as safetensors: {err}") from None
    return tensors, meta


def load_state_strict(module: torch.nn.Module, state: dict, what: str) -> None:
    """``module.load_state_dict(state)`` with a readable ``CheckpointError`` on any mismatch."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        lines = []
        if missing:
            lines.append(f"missing {len(missing)} tensors (e.g. {missing[:3]})")
        if unexpected:
            lines.append(f"unexpected {len(unexpected)} tensors (e.g. {unexpected[:3]})")
        if shapes:
            lines.append("shape mismatch: " + "; ".join(shapes[:3]))
        raise CheckpointError(f"the {what} in this checkpoint does not match the model: "
                              + ", ".join(lines))
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
