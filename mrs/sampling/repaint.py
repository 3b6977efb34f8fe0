"""A RePaint-style baseline sampler (Lugmayr et al. 2022) on top of any ``mrs`` process.

RePaint inpaints with an unconditional sampler by (a) replacing the known region at every step with
a forward-noised copy of the known image and (b) *resampling*: after every ``jump_length`` reverse
steps it jumps back up ``jump_length`` steps with the forward kernel and redoes them, so that the
hole and the known region have time to agree. Here it drives an ``mrs`` process (normally
``resshift``, with any number of steps) and any denoiser ``denoiser(x_t, t, y, mask) -> x0_pred``.

``fractional_times`` and ``warp_denoiser`` let a net trained on a short (coarse) schedule, e.g. the
paper's 4 steps, be run on a long (fine) schedule by asking it about fractional coarse times.
"""

from __future__ import annotations

import math

import torch

from ..core import BaseProcess, Schedule
from ..core.checks import check_t
from .ancestral import Denoiser, PredictionChecks, check_sampler_inputs

__all__ = ["repaint_times", "repaint_sample", "fractional_times", "warp_denoiser"]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def repaint_times(T: int, jump_length: int = 10, resamplings: int = 10) -> list[int]:
    """The path of times ``T, ..., 0`` that RePaint visits; every move is +1 or -1.

    Going down from ``T``, each time ``t = T - k * jump_length`` (k >= 1) with ``t > 0`` is reached,
    the sampler goes back up to ``t + jump_length`` and comes down again, until the segment
    ``t + jump_length -> t`` has been descended ``resamplings`` times in total. The last segment,
    the one that reaches the clean image ``t = 0`` (of length ``T mod jump_length``, or
    ``jump_length`` when it divides ``T``), is descended once: there is no jump back from ``x_0``.
    With ``resamplings = 1`` or ``jump_length >= T`` the path is plain ``T, T-1, ..., 0``.

    Every downward move costs one network evaluation, so the number of function evaluations is

        NFE = T + (resamplings - 1) * jump_length * floor((T - 1) / jump_length)

    (``floor((T - 1) / jump_length)`` segments are resampled). T = 250, jump 10, r = 10: 2410.
    """
    T = _positive_int("T", T)
    J = _positive_int("jump_length", jump_length)
    r = _positive_int("resamplings", resamplings)
    path, t = [T], T
    left: dict[int, int] = {}  # jumps still to do from each jump point
    while t > 0:
        # 1. one step down
        t -= 1
        path.append(t)
        # 2. at a jump point (a multiple of J below T, not the clean image): go back up J steps
        if t > 0 and (T - t) % J == 0 and left.setdefault(t, r - 1) > 0:
            left[t] -= 1
            path.extend(range(t + 1, t + J + 1))
            t += J
    return path


def repaint_sample(
    proc: BaseProcess,
    denoiser: Denoiser,
    y: torch.Tensor,
    mask: torch.Tensor,
    jump_length: int = 10,
    resamplings: int = 10,
    generator: torch.Generator | None = None,
    progress: bool = False,
    return_nfe: bool = False,
):
    """RePaint sampling along ``repaint_times(proc.T, jump_length, resamplings)``.

        x_T ~ N(y, kappa^2 rho eta_T)
        down t -> t-1:  x0_pred = denoiser(x_t, t, y, M)
                        x_unk  ~ q(x_{t-1} | x_t, x0_pred, y)           (proc.p_step)
                        x_kn   ~ q(x_{t-1} | x0 = y, y)  (t-1 >= 1),   x_kn = y  (t-1 = 0)
                        x_{t-1} = M x_unk + (1 - M) x_kn
        up t-1 -> t:    x_t ~ q(x_t | x_{t-1}, x0_pred, y) = N(x_{t-1} + rho alpha_t (y - x0_pred),
                                                             kappa^2 rho alpha_t)

    The upward move is the adaptation of RePaint's forward jump to residual shifting: DDPM's
    kernel ``q(x_t | x_{t-1})`` does not depend on x0, but ResShift's shifts the mean by
    ``alpha_t (y - x0)``, so the latest prediction ``x0_pred`` stands in for the unknown x0.

    Args:
        proc: a process from ``make_process`` (normally ``"resshift"``).
        denoiser: ``denoiser(x_t, t, y, mask) -> x0_pred`` (t a LongTensor [B] in 1..T).
        y: degraded images ``[B, C, H, W]``; mask: ``[B, 1, H, W]`` (1 = hole).
        jump_length, resamplings: the resampling schedule (see ``repaint_times``).
        generator: a ``torch.Generator``; the same seed gives bit-identical samples on CPU.
        progress: show a tqdm bar over the moves.
        return_nfe: also return the number of denoiser calls.

    Returns:
        ``x_0`` as ``[B, C, H, W]``, or ``(x_0, nfe)`` if ``return_nfe``.
    """
    check_sampler_inputs(proc, denoiser, y, mask)
    path = repaint_times(proc.T, jump_length, resamplings)
    from tqdm.auto import tqdm

    nfe, x0_pred = 0, None
    checks = PredictionChecks(proc, y)
    with torch.inference_mode(), proc.fixed_mask(mask):
        # 1. start from the prior x_T ~ N(y, kappa^2 rho eta_T)
        x = proc.prior_sample(y, mask, generator=generator)
        moves = zip(path[:-1], path[1:])
        for t_from, t_to in tqdm(moves, total=len(path) - 1, disable=not progress, desc="repaint",
                                 leave=False):
            with checks.scope():
                if t_to < t_from:
                    t = t_from
                    t_batch = torch.full((y.shape[0],), t, dtype=torch.long, device=y.device)
                    # 2. predict x0 from x_t
                    x0_pred = denoiser(x, t_batch, y, mask)
                    nfe += 1
                    checks(x0_pred, t)
                    # 3. the hole: a reverse step with the prediction in place of x0
                    x_unk = proc.p_step(x, x0_pred, y, mask, t_batch, generator=generator)
                    # 4. the known region: forward-noised y at t-1 (y itself at t-1 = 0)
                    x_kn = proc.q_sample(y, y, mask, t - 1, generator=generator) if t > 1 else y
                    x = mask * x_unk + (1 - mask) * x_kn
                else:
                    # 5. jump back up: one forward kernel step t-1 -> t with x0_pred for x0
                    x = proc.q_step(x, x0_pred, y, mask, t_to, generator=generator)
        checks.finish()
    return (x, nfe) if return_nfe else x


def fractional_times(fine: Schedule, coarse: Schedule) -> torch.Tensor:
    """The fractional coarse time of every fine step: float64 ``[S+1]``, ``tau[0] = 0``.

    For ``s = 1..S``, ``tau_s`` in ``[1, T]`` solves ``f(tau_s) = sqrt(eta_fine[s])``, where ``f`` is
    the piecewise-linear interpolant of ``sqrt(eta_coarse[t])`` over the integer times ``t = 1..T``:

        tau_s = k + (sqrt(eta_fine[s]) - sqrt(eta_k)) / (sqrt(eta_{k+1}) - sqrt(eta_k)),
        sqrt(eta_k) <= sqrt(eta_fine[s]) <= sqrt(eta_{k+1}),

    clamped to ``[1, T]`` (noise levels below eta_1 map to 1, above eta_T to T). The schedules must
    share ``kappa``. A schedule against itself gives ``0, 1, 2, ..., T`` exactly.
    """
    for name, sch in (("fine", fine), ("coarse", coarse)):
        if not isinstance(sch, Schedule):
            raise ValueError(f"{name} must be an mrs.Schedule, got {type(sch).__name__}")
    if not math.isclose(fine.kappa, coarse.kappa, rel_tol=1e-12):
        raise ValueError(f"fine and coarse must share kappa, got {fine.kappa:g} and {coarse.kappa:g}")
    T = coarse.T
    c = coarse.etas[1:].sqrt()  # [T], increasing
    v = fine.etas[1:].sqrt()  # [S]
    if T == 1:
        tau = torch.ones_like(v)
    else:
        # 1. the segment [k, k+1] (times, 1-based) holding each level; k in 1..T-1
        k = torch.searchsorted(c, v, right=True).clamp(1, T - 1)
        lo, hi = c[k - 1], c[k]
        # 2. linear interpolation inside the segment, then clamp to [1, T]
        tau = (k.to(torch.float64) + (v - lo) / (hi - lo)).clamp(1.0, float(T))
    return torch.cat([torch.zeros(1, dtype=torch.float64), tau])


def warp_denoiser(denoiser: Denoiser, fine: Schedule, coarse: Schedule) -> Denoiser:
    """A denoiser for the ``fine`` schedule built from one trained on ``coarse``.

    ``warped(x_t, t, y, mask)`` (t a LongTensor [B] in 1..S) calls ``denoiser(x_t, tau, y, mask)``
    with ``tau = fractional_times(fine, coarse)[t]`` as a float32 tensor ``[B]`` of fractional
    coarse times, so the coarse net is asked about the matching noise level.
    """
    if not callable(denoiser):
        raise ValueError("denoiser must be callable as denoiser(x_t, tau, y, mask) -> x0_pred")
    taus = fractional_times(fine, coarse)  # [S+1] float64

    def warped(x_t, t, y, mask):
        t = check_t(t, fine.T, x_t.shape[0], device=x_t.device)
        tau = taus.to(x_t.device)[t].to(torch.float32)  # [B]
        return denoiser(x_t, tau, y, mask)

    return warped
