"""The inpainting pipeline: network, process, schedule and sampler held together.

    pipe = mrs.load_pretrained("emmd_smooth")      # shipped name, run folder or exported checkpoint
    out  = pipe.inpaint(image, mask)               # known pixels pasted back exactly
    raw  = pipe.sample(y, mask)                    # the sampler's output as it is (for teaching)

``image`` is a tensor ``[B, C, H, W]`` in [-1, 1] with a mask ``[B, 1, H, W]`` (1 = hole), or a
picture (path or PIL image, mask white = hole) of any size, which comes back as a PIL image of
the same size.

Latent mode (a pipeline with an ``autoencoder``, as the paper runs): the process runs unchanged on
latents, ``z_y = E(y)`` with the hole of ``y`` filled with ``fill`` and the mask brought to latent
resolution by ``mrs.masks.to_latent(mask, factor, latent_mask)``; the sampled ``z0`` is decoded and
the known pixels are pasted back from the image. The autoencoder is frozen and is never part of
the process: the pipeline holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..core import BaseProcess, ProcessSpec
from ..core.checks import check_image, check_mask, is_binary
from ..core.masks import check_fill, degrade, to_latent
from ..nets import denoiser_of
from ..sampling import as_sampler, make_sampler, sample
from .pictures import from_model_size, to_model_size
from .weights import read_model

__all__ = ["InpaintPipeline", "load_pretrained"]


@dataclass
class InpaintPipeline:
    """A trained denoiser ready to inpaint.

    Attributes:
        net: the network (any registered architecture; ``net.denoiser(process)`` is the denoiser).
        process: the forward process it was trained with (its schedule is ``process.schedule``).
        sampler: the default sampler (``mrs.sampling``'s protocol; ancestral unless changed).
        image_size: the training resolution (pictures are resized to it).
        name: a label (the checkpoint's name).
        meta: the checkpoint JSON (training config, loss, step ...).
        autoencoder: None (pixel mode) or a frozen autoencoder with ``encode``, ``decode`` and
            ``factor`` (latent mode; ``mrs.nets.autoencoder.VQAutoencoder``).
        latent_mask: the ``mrs.masks.to_latent`` rule for the latent mask (latent mode).
        fill: the hole of ``y`` as the net was trained (``mrs.degrade``): a value (0 for most models
            here; -1 for ResShift's official models) or ``"harmonic"`` (the Laplace fill).
    """

    net: torch.nn.Module
    process: BaseProcess
    sampler: object = None
    image_size: int | None = None
    name: str = ""
    meta: dict = field(default_factory=dict, repr=False)
    autoencoder: object = None
    latent_mask: str = "authors"
    fill: float | str = 0.0

    def __post_init__(self):
        self.sampler = as_sampler(self.sampler)
        self.fill = check_fill(self.fill)
        if not isinstance(self.process, BaseProcess):
            raise ValueError(f"process must be an mrs process, got {type(self.process).__name__}")

    # -- the parts ------------------------------------------------------------------------------
    @property
    def schedule(self):
        return self.process.schedule

    @property
    def process_spec(self) -> ProcessSpec:
        return ProcessSpec(self.process.name, self.process.options)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def latent(self) -> bool:
        """Whether the process runs on an autoencoder's latents."""
        return self.autoencoder is not None

    def to(self, device) -> "InpaintPipeline":
        self.net.to(device)
        if self.autoencoder is not None:
            self.autoencoder.to(device)
        return self

    def denoiser(self, y_image=None, mask_image=None):
        """``denoiser(x_t, t, y, mask) -> x0_pred`` for ``mrs.sample`` and the other samplers (a net
        conditioned on the image-resolution input also needs ``y_image`` and ``mask_image``)."""
        return denoiser_of(self.net, self.process, y_image, mask_image)

    def _sampler(self, sampler, options):
        if sampler is None and not options:
            return self.sampler
        if sampler is None or isinstance(sampler, str):
            return make_sampler(sampler or self.sampler.name, **options)
        if options:
            raise ValueError("sampler options go with a sampler name, not a sampler object")
        return as_sampler(sampler)

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, y, mask, generator=None, trajectory: bool = False, sampler=None, denoiser_wrapper=None,
               **sampler_options):
        """The sampler's output as it is (known pixels as sampled, not pasted back).

        ``y`` and ``mask`` are images (in latent mode they are encoded and the result decoded).
        With a binary mask the hole of ``y`` is filled as the net was trained (``self.fill``, by
        ``mrs.degrade``; whatever the hole held is ignored); with a fractional mask ``y`` is used
        as given. ``denoiser_wrapper(denoiser) -> denoiser`` wraps the network's denoiser for this
        call (e.g. ``mrs.evaluation``'s counter of network evaluations).
        ``trajectory=True`` (ancestral sampling only) returns an ``mrs.Trajectory`` (of latents
        in latent mode)."""
        check_image("y", y)
        check_mask("mask", mask, like=y)
        y, mask = y.to(self.device), mask.to(self.device)
        if is_binary(mask):
            y = degrade(y, mask, self.fill)
        den = self.denoiser(y, mask)
        if denoiser_wrapper is not None:
            den = denoiser_wrapper(den)
        if self.latent:
            # latents in y's dtype (under autocast the encoder may return bf16; the sampler wants
            # the state, y and mask in one dtype)
            z_y = self.autoencoder.encode(y).to(y.dtype)
            y, mask = z_y, to_latent(mask, self.autoencoder.factor, self.latent_mask)
        if trajectory:
            if sampler is not None or sampler_options:
                raise ValueError("trajectory=True uses the ancestral sampler; drop sampler options")
            return sample(self.process, den, y, mask, generator=generator, trajectory=True)
        out = self._sampler(sampler, sampler_options)(self.process, den, y, mask, generator=generator)
        return self.autoencoder.decode(out).clamp(-1, 1) if self.latent else out

    @torch.no_grad()
    def inpaint(self, image, mask, generator=None, sampler=None, seed: int | None = None,
                **sampler_options):
        """Inpaint ``image`` where ``mask`` is 1 (tensor) or white (picture).

        Tensors: ``image [B, C, H, W]`` in [-1, 1], ``mask [B, 1, H, W]`` binary; returns
        ``mask * sample + (1 - mask) * image`` (every known pixel exactly the input's).
        Pictures (a path or PIL image; the mask a path, PIL image or bool array): any size;
        returns a PIL image of that size (``mrs.pipelines.pictures``).
        ``seed`` is a shortcut for ``generator=torch.Generator().manual_seed(seed)``.
        """
        if seed is not None:
            if generator is not None:
                raise ValueError("give generator or seed, not both")
            generator = torch.Generator().manual_seed(int(seed))
        if not isinstance(image, torch.Tensor):
            if self.image_size is None:
                raise ValueError("this pipeline has no image_size: pass tensors, not pictures")
            x, m, layout = to_model_size(image, mask, self.image_size)
            out = self.inpaint(x, m, generator=generator, sampler=sampler, **sampler_options)
            return from_model_size(out, layout)
        check_image("image", image)
        check_mask("mask", mask, like=image)
        if not is_binary(mask):
            raise ValueError("mask must be binary (0 = known, 1 = hole) to paste the known pixels back")
        image, mask = image.to(self.device), mask.to(self.device)
        raw = self.sample(image, mask, generator=generator, sampler=sampler, **sampler_options)
        return torch.where(mask > 0, raw, image)

    def __repr__(self) -> str:
        latent = f", latent x{self.autoencoder.factor}" if self.latent else ""
        return (f"InpaintPipeline(name={self.name!r}, net={type(self.net).__name__}, "
                f"process={self.process!r}, sampler={self.sampler.name!r}, "
                f"image_size={self.image_size}{latent})")


def load_pretrained(name_or_path, device="cpu", sampler=None) -> InpaintPipeline:
    """An ``InpaintPipeline`` from a shipped name (``mrs.list_pretrained()``), a run folder (its
    latest checkpoint, EMA weights), an exported checkpoint (``NAME.json`` or its stem), or the name
    of ResShift's official weights (``"resshift_official_face"``, ``"resshift_official_imagenet"``:
    256-px latent pipelines; the files are downloaded once into ``$MRS_HOME``, default
    ``~/.cache/mrs``; offline, one message says which file to put where).

    Raises ``CheckpointError`` (a ``ValueError``) naming the file for a missing, corrupt or
    mismatched checkpoint."""
    from pathlib import Path

    from .official import OFFICIAL, load_official

    if isinstance(name_or_path, str) and name_or_path in OFFICIAL:
        return load_official(name_or_path, device=device, sampler=sampler)
    net, proc, meta = read_model(name_or_path, device=device)
    p = Path(str(name_or_path))
    name = p.stem if p.suffix in (".json", ".safetensors") else p.name
    ae = None
    if meta.get("autoencoder"):  # latent mode: the frozen autoencoder the net was trained with
        from .autoencoders import load_autoencoder

        ae = load_autoencoder(meta["autoencoder"], device=device)
        ae.scale = float(meta.get("latent_scale", 1.0))
    return InpaintPipeline(net, proc, sampler=sampler, image_size=meta.get("image_size"), name=name,
                           meta=meta, autoencoder=ae, latent_mask=meta.get("latent_mask", "authors"),
                           fill=check_fill(meta.get("fill", 0.0)))


