"""Exact computations for Gaussian image priors: the true answer, the Bayes denoiser, and the exact
law of what the sampler returns with it (notebook 11).

For images ``x0 ~ N(mu, Sigma)`` (``GaussianPrior``, flattened channel-major to ``D = C*H*W``)
everything is linear-Gaussian, so both the best possible denoiser for the MSE loss and the true
answer of the inpainting problem have closed forms.

Split the values into the hole ``H`` (mask ``m = 1``, all channels) and the known set ``K``
(``m < 1``). The input is the noiseless blend ``y = (1 - m) x0 + m fill``, so every known value is
given exactly, on hard masks (``m = 0``: ``x0_K = y_K``) and on fractional ones alike::

    x0_K = (y_K - m_K fill) / (1 - m_K)                                        (m_K < 1)

and the true answer is the conditional law of the hole given those values::

    true conditional   x0_H | x0_K  ~  N(mu_c, Sigma_c)
        mu_c    = mu_H + Sigma_HK Sigma_KK^{-1} (x0_K - mu_K)
        Sigma_c = Sigma_HH - Sigma_HK Sigma_KK^{-1} Sigma_KH                    (Schur complement)

On the hole every process here has rate 1, so ``x_t,H = a_t x0_H + eta_t fill + s_t eps`` with
``a_t = 1 - eta_t`` and ``s_t^2 = kappa^2 eta_t``. On ``K`` the forward process draws its noise
independently of ``x0_H`` and, given ``x0_K``, has a law that depends on nothing else, so ``x_t,K``
carries nothing that ``y`` does not. The Bayes denoiser, the minimiser of the MSE, is then

    E[x0_H | x_t, y, M, t] = mu_c + a_t Sigma_c (a_t^2 Sigma_c + s_t^2 I)^{-1}
                                      (x_t,H - a_t mu_c - eta_t fill),          E[x0_K | ...] = x0_K.

(A loss with another term, such as the paper's MSE + 10 LPIPS, has another minimiser.) With
``Sigma_c = U diag(lam) U^T`` factored once per hole, every step costs two matrix products, and
the law of the sampler's output follows from a recursion per eigendirection on the hole
(``sampler_law``) and per value on ``K`` (``sampler_known_law``).

What this still cannot do, with a ``ValueError``: a process whose rate on a hole value is not 1
(the observation ``x_t,H`` would be scaled per value, and one factorisation per hole would no longer
serve every ``t``), and a fill that is not a constant (``"harmonic"`` depends on ``x0``). A noisy
``y`` (the known values only approximately given, as ``E(y)`` in latent space) is outside the model.
Values with ``m >= 1 - 1e-6`` count as hole (rate within 1e-6 of 1): dividing by ``1 - m`` below
that would amplify ``y``'s rounding more than a million times.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core import BaseProcess
from ..core.checks import check_image, check_mask, check_t
from ..core.masks import check_fill
from .gaussian_prior import GaussianPrior, gaussian_w2

__all__ = ["GaussianPrior", "true_conditional", "bayes_denoiser", "exact_samples", "fill_hole",
           "sampler_law", "sampler_known_law", "limit_law", "law_metrics", "gaussian_w2",
           "sampling_error"]

HOLE_TOL = 1e-6   # m >= 1 - HOLE_TOL: a hole value; the rate there must be within HOLE_TOL of 1


def _check_proc(proc) -> None:
    if not isinstance(proc, BaseProcess):
        raise ValueError(f"proc must be an mrs process, got {type(proc).__name__}")


def _check_fill(fill) -> float:
    if isinstance(fill, str):
        raise ValueError(f"fill must be a finite number (a constant fill; the Gaussian computations "
                         f"cannot use a fill that depends on x0, such as 'harmonic'), got {fill!r}")
    return check_fill(fill)


def _is_hole(mask: torch.Tensor) -> torch.Tensor:
    return mask >= 1 - HOLE_TOL


def _check_rate(proc, mask: torch.Tensor) -> None:
    """Rate 1 on every hole value of ``mask [B, 1, H, W]``: what the Bayes denoiser assumes."""
    rho = proc.rate(mask.float())
    if bool(((rho - 1).abs() > HOLE_TOL)[_is_hole(mask).expand_as(rho)].any()):
        raise ValueError(f"process {proc.name!r} must have rate 1 on every hole pixel (m = 1): the "
                         f"Gaussian computations need x_t,H = (1 - eta_t) x0_H + eta_t fill + noise")


def _x0_known(y: torch.Tensor, mask: torch.Tensor, fill: float) -> torch.Tensor:
    """``[B, D]`` float64: ``x0 = (y - m fill) / (1 - m)`` on the values with ``0 < m < 1``, ``y``
    elsewhere (so ``y`` itself, bit for bit, on a hard mask's known values)."""
    yf = y.double().flatten(1)
    m = mask.double().expand(-1, y.shape[1], -1, -1).flatten(1)
    frac = (m > 0) & ~_is_hole(m)
    return torch.where(frac, (yf - m * fill) / (1 - m).clamp(min=HOLE_TOL), yf)


def _split(prior: GaussianPrior, mask_1: torch.Tensor):
    """Hole and known indices (flattened, channel-major) of one mask ``[1, H, W]``."""
    if tuple(mask_1.shape[-2:]) != tuple(prior.shape[1:]):
        raise ValueError(f"mask size {tuple(mask_1.shape[-2:])} does not match the prior's "
                         f"images {tuple(prior.shape[1:])}")
    hole = _is_hole(mask_1).expand(prior.shape[0], -1, -1).flatten()
    idx = torch.arange(prior.dim)
    return idx[hole], idx[~hole]


def _conditional(prior: GaussianPrior, hole: torch.Tensor, known: torch.Tensor):
    """``(mu_H, mu_K, B = Sigma_HK Sigma_KK^{-1}, Sigma_c)`` for one split."""
    s = prior.cov
    s_hk, s_kk, s_hh = s[hole][:, known], s[known][:, known], s[hole][:, hole]
    if known.numel() == 0:
        b = torch.zeros(hole.numel(), 0, dtype=s.dtype)
    else:
        chol = torch.linalg.cholesky(s_kk)
        b = torch.cholesky_solve(s_hk.T, chol).T  # Sigma_HK Sigma_KK^{-1}
    cov_c = s_hh - b @ s_hk.T
    return prior.mean[hole], prior.mean[known], b, 0.5 * (cov_c + cov_c.T)


def true_conditional(prior: GaussianPrior, y: torch.Tensor, mask: torch.Tensor, fill: float = 0.0):
    """The exact law of the hole (``m = 1``) given the known values of one image.

    Args:
        y: ``[1, C, H, W]``, ``y = (1 - m) x0 + m fill``; mask ``[1, 1, H, W]``, hard or fractional:
            every value with ``m < 1`` is known, ``x0_K = (y_K - m_K fill) / (1 - m_K)``.
        fill: the constant of ``y``'s blend (only read where ``0 < m < 1``).

    Returns:
        ``(mean, cov, hole_index)``: ``mean [h]`` and ``cov [h, h]`` (float64) of the hole's
        values, and the flattened (channel-major) indices of those values.
    """
    check_image("y", y, channels=prior.shape[0])
    check_mask("mask", mask, like=y)
    fill = _check_fill(fill)
    if y.shape[0] != 1:
        raise ValueError(f"y must hold one image (batch size 1), got batch {y.shape[0]}")
    hole, known = _split(prior, mask[0])
    mu_h, mu_k, b, cov_c = _conditional(prior, hole, known)
    x0_k = _x0_known(y, mask, fill)[0, known]
    return mu_h + b @ (x0_k - mu_k), cov_c, hole


def bayes_denoiser(prior: GaussianPrior, proc: BaseProcess, fill: float = 0.0, leak: float = 0.0,
                   leak_blur: float = 1.0):
    """The exact posterior-mean denoiser ``E[x0 | x_t, y, M, t]`` for this prior and process.

    Returns ``denoiser(x_t, t, y, mask) -> x0_pred`` (the ``mrs.sample`` signature), for hard and
    fractional masks: ``x0_K = (y_K - m fill) / (1 - m)`` wherever ``m < 1`` and the conditional
    mean of the module docstring on the hole ``m = 1``. Factorisations are cached per hole, so
    sampling many images with one mask costs two products per step.

    With ``leak > 0`` it becomes a denoiser with a controlled error: it adds
    ``leak * blur(x_t - E[x_t | x0_pred])``, a fraction of the noise it failed to remove, spread
    over neighbouring pixels by a Gaussian blur of width ``leak_blur`` pixels (as a convolutional
    network's receptive field would), so the error crosses the hole's edge.
    """
    _check_proc(proc)
    fill = _check_fill(fill)
    cache: dict = {}
    etas = proc.schedule.etas
    kappa2 = proc.kappa**2

    def factor(mask_1):
        key = _is_hole(mask_1).numpy().tobytes()
        if key not in cache:
            _check_rate(proc, mask_1[None])
            hole, known = _split(prior, mask_1)
            mu_h, mu_k, b, cov_c = _conditional(prior, hole, known)
            lam, u = torch.linalg.eigh(cov_c)
            cache[key] = (hole, known, mu_h, mu_k, b, lam.clamp(min=0), u)
        return cache[key]

    def denoise(x_t, t, y, mask):
        check_image("x_t", x_t, channels=prior.shape[0])
        check_mask("mask", mask, like=x_t)
        t = check_t(t, proc.T, x_t.shape[0])
        out = _x0_known(y, mask, fill)           # x0 on every known value; the hole is overwritten
        xf = x_t.double().flatten(1)
        groups, which = torch.unique(_is_hole(mask).flatten(1), dim=0, return_inverse=True)
        for g in range(groups.shape[0]):
            rows = (which == g).nonzero().flatten()
            hole, known, mu_h, mu_k, b, lam, u = factor(mask[rows[0]].cpu())
            eta = etas[t[rows]].double()[:, None]  # (n, 1)
            a, s2 = 1.0 - eta, kappa2 * eta
            # 1. conditional mean of the hole given the known values (one per image)
            mu_c = mu_h + (out[rows][:, known] - mu_k) @ b.T  # (n, h)
            # 2. observation of the hole at time t: x_t,H = a x0_H + eta fill + s eps
            resid = xf[rows][:, hole] - a * mu_c - eta * fill
            # 3. gain a Sigma_c (a^2 Sigma_c + s^2 I)^{-1} in the eigenbasis of Sigma_c
            gain = a * lam / (a * a * lam + s2)  # (n, h)
            out[rows[:, None], hole[None, :]] = mu_c + ((resid @ u) * gain) @ u.T
        x0_pred = out.view_as(x_t).to(x_t.dtype)
        if leak > 0:
            mean_t, _ = proc.marginal(x0_pred, y, mask, t)
            x0_pred = x0_pred + leak * _blur(x_t - mean_t, leak_blur)
        return x0_pred

    return denoise


def exact_samples(prior: GaussianPrior, y: torch.Tensor, mask: torch.Tensor, n: int,
                  generator: torch.Generator | None = None, fill: float = 0.0) -> torch.Tensor:
    """``n`` images ``[n, C, H, W]`` with the known values ``x0_K`` (``y_K`` on a hard mask) and a
    hole drawn from the true conditional, what a perfect generative inpainter returns::

        x_H = mu_c + U diag(sqrt(lam)) z,      z ~ N(0, I),      Sigma_c = U diag(lam) U^T
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    mean, cov, hole = true_conditional(prior, y, mask, fill)
    lam, u = torch.linalg.eigh(cov)
    z = torch.randn(n, hole.numel(), generator=generator, dtype=torch.float64)
    out = _x0_known(y, mask, fill).repeat(n, 1)
    out[:, hole] = mean + (z * lam.clamp(min=0).sqrt()) @ u.T
    return out.to(y.dtype).view(n, *y.shape[1:])


def fill_hole(y: torch.Tensor, hole: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``y [1, C, H, W]`` with its flattened (channel-major) entries ``hole`` set to ``values [h]``:
    a hole's mean, std or sample as a picture (``hole`` as returned by ``true_conditional``)."""
    check_image("y", y)
    if y.shape[0] != 1:
        raise ValueError(f"y must hold one image (batch size 1), got batch {y.shape[0]}")
    if values.shape != hole.shape:
        raise ValueError(f"values {tuple(values.shape)} must match hole {tuple(hole.shape)}")
    out = y.double().flatten(1).clone()
    out[0, hole] = values.double()
    return out.to(y.dtype).view_as(y)


def _eigen(prior, proc, y, mask, fill):
    """``(mu_c, lam, U)`` of the true conditional, after checking the process's rate on the hole."""
    _check_proc(proc)
    check_mask("mask", mask)
    _check_rate(proc, mask)
    mean, cov, _ = true_conditional(prior, y, mask, fill)
    lam, u = torch.linalg.eigh(cov)
    return mean, lam.clamp(min=0), u


def sampler_law(prior: GaussianPrior, proc: BaseProcess, y: torch.Tensor, mask: torch.Tensor,
                add_missing: bool = False, fill: float = 0.0):
    """The exact law of the hole of ``mrs.sample(proc, bayes_denoiser(prior, proc, fill), y, mask)``
    (hard or fractional mask; the known values: ``sampler_known_law``).

    In the eigenbasis ``Sigma_c = U diag(lam) U^T`` every direction is independent. With
    ``mu~ = U^T mu_c``, ``f~ = U^T fill`` and ``(m_t, V_t)`` the mean and variance of a direction
    of ``x_t`` under the sampler, start from ``x_T ~ N(y, kappa^2 eta_T)`` (``m_T = f~``,
    ``V_T = kappa^2 eta_T``) and step t = T..1 with the Bayes gain
    ``g_t = a_t lam / (a_t^2 lam + s_t^2)``::

        m_{t-1} = c^xt_t m_t + c^x0_t (mu~ + g_t (m_t - a_t mu~ - eta_t f~))
        V_{t-1} = (c^xt_t + c^x0_t g_t)^2 V_t + kappa^2 v_t
                  [ + (c^x0_t)^2 lam s_t^2 / (a_t^2 lam + s_t^2) ]

    (``c^xt = coef_xt``, ``c^x0 = coef_x0``, ``v = post_var``). The bracket is
    ``(c^x0_t)^2 Cov[x0 | x_t]``, which the sampler drops by plugging in the point estimate
    ``E[x0 | x_t]``; ``add_missing=True`` adds it back, giving the true conditional up to the
    mismatch of ``x_T``'s law (the forward ``x_T`` still holds ``a_T x0``).

    Returns ``(mean [h], cov [h, h])`` (float64), indexed like ``true_conditional``'s hole.
    """
    mean, lam, u = _eigen(prior, proc, y, mask, fill)
    k2 = proc.kappa**2
    mu, f = u.T @ mean, u.T @ torch.full_like(mean, fill)
    m, v = f.clone(), k2 * proc.eta[-1] * torch.ones_like(lam)   # x_T ~ N(y, kappa^2 eta_T)
    for t in range(proc.T, 0, -1):
        eta, cx, c0 = proc.eta[t], proc.coef_xt[t], proc.coef_x0[t]
        a, s2 = 1 - eta, k2 * eta
        g = a * lam / (a * a * lam + s2)                             # the Bayes gain
        m = cx * m + c0 * (mu + g * (m - a * mu - eta * f))
        v = (cx + c0 * g) ** 2 * v + k2 * proc.post_var[t]
        if add_missing:
            v = v + c0**2 * lam * s2 / (a * a * lam + s2)            # c_x0^2 Cov[x0 | x_t]
    return u @ m, (u * v) @ u.T


def sampler_known_law(proc: BaseProcess, y: torch.Tensor, mask: torch.Tensor, fill: float = 0.0):
    """The exact law, value by value, of what ``mrs.sample(proc, bayes_denoiser(prior, proc, fill),
    y, mask)`` returns on the known values (``m < 1``), for any prior: there the Bayes denoiser
    returns ``x0_K = (y_K - m fill) / (1 - m)`` whatever ``x_t``.

    Every process in ``mrs`` steps each value on its own, affinely in ``x_t`` and in its noise,
    ``x_{t-1} = A_t x_t + b_t + s_t eps`` (read off ``proc.p_step`` with the prediction ``x0``),
    from ``x_T = b_T + s_T eps`` (``proc.prior_sample``), so mean and variance follow::

        mean_{t-1} = A_t mean_t + b_t,      V_{t-1} = A_t^2 V_t + s_t^2.

    A process of the rate family ends with ``A_1 = 0``, ``b_1 = x0``, ``s_1 = 0`` (where its rate is
    0 it keeps ``x_t = y = x0``): ``x0_K`` exactly.
    ``authors`` has ``A_t = m^2 eta_{t-1}/eta_t + m (1 - m)``, ``b_t = (1 - m) y + m^2 (alpha_t /
    eta_t) x0`` and ``s_t = m^2 kappa sqrt(post_var_t)``: its mean ends at ``x0 + k e0``, with
    ``e0 = y - x0 = m (fill - x0)`` and ``k = authors_mean_gain(proc, m)``.

    Args:
        y: ``[1, C, H, W]``; mask ``[1, 1, H, W]``, hard or fractional; fill: ``y``'s constant.

    Returns:
        ``(mean [k], var [k], known)`` (float64), ``known`` the flattened (channel-major) indices
        of the values with ``m < 1``. ``ValueError`` if ``proc``'s step is not affine per value.
    """
    _check_proc(proc)
    check_image("y", y)
    check_mask("mask", mask, like=y)
    fill = _check_fill(fill)
    if y.shape[0] != 1:
        raise ValueError(f"y must hold one image (batch size 1), got batch {y.shape[0]}")
    yd, md = y.double(), mask.double()
    x0 = _x0_known(y, mask, fill).view_as(yd)
    zero, one = torch.zeros_like(yd), torch.ones_like(yd)
    mean = proc.prior_sample(yd, md, noise=zero)
    var = (proc.prior_sample(yd, md, noise=one) - mean) ** 2
    for t in range(proc.T, 0, -1):
        def step(x_t, eps, t=t):
            return proc.p_step(x_t, x0, yd, md, t, noise=eps)

        b = step(zero, zero)
        a, s = step(one, zero) - b, step(zero, one) - b
        if not torch.allclose(step(2 * one, one), 2 * a + b + s, atol=1e-9):
            raise ValueError(f"the reverse step of {proc.name!r} is not affine in x_t and its noise, "
                             f"value by value: sampler_known_law cannot follow it")
        mean, var = a * mean + b, a * a * var + s * s
    known = (~_is_hole(md).expand_as(yd)).flatten().nonzero().flatten()
    return mean.flatten()[known], var.flatten()[known], known


def limit_law(prior: GaussianPrior, proc: BaseProcess, y: torch.Tensor, mask: torch.Tensor,
              fill: float = 0.0):
    """The law of the last step's output ``E[x0 | x_1]`` when ``x_1`` follows its true marginal::

        mean = mu_c,    cov = U diag(a_1^2 lam^2 / (a_1^2 lam + s_1^2)) U^T = Sigma_c - Cov[x0 | x_1]

    As T grows at a fixed first noise level eta_1 (ResShift's exponential schedule fixes it for
    every T), the intermediate steps lose less and less (``c^x0_t -> 0``), and ``sampler_law``
    tends to this: the loss of the last step alone. Returns ``(mean [h], cov [h, h])`` (float64).
    """
    mean, lam, u = _eigen(prior, proc, y, mask, fill)
    eta1 = float(proc.eta[1])
    a1, s1sq = 1 - eta1, proc.kappa**2 * eta1
    lam_out = a1**2 * lam**2 / (a1**2 * lam + s1sq)          # Var[E[x0 | x_1]] per direction
    return mean, (u * lam_out) @ u.T


def law_metrics(prior: GaussianPrior, y: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor,
                cov: torch.Tensor, fill: float = 0.0) -> dict:
    """``N(mean, cov)`` of the hole against the true conditional ``N(mu_c, Sigma_c)``:
    ``std_ratio`` = mean of sqrt(diag cov) / mean of sqrt(diag Sigma_c), and ``w2`` =
    ``gaussian_w2`` / sqrt(h), the same numbers ``sampling_error`` estimates from samples."""
    mean_c, cov_c, hole = true_conditional(prior, y, mask, fill)
    h = hole.numel()
    if mean.shape != (h,) or cov.shape != (h, h):
        raise ValueError(f"mean must be [{h}] and cov must be [{h}, {h}] for this hole")
    ratio = float(cov.diagonal().clamp(min=0).sqrt().mean() / cov_c.diagonal().sqrt().mean())
    return {"std_ratio": ratio, "w2": gaussian_w2(mean, cov, mean_c, cov_c) / math.sqrt(h)}


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    r = int(math.ceil(3 * sigma))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=x.dtype) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).to(x.device)
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
                 groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
                    groups=c)


def sampling_error(prior: GaussianPrior, proc: BaseProcess, y: torch.Tensor, mask: torch.Tensor,
                   n: int = 2000, generator: torch.Generator | None = None, denoiser=None,
                   x0: torch.Tensor | None = None, sampler=None, fill: float = 0.0) -> dict:
    """Sample the hole ``n`` times (``sampler``, default ``mrs.sample``; ``denoiser``, default
    ``bayes_denoiser(prior, proc, fill)``) and compare with the true conditional.

    Returns a dict with
        ``mean_rmse``: RMS error of the sample mean against the true conditional mean (hole);
        ``std_ratio``: mean sample std over mean true std in the hole (1 = right spread);
        ``w2``: 2-Wasserstein distance between the fitted Gaussian and the true conditional,
                divided by sqrt(h) (per hole value);
        ``seam``: mean ``seam_score`` of the samples (with ``ref = x0`` when given).
    """
    from ..core.metrics import seam_score
    from .samplers import as_sampler

    mean_c, cov_c, hole = true_conditional(prior, y, mask, fill)
    den = denoiser if denoiser is not None else bayes_denoiser(prior, proc, fill)
    ys, ms = y.expand(n, -1, -1, -1), mask.expand(n, -1, -1, -1)
    out = as_sampler(sampler)(proc, den, ys, ms, generator=generator)
    v = out.double().flatten(1)[:, hole]
    m = v.mean(0)
    c = torch.cov(v.T).reshape(hole.numel(), hole.numel())
    h = hole.numel()
    ref = x0.expand(n, -1, -1, -1) if x0 is not None else None
    return {
        "mean_rmse": float(((m - mean_c) ** 2).mean().sqrt()),
        "std_ratio": float(v.std(0).mean() / cov_c.diagonal().clamp(min=0).sqrt().mean()),
        "w2": gaussian_w2(m, c, mean_c, cov_c) / math.sqrt(h),
        "seam": float(seam_score(out, ms, ref=ref).mean()),
    }
