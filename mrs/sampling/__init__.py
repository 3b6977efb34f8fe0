"""Sampling (layer 3): the 4-step ancestral sampler, reference denoisers, RePaint, the Gaussian
exact-denoiser benchmark, and the sampler protocol and registry.

A denoiser is any callable ``denoiser(x_t, t, y, mask) -> x0_pred``; a sampler any object with a
``name``, ``__call__(proc, denoiser, y, mask, generator=None)`` and ``nfe(proc)``.
"""

from . import ddim, gaussian, repaint
from .ancestral import CountingDenoiser, Denoiser, StepOutput, Trajectory, sample, sample_progressive
from .oracles import leaky_oracle, oracle_denoiser
from .samplers import (
    AncestralSampler,
    RePaintSampler,
    Sampler,
    as_sampler,
    make_sampler,
    register_sampler,
    sampler_names,
)

__all__ = ["sample", "sample_progressive", "StepOutput", "Trajectory", "CountingDenoiser", "Denoiser",
           "oracle_denoiser", "leaky_oracle", "Sampler", "AncestralSampler", "RePaintSampler",
           "register_sampler", "make_sampler", "sampler_names", "as_sampler", "gaussian", "repaint",
           "ddim"]
