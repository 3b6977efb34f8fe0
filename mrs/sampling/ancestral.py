"""Ancestral sampling x_T -> x_0 (the 4-step sampler of ResShift and the paper).

A denoiser is any callable ``denoiser(x_t, t, y, mask) -> x0_pred`` with ``t`` a LongTensor
``[B]`` in 1..T; ``net.denoiser(proc)`` of a trained network and the oracles of
``mrs.sampling.oracles`` all have that signature.

``eta`` (the sampler's eta, not the schedule's eta_t) picks a member of the DDIM-style family of
reverse steps (``mrs.sampling.ddim``): 1 (the default) draws each step from the posterior, 0 makes
every step deterministic, and every value in between keeps the forward marginals.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from ..core import BaseProcess
from ..core.checks import check_image, check_like, check_mask
from .ddim import check_eta, ddim_step

__all__ = ["sample", "sample_progressive", "StepOutput", "Trajectory", "CountingDenoiser",
           "Denoiser", "check_sampler_inputs", "PredictionChecks"]

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class StepOutput:
    """One reverse step: the time ``t``, the state ``x_t`` it started from, the denoiser's
    prediction ``x0_pred`` and the new state ``x_prev`` = x_{t-1}."""

    t: int
    x_t: torch.Tensor
    x0_pred: torch.Tensor
    x_prev: torch.Tensor


@dataclass
class Trajectory:
    """A whole sampling run.

    Attributes:
        sample:   the final x_0 ``[B, C, H, W]``.
        xs:       ``[x_T, x_{T-1}, ..., x_0]`` (T + 1 tensors).
        x0_preds: the denoiser's prediction at ``t = T, ..., 1`` (T tensors).
        ts:       ``[T, ..., 1]``.
    """

    sample: torch.Tensor
    xs: list = field(default_factory=list)
    x0_preds: list = field(default_factory=list)
    ts: list = field(default_factory=list)


def check_sampler_inputs(proc, denoiser, y, mask):
    if not isinstance(proc, BaseProcess):
        raise ValueError(f"proc must be an mrs process (make_process), got {type(proc).__name__}")
    if not callable(denoiser):
        raise ValueError("denoiser must be callable as denoiser(x_t, t, y, mask) -> x0_pred")
    check_image("y", y)
    check_mask("mask", mask, like=y)


def defer_value_checks(device: torch.device) -> bool:
    """Whether the predictions' NaN/Inf check waits for the end of sampling (no host sync per
    step): on accelerators, where reading a value back stalls the queue."""
    return device.type != "cpu"


class PredictionChecks:
    """The checks of a sampling loop. On CPU every prediction is checked at once. On an
    accelerator the loop reads no values back: the process only checks shapes inside ``scope()``
    (``Process.trusted_inputs``; ``y`` and ``mask`` were validated before the loop) and the
    predictions' finiteness is collected on the device and checked once, by ``finish()``. Either
    way a bad prediction raises ``ValueError`` naming its ``t``."""

    def __init__(self, proc: BaseProcess, y: torch.Tensor):
        self.proc, self.y = proc, y
        self.defer = defer_value_checks(y.device)
        self.ts, self.finite = [], []

    def scope(self):
        return self.proc.trusted_inputs() if self.defer else contextlib.nullcontext()

    def __call__(self, x0_pred, t: int):
        try:
            check_like("x0_pred", x0_pred, self.y, "y", finite=not self.defer)
        except ValueError as err:
            raise ValueError(f"the denoiser at t={t} returned a bad prediction: {err}") from None
        if self.defer:
            self.ts.append(t)
            self.finite.append(torch.isfinite(x0_pred).all())

    def finish(self):
        if self.finite:
            ok = torch.stack(self.finite)
            if not bool(ok.all()):
                t_bad = self.ts[int(ok.float().argmin())]
                raise ValueError(f"the denoiser at t={t_bad} returned a bad prediction: x0_pred "
                                 f"contains NaN or Inf values")


def sample_progressive(
    proc: BaseProcess,
    denoiser: Denoiser,
    y: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None = None,
    eta: float = 1.0,
) -> Iterator[StepOutput]:
    """Yield every reverse step of ancestral sampling (see ``sample``; ``eta`` is the sampler's)."""
    check_sampler_inputs(proc, denoiser, y, mask)
    eta = check_eta(eta, proc)                 # before any draw: a bad eta wastes nothing
    checks = PredictionChecks(proc, y)
    with torch.inference_mode(), proc.fixed_mask(mask):
        # 1. start from the prior x_T ~ N(y, kappa^2 rho eta_T)
        x = proc.prior_sample(y, mask, generator=generator)
        ts = torch.arange(proc.T, 0, -1, device=y.device)
        for i, t in enumerate(range(proc.T, 0, -1)):
            t_batch = ts[i].expand(y.shape[0])
            with checks.scope():
                # 2. predict x0 from the current state
                x0_pred = denoiser(x, t_batch, y, mask)
                checks(x0_pred, t)
                # 3. draw x_{t-1} from the posterior with the prediction in place of x0 (eta = 1;
                #    ddim_step then calls proc.p_step), or take the DDIM-style step of eta < 1
                x_prev = ddim_step(proc, x, x0_pred, y, mask, t_batch, eta, generator=generator)
            yield StepOutput(t=t, x_t=x, x0_pred=x0_pred, x_prev=x_prev)
            x = x_prev
        checks.finish()


def sample(
    proc: BaseProcess,
    denoiser: Denoiser,
    y: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None = None,
    trajectory: bool = False,
    eta: float = 1.0,
):
    """Ancestral sampling ``x_T -> x_0`` with ``proc``'s reverse steps.

        x_T ~ N(y, kappa^2 rho eta_T);   for t = T..1:  x0_pred = denoiser(x_t, t, y, M),
                                                        x_{t-1} ~ q(x_{t-1} | x_t, x0_pred, y)

    With the sampler's ``eta < 1`` (not the schedule's eta_t) each step is the DDIM-style one of
    ``mrs.sampling.ddim.ddim_step``: ``x_{t-1} = x0_pred + rho eta_{t-1} e0 + g_t (x_t - x0_pred -
    rho eta_t e0) + s_t eps`` with ``s_t`` = eta times the posterior's standard deviation; every
    value keeps the forward marginals, and eta = 0 is deterministic given ``x_T``.

    Args:
        proc: a process from ``make_process``.
        denoiser: ``denoiser(x_t, t, y, mask) -> x0_pred`` (t a LongTensor [B]).
        y: degraded images ``[B, C, H, W]``; mask: ``[B, 1, H, W]`` (1 = hole).
        generator: a ``torch.Generator``; the same seed gives bit-identical samples on CPU.
        trajectory: if True return a ``Trajectory`` with every x_t and every prediction.
        eta: the sampler's stochasticity in [0, 1]: 1 (default) the posterior, bit for bit the
            sampler without eta; 0 deterministic. eta != 1 needs a process of the per-pixel-rate
            family (``mrs.Process``); MVD raises ``ValueError``.

    Returns:
        ``x_0`` as ``[B, C, H, W]``, or a ``Trajectory``.
    """
    traj = Trajectory(sample=y)
    x = None
    for step in sample_progressive(proc, denoiser, y, mask, generator=generator, eta=eta):
        if trajectory:
            if not traj.xs:
                traj.xs.append(step.x_t)
            traj.xs.append(step.x_prev)
            traj.x0_preds.append(step.x0_pred)
            traj.ts.append(step.t)
        x = step.x_prev
    if not trajectory:
        return x
    traj.sample = x
    return traj


class CountingDenoiser:
    """Wraps a denoiser and counts its work: ``calls`` (network evaluations) and ``images``
    (evaluations times the batch), so that ``images / batch`` is the NFE per image."""

    def __init__(self, denoiser: Denoiser):
        if not callable(denoiser):
            raise ValueError("denoiser must be callable as denoiser(x_t, t, y, mask) -> x0_pred")
        self.denoise, self.calls, self.images = denoiser, 0, 0

    def __call__(self, x_t, t, y, mask):
        self.calls += 1
        self.images += x_t.shape[0]
        return self.denoise(x_t, t, y, mask)
