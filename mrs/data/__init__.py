"""Data (layer 2): procedural faces (nothing is downloaded), real photographs (folders, Hugging Face
datasets, short names such as ``celeba_hq_256``) with a recorded train/validation split, CelebA,
masked pairs and the fixed validation split. Images ``[3, S, S]`` in [-1, 1]; masks with 1 = hole."""

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
from .registry import TrainingData, dataset_names, make_dataset, register_dataset, training_data
from .seeds import stream_seed
from .sources import SHORT_NAMES, make_split, open_source, resolve_source

__all__ = ["synthetic_faces", "face", "SyntheticFaces", "open_image", "load_image", "FaceFolder",
           "celeba", "MaskedPairs", "validation_split", "stream_seed", "IMAGE_SUFFIXES", "to_numpy",
           "register_dataset", "dataset_names", "make_dataset", "training_data", "TrainingData",
           "SHORT_NAMES", "make_split", "open_source", "resolve_source"]
