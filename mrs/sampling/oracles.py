"""Reference denoisers: the oracle (returns the truth) and the leaky oracle (a controlled error).

Both have the denoiser signature ``denoiser(x_t, t, y, mask) -> x0_pred`` of ``mrs.sample``.
"""

from __future__ import annotations

import torch

from ..core import BaseProcess
from ..core.checks import check_image, check_like
from .ancestral import Denoiser

__all__ = ["oracle_denoiser", "leaky_oracle"]


def oracle_denoiser(x0: torch.Tensor) -> Denoiser:
    """A denoiser that always returns the true ``x0``: sampling with it must give ``x0`` back."""
    check_image("x0", x0)
    x0 = x0.detach().clone()

    def denoise(x_t, t, y, mask):
        check_like("x_t", x_t, x0, "the oracle's x0")
        return x0

    return denoise


def leaky_oracle(x0: torch.Tensor, proc: BaseProcess, leak: float = 0.1) -> Denoiser:
    """An imperfect denoiser with a controlled error: it leaves a fraction ``leak`` of the noise.

        x0_pred = x0 + leak * (x_t - E[x_t | x0, y])

    Its error has the per-pixel standard deviation ``leak * sqrt(Var[x_t | x0])``: like a real
    network, it errs more where it sees more noise. ``leak = 0`` is the oracle.
    """
    check_image("x0", x0)
    if not isinstance(proc, BaseProcess):
        raise ValueError(f"proc must be an mrs process, got {type(proc).__name__}")
    if not (isinstance(leak, (int, float)) and 0.0 <= leak <= 10.0):
        raise ValueError(f"leak must be a number in [0, 10], got {leak!r}")
    x0 = x0.detach().clone()

    def denoise(x_t, t, y, mask):
        check_like("x_t", x_t, x0, "the oracle's x0")
        mean, _ = proc.marginal(x0, y, mask, t)
        return x0 + leak * (x_t - mean)

    return denoise
