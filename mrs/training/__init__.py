"""Training (layer 6): ``TrainConfig``, ``Trainer`` (bit-identical resume, phases), the loss
(MSE + LPIPS when its weights exist)."""

from . import losses
from .config import PRESETS, TrainConfig, lr_at
from .trainer import METRIC_FIELDS, Batch, Trainer

__all__ = ["TrainConfig", "Trainer", "Batch", "lr_at", "PRESETS", "METRIC_FIELDS", "losses"]
