"""Data: a small procedural face generator, the embedded default data of ``mrs``.

``synthetic_faces(n, size, seed)`` draws cartoon portraits that vary in skin tone, face shape,
eyes (shape, iris colour), brows, nose, mouth, hair (colour, length, fringe), ears, glasses and
background. Faces are left-right symmetric in their features, so a student can see why inpainting
an eye needs the other one. Face ``i`` depends only on ``(seed, i)``, not on ``n``, and values lie
in [-1, 1]. Nothing is downloaded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["synthetic_faces", "face"]

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


def face(size: int, seed: int) -> torch.Tensor:
    """One face ``[3, size, size]`` in [-1, 1], fully determined by ``seed``."""
    r = _Rng(seed)
    hi = 2 * size  # render at twice the size, then average down (anti-aliasing)
    px = 2.0 / hi
    coords = (torch.arange(hi, dtype=torch.float32) + 0.5) / hi * 2 - 1
    v, u = torch.meshgrid(coords, coords, indexing="ij")  # v down, u right, both in [-1, 1]
    img = torch.zeros(3, hi, hi)

    def paint(alpha, colour):
        nonlocal img
        img = img * (1 - alpha) + colour.view(3, 1, 1) * alpha

    # 1. background: a vertical gradient between two random colours
    top, bottom = r.colour() * 0.8 + 0.1, r.colour() * 0.8 + 0.1
    img = top.view(3, 1, 1) + (bottom - top).view(3, 1, 1) * ((v + 1) / 2)
    skin = r.pick(_SKIN)
    hair = r.pick(_HAIR)
    shirt = r.colour() * 0.9
    cu, cv = r.uniform(-0.05, 0.05), r.uniform(-0.02, 0.08)  # face centre
    fa, fb = r.uniform(0.44, 0.56), r.uniform(0.58, 0.70)  # face half-width, half-height
    bald, long_hair = r.chance(0.12), r.chance(0.4)
    # 2. hair behind the head (long hair reaches the shoulders)
    if not bald:
        hb = fb * (1.45 if long_hair else 1.12)
        hv = cv - fb * 0.12 + (hb - fb * 1.12) * 0.9
        paint(_soft(_ellipse(u, v, cu, hv, fa * 1.18, hb), px), hair)
    # 3. neck and shoulders
    neck = torch.maximum((u - cu).abs() - fa * 0.42, -(v - cv - fb * 0.5))
    paint(_soft(neck, px), skin * 0.85)
    paint(_soft(_ellipse(u, v, cu, 1.25, 0.95, 0.45), px), shirt)
    # 4. ears, then the face with a soft shading towards its rim
    for side in (-1, 1):
        paint(_soft(_ellipse(u, v, cu + side * fa * 0.98, cv, fa * 0.16, fb * 0.2), px), skin * 0.9)
    rim = ((u - cu) / fa) ** 2 + ((v - cv) / fb) ** 2
    shade = (1 - 0.22 * rim.clamp(0, 1)).unsqueeze(0)
    alpha = _soft(_ellipse(u, v, cu, cv, fa, fb), px)
    img = img * (1 - alpha) + skin.view(3, 1, 1) * shade * alpha
    # 5. fringe: hair over the top of the face down to a curved hairline
    if not bald:
        line = cv - fb * r.uniform(0.45, 0.75) + r.uniform(0.0, 0.25) * ((u - cu) / fa) ** 2
        inside = _soft(_ellipse(u, v, cu, cv, fa * 1.01, fb * 1.01), px)
        paint(inside * _soft(v - line, px), hair)
    # 6. eyes: white, iris, pupil, highlight; mirrored
    ex, ey = fa * r.uniform(0.36, 0.48), cv - fb * r.uniform(0.0, 0.18)
    ea, eb = fa * r.uniform(0.15, 0.22), fb * r.uniform(0.06, 0.1)
    iris, ir = r.pick(_IRIS, 0.06), eb * r.uniform(0.75, 0.95)
    look = r.uniform(-0.3, 0.3) * ea * 0.4
    for side in (-1, 1):
        x = cu + side * ex
        white = _soft(_ellipse(u, v, x, ey, ea, eb), px)
        paint(white, torch.tensor([0.96, 0.96, 0.94]))
        paint(white * _soft(_ellipse(u, v, x + look, ey, ir, ir), px), iris)
        paint(white * _soft(_ellipse(u, v, x + look, ey, ir * 0.45, ir * 0.45), px),
              torch.tensor([0.02, 0.02, 0.02]))
        hl = ir * 0.25
        paint(_soft(_ellipse(u, v, x + look + ir * 0.3, ey - ir * 0.3, hl, hl), px),
              torch.tensor([1.0, 1.0, 1.0]))
    # 7. brows: thick tilted strokes above the eyes
    bt, tilt, lift = fb * r.uniform(0.025, 0.05), r.uniform(-0.06, 0.06), eb * r.uniform(1.6, 2.6)
    brow = (hair * 0.8 if not bald else skin * 0.45)
    for side in (-1, 1):
        x = cu + side * ex
        p0 = (x - side * ea * 0.9, ey - lift + tilt)
        p1 = (x + side * ea * 1.0, ey - lift - tilt)
        paint(_soft(_segment(u, v, p0, p1) - bt, px), brow)
    # 8. nose: a shaded ridge and two nostrils
    ny, nl = cv + fb * r.uniform(0.12, 0.22), fb * r.uniform(0.18, 0.28)
    paint(0.5 * _soft(_segment(u, v, (cu + fa * 0.03, ny - nl), (cu + fa * 0.06, ny)) - px * 2, px),
          skin * 0.7)
    for side in (-1, 1):
        paint(_soft(_ellipse(u, v, cu + side * fa * 0.1, ny + fb * 0.02, fa * 0.05, fb * 0.025),
                    px), skin * 0.5)
    # 9. mouth: lips bent by a smile (or a frown)
    my, mw = cv + fb * r.uniform(0.42, 0.55), fa * r.uniform(0.3, 0.5)
    mh, smile = fb * r.uniform(0.04, 0.09), r.uniform(-0.4, 1.0)
    bend = v - smile * mh * 2.5 * (1 - ((u - cu) / mw) ** 2)
    lips = (skin * 0.6 + torch.tensor([0.35, 0.05, 0.05])).clamp(0, 1)
    mouth = _soft(_ellipse(u, bend, cu, my, mw, mh), px)
    paint(mouth, lips)
    paint(mouth * _soft(_ellipse(u, bend, cu, my, mw * 0.95, mh * 0.18), px), lips * 0.35)
    # 10. glasses: two rings and a bridge
    if r.chance(0.3):
        frame = r.colour() * 0.4
        gr, gt = ea * r.uniform(1.25, 1.5), px * r.uniform(1.5, 3.0)
        for side in (-1, 1):
            ring = (_ellipse(u, v, cu + side * ex, ey, gr, gr * 0.8)).abs() - gt
            paint(_soft(ring, px), frame)
        paint(_soft(_segment(u, v, (cu - ex + gr, ey), (cu + ex - gr, ey)) - gt, px), frame)
    img = F.avg_pool2d(img.unsqueeze(0), 2).squeeze(0)
    return (img.clamp(0, 1) * 2 - 1).contiguous()


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
        return torch.stack([face(size, _face_seed(seed, i)) for i in range(n)])
    finally:
        torch.set_num_threads(threads)


def _face_seed(seed: int, i: int) -> int:
    """A well-mixed 62-bit seed for face ``i`` of stream ``seed``."""
    h = (seed * 0x9E3779B97F4A7C15 + i * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (1 << 64)
    h ^= h >> 31
    return (h * 0xD6E8FEB86659FD93 % (1 << 64)) >> 2



# ---------------------------------------------------------------------------------------------
# Datasets: synthetic faces, a folder of face photos, CelebA, and masked pairs for training
# ---------------------------------------------------------------------------------------------

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


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
        img = face(self.size, _face_seed(self.seed, i))
        if self._cache is not None:
            self._cache[i] = img
        return img


def open_image(src, what: str = "image"):
    """A PIL image from a path (or a PIL image, returned as is); a missing or unreadable file
    raises ``ValueError`` naming ``what`` and the file."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(src, Image.Image):
        return src
    try:
        with Image.open(src) as im:
            im.load()
            return im.copy()
    except FileNotFoundError:
        raise ValueError(f"{what} file not found: {src}") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read the {what} file {src} as an image ({err})") from None


def load_image(path, size: int) -> torch.Tensor:
    """An image file as ``[3, size, size]`` in [-1, 1]: centre-cropped to a square, resized.

    Raises ``ValueError`` naming the file when it is missing or not a readable image."""
    import numpy as np
    from PIL import Image

    im = open_image(path).convert("RGB")
    w, h = im.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.BICUBIC)
    arr = np.asarray(im, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class FaceFolder(torch.utils.data.Dataset):
    """Every image (png/jpg/bmp/webp) under ``root``, sorted, centre-cropped, resized, in [-1, 1].

    Works with any folder of face photos (CelebA, CelebA-HQ, FFHQ ...)."""

    def __init__(self, root, size: int = 64):
        from pathlib import Path

        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"root must be a folder of images, got {root}")
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no images ({', '.join(_IMAGE_SUFFIXES)}) found under {root}")
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return load_image(self.files[i], self.size)


def celeba(root, split: str = "train", size: int = 64, download: bool = True):
    """CelebA through ``torchvision.datasets.CelebA`` (needs a network the first time), as a
    dataset of ``[3, size, size]`` tensors in [-1, 1] (centre crop 178, resize)."""
    import torchvision
    from torchvision import transforms

    tf = transforms.Compose([
        transforms.CenterCrop(178), transforms.Resize(size), transforms.ToTensor(),
        transforms.Normalize([0.5] * 3, [0.5] * 3),
    ])
    return _Images(torchvision.datasets.CelebA(root, split=split, download=download, transform=tf))


class _Images(torch.utils.data.Dataset):
    """Drop the labels of a (image, target) dataset."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return self.base[i][0]


class MaskedPairs(torch.utils.data.Dataset):
    """``(x0, mask, y)`` triples: an image, a random mask (ResShift's generators) and the degraded
    input. Item ``i``'s mask depends only on ``(mask_seed, i)``, so a validation split built with a
    fixed ``mask_seed`` has the same masks in every run."""

    def __init__(self, images, mask_kind: str = "mixed", mask_seed: int = 0, fill: float = 0.0):
        from .masks import MASK_KINDS

        if mask_kind not in MASK_KINDS + ("mixed",):
            raise ValueError(f"mask_kind must be one of {MASK_KINDS + ('mixed',)}, got {mask_kind!r}")
        self.images, self.mask_kind, self.mask_seed, self.fill = images, mask_kind, mask_seed, fill

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from .masks import random_masks

        x0 = self.images[i]
        g = torch.Generator().manual_seed(_face_seed(self.mask_seed + 7919, i))
        mask = random_masks(self.mask_kind, 1, x0.shape[-1], g)[0]
        return x0, mask, (1 - mask) * x0 + mask * self.fill


def validation_split(n: int = 16, size: int = 64, seed: int = 1_000_003, mask_kind: str = "mixed",
                     mask_seed: int = 12345, images=None):
    """The fixed validation split: ``(x0, mask, y)`` batches ``[n, ...]``; synthetic faces from a
    stream disjoint from training (``seed``) unless ``images`` (a dataset) is given."""
    images = images if images is not None else SyntheticFaces(size, seed, length=max(n, 1))
    pairs = MaskedPairs(images, mask_kind, mask_seed)
    items = [pairs[i] for i in range(min(n, len(pairs)))]
    return tuple(torch.stack(z) for z in zip(*items))
