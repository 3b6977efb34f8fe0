"""``ResShiftUNetConfig``: the constructor arguments of ResShift's official ``UNetModelSwin``
(same names, same meaning) plus the two fields every mrs network config has (``use_noise_map``,
``schedule``). The defaults are the official inpainting configs (``inpaint_lama256_face.yaml``;
``inpaint_lama256_imagenet.yaml`` has the same network)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from ...core import ScheduleSpec

__all__ = ["ResShiftUNetConfig", "OFFICIAL_ARGS"]

_POSITIVE = ("image_size", "in_channels", "model_channels", "out_channels", "swin_depth",
             "swin_embed_dim", "window_size", "lq_size")
# the fixed values of official options this implementation does not provide
_FIXED = {"dims": 2, "use_fp16": False, "resblock_updown": False, "cond_lq": True, "cond_mask": True}


def _positive_int(name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")


def _int_tuple(name: str, v) -> tuple:
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise ValueError(f"{name} must be a sequence of positive ints, got {v!r}")
    v = tuple(v)
    for x in v:
        _positive_int(f"each entry of {name}", x)
    return v


@dataclass(frozen=True)
class ResShiftUNetConfig:
    """Hyper-parameters of ``ResShiftUNet``, named as ``UNetModelSwin``'s constructor.

    ``image_size`` is the latent side the net is built for (it fixes where the Swin layers go and
    their windows; other sides that are multiples of ``size_multiple`` run too); ``lq_size`` the
    side of the conditioning image ``y``, ``2^k`` times ``image_size``.
    """

    image_size: int = 64                    # latent side the net is built for
    in_channels: int = 3                    # latent channels of x_t
    model_channels: int = 160               # width of the first level
    out_channels: int = 3                   # predicted channels (x0 in the latent)
    num_res_blocks: tuple = (2, 2, 2, 2)    # residual blocks per level (an int: the same for all)
    attention_resolutions: tuple = (64, 32, 16, 8)  # sides (from image_size down) with Swin layers
    dropout: float = 0.0
    channel_mult: tuple = (1, 2, 2, 4)      # width multiplier per level
    conv_resample: bool = True              # strided conv / conv after nearest x2 (else pooling)
    dims: int = 2                           # only 2 (images)
    use_fp16: bool = False                  # only False: cast the net with .to() instead
    num_heads: int = 1                      # heads when num_head_channels == -1
    num_head_channels: int = 32             # channels per head (-1: use num_heads)
    use_scale_shift_norm: bool = True       # time embedding as scale and shift of the norm
    resblock_updown: bool = False           # only False (strided conv / nearest x2 resampling)
    swin_depth: int = 2                     # Swin blocks per Swin layer
    swin_embed_dim: int = 192               # transformer width inside a Swin layer
    window_size: int = 8                    # attention window side
    mlp_ratio: float = 4.0                  # Swin MLP width in units of swin_embed_dim
    patch_norm: bool = False                # GroupNorm after the Swin layer's in/out projections
    cond_lq: bool = True                    # only True: conditioned on y
    cond_mask: bool = True                  # only True: conditioned on the mask
    lq_size: int = 256                      # side of y and the mask
    use_noise_map: bool = False             # only False (mrs field: the net has no noise-map input)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)  # scaling of x_t, T

    def __post_init__(self):
        for name in _POSITIVE:
            _positive_int(name, getattr(self, name))
        for name, value in _FIXED.items():
            if getattr(self, name) != value:
                raise ValueError(f"{name}={getattr(self, name)!r} is not supported by ResShiftUNet "
                                 f"(only {value!r})")
        if self.use_noise_map:
            raise ValueError("use_noise_map must be False: ResShift's network has no noise-map input")
        mult = _int_tuple("channel_mult", self.channel_mult)
        nrb = self.num_res_blocks
        nrb = (nrb,) * len(mult) if isinstance(nrb, int) and not isinstance(nrb, bool) else nrb
        object.__setattr__(self, "channel_mult", mult)
        object.__setattr__(self, "num_res_blocks", _int_tuple("num_res_blocks", nrb))
        object.__setattr__(self, "attention_resolutions",
                           _int_tuple("attention_resolutions", self.attention_resolutions))
        if isinstance(self.schedule, dict):
            object.__setattr__(self, "schedule", ScheduleSpec.from_dict(self.schedule))
        self._check_shapes()

    def _check_shapes(self):
        if not self.channel_mult or len(self.num_res_blocks) != len(self.channel_mult):
            raise ValueError(f"num_res_blocks {self.num_res_blocks} needs one entry per level of "
                             f"channel_mult {self.channel_mult}")
        if any(self.model_channels * m % 32 for m in self.channel_mult) or self.swin_embed_dim % 32:
            raise ValueError("model_channels * each channel_mult and swin_embed_dim must be multiples "
                             "of 32 (GroupNorm with 32 groups)")
        if self.num_head_channels == -1:
            _positive_int("num_heads", self.num_heads)
        elif isinstance(self.num_head_channels, bool) or not isinstance(self.num_head_channels, int):
            raise ValueError(f"num_head_channels must be an int, got {self.num_head_channels!r}")
        if self.num_head_channels != -1 and (self.num_head_channels < 1
                                             or self.swin_embed_dim % self.num_head_channels):
            raise ValueError(f"num_head_channels must be -1 or divide swin_embed_dim "
                             f"({self.swin_embed_dim}), got {self.num_head_channels}")
        if self.swin_embed_dim % self.heads:
            raise ValueError(f"swin_embed_dim {self.swin_embed_dim} is not divisible by "
                             f"num_heads {self.heads}")
        ratio = self.lq_size / self.image_size
        if ratio < 1 or 2 ** round(math.log2(ratio)) != ratio:
            raise ValueError(f"lq_size ({self.lq_size}) must be image_size ({self.image_size}) "
                             f"times a power of two")
        if self.image_size % 2 ** (len(self.channel_mult) - 1):
            raise ValueError(f"image_size {self.image_size} must be divisible by "
                             f"2^(levels - 1) = {2 ** (len(self.channel_mult) - 1)}")
        if not self.mlp_ratio > 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"need mlp_ratio > 0 and dropout in [0, 1), got {self.mlp_ratio!r}, "
                             f"{self.dropout!r}")
        if not isinstance(self.schedule, ScheduleSpec):
            raise ValueError(f"schedule must be a ScheduleSpec, got {type(self.schedule).__name__}")

    # -- derived --------------------------------------------------------------------------------
    @property
    def heads(self) -> int:
        """Attention heads of every Swin layer."""
        return self.num_heads if self.num_head_channels == -1 else (
            self.swin_embed_dim // self.num_head_channels)

    @property
    def factor(self) -> int:
        """``lq_size / image_size``: how many times larger ``y`` and the mask are than ``x_t``."""
        return self.lq_size // self.image_size

    @property
    def T(self) -> int:
        """The number of diffusion steps T."""
        return self.schedule.T

    def level_windows(self) -> list:
        """Per level: the window side of its Swin layers (None without one; the deepest level
        always has the middle block's)."""
        last = len(self.channel_mult) - 1
        out = []
        for level in range(last + 1):
            ds = self.image_size // 2 ** level
            has = ds in self.attention_resolutions or level == last
            out.append(min(ds, self.window_size) if has else None)
        return out

    @property
    def size_multiple(self) -> int:
        """Latent sides must be multiples of this (every Swin layer's map a multiple of its
        window, every down-sampling exact)."""
        m = 2 ** (len(self.channel_mult) - 1)
        for level, ws in enumerate(self.level_windows()):
            if ws is not None:
                m = math.lcm(m, ws * 2 ** level)
        return m

    def official_kwargs(self) -> dict:
        """The keyword arguments of ``UNetModelSwin(**kwargs)`` for this network."""
        d = {k: getattr(self, k) for k in OFFICIAL_ARGS}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    # -- the registry's protocol -----------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, schedule=None) -> "ResShiftUNetConfig":
        """A named configuration, on ``schedule`` (a ``Schedule`` or ``ScheduleSpec``) if given.

        * ``official``: the released inpainting weights' network (face and ImageNet; window 8).
        * ``paper``: the same with window 4 (the paper's authors' configuration).
        * ``tiny``: a few hundred thousand parameters for tests: 16x16 latents, 64x64 images.
        """
        if name == "official":
            cfg = cls()
        elif name == "paper":
            cfg = cls(window_size=4)
        elif name == "tiny":
            cfg = cls(image_size=16, model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 2),
                      attention_resolutions=(16, 8), swin_embed_dim=32, num_head_channels=16,
                      window_size=4, mlp_ratio=2.0, lq_size=64)
        else:
            raise ValueError(f"unknown preset {name!r}; choose 'official', 'paper' or 'tiny'")
        return cfg if schedule is None else cfg.with_schedule(schedule)

    def with_schedule(self, schedule) -> "ResShiftUNetConfig":
        """This config on ``schedule``: a ``ScheduleSpec``, or a ``Schedule`` built from one."""
        return replace(self, schedule=ScheduleSpec.of(schedule))

    def to_dict(self) -> dict:
        """A JSON-ready dict (``from_dict`` inverts it)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
        d["schedule"] = self.schedule.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ResShiftUNetConfig":
        """The config of a checkpoint JSON; a ``ValueError`` names unknown fields."""
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown ResShiftUNetConfig field(s) {unknown}")
        return cls(**{**d, "schedule": ScheduleSpec.from_dict(d.get("schedule", {}))})


OFFICIAL_ARGS = tuple(f.name for f in fields(ResShiftUNetConfig)
                      if f.name not in ("use_noise_map", "schedule"))
