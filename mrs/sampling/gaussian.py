"""Gaussian image priors and the exact (Bayes) denoiser: a process's error with a perfect network.

For images ``x0 ~ N(mu, Sigma)`` (flattened to ``D = C*H*W``) everything is linear-Gaussian, so
both the best possible denoiser and the true answer of the inpainting problem have closed forms
(notebook 11).

Split the pixels into the hole ``H`` (mask = 1, all channels) and the known set ``K``. The known
values are given exactly by ``y``, so

    true conditional   x0_H | x0_K = y_K  ~  N(mu_c, Sigma_c)
        mu_c    = mu_H + Sigma_HK Sigma_KK^{-1} (y_K - mu_K)
        Sigma_c = Sigma_HH - Sigma_HK Sigma_KK^{-1} Sigma_KH                    (Schur complement)

On the hole every process here has rate 1, so ``x_t,H = a_t x0_H + eta_t fill + s_t eps`` with
``a_t = 1 - eta_t`` and ``s_t^2 = kappa^2 eta_t``; the known pixels of ``x_t`` carry nothing that
``y`` does not. The Bayes denoiser, the minimiser of the MSE that training aims at, is then

    E[x0_H | x_t, y, M, t] = mu_c + a_t Sigma_c (a_t^2 Sigma_c + s_t^2 I)^{-1}
                                      (x_t,H - a_t mu_c - eta_t fill),          E[x0_K | ...] = y_K.

With ``Sigma_c = U diag(lam) U^T`` factored once per mask, every step costs two matrix products.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core import BaseProcess
from ..core.checks import check_image, check_mask, check_t

__all__ = ["GaussianPrior", "true_conditional", "bayes_denoiser", "gaussian_w2",
           "sampling_error"]


@dataclass(frozen=True, eq=False)
class GaussianPrior:
    """``x0 ~ N(mean, cov)`` over images of ``shape = (C, H, W)``, flattened channel-major.

    Attributes:
        mean: float64 ``[D]``.
        cov:  float64 ``[D, D]``, symmetric positive definite.
        shape: ``(C, H, W)`` with ``C * H * W = D``.
    """

    mean: torch.Tensor
    cov: torch.Tensor
    shape: tuple

    def __post_init__(self):
        d = math.prod(self.shape)
        if self.mean.shape != (d,) or self.cov.shape != (d, d):
            raise ValueError(f"mean must be [{d}] and cov [{d}, {d}] for images of shape {self.shape}")
        if not torch.allclose(self.cov, self.cov.T, atol=1e-10):
            raise ValueError("cov must be symmetric")

    @property
    def dim(self) -> int:
        return self.mean.numel()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images ``[n, C, H, W]`` (float32) drawn from the prior."""
        chol = torch.linalg.cholesky(self.cov)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.mean + z @ chol.T).float().view(n, *self.shape)

    @classmethod
    def fit(cls, images: torch.Tensor, shrinkage: float = 0.05) -> "GaussianPrior":
        """Mean and covariance of ``images [N, C, H, W]``, shrunk towards a scaled identity::

            Sigma = (1 - shrinkage) S + shrinkage * (tr(S) / D) I

        so that it is well conditioned even with fewer images than pixels."""
        check_image("images", images)
        if not 0.0 < shrinkage <= 1.0:
            raise ValueError(f"shrinkage must lie in (0, 1], got {shrinkage!r}")
        x = images.double().flatten(1)
        mean = x.mean(0)
        xc = x - mean
        s = xc.T @ xc / max(1, x.shape[0] - 1)
        d = s.shape[0]
        cov = (1 - shrinkage) * s + shrinkage * (torch.trace(s) / d) * torch.eye(d, dtype=s.dtype)
        return cls(mean=mean, cov=0.5 * (cov + cov.T), shape=tuple(images.shape[1:]))

    @classmethod
    def from_faces(cls, n: int = 2000, size: int = 16, channels: int = 3, seed: int = 0,
                   shrinkage: float = 0.05) -> "GaussianPrior":
        """A prior fitted to ``n`` synthetic faces (``mrs.synthetic_faces``) at ``size`` pixels;
        ``channels = 1`` fits the grey-level images."""
        from ..data import synthetic_faces

        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        faces = synthetic_faces(n, 2 * size, seed)
        faces = F.avg_pool2d(faces, 2)  # render larger, then average down: fewer aliasing artefacts
        if channels == 1:
            faces = faces.mean(1, keepdim=True)
        return cls.fit(faces, shrinkage)

    @classmethod
    def squared_exponential(cls, size: int = 16, channels: int = 1, length_scale: float = 3.0,
                            variance: float = 0.25, mean: float = 0.0,
                            jitter: float = 1e-4) -> "GaussianPrior":
        """A stationary prior: ``cov(p, q) = variance * exp(-|p - q|^2 / (2 length_scale^2))``
        between pixels, independent channels, plus ``jitter * I``."""
        if length_scale <= 0 or variance <= 0 or jitter <= 0:
            raise ValueError("length_scale, variance and jitter must be > 0")
        r = torch.arange(size, dtype=torch.float64)
        pr, pc = torch.meshgrid(r, r, indexing="ij")
        p = torch.stack([pr.flatten(), pc.flatten()], 1)  # (H*W, 2)
        k = variance * torch.exp(-torch.cdist(p, p) ** 2 / (2 * length_scale**2))
        cov = torch.block_diag(*[k] * channels) + jitter * torch.eye(channels * size * size,
                                                                      dtype=torch.float64)
        d = channels * size * size
        return cls(mean=torch.full((d,), float(mean), dtype=torch.float64), cov=cov,
                   shape=(channels, size, size))


def _split(prior: GaussianPrior, mask_1: torch.Tensor):
    """Hole and known indices (flattened, channel-major) of one mask ``[1, H, W]``."""
    if tuple(mask_1.shape[-2:]) != tuple(prior.shape[1:]):
        raise ValueError(f"mask size {tuple(mask_1.shape[-2:])} does not match the prior's "
                         f"images {tuple(prior.shape[1:])}")
    hole = (mask_1 > 0.5).expand(prior.shape[0], -1, -1).flatten()
    if bool(((mask_1 > 0) & (mask_1 < 1)).any()):
        raise ValueError("mask must be hard (values 0 or 1) for the Gaussian computations")
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


def true_conditional(prior: GaussianPrior, y: torch.Tensor, mask: torch.Tensor):
    """The exact law of the hole given the known pixels of one image.

    Args:
        y: ``[1, C, H, W]`` degraded image (its known pixels are ``x0_K``); mask ``[1, 1, H, W]``.

    Returns:
        ``(mean, cov, hole_index)``: ``mean [h]`` and ``cov [h, h]`` (float64) of the hole's
        values, and the flattened (channel-major) indices of those values.
    """
    check_image("y", y, channels=prior.shape[0])
    check_mask("mask", mask, like=y)
    if y.shape[0] != 1:
        raise ValueError(f"y must hold one image (batch size 1), got batch {y.shape[0]}")
    hole, known = _split(prior, mask[0])
    mu_h, mu_k, b, cov_c = _conditional(prior, hole, known)
    y_k = y[0].double().flatten()[known]
    return mu_h + b @ (y_k - mu_k), cov_c, hole


def bayes_denoiser(prior: GaussianPrior, proc: BaseProcess, fill: float = 0.0, leak: float = 0.0,
                   leak_blur: float = 1.0):
    """The exact posterior-mean denoiser ``E[x0 | x_t, y, M, t]`` for this prior and process.

    Returns ``denoiser(x_t, t, y, mask) -> x0_pred`` (the ``mrs.sample`` signature). Factorisations
    are cached per mask, so sampling many images with one mask costs two products per step.

    With ``leak > 0`` it becomes a denoiser with a controlled error: it adds
    ``leak * blur(x_t - E[x_t | x0_pred])``, a fraction of the noise it failed to remove, spread
    over neighbouring pixels by a Gaussian blur of width ``leak_blur`` pixels (as a convolutional
    network's receptive field would), so the error crosses the hole's edge.
    """
    if not isinstance(proc, BaseProcess):
        raise ValueError(f"proc must be an mrs process, got {type(proc).__name__}")
    cache: dict = {}
    etas = proc.schedule.etas
    kappa2 = proc.kappa**2

    def factor(mask_1):
        key = (mask_1 > 0.5).numpy().tobytes()
        if key not in cache:
            rho = proc.rate(mask_1[None].float())[0]
            if bool((rho[mask_1 > 0.5] != 1).any()):
                raise ValueError(f"process {proc.name!r} must have rate 1 on every hole pixel")
            hole, known = _split(prior, mask_1)
            mu_h, mu_k, b, cov_c = _conditional(prior, hole, known)
            lam, u = torch.linalg.eigh(cov_c)
            cache[key] = (hole, known, mu_h, mu_k, b, lam.clamp(min=0), u)
        return cache[key]

    def denoise(x_t, t, y, mask):
        check_image("x_t", x_t, channels=prior.shape[0])
        check_mask("mask", mask, like=x_t)
        t = check_t(t, proc.T, x_t.shape[0])
        out = y.double().flatten(1).clone()
        xf = x_t.double().flatten(1)
        groups, which = torch.unique((mask > 0.5).flatten(1), dim=0, return_inverse=True)
        for g in range(groups.shape[0]):
            rows = (which == g).nonzero().flatten()
            hole, known, mu_h, mu_k, b, lam, u = factor(mask[rows[0]].cpu())
            eta = etas[t[rows]].double()[:, None]  # (n, 1)
            a, s2 = 1.0 - eta, kappa2 * eta
            # 1. conditional mean of the hole given the known pixels (one per image)
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


def _sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    lam, u = torch.linalg.eigh(0.5 * (a + a.T))
    return (u * lam.clamp(min=0).sqrt()) @ u.T


def gaussian_w2(mean1, cov1, mean2, cov2) -> float:
    """2-Wasserstein distance between two Gaussians::

        W2^2 = |m1 - m2|^2 + tr(C1 + C2 - 2 (C2^{1/2} C1 C2^{1/2})^{1/2})
    """
    root2 = _sqrtm_psd(cov2.double())
    cross = _sqrtm_psd(root2 @ cov1.double() @ root2)
    w2sq = ((mean1 - mean2).double() ** 2).sum() + torch.trace(cov1.double() + cov2.double()
                                                                 - 2 * cross)
    return float(w2sq.clamp(min=0).sqrt())


def sampling_error(prior: GaussianPrior, proc: BaseProcess, y: torch.Tensor, mask: torch.Tensor,
                   n: int = 2000, generator: torch.Generator | None = None, denoiser=None,
                   x0: torch.Tensor | None = None, sampler=None) -> dict:
    """Sample the hole ``n`` times (``sampler``, default ``mrs.sample``) and compare with the true
    conditional.

    Returns a dict with
        ``mean_rmse``: RMS error of the sample mean against the true conditional mean (hole);
        ``std_ratio``: mean sample std over mean true std in the hole (1 = right spread);
        ``w2``: 2-Wasserstein distance between the fitted Gaussian and the true conditional,
                divided by sqrt(h) (per hole value);
        ``seam``: mean ``seam_score`` of the samples (with ``ref = x0`` when given).
    """
    from ..core.metrics import seam_score
    from .samplers import as_sampler

    mean_c, cov_c, hole = true_conditional(prior, y, mask)
    den = denoiser if denoiser is not None else bayes_denoiser(prior, proc)
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
