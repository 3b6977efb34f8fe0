"""The network registry: architectures by name (the ``arch`` tag of every checkpoint JSON).

A network class is registered with ``@register_net("arch")`` and provides what the rest of ``mrs``
uses, nothing else:

* ``Config``: its frozen config class, with ``preset(name, schedule=None)``, ``with_schedule``,
  ``to_dict()`` / ``from_dict(d)`` and the field ``use_noise_map``;
* ``__init__(cfg)``, ``cfg``, ``schedule`` (the ``Schedule`` it denoises);
* ``denoiser(proc) -> denoiser(x_t, t, y, mask)`` for the samplers; a net with the class attribute
  ``conditions_on_image = True`` (ResShift's official network in latent mode) takes
  ``denoiser(proc, y_image, mask_image)`` instead: it sees the image-resolution input while the
  process runs on latents;
* ``forward_unchecked(x_t, t, y, mask, noise_map=None)`` (the body, without argument checks) and
  ``compiled_body`` (None, or a compiled version of it: ``mrs.nets.fast.prepare_for_inference``).
"""

from __future__ import annotations

import torch

__all__ = ["register_net", "net_names", "net_class", "build_net", "net_config", "describe_net",
           "denoiser_of"]

_NETS: dict = {}


def register_net(arch: str):
    """Class decorator: register a network class under ``arch`` (it must define ``Config``)."""
    if not isinstance(arch, str) or not arch.isidentifier():
        raise ValueError(f"an architecture name must be an identifier-like string, got {arch!r}")

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ValueError(f"@register_net({arch!r}) needs a torch.nn.Module subclass, got {cls!r}")
        cls.arch = arch
        _NETS[arch] = cls
        return cls

    return decorate


def net_names() -> tuple:
    """The registered architecture names."""
    return tuple(_NETS)


def net_class(arch: str):
    """The class registered as ``arch``."""
    if arch not in _NETS:
        raise ValueError(f"arch must be one of {net_names()}, got {arch!r}")
    return _NETS[arch]


def net_config(arch: str, preset: str, schedule=None, **overrides):
    """The config of ``arch``'s preset ``preset`` on ``schedule``, with field overrides."""
    from dataclasses import replace

    cfg = net_class(arch).Config.preset(preset, schedule)
    return replace(cfg, **overrides) if overrides else cfg


def build_net(arch: str, config) -> torch.nn.Module:
    """A fresh network of architecture ``arch`` from its config (a config object or its dict)."""
    cls = net_class(arch)
    cfg = cls.Config.from_dict(config) if isinstance(config, dict) else config
    return cls(cfg)


def describe_net(net) -> dict:
    """``{"arch": ..., "config": {...}}``: what a checkpoint JSON records about a network."""
    if getattr(type(net), "arch", None) not in _NETS:
        raise ValueError(f"net must be a registered mrs network, got {type(net).__name__}")
    return {"arch": type(net).arch, "config": net.cfg.to_dict()}


def denoiser_of(net, proc, y_image=None, mask_image=None):
    """``net.denoiser(proc)``, or ``net.denoiser(proc, y_image, mask_image)`` for a net conditioned
    on the image-resolution input (``conditions_on_image``)."""
    if getattr(net, "conditions_on_image", False):
        return net.denoiser(proc, y_image, mask_image)
    return net.denoiser(proc)
