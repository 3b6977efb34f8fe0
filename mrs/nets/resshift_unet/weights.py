"""Reading and writing ResShift's released network weights (``resshift_inpainting_face_s4.pth``,
``resshift_inpainting_imagenet_s4.pth``).

A released file is a state dict of ``UNetModelSwin`` (plain, or under ``"state_dict"``; keys may
carry the ``module.`` prefix of DistributedDataParallel and the ``_orig_mod.`` prefix of
``torch.compile``). ``ResShiftUNet`` uses the official names, so the keys load as they are. The
file also holds two kinds of buffers that follow from the architecture (``relative_position_index``
and ``attn_mask`` of the Swin blocks): they are loaded when present and rebuilt when absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import OFFICIAL_ARGS, ResShiftUNetConfig
from .model import ResShiftUNet

__all__ = ["read_state_dict", "load_official_state", "load_resshift_unet", "save_resshift_unet"]

_PREFIXES = ("module.", "_orig_mod.")
_DERIVED = ("relative_position_index", "attn_mask")  # buffers that follow from the architecture


def _strip(key: str) -> str:
    while key.startswith(_PREFIXES):
        key = key.split(".", 1)[1]
    return key


def read_state_dict(path) -> dict:
    """The state dict stored in ``path`` (``torch.load(weights_only=True)`` on CPU), unwrapped
    from ``"state_dict"`` and stripped of ``module.`` / ``_orig_mod.`` prefixes.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file when it is
    truncated, not a PyTorch file, or holds no state dict of tensors.
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, wrong format, unsafe pickle: all a bad file
        raise ValueError(f"{path}: cannot read the weights (a truncated or corrupt file, or not a "
                         f"PyTorch state dict): {type(err).__name__}: {err}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path}: expected a state dict (a dict of tensors), got "
                         f"{type(obj).__name__}")
    state = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f"{path}: entry {key!r} is not a named tensor ({type(value).__name__})")
        state[_strip(key)] = value
    return state


def load_official_state(net: ResShiftUNet, state: dict, source="the state dict") -> ResShiftUNet:
    """Copy an official state dict into ``net`` (in place; returns ``net``).

    Every parameter must be present with its exact shape; derived buffers may be absent. A
    missing, mis-shaped or unexpected key raises ``ValueError`` naming ``source`` and the key.
    """
    own = net.state_dict()
    for key, value in own.items():
        if key not in state:
            if key.rsplit(".", 1)[-1] in _DERIVED:
                continue
            raise ValueError(f"{source}: missing key {key!r} (expected shape {tuple(value.shape)}); "
                             f"is it a UNetModelSwin of this configuration?")
        if state[key].shape != value.shape:
            raise ValueError(f"{source}: key {key!r} has shape {tuple(state[key].shape)}, this "
                             f"network expects {tuple(value.shape)} (another configuration?)")
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        more = f" and {len(unexpected) - 3} more" if len(unexpected) > 3 else ""
        raise ValueError(f"{source}: unexpected key(s) {unexpected[:3]}{more}: not a UNetModelSwin "
                         f"of this configuration")
    net.load_state_dict(state, strict=False)
    return net


def load_resshift_unet(path, *, schedule, **unet_kwargs) -> ResShiftUNet:
    """ResShift's released network from ``path``, as an mrs denoiser (in eval mode, float32).

    ``unet_kwargs`` are ``UNetModelSwin``'s constructor arguments (``image_size``,
    ``model_channels``, ``window_size``, ...); the defaults are the official inpainting config
    (face and ImageNet). ``schedule`` (an ``mrs.Schedule`` from ``Schedule.exponential`` or a
    ``ScheduleSpec``) is the one the weights were trained on: the net divides ``x_t`` by
    ``sqrt(kappa^2 eta_t + 1)`` with it. The result satisfies

        net(x_t, t, y, mask) == UNetModelSwin(x_t / sqrt(kappa^2 eta_t + 1), t - 1,
                                              lq=y, mask=2 mask - 1)

    for ``t`` in 1..T. Errors: a missing file (``FileNotFoundError``); a truncated or unreadable
    file, a missing, mis-shaped or unexpected key, an unknown keyword (``ValueError``).
    """
    unknown = sorted(set(unet_kwargs) - set(OFFICIAL_ARGS))
    if unknown:
        raise ValueError(f"unknown UNetModelSwin argument(s) {unknown}; known: {list(OFFICIAL_ARGS)}")
    cfg = ResShiftUNetConfig(**unet_kwargs).with_schedule(schedule)
    state = read_state_dict(path)
    net = ResShiftUNet(cfg)
    return load_official_state(net, state, source=os.fspath(path)).eval()


def save_resshift_unet(net: ResShiftUNet, path) -> Path:
    """Write ``net``'s weights as the official files hold them: a plain state dict under the
    official key names (derived buffers included), ``torch.save``. Returns the path."""
    if not isinstance(net, ResShiftUNet):
        raise ValueError(f"net must be a ResShiftUNet, got {type(net).__name__}")
    path = Path(os.fspath(path))
    state = {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}
    torch.save(state, path)
    return path
