"""Masks: the convention, random generators, smoothing and the noise floor.

**Convention, used everywhere in ``mrs``: mask ``M`` is ``[B, 1, H, W]`` with 1 = unknown (the
hole, to be generated) and 0 = known.** Hard masks are exactly {0, 1}; smoothed masks take values
in between. The degraded input is ``y = (1 - M) * x0 + M * fill`` (``fill = 0``, mid-grey).

The random generators follow the mask families of ResShift's face-inpainting configuration (which
uses LaMa's generators): irregular brush strokes, boxes and outpainting borders, with lengths given
for 256-pixel images and scaled to the image size. The drawing code here is our own: each stroke
segment is a capsule (a thick line with round ends) rasterised by its distance field.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .baselines import harmonic_fill
from .checks import check_image, check_mask

__all__ = [
    "irregular",
    "boxes",
    "outpaint",
    "random_masks",
    "box_mask",
    "degrade",
    "check_fill",
    "FILLS",
    "smooth_mask",
    "apply_noise_floor",
    "hole_distance",
    "to_latent",
    "MASK_KINDS",
    "LATENT_MASK_RULES",
]

MASK_KINDS = ("irregular", "box", "outpaint")


def _check_n_size(n: int, size: int, min_size: int = 8) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size:
        raise ValueError(f"size must be an int >= {min_size}, got {size!r}")


def _randint(lo: int, hi: int, g: torch.Generator | None) -> int:
    """Uniform integer in [lo, hi] inclusive."""
    if hi <= lo:
        return lo
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def _capsule(h: int, w: int, p0, p1, width: float) -> torch.Tensor:
    """Pixels within ``width / 2`` of the segment p0 -> p1 (points as (row, col))."""
    rows = torch.arange(h, dtype=torch.float32)[:, None]
    cols = torch.arange(w, dtype=torch.float32)[None, :]
    (r0, c0), (r1, c1) = p0, p1
    dr, dc = r1 - r0, c1 - c0
    seg2 = dr * dr + dc * dc
    if seg2 == 0:
        s = torch.zeros(h, w)
    else:
        s = (((rows - r0) * dr + (cols - c0) * dc) / seg2).clamp(0.0, 1.0)
    dist2 = (rows - (r0 + s * dr)) ** 2 + (cols - (c0 + s * dc)) ** 2
    return (dist2 <= (width / 2.0) ** 2).float()


def irregular(
    n: int,
    size: int,
    generator: torch.Generator | None = None,
    *,
    max_angle: int = 4,
    max_len: int = 200,
    max_width: int = 100,
    min_times: int = 1,
    max_times: int = 5,
) -> torch.Tensor:
    """Random brush strokes, ``[n, 1, size, size]`` hard masks (1 = hole).

    Each of ``min_times..max_times`` strokes starts at a random pixel and is a chain of 1..5
    segments; a segment turns by an angle drawn from ``0.01 + {0..max_angle-1}`` radians, is
    ``10 + {0..max_len-1}`` pixels long and ``5 + {0..max_width-1}`` pixels wide. Lengths are for
    256-pixel images and scaled by ``size / 256``.
    """
    _check_n_size(n, size)
    scale = size / 256.0
    out = torch.zeros(n, 1, size, size)
    for i in range(n):
        m = torch.zeros(size, size)
        for k in range(_randint(min_times, max_times, generator)):
            r, c = _randint(0, size - 1, generator), _randint(0, size - 1, generator)
            for _ in range(1 + _randint(0, 4, generator)):
                angle = 0.01 + _randint(0, max_angle - 1, generator)
                if k % 2 == 0:
                    angle = 2.0 * math.pi - angle
                length = (10 + _randint(0, max_len - 1, generator)) * scale
                width = max(1.0, (5 + _randint(0, max_width - 1, generator)) * scale)
                r1 = min(max(r + length * math.sin(angle), 0.0), size - 1.0)
                c1 = min(max(c + length * math.cos(angle), 0.0), size - 1.0)
                m = torch.maximum(m, _capsule(size, size, (r, c), (r1, c1), width))
                r, c = r1, c1
        out[i, 0] = m
    return out


def boxes(
    n: int,
    size: int,
    generator: torch.Generator | None = None,
    *,
    margin: int = 10,
    min_size: int = 30,
    max_size: int = 150,
    min_times: int = 1,
    max_times: int = 4,
) -> torch.Tensor:
    """Random axis-aligned boxes, ``[n, 1, size, size]`` hard masks (1 = hole).

    ``min_times..max_times`` boxes with sides in ``min_size..max_size`` pixels, kept ``margin``
    pixels from the border; all lengths are for 256-pixel images and scaled by ``size / 256``.
    """
    _check_n_size(n, size)
    scale = size / 256.0
    mg = int(round(margin * scale))
    lo = max(1, int(round(min_size * scale)))
    hi = max(lo, min(int(round(max_size * scale)), size - 2 * mg - 1))
    out = torch.zeros(n, 1, size, size)
    for i in range(n):
        for _ in range(_randint(min_times, max_times, generator)):
            bh, bw = _randint(lo, hi, generator), _randint(lo, hi, generator)
            top = _randint(mg, max(mg, size - mg - bh), generator)
            left = _randint(mg, max(mg, size - mg - bw), generator)
            out[i, 0, top : top + bh, left : left + bw] = 1.0
    return out


def outpaint(
    n: int,
    size: int,
    generator: torch.Generator | None = None,
    *,
    min_padding: float = 0.04,
    max_padding: float = 0.25,
    side_prob: float = 0.5,
) -> torch.Tensor:
    """Outpainting borders, ``[n, 1, size, size]`` hard masks (1 = hole).

    Each side (top, bottom, left, right) is masked with probability ``side_prob`` over a depth of
    ``min_padding..max_padding`` of the image size; when no side is drawn, one is chosen at random
    so that every mask has a hole.
    """
    _check_n_size(n, size)
    out = torch.zeros(n, 1, size, size)
    for i in range(n):
        draws = torch.rand(4, generator=generator) < side_prob
        if not bool(draws.any()):
            draws[_randint(0, 3, generator)] = True
        fracs = min_padding + (max_padding - min_padding) * torch.rand(4, generator=generator)
        depth = [max(1, int(round(float(f) * size))) for f in fracs]
        if draws[0]:
            out[i, 0, : depth[0], :] = 1.0
        if draws[1]:
            out[i, 0, size - depth[1] :, :] = 1.0
        if draws[2]:
            out[i, 0, :, : depth[2]] = 1.0
        if draws[3]:
            out[i, 0, :, size - depth[3] :] = 1.0
    return out


_GENERATORS = {"irregular": irregular, "box": boxes, "outpaint": outpaint}


def random_masks(
    kind: str, n: int, size: int, generator: torch.Generator | None = None, **kwargs
) -> torch.Tensor:
    """``n`` masks of one ``kind`` ("irregular", "box", "outpaint") or "mixed" (one kind per mask,
    drawn uniformly)."""
    if kind == "mixed":
        _check_n_size(n, size)
        picks = torch.randint(0, len(MASK_KINDS), (n,), generator=generator)
        return torch.cat([_GENERATORS[MASK_KINDS[int(k)]](1, size, generator) for k in picks])
    if kind not in _GENERATORS:
        raise ValueError(f"kind must be one of {MASK_KINDS + ('mixed',)}, got {kind!r}")
    return _GENERATORS[kind](n, size, generator, **kwargs)


def box_mask(size: int, top: int, left: int, height: int, width: int, n: int = 1) -> torch.Tensor:
    """A fixed box hole ``[n, 1, size, size]``: rows ``top..top+height``, cols ``left..left+width``."""
    _check_n_size(n, size, min_size=1)
    if not (0 <= top < size and 0 <= left < size and height >= 1 and width >= 1):
        raise ValueError(
            f"box (top={top}, left={left}, height={height}, width={width}) must start inside "
            f"the {size}x{size} image and have positive size"
        )
    m = torch.zeros(n, 1, size, size)
    m[:, :, top : top + height, left : left + width] = 1.0
    return m


FILLS = ("harmonic",)


def check_fill(fill) -> float | str:
    """``fill`` as a finite float, or as the name of a classical fill in ``FILLS``; a number written
    as a string ("-1") becomes a float. Anything else raises ``ValueError`` naming ``fill``."""
    if isinstance(fill, str):
        name = fill.strip().lower()
        if name in FILLS:
            return name
        try:
            fill = float(name)
        except ValueError:
            raise ValueError(f"fill must be a number or one of {FILLS}, got {fill!r}") from None
    if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill):
        raise ValueError(f"fill must be a finite number or one of {FILLS}, got {fill!r}")
    return float(fill)


def degrade(x0: torch.Tensor, mask: torch.Tensor, fill: float | str = 0.0) -> torch.Tensor:
    """The degraded input ``y = (1 - M) * x0 + M * f`` (1 = hole).

    ``fill`` a number: ``f`` is that constant (0 is mid-grey; ResShift's face data uses -1).
    ``fill = "harmonic"``: ``f`` is the harmonic (Laplace) fill of the hole ``{M > 0}`` from the
    known pixels of ``x0`` (``mrs.baselines.harmonic_fill``), so on a binary mask ``y`` is the
    classical estimate itself and the residual ``e0 = y - x0`` that the process shifts is that
    estimate's error, the way ResShift's ``y`` for super-resolution is the bicubic upsampling of the
    low-resolution image. (A choice of this project; the paper fills with a constant.) The known
    pixels of ``x0`` are the only input: whatever its hole holds is ignored.
    """
    check_image("x0", x0)
    check_mask("mask", mask, like=x0)
    fill = check_fill(fill)
    if fill == "harmonic":
        hole = (mask > 0).to(x0.dtype)
        f = harmonic_fill((1.0 - hole) * x0, hole)
        return (1.0 - mask) * x0 + mask * f
    return (1.0 - mask) * x0 + mask * fill


def hole_distance(mask: torch.Tensor, max_distance: float) -> torch.Tensor:
    """Chamfer distance (in pixels) from each pixel to the nearest fully unknown pixel (M = 1).

    Distances are exact along rows/columns and diagonals (weights 1 and sqrt(2)) and clipped at
    ``max_distance``; pixels inside the hole get 0.
    """
    check_mask("mask", mask)
    inf = float(max_distance) + 2.0
    d = torch.where(mask >= 1.0, torch.zeros_like(mask), torch.full_like(mask, inf))
    b, _, h, w = d.shape
    r2 = math.sqrt(2.0)
    weights = torch.tensor([r2, 1.0, r2, 1.0, 0.0, 1.0, r2, 1.0, r2], dtype=d.dtype, device=d.device)
    for _ in range(int(math.ceil(max_distance)) + 1):
        patches = F.unfold(F.pad(d, (1, 1, 1, 1), value=inf), 3)  # (B, 9, H*W)
        d = (patches + weights[None, :, None]).amin(dim=1).view(b, 1, h, w)
    return d.clamp(max=float(max_distance))


def smooth_mask(mask: torch.Tensor, blur_width: float) -> torch.Tensor:
    """A smoothed mask whose transition band lies in the *known* region.

        M_s = max(M, exp(-d^2 / (2 * blur_width^2)))   for d <= 4 * blur_width, else M

    with ``d`` the distance to the hole (``hole_distance``). ``M_s = 1`` on every hole pixel and
    falls continuously to ~0 about ``3 * blur_width`` pixels into the known region, so the noise
    rate has no jump at the hole's edge. ``blur_width = 0`` returns the mask unchanged.
    """
    check_mask("mask", mask)
    if not (math.isfinite(blur_width) and blur_width >= 0):
        raise ValueError(f"blur_width must be a finite number >= 0, got {blur_width!r}")
    if blur_width == 0:
        return mask.clone()
    reach = 4.0 * blur_width
    d = hole_distance(mask, reach)
    band = torch.where(d < reach, torch.exp(-(d * d) / (2.0 * blur_width**2)), torch.zeros_like(d))
    return torch.maximum(mask, band)


def apply_noise_floor(rate: torch.Tensor, noise_floor: float) -> torch.Tensor:
    """``max(rate, noise_floor)``: every pixel, known ones included, keeps a minimal noise rate."""
    if not (math.isfinite(noise_floor) and 0.0 <= noise_floor <= 1.0):
        raise ValueError(f"noise_floor must lie in [0, 1], got {noise_floor!r}")
    return rate.clamp(min=noise_floor)


LATENT_MASK_RULES = ("authors", "max", "mean")


def _gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-r**2 / (2 * sigma**2))
    k = k / k.sum()
    return (k[:, None] * k[None, :]).float()                         # (size, size), sums to 1


def to_latent(mask: torch.Tensor, factor: int = 4, how: str = "authors") -> torch.Tensor:
    """A pixel mask ``[B, 1, H, W]`` (1 = hole) at latent resolution ``[B, 1, H/f, W/f]``.

    * ``"authors"``: the rule of the paper's authors' code (their training and sampling):
      1. binarise (hole > 0.5 -> 1), 2. dilate by one pixel (3x3 max pool, stride 1),
      3. average over each ``f x f`` block, 4. blur with a 5x5 Gaussian (sigma 2) with **zero
      padding**. The result is fractional: multiples of 1/f^2 before the blur, a band about two
      latents wide on both sides of every edge after it, and values below 1 for hole latents at
      the image border (the zero padding) and for holes narrower than about five latents.
    * ``"max"``: binary; a latent is a hole if any pixel of its block is (no known latent is
      touched by the hole, so the known latents stay exactly those of the known image region).
    * ``"mean"``: the fraction of hole pixels in each block (steps 1 and 3 of ``"authors"``).

    """
    check_mask("mask", mask)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be an int >= 1, got {factor!r}")
    if how not in LATENT_MASK_RULES:
        raise ValueError(f"how must be one of {LATENT_MASK_RULES}, got {how!r}")
    H, W = mask.shape[-2:]
    if H % factor or W % factor:
        raise ValueError(f"mask size {H}x{W} must be a multiple of factor {factor}")
    hard = (mask > 0.5).to(torch.float32)                            # 1. binarise
    if how == "max":
        return F.max_pool2d(hard, factor, stride=factor).to(mask.dtype)
    if how == "authors":
        hard = F.max_pool2d(hard, 3, stride=1, padding=1)            # 2. dilate by one pixel
    m = F.avg_pool2d(hard, factor, stride=factor)                     # 3. block average
    if how == "authors":
        k = _gaussian_kernel(5, 2.0).to(m.device)[None, None]
        m = F.conv2d(m, k, padding=2)                                 # 4. blur, zero padding
    return m.clamp(0.0, 1.0).to(mask.dtype)
