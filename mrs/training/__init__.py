"""Training (layer 6): ``TrainConfig``, ``Trainer`` (bit-identical resume, phases), the loss
(MSE + LPIPS when its weights exist), batches precomputed once for the runs that share them
(``precompute_batches``)."""

from . import losses
from .batch_cache import BatchCache, precompute_batches
from .config import PRESETS, TrainConfig, lr_at
from .trainer import METRIC_FIELDS, Batch, Trainer

__all__ = ["TrainConfig", "Trainer", "Batch", "lr_at", "PRESETS", "METRIC_FIELDS", "losses",
           "precompute_batches", "BatchCache"]
