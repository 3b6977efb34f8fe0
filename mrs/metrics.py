"""Image-quality numbers: PSNR, hole-PSNR and the seam score (notebook 05 defines it).

Images are ``[B, C, H, W]`` in [-1, 1] (data range 2); masks ``[B, 1, H, W]`` with 1 = hole.
Every function returns one number per image, a tensor ``[B]``.
"""

from __future__ import annotations

import torch

from ._checks import check_like, check_mask

__all__ = ["psnr", "hole_psnr", "seam_score", "edge_pairs"]


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
