"""Image-quality numbers: PSNR, hole-PSNR and the seam score (notebook 05 defines it).

Images are ``[B, C, H, W]`` in [-1, 1] (data range 2); masks ``[B, 1, H, W]`` with 1 = hole.
Every function returns one number per image, a tensor ``[B]``.
"""

from __future__ import annotations

import torch

from .checks import check_like, check_mask

__all__ = ["psnr", "hole_psnr", "seam_score", "edge_pairs", "ssim"]


def psnr(x: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB for [-1, 1] images: ``10 log10(2^2 / MSE)``.

    With ``mask`` the MSE is averaged over the pixels weighted by the mask (e.g. the hole only).
    A perfect match gives ``inf``.
    """
    check_like("x", x, ref, "ref")
    se = (x.double() - ref.double()) ** 2
    if mask is None:
        mse = se.flatten(1).mean(1)
    else:
        check_mask("mask", mask, like=x)
        w = mask.double().expand_as(se)
        area = w.flatten(1).sum(1)
        if bool((area == 0).any()):
            raise ValueError("mask has an image with an empty region: PSNR is undefined there")
        mse = (se * w).flatten(1).sum(1) / area
    return (10.0 * torch.log10(4.0 / mse)).float()


def hole_psnr(x: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PSNR over the hole only (pixels with ``mask > 0.5``)."""
    check_mask("mask", mask, like=x)
    return psnr(x, ref, (mask > 0.5).to(x.dtype))


def edge_pairs(mask: torch.Tensor):
    """Boolean maps of the horizontal and vertical neighbour pairs that cross the hole's edge.

    Returns ``(horizontal [B,1,H,W-1], vertical [B,1,H-1,W])``: True where exactly one of the two
    pixels lies in the hole (``mask > 0.5``).
    """
    check_mask("mask", mask)
    hole = mask > 0.5
    return hole[..., :, 1:] ^ hole[..., :, :-1], hole[..., 1:, :] ^ hole[..., :-1, :]


def seam_score(x: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
    """How visible the hole's edge is: the mean absolute jump across the edge.

        seam(x) = mean over edge pairs (i, j), channels of |x_i - x_j|

    where an edge pair is two 4-neighbours with one pixel in the hole and one known. With ``ref``
    (the ground truth) the natural jump of the image is subtracted::

        seam(x; ref) = mean |x_i - x_j| - mean |ref_i - ref_j|

    so a perfect inpainting scores 0 and a visible seam scores > 0. Images with no edge get 0.
    """
    check_mask("mask", mask, like=x)
    if ref is not None:
        check_like("ref", ref, x, "x")
    horiz, vert = edge_pairs(mask)
    count = (horiz.flatten(1).sum(1) + vert.flatten(1).sum(1)).double() * x.shape[1]

    def jump(img):
        img = img.double()
        dh = (img[..., :, 1:] - img[..., :, :-1]).abs() * horiz
        dv = (img[..., 1:, :] - img[..., :-1, :]).abs() * vert
        return dh.flatten(1).sum(1) + dv.flatten(1).sum(1)

    total = jump(x) - (jump(ref) if ref is not None else 0.0)
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total)).float()


def ssim(x: torch.Tensor, ref: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image, for [-1, 1] images (data range 2).

        SSIM = mean over pixels of (2 mu_x mu_r + C1)(2 s_xr + C2)
                                   / ((mu_x^2 + mu_r^2 + C1)(s_x^2 + s_r^2 + C2))

    with Gaussian-weighted local statistics (``window`` x ``window``, std ``sigma``), C1 = (0.01 L)^2,
    C2 = (0.03 L)^2, L = 2, averaged over channels; the border where the window does not fit is
    left out (as scikit-image does with ``gaussian_weights=True``).
    """
    import torch.nn.functional as F

    check_like("x", x, ref, "ref")
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images must be at least {window} pixels wide for SSIM, got {tuple(x.shape)}")
    c = x.shape[1]
    r = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(c, 1, window, window).to(x.device)
    a, b = x.double(), ref.double()

    def blur(z):
        return F.conv2d(z, k, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    va = blur(a * a) - mu_a**2
    vb = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return s.flatten(1).mean(1).float()
