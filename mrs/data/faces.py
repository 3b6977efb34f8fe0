"""Data: a small procedural face generator, the embedded default data of ``mrs``.

``synthetic_faces(n, size, seed)`` draws cartoon portraits that vary in skin tone, face shape,
eyes (shape, iris colour), brows, nose, mouth, hair (colour, length, fringe), ears, glasses and
background. Faces are left-right symmetric in their features, so a student can see why inpainting
an eye needs the other one. Face ``i`` depends only on ``(seed, i)``, not on ``n``, and values lie
in [-1, 1]. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .seeds import stream_seed

__all__ = ["synthetic_faces", "face", "SyntheticFaces"]

_SKIN = torch.tensor([[0.98, 0.85, 0.74], [0.94, 0.76, 0.62], [0.85, 0.64, 0.47],
                      [0.70, 0.50, 0.34], [0.52, 0.35, 0.23], [0.36, 0.24, 0.16]])
_HAIR = torch.tensor([[0.08, 0.06, 0.05], [0.30, 0.18, 0.09], [0.55, 0.36, 0.17],
                      [0.86, 0.72, 0.42], [0.62, 0.25, 0.10], [0.70, 0.70, 0.70]])
_IRIS = torch.tensor([[0.35, 0.20, 0.08], [0.20, 0.45, 0.75], [0.25, 0.50, 0.30],
                      [0.10, 0.08, 0.06], [0.45, 0.45, 0.50]])


class _Rng:
    """Small helpers over one ``torch.Generator`` (all draws on CPU, float64)."""

    def __init__(self, seed: int):
        self.g = torch.Generator().manual_seed(seed)

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=self.g, dtype=torch.float64))

    def chance(self, p: float) -> bool:
        return self.uniform(0.0, 1.0) < p

    def pick(self, table: torch.Tensor, jitter: float = 0.04) -> torch.Tensor:
        k = int(torch.randint(0, table.shape[0], (), generator=self.g))
        noise = jitter * (2 * torch.rand(3, generator=self.g) - 1)
        return (table[k] + noise).clamp(0, 1)

    def colour(self) -> torch.Tensor:
        return torch.rand(3, generator=self.g)


def _soft(sd: torch.Tensor, px: float) -> torch.Tensor:
    """Coverage from a signed distance (negative inside) with an edge about one pixel wide."""
    return torch.sigmoid(-sd / px)


def _ellipse(u, v, cu, cv, a, b):
    """Approximate signed distance to an axis-aligned ellipse (negative inside)."""
    du, dv = (u - cu) / a, (v - cv) / b
    r = torch.sqrt(du * du + dv * dv)
    grad = torch.sqrt((du / a) ** 2 + (dv / b) ** 2)  # |grad r| * r
    return (r - 1.0) * r / grad.clamp(min=1e-6)  # first-order distance (r - 1) / |grad r|


def _segment(u, v, p0, p1):
    """Distance to the segment p0 -> p1 (points as (u, v))."""
    du, dv = p1[0] - p0[0], p1[1] - p0[1]
    s = (((u - p0[0]) * du + (v - p0[1]) * dv) / (du * du + dv * dv + 1e-12)).clamp(0, 1)
    return torch.sqrt((u - p0[0] - s * du) ** 2 + (v - p0[1] - s * dv) ** 2)


class _Canvas:
    """The image being painted, at twice the output size (averaged down at the end for
    anti-aliasing), with its pixel coordinates ``u`` (right) and ``v`` (down), both in [-1, 1]."""

    def __init__(self, size: int):
        hi = 2 * size
        self.px = 2.0 / hi  # one pixel in (u, v) units: the width of the soft edges
        coords = (torch.arange(hi, dtype=torch.float32) + 0.5) / hi * 2 - 1
        self.v, self.u = torch.meshgrid(coords, coords, indexing="ij")
        self.img = torch.zeros(3, hi, hi)

    def paint(self, alpha: torch.Tensor, colour: torch.Tensor) -> None:
        """Blend ``colour`` over the image with coverage ``alpha`` ``[H, W]``."""
        self.img = self.img * (1 - alpha) + colour.view(3, 1, 1) * alpha

    def ellipse(self, cu, cv, a, b) -> torch.Tensor:
        """Soft coverage of an axis-aligned ellipse."""
        return _soft(_ellipse(self.u, self.v, cu, cv, a, b), self.px)

    def finish(self) -> torch.Tensor:
        """The image averaged down to the output size, in [-1, 1]."""
        img = F.avg_pool2d(self.img.unsqueeze(0), 2).squeeze(0)
        return (img.clamp(0, 1) * 2 - 1).contiguous()


@dataclass(frozen=True)
class _Head:
    """The random traits shared by several parts of a face."""

    skin: torch.Tensor
    hair: torch.Tensor
    shirt: torch.Tensor
    cu: float  # face centre
    cv: float
    fa: float  # face half-width
    fb: float  # face half-height
    bald: bool
    long_hair: bool


@dataclass(frozen=True)
class _Eyes:
    """Where the eyes are: centres at ``(cu -+ ex, ey)``, half-axes ``ea`` x ``eb``."""

    ex: float
    ey: float
    ea: float
    eb: float


def _paint_background(c: _Canvas, r: _Rng) -> None:
    """A vertical gradient between two random colours."""
    top, bottom = r.colour() * 0.8 + 0.1, r.colour() * 0.8 + 0.1
    c.img = top.view(3, 1, 1) + (bottom - top).view(3, 1, 1) * ((c.v + 1) / 2)


def _draw_head(r: _Rng) -> _Head:
    skin = r.pick(_SKIN)
    hair = r.pick(_HAIR)
    shirt = r.colour() * 0.9
    cu, cv = r.uniform(-0.05, 0.05), r.uniform(-0.02, 0.08)
    fa, fb = r.uniform(0.44, 0.56), r.uniform(0.58, 0.70)
    bald, long_hair = r.chance(0.12), r.chance(0.4)
    return _Head(skin, hair, shirt, cu, cv, fa, fb, bald, long_hair)


def _paint_head(c: _Canvas, r: _Rng, h: _Head) -> None:
    """Hair behind the head, neck and shoulders, ears, the shaded face, the fringe."""
    u, v, px, cu, cv, fa, fb = c.u, c.v, c.px, h.cu, h.cv, h.fa, h.fb
    if not h.bald:  # long hair reaches the shoulders
        hb = fb * (1.45 if h.long_hair else 1.12)
        hv = cv - fb * 0.12 + (hb - fb * 1.12) * 0.9
        c.paint(c.ellipse(cu, hv, fa * 1.18, hb), h.hair)
    neck = torch.maximum((u - cu).abs() - fa * 0.42, -(v - cv - fb * 0.5))
    c.paint(_soft(neck, px), h.skin * 0.85)
    c.paint(c.ellipse(cu, 1.25, 0.95, 0.45), h.shirt)
    for side in (-1, 1):
        c.paint(c.ellipse(cu + side * fa * 0.98, cv, fa * 0.16, fb * 0.2), h.skin * 0.9)
    rim = ((u - cu) / fa) ** 2 + ((v - cv) / fb) ** 2  # soft shading towards the face's rim
    shade = (1 - 0.22 * rim.clamp(0, 1)).unsqueeze(0)
    alpha = c.ellipse(cu, cv, fa, fb)
    c.img = c.img * (1 - alpha) + h.skin.view(3, 1, 1) * shade * alpha
    if not h.bald:  # fringe: hair over the top of the face down to a curved hairline
        line = cv - fb * r.uniform(0.45, 0.75) + r.uniform(0.0, 0.25) * ((u - cu) / fa) ** 2
        inside = c.ellipse(cu, cv, fa * 1.01, fb * 1.01)
        c.paint(inside * _soft(v - line, px), h.hair)


def _paint_eyes(c: _Canvas, r: _Rng, h: _Head) -> _Eyes:
    """White, iris, pupil and highlight, mirrored; both eyes look the same way."""
    cu, cv, fa, fb = h.cu, h.cv, h.fa, h.fb
    ex, ey = fa * r.uniform(0.36, 0.48), cv - fb * r.uniform(0.0, 0.18)
    ea, eb = fa * r.uniform(0.15, 0.22), fb * r.uniform(0.06, 0.1)
    iris, ir = r.pick(_IRIS, 0.06), eb * r.uniform(0.75, 0.95)
    look = r.uniform(-0.3, 0.3) * ea * 0.4
    for side in (-1, 1):
        x = cu + side * ex
        white = c.ellipse(x, ey, ea, eb)
        c.paint(white, torch.tensor([0.96, 0.96, 0.94]))
        c.paint(white * c.ellipse(x + look, ey, ir, ir), iris)
        c.paint(white * c.ellipse(x + look, ey, ir * 0.45, ir * 0.45),
                torch.tensor([0.02, 0.02, 0.02]))
        hl = ir * 0.25
        c.paint(c.ellipse(x + look + ir * 0.3, ey - ir * 0.3, hl, hl), torch.tensor([1.0, 1.0, 1.0]))
    return _Eyes(ex, ey, ea, eb)


def _paint_brows(c: _Canvas, r: _Rng, h: _Head, e: _Eyes) -> None:
    """Thick tilted strokes above the eyes."""
    bt, tilt, lift = h.fb * r.uniform(0.025, 0.05), r.uniform(-0.06, 0.06), e.eb * r.uniform(1.6, 2.6)
    brow = (h.hair * 0.8 if not h.bald else h.skin * 0.45)
    for side in (-1, 1):
        x = h.cu + side * e.ex
        p0 = (x - side * e.ea * 0.9, e.ey - lift + tilt)
        p1 = (x + side * e.ea * 1.0, e.ey - lift - tilt)
        c.paint(_soft(_segment(c.u, c.v, p0, p1) - bt, c.px), brow)


def _paint_nose_and_mouth(c: _Canvas, r: _Rng, h: _Head) -> None:
    """A shaded nose ridge with two nostrils; lips bent by a smile (or a frown)."""
    u, v, px, cu, cv, fa, fb, skin = c.u, c.v, c.px, h.cu, h.cv, h.fa, h.fb, h.skin
    ny, nl = cv + fb * r.uniform(0.12, 0.22), fb * r.uniform(0.18, 0.28)
    ridge = _segment(u, v, (cu + fa * 0.03, ny - nl), (cu + fa * 0.06, ny))
    c.paint(0.5 * _soft(ridge - px * 2, px), skin * 0.7)
    for side in (-1, 1):
        c.paint(c.ellipse(cu + side * fa * 0.1, ny + fb * 0.02, fa * 0.05, fb * 0.025), skin * 0.5)
    my, mw = cv + fb * r.uniform(0.42, 0.55), fa * r.uniform(0.3, 0.5)
    mh, smile = fb * r.uniform(0.04, 0.09), r.uniform(-0.4, 1.0)
    bend = v - smile * mh * 2.5 * (1 - ((u - cu) / mw) ** 2)
    lips = (skin * 0.6 + torch.tensor([0.35, 0.05, 0.05])).clamp(0, 1)
    mouth = _soft(_ellipse(u, bend, cu, my, mw, mh), px)
    c.paint(mouth, lips)
    c.paint(mouth * _soft(_ellipse(u, bend, cu, my, mw * 0.95, mh * 0.18), px), lips * 0.35)


def _paint_glasses(c: _Canvas, r: _Rng, h: _Head, e: _Eyes) -> None:
    """With probability 0.3: two rings around the eyes and a bridge."""
    if not r.chance(0.3):
        return
    u, v, px, cu, ex, ey = c.u, c.v, c.px, h.cu, e.ex, e.ey
    frame = r.colour() * 0.4
    gr, gt = e.ea * r.uniform(1.25, 1.5), px * r.uniform(1.5, 3.0)
    for side in (-1, 1):
        ring = (_ellipse(u, v, cu + side * ex, ey, gr, gr * 0.8)).abs() - gt
        c.paint(_soft(ring, px), frame)
    c.paint(_soft(_segment(u, v, (cu - ex + gr, ey), (cu + ex - gr, ey)) - gt, px), frame)


def face(size: int, seed: int) -> torch.Tensor:
    """One face ``[3, size, size]`` in [-1, 1], fully determined by ``seed``.

    The parts are painted back to front; each draws its random traits from the one generator
    in this order (which fixes the face of every seed)."""
    r = _Rng(seed)
    c = _Canvas(size)
    _paint_background(c, r)
    head = _draw_head(r)
    _paint_head(c, r, head)
    eyes = _paint_eyes(c, r, head)
    _paint_brows(c, r, head, eyes)
    _paint_nose_and_mouth(c, r, head)
    _paint_glasses(c, r, head, eyes)
    return c.finish()


def synthetic_faces(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """``n`` procedural faces ``[n, 3, size, size]`` in [-1, 1].

    Face ``i`` depends only on ``(seed, i)``: ``synthetic_faces(8, 64, 0)[:4]`` equals
    ``synthetic_faces(4, 64, 0)``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many tiny ops: extra threads only add overhead (10x on a busy CPU)
    try:
        return torch.stack([face(size, stream_seed(seed, i)) for i in range(n)])
    finally:
        torch.set_num_threads(threads)


class SyntheticFaces(torch.utils.data.Dataset):
    """Procedural faces as a seeded dataset: item ``i`` is ``face(size, seed, i)`` ``[3, S, S]``.

    ``length`` is nominal (the stream is unbounded); items are rendered on demand and cached.
    """

    def __init__(self, size: int = 64, seed: int = 0, length: int = 100_000, cache: bool = True):
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise ValueError(f"size must be an int >= 8, got {size!r}")
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be an int >= 1, got {length!r}")
        self.size, self.seed, self.length = size, seed, length
        self._cache: dict | None = {} if cache else None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> torch.Tensor:
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for {self.length} faces")
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        img = face(self.size, stream_seed(self.seed, i))
        if self._cache is not None:
            self._cache[i] = img
        return img
