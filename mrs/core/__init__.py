"""The maths (layer 1): schedule, masks, forward processes with exact posteriors, metrics.

Nothing here knows about networks, data sets or files. Conventions, used everywhere: images
``[B, C, H, W]`` in [-1, 1]; mask ``[B, 1, H, W]`` with **1 = hole (unknown), 0 = known**;
``y = (1 - M) x0 + M fill``; time ``t = 1..T`` with ``eta_0 = 0``.
"""

from . import baselines, masks, metrics, montecarlo
from .authors import AuthorsProcess, authors_mean_gain
from .mvd import MaskedVariance
from .process_base import BaseProcess
from .processes import ExactMasked, ExactMaskedSmooth, Process, ResShift
from .registry import (
    ProcessSpec,
    make_process,
    option_defaults,
    process_class,
    process_names,
    process_options,
    register_process,
)
from .schedule import Schedule, ScheduleSpec

__all__ = ["Schedule", "ScheduleSpec", "BaseProcess", "Process", "ResShift", "MaskedVariance",
           "ExactMasked", "ExactMaskedSmooth", "AuthorsProcess", "authors_mean_gain", "ProcessSpec",
           "make_process", "register_process", "process_names", "process_class", "process_options",
           "option_defaults", "baselines", "masks", "metrics", "montecarlo"]
