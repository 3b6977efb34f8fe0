"""Evaluation: compare models on a fixed validation set (the same images, masks and noise).

``evaluate`` samples every model on every mask kind of one fixed split and measures, per image:

* PSNR and hole-PSNR in dB, SSIM, and the seam (``seam``: ``mrs.metrics.seam_excess``, the mean
  absolute jump of the error across the hole's edge; unsigned, so a blurred fill cannot score
  better than the truth) against the ground truth (``mrs.core.metrics``);
* LPIPS, only when the real pretrained weights exist (``mrs.training.losses.load_lpips``): a number
  from a random backbone is never reported;
* the number of network evaluations (NFE) and the wall time, per image.

A model is a pipeline (``mrs.load_pretrained``; its own sampler is used; latent pipelines are
sampled through their autoencoder), a checkpoint name or path, a classical fill
(``mrs.baselines.Baseline("harmonic" | "telea" | "navier_stokes")``), or a ``(net or denoiser,
process)`` pair; any sampler of the ``mrs.sampling`` protocol
(ancestral, RePaint, yours) is evaluated by the same code. The ``EvalResult`` keeps every sample.
Conventions: images ``[B, C, H, W]`` in [-1, 1]; masks ``[B, 1, H, W]`` with 1 = hole, 0 = known.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass

import torch

from ..core import BaseProcess, metrics
from ..core.baselines import Baseline
from ..core.checks import check_image
from ..core.masks import MASK_KINDS
from ..data import validation_split
from ..pipelines import InpaintPipeline, load_pretrained
from ..sampling import CountingDenoiser, as_sampler
from ..training import losses
from .report import EvalResult

__all__ = ["evaluate", "paste_back", "EvalResult", "Model", "resolve_models"]


@dataclass
class Model:
    """One entry of an evaluation: a denoiser, its process and the sampler that drives it; or a
    whole pipeline (sampled with ``pipe.sample``: latent mode, image-conditioned nets); or a
    classical fill (``mrs.baselines.Baseline``: no network, NFE 0)."""

    denoiser: object = None
    process: BaseProcess | None = None
    sampler: object = None
    net: torch.nn.Module | None = None
    pipeline: InpaintPipeline | None = None
    baseline: Baseline | None = None

    @torch.no_grad()
    def run(self, y, mask, generator) -> tuple:
        """``(sample, network evaluations x batch)`` for one batch."""
        if self.baseline is not None:
            return self.baseline(y, mask), 0
        if self.pipeline is not None:
            counters = []

            def counted(den):              # the pipeline's denoiser, counted
                counters.append(CountingDenoiser(den))
                return counters[-1]

            out = self.pipeline.sample(y, mask, generator=generator, sampler=self.sampler,
                                       denoiser_wrapper=counted)
            return out, sum(c.images for c in counters)
        counted = CountingDenoiser(self.denoiser)
        return self.sampler(self.process, counted, y, mask, generator=generator), counted.images

    def warm_up(self, y, mask):
        """One untimed network call: first-call overheads are not the model's."""
        with torch.no_grad():
            if self.pipeline is not None:
                self.pipeline.sample(y, mask, generator=torch.Generator().manual_seed(0))
            elif self.net is not None:
                self.denoiser(y, torch.full((1,), self.process.T, device=y.device), y, mask)


def _one_model(label, spec, device, sampler) -> Model:
    if isinstance(spec, Baseline):
        return Model(baseline=spec, sampler=spec)
    if isinstance(spec, (str, os.PathLike)):
        spec = load_pretrained(spec, device=device)
    if isinstance(spec, InpaintPipeline):
        spec.to(device).net.eval()
        return Model(None, spec.process, sampler or spec.sampler, spec.net, pipeline=spec)
    if not (isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[1], BaseProcess)):
        raise ValueError(f"models[{label!r}] must be a pipeline, a checkpoint name/path, a baseline "
                         f"(mrs.baselines.Baseline) or (net or denoiser, proc) with an mrs process; "
                         f"got {type(spec).__name__}")
    model, proc = spec[0], spec[1]
    if isinstance(model, torch.nn.Module) and hasattr(model, "denoiser"):
        model = model.to(device).eval()
        return Model(model.denoiser(proc), proc, sampler, model)
    if callable(model):
        return Model(model, proc, sampler)
    raise ValueError(f"models[{label!r}][0] must be an mrs network or a denoiser callable "
                     f"denoiser(x_t, t, y, mask), got {type(model).__name__}")


def resolve_models(models, device="cpu", sampler=None) -> dict:
    """label -> ``Model`` from ``evaluate``'s ``models`` argument (``sampler``: overrides every
    model's own; None keeps a pipeline's sampler and gives pairs the ancestral one)."""
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict: label -> pipeline, checkpoint name/path "
                         f"or (net or denoiser, proc), got {type(models).__name__}")
    override = as_sampler(sampler) if sampler is not None else None
    out = {}
    for label, spec in models.items():
        if not isinstance(label, str) or not label:
            raise ValueError(f"models keys must be non-empty strings (labels), got {label!r}")
        m = _one_model(label, spec, device, override)
        if m.baseline is None:
            m.sampler = as_sampler(m.sampler)
        out[label] = m
    return out


def _check_images(images):
    """The ``images`` argument: a tensor ``[N, C, S, S]`` or a dataset of ``[C, S, S]`` tensors."""
    if isinstance(images, torch.Tensor):
        check_image("images", images)
        first = images[0]
    else:
        if not (hasattr(images, "__len__") and hasattr(images, "__getitem__")) or len(images) < 1:
            raise ValueError("images must be a tensor [N, C, S, S] or a non-empty dataset of images")
        first = images[0]
    if not isinstance(first, torch.Tensor) or first.dim() != 3 or first.shape[1] != first.shape[2]:
        raise ValueError(f"images must hold square images [C, S, S], got "
                         f"{tuple(first.shape) if isinstance(first, torch.Tensor) else type(first)}")
    if first.shape[-1] < 8:
        raise ValueError(f"images must be at least 8x8, got {tuple(first.shape)}")


def _check_args(n, size, seed, batch_size, mask_kinds, images) -> tuple:
    for name, v, lo in (("n", n, 1), ("size", size, 8), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
    kinds = (mask_kinds,) if isinstance(mask_kinds, str) else tuple(mask_kinds)
    if not kinds or any(k not in MASK_KINDS + ("mixed",) for k in kinds) or len(set(kinds)) < len(kinds):
        raise ValueError(f"mask_kinds must be distinct kinds from {MASK_KINDS + ('mixed',)}, "
                         f"got {mask_kinds!r}")
    if images is not None:
        _check_images(images)
    return kinds


def _lpips_model():
    """``(model, None)`` with real LPIPS weights, else ``(None, why)``."""
    lp = losses.load_lpips(warn=False)  # silent: load_lpips swallows torch.hub's download prints
    if lp is None or lp.random_backbone:
        return None, "weights unavailable"
    return lp, None


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _run(model: Model, x0, mask, y, seed, batch_size, device, paste_known):
    """Sample one model on one split (timed, counted): ``(out, seconds per image, NFE per image)``."""
    g = torch.Generator().manual_seed(seed)
    step = batch_size or x0.shape[0]
    _sync(device)
    start = time.perf_counter()
    outs, images = [], 0
    for i in range(0, x0.shape[0], step):
        out, n = model.run(y[i:i + step], mask[i:i + step], g)
        outs.append(out)
        images += n
    out = torch.cat(outs)
    _sync(device)
    seconds = (time.perf_counter() - start) / x0.shape[0]
    if paste_known:
        out = _paste(out, x0, mask)
    return out, seconds, images / x0.shape[0]


def _paste(out, x0, mask):
    """``M * out + (1 - M) * x0`` for the validation masks (binary): the known pixels exact."""
    return torch.where(mask > 0, out, x0)


def _measure(out, x0, mask, lp):
    """Per-image metrics; ``lpips`` only with a real LPIPS model."""
    per = {"psnr": metrics.psnr(out, x0), "hole_psnr": metrics.hole_psnr(out, x0, mask),
           "seam": metrics.seam_excess(out, mask, ref=x0)}
    if x0.shape[-1] >= 11:
        per["ssim"] = metrics.ssim(out, x0)
    if lp is not None:
        with torch.no_grad():
            per["lpips"] = lp(out, x0)
    return {k: v.detach().float().cpu() for k, v in per.items()}


def evaluate(models, images=None, n: int = 16, size: int = 32, mask_kinds=MASK_KINDS, seed: int = 0,
             device="cpu", progress: bool = False, batch_size: int | None = None, sampler=None,
             paste_known: bool = False, mask_seed: int = 12345) -> EvalResult:
    """Sample every model on every mask kind of a fixed validation set and measure the results.

    Args:
        models: dict label -> an ``InpaintPipeline``, a checkpoint name or path, a
            ``mrs.baselines.Baseline``, or ``(net or denoiser, proc)`` (a callable
            ``denoiser(x_t, t, y, mask)``).
        images: None for the synthetic validation faces (``mrs.data.validation_split``), or a
            tensor ``[N, C, S, S]`` / dataset of square images in [-1, 1] (e.g. ``FaceFolder``).
        n: number of images (the first ``n`` of ``images``).
        size: side of the synthetic faces (given ``images`` keep their own size).
        mask_kinds: the mask kinds; each gets the split's fixed masks (1 = hole) for the same images.
        seed: seed of the sampling generator, the same for every model and kind.
        device: where the models run.
        progress: show a progress bar over (model, kind).
        batch_size: images per sampling call (None: all at once; samples depend on it).
        sampler: a sampler (or its name) for every model; None: a pipeline's own, else ancestral.
        paste_known: score ``M * sample + (1 - M) * x0`` (what ``pipe.inpaint`` gives a user)
            instead of the samples as they leave the sampler.
        mask_seed: seeds the validation masks (the default is the split the notebooks use; another
            value gives masks never seen there).

    Returns:
        An ``EvalResult``; NFE per image is what the sampler spent (T for the ancestral one).
    """
    from tqdm.auto import tqdm

    kinds = _check_args(n, size, seed, batch_size, mask_kinds, images)
    runs = resolve_models(models, device, sampler)
    # 1. the fixed split: the same images for every kind (rendered once), fixed masks per kind
    split, source = {}, images
    for kind in kinds:
        x0, mask, y = validation_split(n, size, mask_kind=kind, mask_seed=mask_seed, images=source)
        split[kind], source = (x0, mask, y), x0
    lp, lpips_note = _lpips_model()
    lp = lp.to(device) if lp is not None else None
    samples, per_image, nfe, seconds = {}, {}, {}, {}
    bar = tqdm(total=len(runs) * len(kinds), disable=not progress, desc="evaluate", leave=False)
    for label, model in runs.items():
        x0, mask, y = (z[:1].to(device) for z in split[kinds[0]])
        model.warm_up(y, mask)
        for kind in kinds:
            x0, mask, y = (z.to(device) for z in split[kind])
            # 2. sample (timed) with the same noise stream for every model; 3. measure
            out, seconds[(label, kind)], nfe[(label, kind)] = _run(model, x0, mask, y, seed, batch_size,
                                                                   device, paste_known)
            try:
                per_image[(label, kind)] = _measure(out, x0, mask, lp)
            except RuntimeError as err:  # e.g. images too small for the backbone's pooling
                lp, lpips_note = None, f"not measured ({str(err)[:80]})"
                per_image[(label, kind)] = _measure(out, x0, mask, None)
            samples[(label, kind)] = out.detach().cpu()
            bar.update(1)
    bar.close()
    if lpips_note is not None:  # all or nothing: no partial LPIPS column
        for per in per_image.values():
            per.pop("lpips", None)
    return EvalResult(
        labels=tuple(runs), mask_kinds=kinds, x0=split[kinds[0]][0].cpu(),
        masks={k: split[k][1].cpu() for k in kinds}, inputs={k: split[k][2].cpu() for k in kinds},
        samples=samples, per_image=per_image, nfe=nfe, seconds=seconds, lpips_note=lpips_note,
        seed=seed, pasted=paste_known)


def paste_back(result: EvalResult) -> EvalResult:
    """The same evaluation scored with the known pixels pasted back, without sampling again.

    Every sample becomes ``x_hat <- M * x_hat + (1 - M) * x0`` (what ``pipe.inpaint`` gives a user:
    the known pixels exact, the hole as generated) and every per-image metric is measured again on
    it, LPIPS too where ``result`` has it. NFE and wall time are the sampler's, unchanged. Equal to
    ``evaluate(..., paste_known=True)`` with the same arguments; a result already pasted is returned
    as it is.
    """
    if not isinstance(result, EvalResult):
        raise ValueError(f"result must be an EvalResult (from evaluate), got {type(result).__name__}")
    if result.pasted:
        return result
    lp = None
    if result.lpips_note is None and any("lpips" in per for per in result.per_image.values()):
        lp, _ = _lpips_model()
    samples, per_image = {}, {}
    for (label, kind), out in result.samples.items():
        mask = result.masks[kind]
        samples[(label, kind)] = _paste(out, result.x0, mask)
        per_image[(label, kind)] = _measure(samples[(label, kind)], result.x0, mask, lp)
    return dataclasses.replace(result, samples=samples, per_image=per_image, pasted=True)
