"""Data (layer 2): procedural faces (nothing is downloaded), image folders, CelebA, masked pairs
and the fixed validation split. Images ``[3, S, S]`` in [-1, 1]; masks with 1 = hole."""

from .datasets import (
    IMAGE_SUFFIXES,
    FaceFolder,
    MaskedPairs,
    celeba,
    load_image,
    open_image,
    to_numpy,
    validation_split,
)
from .faces import SyntheticFaces, face, synthetic_faces
from .registry import dataset_names, make_dataset, register_dataset
from .seeds import stream_seed

__all__ = ["synthetic_faces", "face", "SyntheticFaces", "open_image", "load_image", "FaceFolder",
           "celeba", "MaskedPairs", "validation_split", "stream_seed", "IMAGE_SUFFIXES", "to_numpy",
           "register_dataset", "dataset_names", "make_dataset"]
