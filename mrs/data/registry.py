"""Training data by name: ``TrainConfig.data`` is a registered name or a folder of images.

    @mrs.data.register_dataset("my_faces")
    def my_faces(size: int, seed: int, length: int, split: str):
        return MyDataset(...)          # items: [3, size, size] tensors in [-1, 1]

``split`` is ``"train"`` or ``"val"``; returning None for ``"val"`` means the fixed synthetic
validation split (``validation_split``). A folder path gives ``FaceFolder`` for training and the
first images of the same folder for validation.
"""

from __future__ import annotations

from pathlib import Path

from .datasets import FaceFolder
from .faces import SyntheticFaces

__all__ = ["register_dataset", "dataset_names", "make_dataset"]

_DATASETS: dict = {}


def register_dataset(name: str):
    """Decorator: register ``factory(size, seed, length, split)`` under ``name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a dataset name must be an identifier-like string, got {name!r}")

    def decorate(factory):
        if not callable(factory):
            raise ValueError(f"@register_dataset({name!r}) needs a callable, got {factory!r}")
        _DATASETS[name] = factory
        return factory

    return decorate


def dataset_names() -> tuple:
    """The registered dataset names."""
    return tuple(_DATASETS)


def make_dataset(data: str, size: int, seed: int = 0, length: int = 20_000, split: str = "train"):
    """The dataset ``data`` names (registered name, else a folder), or None for a ``"val"`` split
    that is the fixed synthetic one."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if data in _DATASETS:
        return _DATASETS[data](size, seed, length, split)
    if not Path(data).is_dir():
        raise ValueError(f"data must be one of {dataset_names()} or a folder of images, got {data!r}")
    return FaceFolder(data, size)


@register_dataset("synthetic")
def _synthetic(size: int, seed: int, length: int, split: str):
    """Procedural faces; validation uses the fixed split of another stream."""
    return SyntheticFaces(size, seed, length=length, cache=False) if split == "train" else None
