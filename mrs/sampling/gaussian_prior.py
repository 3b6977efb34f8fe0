"""Gaussian image priors ``x0 ~ N(mu, Sigma)`` over small images, for the exact computations of
``mrs.gaussian`` (notebook 11): fitted to synthetic faces, or stationary (squared exponential);
and the 2-Wasserstein distance between two Gaussians."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.checks import check_image

__all__ = ["GaussianPrior", "gaussian_w2"]


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
