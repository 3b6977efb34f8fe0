"""Masked ResShift (``mrs``): few-step residual-shifting diffusion for inpainting.

Conventions (shared/DESIGN.md): images ``[B, C, H, W]`` in [-1, 1]; mask ``[B, 1, H, W]`` with
**1 = hole (unknown), 0 = known**; ``y = (1 - M) x0 + M fill``; time ``t = 1..T`` with ``eta_0 = 0``.
"""

from . import data, masks, metrics
from .data import synthetic_faces
from .masks import degrade
from .metrics import hole_psnr, psnr, seam_score, ssim
from .processes import PROCESS_NAMES, Process, make_process
from .sampling import (
    StepOutput,
    Trajectory,
    leaky_oracle,
    oracle_denoiser,
    sample,
    sample_progressive,
)
from .schedule import Schedule

__version__ = "0.1.0"


def __getattr__(name):
    # heavier modules load on first use: mrs.viz (matplotlib), mrs.gaussian, mrs.nets, mrs.train ...
    if name in ("viz", "gaussian", "nets", "train", "losses", "checkpoint", "evaluate", "widgets",
                "fast", "repaint"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mrs' has no attribute {name!r}")

__all__ = [
    "Schedule", "make_process", "Process", "PROCESS_NAMES", "sample", "sample_progressive",
    "StepOutput", "Trajectory", "oracle_denoiser", "leaky_oracle", "degrade", "synthetic_faces",
    "psnr", "hole_psnr", "seam_score", "ssim", "data", "masks", "metrics",
]
