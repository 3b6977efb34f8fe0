"""Weights on disk: list, resolve, read and export checkpoints (the file format: ``checkpoint``).

Three kinds of checkpoint can be loaded by name or path:

* a **shipped** name (``list_pretrained()``: ``data/checkpoints`` of a checkout, installed as the
  package ``mrs.pretrained``; ``list_pretrained("pixel32")``: the earlier pixel-space models,
  named ``"pixel32/<process>"``);
* a **run folder** written by ``mrs.Trainer`` (its latest ``ckpt_*.json``; the EMA weights);
* an **exported** checkpoint (``NAME.json`` + ``NAME.safetensors``, ``export_weights``).

Every checkpoint JSON records what is needed to rebuild the model without the training code:
``net`` (``{"arch", "config"}``), ``process`` (``{"name", "options"}``), ``schedule`` (the five
numbers) and ``image_size``; training checkpoints also hold ``train_config`` and the optimiser.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from ..core import ProcessSpec, ScheduleSpec, process_names
from ..core.registry import process_order
from ..nets import build_net
from .checkpoint import FORMAT, CheckpointError, load_checkpoint, load_state_strict, save_checkpoint

__all__ = ["pretrained_dir", "list_pretrained", "resolve_checkpoint", "read_model", "export_weights",
           "export_all", "find_checkpoints", "model_meta"]


def pretrained_dir() -> Path:
    """``data/checkpoints`` of a source checkout, else the installed package ``mrs.pretrained``."""
    here = Path(__file__).resolve().parents[2] / "data" / "checkpoints"
    if here.is_dir():
        return here
    try:
        import importlib.resources

        return Path(str(importlib.resources.files("mrs.pretrained")))
    except (ModuleNotFoundError, TypeError):
        return here


def _process_of(stem: Path) -> str:
    try:
        return json.loads(stem.with_suffix(".json").read_text())["process"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _by_process(stems: dict) -> list:
    """Names sorted by their process's registry order, then by name (the evaluation order)."""
    return sorted(stems, key=lambda n: (process_order(_process_of(stems[n])), n))


PRETRAINED_GROUPS = ("pixel32",)     # subfolders of data/checkpoints holding further shipped models


def _is_model(sidecar: Path) -> bool:
    """A denoiser checkpoint (not an autoencoder's)."""
    try:
        return json.loads(sidecar.read_text()).get("kind", "model") == "model"
    except (OSError, ValueError, AttributeError):
        return False


def list_pretrained(group: str = "") -> list:
    """Names of the shipped denoiser checkpoints, in the registry's process order.

    ``group=""``: the shipped models (64-px faces in the latent space of the shipped tiny
    autoencoder). ``group="pixel32"``: the earlier small pixel-space models (32-px faces), kept for
    the notebooks and apps that show a pixel-space chain; their names are ``"pixel32/<process>"``."""
    if not isinstance(group, str) or group not in ("", *PRETRAINED_GROUPS):
        raise ValueError(f"group must be '' or one of {PRETRAINED_GROUPS}, got {group!r}")
    d = pretrained_dir() / group
    prefix = f"{group}/" if group else ""
    found = {p.stem: p.with_suffix("") for p in d.glob("*.json") if _is_model(p)}
    return [prefix + n for n in _by_process(found)]


def find_checkpoints(folder=None) -> list:
    """The exported checkpoints of ``folder`` as paths (``None``: the shipped names), in the
    registry's process order (``mrs.process_names()``), then by name."""
    if folder is None:
        return list_pretrained()
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"checkpoint folder not found: {folder}")
    stems = {p.stem: p.with_suffix("") for p in sorted(folder.glob("*.json")) if _is_exported(p)}
    return [str(stems[n]) for n in _by_process(stems)]


def _is_exported(sidecar: Path) -> bool:
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(meta, dict) and str(meta.get("format", "")).startswith("mrs-checkpoint")
            and meta.get("kind", "model") == "model" and "optimizer" not in meta
            and sidecar.with_suffix(".safetensors").is_file())


def resolve_checkpoint(name_or_path) -> Path:
    """The checkpoint stem (path without suffix) for a shipped name, a run folder or a file."""
    p = Path(name_or_path)
    if p.is_dir():
        found = sorted(p.glob("ckpt_*.json"))
        if not found:
            raise CheckpointError(f"run folder {p} holds no checkpoint (ckpt_*.json)")
        return found[-1].with_suffix("")
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    if stem.with_suffix(".json").exists():
        return stem
    shipped = pretrained_dir() / str(name_or_path)
    if shipped.with_suffix(".json").exists():
        return shipped
    raise CheckpointError(f"no checkpoint {name_or_path!r}: not a run folder, not a checkpoint file, "
                          f"not a shipped name (shipped: {list_pretrained()})")


def _upgrade(meta: dict) -> dict:
    """A ``mrs-checkpoint-1`` JSON (flat train_config, net_config with kappa/etas) in the current
    form: ``net``, ``process``, ``schedule``, ``image_size`` and a nested ``train_config``."""
    if meta.get("format") == FORMAT:
        return meta
    tc, nc = dict(meta["train_config"]), dict(meta["net_config"])
    schedule = ScheduleSpec(tc.pop("diffusion_steps"), tc.pop("kappa"), tc.pop("min_noise_level"),
                            tc.pop("etas_end"), tc.pop("power"))
    process = ProcessSpec.of(tc.pop("process"), blur_width=tc.pop("blur_width"),
                             noise_floor=tc.pop("noise_floor"))
    nc.pop("kappa"), nc.pop("etas")
    nc["schedule"] = schedule.to_dict()
    tc.update(process=process.to_dict(), schedule=schedule.to_dict(), arch="swin_unet")
    new = {k: v for k, v in meta.items() if k not in ("net_config", "train_config")}
    new.update(format=FORMAT, net={"arch": "swin_unet", "config": nc}, process=process.to_dict(),
               schedule=schedule.to_dict(), image_size=tc["image_size"], train_config=tc)
    return new


def model_meta(stem) -> dict:
    """The JSON of a checkpoint in the current form (older formats upgraded), without loading the
    weights; raises ``CheckpointError`` for a missing or unreadable file."""
    sidecar = Path(stem).with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"cannot read checkpoint JSON {sidecar}: {err}") from None
    try:
        return _upgrade(meta)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{sidecar} does not describe a model ({err})") from None


def read_model(name_or_path, device="cpu"):
    """``(net, proc, meta)`` from any checkpoint: the net in eval mode (float32; the EMA weights of
    a training checkpoint), the process it was trained with, the upgraded JSON."""
    stem = resolve_checkpoint(name_or_path)
    tensors, raw = load_checkpoint(stem)
    try:
        meta = _upgrade(raw)
        net = build_net(meta["net"]["arch"], meta["net"]["config"])
        proc = ProcessSpec.from_dict(meta["process"]).build(ScheduleSpec.from_dict(meta["schedule"]).build())
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{stem}.json does not match this mrs (processes: {process_names()}): "
                              f"{err}") from None
    if any(k.startswith("ema.") for k in tensors):
        tensors = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    load_state_strict(net, {k: v.float() for k, v in tensors.items()}, "network")
    return net.eval().to(device), proc, meta


def export_weights(checkpoint, out_stem, dtype=torch.float16, note: str = "", loss: str | None = None
                   ) -> Path:
    """Write the EMA weights of a training checkpoint as ``out_stem.safetensors`` (``dtype``) and
    ``out_stem.json`` (net, process, schedule, image size, training config, ``note``)."""
    tensors, raw = load_checkpoint(resolve_checkpoint(checkpoint))
    meta = _upgrade(raw)
    ema = {k[4:]: v.to(dtype) if v.is_floating_point() else v
           for k, v in tensors.items() if k.startswith("ema.")}
    if not ema:
        raise CheckpointError(f"{checkpoint} holds no EMA weights (ema.*): not a training checkpoint")
    info = {k: meta[k] for k in ("step", "net", "process", "schedule", "image_size", "train_config",
                                 "loss", "autoencoder", "latent_mask", "latent_scale", "fill") if k in meta}
    info["note"] = note
    if loss is not None:
        info["loss"] = loss
    return save_checkpoint(out_stem, ema, info)


def export_all(runs_dir, out_dir, note: str = "") -> list:
    """Export the latest checkpoint of every run folder in ``runs_dir`` as ``out_dir/<run>``
    (fp16 EMA weights + JSON) and copy its training log to ``out_dir/<run>.metrics.csv``."""
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    done = []
    for run in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        if not any(run.glob("ckpt_*.json")):
            continue
        export_weights(run, out_dir / run.name, note=note)
        if (run / "metrics.csv").exists():
            shutil.copyfile(run / "metrics.csv", out_dir / f"{run.name}.metrics.csv")
        done.append(run.name)
    if not done:
        raise CheckpointError(f"no run with a checkpoint in {runs_dir}")
    return done
