"""Training data by name: ``TrainConfig.data`` is a registered name or a source of real images.

    @mrs.data.register_dataset("my_faces")
    def my_faces(size: int, seed: int, length: int, split: str):
        return MyDataset(...)          # items: [3, size, size] tensors in [-1, 1]

``split`` is ``"train"`` or ``"val"``; returning None for ``"val"`` means the fixed synthetic
validation split (``validation_split``). Anything else is a source of real images
(``mrs.data.sources``: a folder, a Hugging Face dataset id, a dataset saved to disk, or a short
name such as ``celeba_hq_256``), split once into disjoint training and validation images
(``make_split``); ``training_data`` also records that split in the run folder (``split.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .faces import SyntheticFaces
from .sources import SHORT_NAMES, SPLIT_FILE, read_split, split_datasets

__all__ = ["register_dataset", "dataset_names", "make_dataset", "training_data", "TrainingData"]

_DATASETS: dict = {}


def register_dataset(name: str):
    """Decorator: register ``factory(size, seed, length, split)`` under ``name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a dataset name must be an identifier-like string, got {name!r}")
    if name in SHORT_NAMES:
        raise ValueError(f"{name!r} is a short name of a hub dataset; pick another name")

    def decorate(factory):
        if not callable(factory):
            raise ValueError(f"@register_dataset({name!r}) needs a callable, got {factory!r}")
        _DATASETS[name] = factory
        return factory

    return decorate


def dataset_names() -> tuple:
    """The registered dataset names (the short names of hub datasets are ``sources.SHORT_NAMES``)."""
    return tuple(_DATASETS)


@dataclass
class TrainingData:
    """What a run trains and validates on: ``train`` (a dataset), ``val`` (a dataset, or None for
    the fixed synthetic split) and ``split`` (the record written to ``split.json``; None for a
    registered dataset, whose factory keeps its own streams apart)."""

    train: object
    val: object
    split: dict | None


def training_data(data, size: int, seed: int = 0, length: int = 20_000, val_count: int = 16,
                  run_dir=None) -> TrainingData:
    """The training and validation images of ``data`` (a registered name, a source string of
    ``mrs.data.sources`` or a dataset object). For real images the split is read back from
    ``run_dir/split.json`` when it exists (a resumed run keeps its split), else made with
    ``make_split`` (``val_count`` images held out)."""
    if isinstance(data, str) and data in _DATASETS:
        factory = _DATASETS[data]
        return TrainingData(factory(size, seed, length, "train"), factory(size, seed, length, "val"), None)
    recorded = None
    if run_dir is not None and (Path(run_dir) / SPLIT_FILE).exists():
        recorded = read_split(Path(run_dir) / SPLIT_FILE)
    train, val, split = split_datasets(data, size, val_count, recorded=recorded)
    return TrainingData(train, val, split)


def make_dataset(data: str, size: int, seed: int = 0, length: int = 20_000, split: str = "train",
                 val_count: int = 16):
    """One part (``split``: ``"train"`` or ``"val"``) of ``data``: a registered dataset (None for a
    ``"val"`` split that is the fixed synthetic one), or that part of the split of real images
    that ``training_data`` makes with ``val_count`` images held out."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if isinstance(data, str) and data in _DATASETS:
        return _DATASETS[data](size, seed, length, split)
    part = training_data(data, size, seed, length, val_count)
    return part.train if split == "train" else part.val


@register_dataset("synthetic")
def _synthetic(size: int, seed: int, length: int, split: str):
    """Procedural faces; validation uses the fixed split of another stream."""
    return SyntheticFaces(size, seed, length=length, cache=False) if split == "train" else None
