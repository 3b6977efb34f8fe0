"""Real photographs for training: folders, Hugging Face datasets, short names, and the split.

A *source* lists its usable images by key and reads one image by key:

* a folder (``FolderImages``): every png / jpg / jpeg / webp / bmp under it, recursively; the key
  is the file name relative to the folder. Other files are skipped and counted, and so is a file
  whose header is not an image;
* a Hugging Face ``datasets`` dataset (``HFImages``): a hub id (``"owner/name"`` or
  ``"hf:owner/name"``), a short name of ``SHORT_NAMES`` (``celeba_hq_256``, ``ffhq_256``), or a
  dataset written by ``save_to_disk``; the key is the row index;
* any Python dataset (``ObjectImages``, e.g. ``mrs.data.celeba(...)``): the key is the index.

Every image is centre-cropped to a square and resized to the training size, in [-1, 1].
``make_split(keys, n_val)`` holds ``n_val`` keys out for validation, chosen by a fixed seeded
permutation: the two lists are disjoint, together hold every usable key, and the same keys give
the same split on every machine. ``SplitImages`` reads only its own keys; an image that cannot be
decoded is skipped with a warning, counted, and replaced by the next key of the same list.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .datasets import IMAGE_SUFFIXES, load_image
from .seeds import stream_seed

__all__ = ["SHORT_NAMES", "HubSpec", "resolve_source", "open_source", "FolderImages", "HFImages",
           "ObjectImages", "SplitImages", "held_out_images", "make_split", "split_datasets", "read_split",
           "write_split", "SPLIT_FILE", "FOLDER_SUFFIXES"]

FOLDER_SUFFIXES = IMAGE_SUFFIXES   # png, jpg, jpeg, bmp, webp
SPLIT_FILE = "split.json"
SPLIT_STREAM = 104_729   # the split's permutation: stream_seed(seed + SPLIT_STREAM, 0)


@dataclass(frozen=True)
class HubSpec:
    """A public dataset on the Hugging Face hub: its id, the hub splits used (concatenated in
    this order), and what it holds."""

    repo: str
    splits: tuple
    about: str


# short names -> public hub datasets of 256x256 faces (image column "image")
SHORT_NAMES = {
    "celeba_hq_256": HubSpec("korexyz/celeba-hq-256x256", ("train", "validation"),
                             "CelebA-HQ faces at 256x256 (the hub's two splits, concatenated)"),
    "ffhq_256": HubSpec("merkol/ffhq-256", ("train",), "FFHQ faces at 256x256"),
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_source(data: str) -> dict:
    """What ``data`` names: ``{"kind": "folder" | "saved" | "hub", ...}``.

    ``"folder"`` (a folder of images) and ``"saved"`` (a ``save_to_disk`` folder: it holds
    ``dataset_info.json`` or ``dataset_dict.json``) come with ``"path"``; ``"hub"`` with ``"repo"``
    and ``"splits"`` (None: every split of the dataset). Raises ``ValueError`` for anything else."""
    if not isinstance(data, str) or not data:
        raise ValueError(f"data must be a non-empty string, got {data!r}")
    if data.startswith("<"):
        raise ValueError(f"data {data!r} was a Python dataset object: pass it again with dataset=")
    if data in SHORT_NAMES:
        spec = SHORT_NAMES[data]
        return {"kind": "hub", "repo": spec.repo, "splits": spec.splits, "name": data}
    if data.startswith("hf:"):
        return {"kind": "hub", "repo": data[3:], "splits": None, "name": data}
    path = Path(data).expanduser()
    if path.is_dir():
        saved = (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()
        return {"kind": "saved" if saved else "folder", "path": str(path), "name": data}
    if _HUB_ID.match(data) and not path.exists():
        return {"kind": "hub", "repo": data, "splits": None, "name": data}
    raise ValueError(f"data must be a registered dataset, a short name {sorted(SHORT_NAMES)}, a folder of "
                     f"images, a dataset saved with save_to_disk, or a Hugging Face id 'owner/name', "
                     f"got {data!r}")


def to_square(img: torch.Tensor, size: int) -> torch.Tensor:
    """A ``[3, H, W]`` tensor in [-1, 1] centre-cropped to a square and resized to ``size``."""
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"an image tensor must be [3, H, W] (or [1, H, W]), got {tuple(img.shape)}")
    img = img.float().expand(3, -1, -1)
    h, w = img.shape[-2:]
    s = min(h, w)
    img = img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    if s != size:
        img = F.interpolate(img[None], size=(size, size), mode="bicubic", antialias=True,
                            align_corners=False)[0]
    return img.clamp(-1, 1).contiguous()


def to_tensor(item, size: int) -> torch.Tensor:
    """One dataset item as ``[3, size, size]`` in [-1, 1]: a PIL image or an image file, a tensor
    in [-1, 1], a ``(image, label)`` pair or a ``{"image": ...}`` row."""
    from PIL import Image

    if isinstance(item, dict):
        item = item.get("image", item.get("img", next(iter(item.values()), None)))
    elif isinstance(item, (tuple, list)):
        item = item[0]
    if isinstance(item, (Image.Image, str, Path)):
        return load_image(item, size)
    if isinstance(item, torch.Tensor):
        return to_square(item, size)
    raise ValueError(f"cannot read a dataset item of type {type(item).__name__} as an image")


class FolderImages:
    """The images under ``root`` (recursive). ``keys``: their paths relative to ``root`` (sorted,
    '/'-separated); ``skipped``: ``{"not_image": [...], "unreadable": [...]}``. With ``keys``
    given (a recorded split) the folder is not scanned again."""

    kind = "folder"

    def __init__(self, root, keys=None):
        from PIL import Image, UnidentifiedImageError

        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise ValueError(f"data folder not found: {self.root}")
        self.skipped = {"not_image": [], "unreadable": []}
        if keys is not None:
            self.keys = sorted(keys)
            return
        found = []
        for p in sorted(self.root.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(self.root).as_posix()
            if p.suffix.lower() not in FOLDER_SUFFIXES:
                self.skipped["not_image"].append(rel)
                continue
            try:
                with Image.open(p):        # the header only: cheap, and catches most broken files
                    pass
            except (UnidentifiedImageError, OSError):
                self.skipped["unreadable"].append(rel)
                continue
            found.append(rel)
        if self.skipped["unreadable"]:
            warnings.warn(f"{len(self.skipped['unreadable'])} unreadable image file(s) under {self.root} "
                          f"skipped (e.g. {self.skipped['unreadable'][0]})", stacklevel=2)
        if not found:
            raise ValueError(f"no readable images ({', '.join(FOLDER_SUFFIXES)}) under {self.root}")
        self.keys = found

    def read(self, key):
        return self.root / key


class HFImages:
    """A ``datasets.Dataset`` (or its splits concatenated); keys are row indices."""

    kind = "hf"

    def __init__(self, ds, name: str = "dataset"):
        self.name = name
        column = _image_column(ds)
        self.ds = ds.select_columns([column]) if hasattr(ds, "select_columns") else ds
        self.column = column
        self.keys = list(range(len(self.ds)))
        self.skipped = {"not_image": [], "unreadable": []}

    def read(self, key):
        return self.ds[int(key)][self.column]


class ObjectImages:
    """Any Python dataset (``len`` and indexing) whose items ``to_tensor`` reads."""

    kind = "object"

    def __init__(self, obj, name: str | None = None):
        if not hasattr(obj, "__len__") or not hasattr(obj, "__getitem__"):
            raise ValueError(f"dataset must support len() and indexing, got {type(obj).__name__}")
        self.obj, self.name = obj, name or type(obj).__name__
        self.keys = list(range(len(obj)))
        self.skipped = {"not_image": [], "unreadable": []}

    def read(self, key):
        return self.obj[int(key)]


def _image_column(ds) -> str:
    features = getattr(ds, "features", None) or {}
    for name, feat in features.items():
        if type(feat).__name__ == "Image":
            return name
    for name in ("image", "img"):
        if name in features:
            return name
    raise ValueError(f"the dataset has no image column (columns: {list(features)})")


def _load_hf(info: dict):
    """The ``datasets`` dataset ``info`` (from ``resolve_source``) names, splits concatenated."""
    try:
        import datasets
    except ImportError:
        raise ValueError("Hugging Face datasets need the 'datasets' package: pip install datasets") from None
    try:
        if info["kind"] == "saved":
            ds = datasets.load_from_disk(info["path"])
        elif info["splits"] is None:
            ds = datasets.load_dataset(info["repo"])
        else:
            ds = datasets.DatasetDict({s: datasets.load_dataset(info["repo"], split=s)
                                       for s in info["splits"]})
    except (OSError, ConnectionError, FileNotFoundError) as err:
        raise ValueError(f"cannot load the dataset {info['name']!r}: {str(err)[:300]}") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = datasets.concatenate_datasets([ds[s] for s in ds])   # in the order of its splits
    return ds


def open_source(data, keys=None):
    """A source (``FolderImages``, ``HFImages`` or ``ObjectImages``) for ``data``: a string that
    ``resolve_source`` understands, or a Python / ``datasets`` dataset object."""
    if not isinstance(data, str):
        if type(data).__module__.startswith("datasets"):
            return HFImages(data, name=type(data).__name__)
        return ObjectImages(data)
    info = resolve_source(data)
    if info["kind"] == "folder":
        return FolderImages(info["path"], keys=keys)
    return HFImages(_load_hf(info), name=data)


class SplitImages(torch.utils.data.Dataset):
    """The images of ``keys`` in ``source`` as ``[3, size, size]`` tensors in [-1, 1].

    An image that cannot be decoded is skipped with a warning (once per key), recorded in
    ``self.bad``, and replaced by the next readable key of the same list: a run never stops there,
    and it never reads a key outside ``keys``."""

    def __init__(self, source, keys, size: int):
        if not keys:
            raise ValueError("a split part needs at least one image")
        self.source, self.keys, self.size = source, list(keys), int(size)
        self.bad: list = []

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> torch.Tensor:
        n = len(self.keys)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} images")
        for k in range(n):
            key = self.keys[(i + k) % n]
            if key in self.bad:
                continue
            try:
                return to_tensor(self.source.read(key), self.size)
            except (ValueError, OSError, SyntaxError, EOFError) as err:
                self.bad.append(key)
                warnings.warn(f"skipping unreadable image {key!r}: {str(err)[:160]}", stacklevel=2)
        raise ValueError(f"none of the {n} images of this split could be read")


def make_split(keys, n_val: int, seed: int = 0) -> dict:
    """``{"train": [...], "val": [...]}``: ``n_val`` of ``keys`` held out for validation.

    The held-out keys are the first ``n_val`` of a permutation of the sorted keys drawn from
    ``stream_seed(seed + SPLIT_STREAM, 0)``; both lists are sorted. Disjoint, covering every key,
    and the same for the same keys on every machine."""
    keys = sorted(keys)
    if len(set(keys)) != len(keys):
        raise ValueError("keys must be distinct")
    if isinstance(n_val, bool) or not isinstance(n_val, int) or not 1 <= n_val < len(keys):
        raise ValueError(f"n_val must be an int in [1, {len(keys) - 1}] for {len(keys)} images, "
                         f"got {n_val!r}")
    g = torch.Generator().manual_seed(stream_seed(seed + SPLIT_STREAM, 0))
    perm = torch.randperm(len(keys), generator=g).tolist()
    val = sorted(keys[j] for j in perm[:n_val])
    held = set(val)
    return {"train": [k for k in keys if k not in held], "val": val}


def write_split(path, split: dict) -> None:
    """Write ``split`` as JSON (to a temporary name, then renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(split, indent=1) + "\n")
    tmp.replace(path)


def read_split(path) -> dict:
    """A ``split.json``, checked: train and val lists, disjoint."""
    try:
        split = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the split file {path}: {err}") from None
    if not isinstance(split.get("train"), list) or not isinstance(split.get("val"), list):
        raise ValueError(f"{path} must hold 'train' and 'val' lists")
    if set(split["train"]) & set(split["val"]):
        raise ValueError(f"{path}: train and val share images")
    return split


def split_datasets(data, size: int, n_val: int, recorded: dict | None = None, seed: int = 0):
    """``(train, val, split)`` for a real-image source: two ``SplitImages`` and the split record
    (``make_split`` plus ``source``, ``kind``, ``seed`` and what was ``skipped``). With ``recorded``
    (a split read back from a run folder) that split is used as it is."""
    name = data if isinstance(data, str) else f"<{type(data).__name__}>"
    if recorded is not None:
        if recorded.get("source") != name:
            raise ValueError(f"the run folder's {SPLIT_FILE} was made for data {recorded.get('source')!r}, "
                             f"not {name!r}: use another folder")
        keys = recorded["train"] + recorded["val"]
        source = open_source(data, keys=keys if isinstance(data, str) else None)
        split = recorded
    else:
        source = open_source(data)
        n_val = min(n_val, len(source.keys) - 1) if len(source.keys) > 1 else n_val
        split = {"source": name, "kind": source.kind, "seed": seed, **make_split(source.keys, n_val, seed),
                 "skipped": source.skipped}
    return SplitImages(source, split["train"], size), SplitImages(source, split["val"], size), split


def held_out_images(data: str, size: int, split=None) -> SplitImages:
    """The images to evaluate on: with ``split`` (a ``split.json`` or the run folder holding one)
    only its held-out ``val`` keys, never a training image; without it every usable image of
    ``data``. ``data`` may be ``None`` with a split (its recorded source is used); a split made for
    another source raises ``ValueError``."""
    if split is None:
        if not data:
            raise ValueError("give data (a folder or dataset name) or a split")
        source = open_source(data)
        return SplitImages(source, source.keys, size)
    path = Path(split)
    recorded = read_split(path / SPLIT_FILE if path.is_dir() else path)
    return split_datasets(data or recorded.get("source"), size, len(recorded["val"]), recorded=recorded)[1]
