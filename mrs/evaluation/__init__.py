"""Evaluation (layer 7): models compared on one fixed validation split, with tables, paired
differences with standard errors, and grids."""

from .evaluate import Model, evaluate, paste_back, resolve_models
from .paired import PairedDifference, paired_difference, paired_differences, paired_markdown, plot_paired
from .report import EvalResult

__all__ = ["evaluate", "paste_back", "EvalResult", "Model", "resolve_models", "PairedDifference",
           "paired_difference", "paired_differences", "paired_markdown", "plot_paired"]
