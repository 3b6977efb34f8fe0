"""Evaluation (layer 7): models compared on one fixed validation split, with tables and grids."""

from .evaluate import Model, evaluate, resolve_models
from .report import EvalResult

__all__ = ["evaluate", "EvalResult", "Model", "resolve_models"]
