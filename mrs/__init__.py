"""Masked ResShift (``mrs``): few-step residual-shifting diffusion for inpainting.

Conventions: images ``[B, C, H, W]`` in [-1, 1]; mask ``[B, 1, H, W]`` with **1 = hole
(unknown), 0 = known**; ``y = (1 - M) x0 + M fill``; time ``t = 1..T`` with ``eta_0 = 0``.

The package is built in layers, each importing only the ones above it in this list:
``mrs.core`` (schedule, masks, processes, metrics) -> ``mrs.data`` -> ``mrs.sampling`` ->
``mrs.nets`` -> ``mrs.pipelines`` (checkpoints, ``load_pretrained``) -> ``mrs.training`` ->
``mrs.evaluation`` -> ``mrs.ui`` (viz, widgets, the command line).
"""

from . import core, data, sampling
from .core import (
    BaseProcess,
    Process,
    ProcessSpec,
    Schedule,
    ScheduleSpec,
    make_process,
    masks,
    metrics,
    process_names,
    register_process,
)
from .core.masks import degrade
from .core.metrics import hole_psnr, psnr, seam_excess, seam_score, ssim
from .data import synthetic_faces
from .sampling import (
    Sampler,
    StepOutput,
    Trajectory,
    leaky_oracle,
    make_sampler,
    oracle_denoiser,
    register_sampler,
    sample,
    sample_progressive,
)

__version__ = "0.2.0"

# heavier parts load on first use (torch.nn networks, matplotlib, ipywidgets)
_LAZY = {
    "nets": "mrs.nets", "pipelines": "mrs.pipelines", "training": "mrs.training",
    "evaluation": "mrs.evaluation", "ui": "mrs.ui",
    "viz": "mrs.ui.viz", "widgets": "mrs.ui.widgets", "gaussian": "mrs.sampling.gaussian",
    "repaint": "mrs.sampling.repaint", "baselines": "mrs.core.baselines", "fast": "mrs.nets.fast",
    "autoencoder": "mrs.nets.autoencoder",
    "TrainConfig": ("mrs.training", "TrainConfig"), "Trainer": ("mrs.training", "Trainer"),
    "load_pretrained": ("mrs.pipelines", "load_pretrained"),
    "list_pretrained": ("mrs.pipelines", "list_pretrained"),
    "InpaintPipeline": ("mrs.pipelines", "InpaintPipeline"),
    "register_net": ("mrs.nets", "register_net"),
    "evaluate": ("mrs.evaluation", "evaluate"),
}


def __getattr__(name):
    import importlib

    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mrs' has no attribute {name!r}")
    if isinstance(target, str):
        return importlib.import_module(target)
    return getattr(importlib.import_module(target[0]), target[1])


__all__ = [
    "Schedule", "ScheduleSpec", "make_process", "BaseProcess", "Process", "ProcessSpec",
    "register_process", "process_names", "sample", "sample_progressive", "StepOutput", "Trajectory",
    "Sampler", "make_sampler", "register_sampler", "oracle_denoiser", "leaky_oracle", "degrade",
    "synthetic_faces", "psnr", "hole_psnr", "seam_score", "seam_excess", "ssim", "core", "data",
    "sampling", "masks", "metrics", *_LAZY,
]
