"""Data sets: image files and folders, CelebA, masked training pairs, the fixed validation split.

Images come out as ``[3, S, S]`` tensors in [-1, 1]; masks ``[1, S, S]`` with 1 = hole, 0 = known.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.masks import MASK_KINDS, random_masks
from .faces import SyntheticFaces
from .seeds import PAIR_MASKS, stream_seed

__all__ = ["to_numpy", "open_image", "load_image", "FaceFolder", "celeba", "MaskedPairs", "validation_split",
           "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def to_numpy(img: torch.Tensor) -> np.ndarray:
    """An image in [-1, 1] as an ``H x W x C`` array in [0, 1] (a map as ``H x W``), for plotting."""
    a = img.detach().float().cpu()
    while a.dim() > 3:
        a = a[0]
    if a.dim() == 3 and a.shape[0] == 1:
        return a[0].numpy()
    if a.dim() == 3:
        return ((a.permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()
    return a.numpy()


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

    Works with any folder of face photos (CelebA, CelebA-HQ, FFHQ ...). Strict: an unreadable file
    raises when indexed. Training uses ``mrs.data.sources.FolderImages`` instead, which skips and
    counts such files and splits the folder into training and validation images."""

    def __init__(self, root, size: int = 64):
        from pathlib import Path

        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"root must be a folder of images, got {root}")
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return load_image(self.files[i], self.size)


def celeba(root, split: str = "train", size: int = 64, download: bool = True):
    """CelebA through ``torchvision.datasets.CelebA`` (needs a network the first time), as a
    dataset of ``[3, size, size]`` tensors in [-1, 1] (centre crop 178, resize). Train on it with
    ``Trainer(cfg, out, dataset=celeba(root, size=cfg.image_size))``."""
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
        if mask_kind not in MASK_KINDS + ("mixed",):
            raise ValueError(f"mask_kind must be one of {MASK_KINDS + ('mixed',)}, got {mask_kind!r}")
        self.images, self.mask_kind, self.mask_seed, self.fill = images, mask_kind, mask_seed, fill

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x0 = self.images[i]
        g = torch.Generator().manual_seed(stream_seed(self.mask_seed + PAIR_MASKS, i))
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
