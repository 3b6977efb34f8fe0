"""Samplers as objects: the protocol every sampler follows, and the registry of samplers by name.

A sampler is anything with a ``name`` and

    sampler(proc, denoiser, y, mask, generator=None) -> x0 samples [B, C, H, W]
    sampler.nfe(proc) -> network evaluations per image

Evaluation, training validation, the widgets and the pipeline take a ``sampler=`` argument and
accept any such object, so a new sampler is one class plus ``@register_sampler("name")``.
Built in: ``"ancestral"`` (``mrs.sample``, T evaluations; option ``eta``, the sampler's eta of
``mrs.sampling.ddim``) and ``"repaint"`` (RePaint's resampling on a fine schedule that the coarse
net answers through fractional times).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from ..core import BaseProcess, ScheduleSpec, make_process
from .ancestral import Denoiser, sample
from .ddim import check_eta
from .repaint import repaint_sample, repaint_times, warp_denoiser

__all__ = ["Sampler", "AncestralSampler", "RePaintSampler", "register_sampler", "make_sampler",
           "sampler_names", "as_sampler"]


@runtime_checkable
class Sampler(Protocol):
    """What ``evaluate``, ``Trainer.validate``, the widgets and the pipeline call."""

    name: str

    def __call__(self, proc: BaseProcess, denoiser: Denoiser, y: torch.Tensor, mask: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor: ...

    def nfe(self, proc: BaseProcess) -> int: ...


_SAMPLERS: dict = {}


def register_sampler(name: str):
    """Class decorator: make a sampler class available as ``make_sampler(name, **options)``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a sampler name must be an identifier-like string, got {name!r}")

    def decorate(cls):
        cls.name = name
        _SAMPLERS[name] = cls
        return cls

    return decorate


def sampler_names() -> tuple:
    """The registered sampler names."""
    return tuple(_SAMPLERS)


def make_sampler(name: str, **options) -> Sampler:
    """A registered sampler by name, with its options (``make_sampler("repaint", T_fine=50)``)."""
    if name not in _SAMPLERS:
        raise ValueError(f"sampler must be one of {sampler_names()}, got {name!r}")
    try:
        return _SAMPLERS[name](**options)
    except TypeError as err:
        raise ValueError(f"bad options for sampler {name!r}: {err}") from None


def as_sampler(sampler) -> Sampler:
    """``None`` -> the ancestral sampler; a name -> ``make_sampler(name)``; a sampler as it is."""
    if sampler is None:
        return AncestralSampler()
    if isinstance(sampler, str):
        return make_sampler(sampler)
    if not isinstance(sampler, Sampler):
        raise ValueError("sampler must be a name, None, or an object with a name, "
                         "__call__(proc, denoiser, y, mask, generator=None) and nfe(proc); got "
                         f"{type(sampler).__name__}")
    return sampler


@register_sampler("ancestral")
@dataclass(frozen=True)
class AncestralSampler:
    """``mrs.sample``: T reverse steps of the process, each drawn from its posterior (``eta = 1``)
    or, with the sampler's ``eta < 1`` (not the schedule's eta_t), the DDIM-style step of
    ``mrs.sampling.ddim`` that keeps the forward marginals (``eta = 0``: deterministic given x_T).
    ``make_sampler("ancestral", eta=0.5)``."""

    eta: float = 1.0                  # the sampler's eta in [0, 1]

    def __post_init__(self):
        object.__setattr__(self, "eta", check_eta(self.eta))

    def __call__(self, proc, denoiser, y, mask, generator=None):
        return sample(proc, denoiser, y, mask, generator=generator, eta=self.eta)

    def nfe(self, proc) -> int:
        return proc.T


@register_sampler("repaint")
@dataclass(frozen=True)
class RePaintSampler:
    """RePaint (``mrs.sampling.repaint``) driving a net trained on ``proc``'s schedule.

    With ``T_fine`` set, the walk runs on the same exponential schedule with ``T_fine`` steps (the
    same process and options) and the net is asked about the matching fractional coarse times
    (``warp_denoiser``); with ``T_fine=None`` it runs on ``proc``'s own schedule.
    """

    T_fine: int | None = 250          # steps of the fine schedule (None: the process's own)
    jump_length: int = 10             # steps between jumps back up
    resamplings: int = 10             # descents of each resampled segment

    def _fine(self, proc):
        if self.T_fine is None:
            return proc, None
        spec = proc.schedule.spec
        if spec is None:
            raise ValueError("RePaintSampler(T_fine=...) needs a process on an exponential schedule "
                             "(schedule.spec); use T_fine=None for any other")
        fine = ScheduleSpec(**{**spec.to_dict(), "T": self.T_fine}).build()
        return make_process(proc.name, fine, **proc.options), fine

    def __call__(self, proc, denoiser, y, mask, generator=None):
        fine_proc, fine = self._fine(proc)
        if fine is not None:
            denoiser = warp_denoiser(denoiser, fine, proc.schedule)
        return repaint_sample(fine_proc, denoiser, y, mask, self.jump_length, self.resamplings,
                              generator=generator)

    def nfe(self, proc) -> int:
        T = proc.T if self.T_fine is None else self.T_fine
        path = repaint_times(T, self.jump_length, self.resamplings)
        return sum(b < a for a, b in zip(path, path[1:]))
