"""``TrainConfig``: everything that defines a training run, saved in every checkpoint.

The schedule and the process are one spec each (``ScheduleSpec``, ``ProcessSpec``); the network is
an architecture (``arch``, ``mrs.nets.net_names()``) with a preset. The learning rate is a function
of the step: linear warm-up, then cosine decay to zero at ``steps``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..core import ProcessSpec, ScheduleSpec, option_defaults
from ..core.masks import LATENT_MASK_RULES, MASK_KINDS, check_fill
from .precision import PRECISIONS

__all__ = ["TrainConfig", "lr_at", "PRESETS", "RESUME_CHANGES"]

# fields a resumed run may change: they change neither the data nor what is trained
RESUME_CHANGES = frozenset({"steps", "precision", "amp", "compile", "val_every", "ckpt_every", "ckpt_minutes",
                            "sample_every"})


def _f(default, help: str, **kw):
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (saved in every checkpoint).

    ``TrainConfig.preset("tiny", process="emmd")`` starts from a preset; keyword overrides may name
    any field, any schedule field (``T``, ``kappa``, ...) or any option of the process
    (``blur_width``, ...), which go into ``schedule`` and ``process``.
    """

    # -- what is trained
    process: ProcessSpec = _f(ProcessSpec("emmd_smooth"), "forward process: name and options")
    schedule: ScheduleSpec = _f(ScheduleSpec(), "the noise schedule (T, kappa, min_noise_level, "
                                "etas_end, power)")
    arch: str = _f("swin_unet", "network architecture (mrs.nets.net_names())")
    net: str = _f("tiny", "preset of the architecture: tiny (2.2M parameters) or paper (118.6M)")
    use_noise_map: bool = _f(False, "feed the per-pixel noise map rho * eta_t to the net as a channel")
    # -- latent mode (the paper's setting): a frozen autoencoder, the process on its latents
    autoencoder: str = _f("", "'' (pixel mode), an autoencoder name (tiny_vq_f4, resshift_face, "
                          "resshift_imagenet) or a path")
    latent_mask: str = _f("authors", "mask at latent resolution: authors | max | mean (mrs.masks.to_latent)")
    latent_scale: float = _f(1.0, "latents are multiplied by this (LDM's scale_factor) so that they have "
                             "about unit variance: 1 for ResShift's autoencoders, 5 for the tiny one")
    fill: float | str = _f(0.0, "the hole of y: a value (0: mid-grey; ResShift's data uses -1) or "
                               "'harmonic' (the Laplace fill of the hole: y is a classical estimate)")
    # -- data
    data: str = _f("synthetic", "a registered dataset (mrs.data.dataset_names()), a folder of images "
                   "(recursive), a Hugging Face dataset id or save_to_disk folder, or celeba_hq_256 | "
                   "ffhq_256")
    val_holdout: int = _f(0, "real images held out for validation, recorded in split.json (0: val_size)")
    image_size: int = _f(32, "training resolution in pixels (square)")
    mask_kind: str = _f("mixed", "training masks: irregular | box | outpaint | mixed")
    train_pool: int = _f(20_000, "number of distinct synthetic training faces")
    # -- optimisation (AdamW, linear warm-up, cosine decay)
    steps: int = _f(2000, "total optimisation steps")
    batch_size: int = _f(8, "images per step (per process under torchrun)")
    lr: float = _f(5e-4, "peak learning rate")
    beta1: float = _f(0.9, "AdamW beta1")
    beta2: float = _f(0.999, "AdamW beta2")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    warmup_steps: int = _f(100, "linear warm-up steps from 0 to lr")
    ema_decay: float = _f(0.99, "decay of the exponential moving average of the weights")
    lpips_weight: float = _f(10.0, "loss = MSE + lpips_weight * LPIPS (when LPIPS weights exist)")
    grad_clip: float = _f(1.0, "maximal gradient norm (0 = no clipping)")
    # -- bookkeeping
    val_every: int = _f(250, "validate (EMA net, full sampling) every N steps")
    val_size: int = _f(16, "images in the fixed validation split")
    ckpt_every: int = _f(500, "write a checkpoint every N steps (and at the end)")
    seed: int = _f(0, "seeds the initial weights, data order, masks, t and noise")
    precision: str = _f("auto", "auto | fp32 | fp16 | bf16; auto: bf16 on CUDA capability >= 8.0, fp16 "
                        "(with a gradient scaler) below, fp32 on CPU")
    amp: bool = _f(True, "older configs' switch: False forces fp32, True lets precision decide")
    ckpt_minutes: float = _f(0.0, "also write a checkpoint every N minutes of wall time (0: off)")
    sample_every: int = _f(0, "write a grid of validation samples to samples/ every N steps (0: off)")
    compile: bool = _f(False, "torch.compile the net on CUDA")

    def __post_init__(self):
        if isinstance(self.process, (str, dict)):
            object.__setattr__(self, "process", ProcessSpec.from_dict(self.process))
        if isinstance(self.schedule, dict):
            object.__setattr__(self, "schedule", ScheduleSpec.from_dict(self.schedule))
        if not isinstance(self.process, ProcessSpec) or not isinstance(self.schedule, ScheduleSpec):
            raise ValueError("process must be a ProcessSpec (or a process name) and schedule a "
                             "ScheduleSpec")
        for name in ("steps", "batch_size", "image_size", "val_size", "val_every", "ckpt_every",
                     "train_pool"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not (self.lr > 0 and 0 <= self.ema_decay < 1 and self.warmup_steps >= 0):
            raise ValueError("lr must be > 0, ema_decay in [0, 1), warmup_steps >= 0")
        object.__setattr__(self, "fill", check_fill(self.fill))
        if self.latent_mask not in LATENT_MASK_RULES:
            raise ValueError(f"latent_mask must be one of {LATENT_MASK_RULES}, got {self.latent_mask!r}")
        if self.mask_kind not in MASK_KINDS + ("mixed",):
            raise ValueError(f"mask_kind must be one of {MASK_KINDS + ('mixed',)}, got {self.mask_kind!r}")
        self._check_bookkeeping()

    def _check_bookkeeping(self) -> None:
        """Precision, the held-out images, time-based checkpoints and sample grids."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not self.amp and self.precision in ("fp16", "bf16"):
            raise ValueError(f"amp=False (float32) contradicts precision={self.precision!r}: drop amp")
        for name in ("val_holdout", "sample_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        if isinstance(self.ckpt_minutes, bool) or not self.ckpt_minutes >= 0:
            raise ValueError(f"ckpt_minutes must be >= 0, got {self.ckpt_minutes!r}")

    def resumed(self, steps: int | None = None, changes: dict | None = None) -> "TrainConfig":
        """The config a resumed run uses: this one, up to ``steps`` in total, with ``changes`` to
        fields of ``RESUME_CHANGES``; a change to any other field (the data, the net, the
        optimiser ...) raises ``ValueError``."""
        changes = {k: v for k, v in (changes or {}).items() if getattr(self, k, changes) != v}
        if set(changes) - RESUME_CHANGES:
            raise ValueError(f"a resumed run keeps its {sorted(set(changes) - RESUME_CHANGES)}: start a "
                             f"new run to change them (these may change: {sorted(RESUME_CHANGES)})")
        return dataclasses.replace(self, **changes, **({"steps": steps} if steps else {}))

    @property
    def requested_precision(self) -> str:
        """``precision``, or fp32 for an older config saved with ``amp=False``."""
        return self.precision if self.amp else "fp32"

    @classmethod
    def preset(cls, name: str, process=None, **overrides) -> "TrainConfig":
        """A preset (``PRESETS``) with overrides.

        ``process``: a name (the process's default options) or a ``ProcessSpec``. Overrides naming
        a schedule field or a process option are routed into ``schedule`` / ``process``."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        base = dict(PRESETS[name])
        spec = ProcessSpec.from_dict(process) if isinstance(process, (str, dict)) else (
            process or ProcessSpec("emmd_smooth"))
        sched_keys = {f.name for f in dataclasses.fields(ScheduleSpec)}
        sched = {k: overrides.pop(k) for k in list(overrides) if k in sched_keys}
        opts = {k: overrides.pop(k) for k in list(overrides) if k in option_defaults(spec.name)}
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}")
        if opts:
            spec = ProcessSpec(spec.name, {**spec.options, **opts})
        schedule = overrides.pop("schedule", None) or ScheduleSpec()
        if sched:
            schedule = ScheduleSpec(**{**schedule.to_dict(), **sched})
        return cls(**{**base, **overrides, "process": spec, "schedule": schedule})

    def to_dict(self) -> dict:
        """A JSON-ready dict (``from_dict`` inverts it)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["process"], d["schedule"] = self.process.to_dict(), self.schedule.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}")
        return cls(**d)


PRESETS = {
    # the paper's setting: 256-px faces in the 64x64x3 latent space of ResShift's VQ-f4 face
    # autoencoder, the authors' network (ResShift's UNetModelSwin with window 4, conditioned on the
    # 256-px y and mask), the hole filled with -1, and the recipe of the paper's table (AdamW 5e-5,
    # 5000 warm-up steps, then cosine, EMA 0.99, batch 4, 200k steps). The authors' config file
    # differs: EMA 0.999, 400k iterations, cosine down to 2e-5 (this project's cosine ends at 0).
    "paper": dict(arch="resshift_unet", net="paper", autoencoder="resshift_face", fill=-1.0,
                  image_size=256, steps=200_000, batch_size=4, lr=5e-5, warmup_steps=5000,
                  ema_decay=0.99, val_every=5000, ckpt_every=5000, val_size=32),
    # the same recipe in pixel space: 64x64 RGB, this project's paper-size Swin-UNet (118.6M)
    "paper_pixel": dict(net="paper", image_size=64, steps=200_000, batch_size=4, lr=5e-5,
                        warmup_steps=5000, ema_decay=0.99, val_every=5000, ckpt_every=5000, val_size=32),
    # latent mode offline: 64-px synthetic faces -> 16x16x3 latents of the shipped tiny VQ-f4, the
    # hole of y given as the harmonic fill; the recipe of the shipped models (`make checkpoints`)
    "tiny_latent": dict(net="tiny", autoencoder="tiny_vq_f4", latent_scale=1.0, fill="harmonic",
                        image_size=64, steps=7000, batch_size=8, lr=1e-3, warmup_steps=150,
                        ema_decay=0.995, val_every=500, ckpt_every=1000),
    # learns visibly on CPU in minutes (32x32)
    "tiny": dict(net="tiny", image_size=32, steps=2000, batch_size=8, lr=5e-4, warmup_steps=100,
                 ema_decay=0.99, val_every=250, ckpt_every=500),
}


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate for optimisation step ``step`` (0-based): warm-up, then cosine to zero."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / span)))
