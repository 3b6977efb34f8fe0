"""Pipelines and I/O (layer 5): the checkpoint file format, weights on disk (list, load,
export), pictures in and out, and ``InpaintPipeline`` / ``load_pretrained``."""

from .autoencoders import AUTOENCODERS, load_autoencoder
from .checkpoint import FORMAT, CheckpointError, load_checkpoint, load_state_strict, save_checkpoint
from .official import OFFICIAL, OfficialWeightsMissing, cache_dir, load_official
from .pictures import from_model_size, read_inpainting_inputs, to_model_size
from .pipeline import InpaintPipeline, load_pretrained
from .weights import (
    export_all,
    export_weights,
    find_checkpoints,
    list_pretrained,
    model_meta,
    pretrained_dir,
    read_model,
    resolve_checkpoint,
)

__all__ = ["InpaintPipeline", "load_pretrained", "list_pretrained", "find_checkpoints",
           "pretrained_dir", "resolve_checkpoint", "read_model", "model_meta", "export_weights",
           "export_all", "save_checkpoint", "load_checkpoint", "load_state_strict", "CheckpointError",
           "FORMAT", "read_inpainting_inputs", "to_model_size", "from_model_size", "OFFICIAL",
           "OfficialWeightsMissing", "cache_dir", "load_official", "AUTOENCODERS", "load_autoencoder"]
