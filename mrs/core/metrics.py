"""Image-quality numbers: PSNR, hole-PSNR, SSIM and the edge measures of notebooks 05-06.

The edge measures: ``seam_score`` (signed: mean |jump| across the hole's edge minus the true
one; a blurred fill scores *below* the truth), ``seam_excess`` (unsigned: mean |jump of the error|
across the edge; 0 only when every edge jump is the true one), and ``error_profile`` /
``error_continuity`` (the RMS error by signed distance to the edge: a step in the error *level*).

Images are ``[B, C, H, W]`` in [-1, 1] (data range 2); masks ``[B, 1, H, W]`` with 1 = hole.
Every function returns one number per image, a tensor ``[B]``.
"""

from __future__ import annotations

import torch

from .checks import check_like, check_mask
from .masks import hole_distance

__all__ = ["psnr", "hole_psnr", "seam_score", "seam_excess", "edge_pairs", "signed_edge_distance",
           "error_profile", "error_continuity", "edge_metrics", "ssim"]


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


def seam_excess(x: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """The unsigned seam: how far the jumps across the hole's edge depart from the true jumps.

        seam_excess(x; x0) = 1 / (C |E|)  sum over (i, j) in E, channels c of
                             | (x_ci - x_cj) - (x0_ci - x0_cj) |  =  mean |e_ci - e_cj|,

    with ``E`` the edge pairs of ``edge_pairs`` and ``e = x - x0`` the error: the mean absolute
    jump of the *error* across the edge. It is 0 only when every edge jump equals the true one,
    and > 0 both for a step the truth does not have and for a true jump that a blurred fill has
    smoothed away (where ``seam_score`` turns negative and ranks the blur above the truth).
    A constant offset of the whole image is no seam (0). Images with no edge get 0.
    """
    check_mask("mask", mask, like=x)
    if ref is None:
        raise ValueError("seam_excess needs the ground truth ref (the true jumps are subtracted)")
    check_like("ref", ref, x, "x")
    horiz, vert = edge_pairs(mask)
    count = (horiz.flatten(1).sum(1) + vert.flatten(1).sum(1)).double() * x.shape[1]
    e = x.double() - ref.double()
    dh = (e[..., :, 1:] - e[..., :, :-1]).abs() * horiz
    dv = (e[..., 1:, :] - e[..., :-1, :]).abs() * vert
    total = dh.flatten(1).sum(1) + dv.flatten(1).sum(1)
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total)).float()


def signed_edge_distance(mask: torch.Tensor, reach: float = 6.0) -> torch.Tensor:
    """Chamfer distance in pixels to the hole's edge, signed: ``> 0`` on known pixels, ``< 0`` in
    the hole (``mask > 0.5``), clipped at ``+-reach``; ``[B, 1, H, W]``.

        s_i = d(i, hole) - d(i, known)

    so the known pixels next to the hole have ``s = 1`` and the hole pixels next to the known
    region ``s = -1`` (diagonal neighbours: ``sqrt 2``). No pixel has ``s = 0``.
    """
    check_mask("mask", mask)
    if not (isinstance(reach, (int, float)) and 1 <= reach < float("inf")):
        raise ValueError(f"reach must be a finite number >= 1, got {reach!r}")
    hole = (mask > 0.5).to(mask.dtype)
    return hole_distance(hole, reach) - hole_distance(1 - hole, reach)


def error_profile(x: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor,
                  distances=(-1, 1)) -> torch.Tensor:
    """The RMS error at each signed distance to the hole's edge, per image: ``[B, len(distances)]``.

        profile(x; x0)[d] = sqrt( mean over pixels i with round(s_i) = d, channels c
                                  of (x_ci - x0_ci)^2 )

    with ``s`` from ``signed_edge_distance`` (``d < 0``: inside the hole, ``d > 0``: outside).
    ``nan`` where an image has no pixel at that distance. ``distances``: nonzero integers.
    """
    check_like("x", x, ref, "ref")
    check_mask("mask", mask, like=x)
    ds = list(distances)
    if not ds or any(isinstance(d, bool) or not isinstance(d, int) or d == 0 for d in ds):
        raise ValueError(f"distances must be nonzero integers (< 0 in the hole), got {distances!r}")
    sd = signed_edge_distance(mask, float(max(abs(d) for d in ds) + 1)).round()
    e2 = (x.double() - ref.double()).pow(2).mean(1, keepdim=True)
    rows = []
    for d in ds:
        sel = (sd == d).double()
        n = sel.flatten(1).sum(1)
        rms = ((e2 * sel).flatten(1).sum(1) / n.clamp(min=1)).sqrt()
        rows.append(torch.where(n > 0, rms, torch.full_like(rms, float("nan"))))
    return torch.stack(rows, 1).float()


def error_continuity(x: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Whether the error *level* steps at the hole's edge: the RMS error one pixel outside the
    edge over the RMS error one pixel inside, per image ``[B]``.

        continuity(x; x0) = profile(x; x0)[+1] / profile(x; x0)[-1]

    0: the error stops at the edge (exact known pixels next to an erring hole); 1: no step.
    ``nan`` where the error just inside is 0 (nothing to compare) or the image has no edge.
    """
    p = error_profile(x, mask, ref, (-1, 1)).double()
    inside, outside = p[:, 0], p[:, 1]
    ok = torch.isfinite(inside) & torch.isfinite(outside) & (inside > 0)
    return torch.where(ok, outside / inside.clamp(min=1e-30), torch.full_like(inside, float("nan"))).float()


def edge_metrics(x: torch.Tensor, mask: torch.Tensor, ref: torch.Tensor) -> dict:
    """Every number notebooks 05-06 print for an inpainting ``x`` of ``ref``, per image ``[B]``:
    ``seam`` (``seam_score``, signed), ``seam_excess`` (unsigned), ``continuity``
    (``error_continuity``), ``hole_psnr`` and ``known_psnr`` (PSNR on the pixels with
    ``mask <= 0.5``; ``inf`` when they are untouched; an image without known pixels, or without
    hole pixels, raises ``ValueError`` as ``psnr`` does)."""
    known = (mask <= 0.5).to(x.dtype)
    return {"seam": seam_score(x, mask, ref=ref), "seam_excess": seam_excess(x, mask, ref),
            "continuity": error_continuity(x, mask, ref), "hole_psnr": hole_psnr(x, ref, mask),
            "known_psnr": psnr(x, ref, known)}


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
