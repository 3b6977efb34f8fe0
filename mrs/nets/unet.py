"""The denoising network: a U-Net with Swin transformer layers (ResShift's ``UNetModelSwin``).

The net predicts the clean image from the noisy state and the conditioning,

    x0_pred = SwinUNet(x_t, t, y, M [, rho * eta_t]),

so it is a denoiser for ``mrs.sample``: ``denoiser(x_t, t, y, mask)`` with ``t`` a LongTensor
``[B]`` in 1..T. Images are ``[B, C, H, W]`` in [-1, 1], the mask ``[B, 1, H, W]`` with
**1 = hole, 0 = known**.

Architecture (an independent implementation of ResShift's ``UNetModelSwin``, face config):

* input: ``[x_t / sqrt(kappa^2 eta_t + 1), y, M (, rho eta_t)]`` concatenated along channels,
  padded to a multiple of ``window_size * 2^(levels-1)``, then a 3x3 conv;
* time: sinusoidal embedding of ``t`` -> MLP to ``4 * model_channels``;
* encoder: per level ``num_res_blocks`` residual blocks (GroupNorm, scale-shift conditioning on the
  time embedding), a Swin layer after the first block of each attention level, a stride-2 conv
  between levels; every output is kept as a skip;
* middle: residual block, Swin layer, residual block;
* decoder: per level ``num_res_blocks + 1`` residual blocks on ``[h, skip]``, a Swin layer after
  the first block of each attention level, nearest-neighbour x2 + conv between levels;
* output: GroupNorm -> SiLU -> zero-initialised 3x3 conv to the image channels, cropped back.

The Swin part lives in ``mrs.swin``.

Where it deliberately differs from ResShift's code (notebook 07 lists each): the Swin layer is
added residually (ResShift replaces the features with it), its blocks use LayerNorm (ResShift:
GroupNorm), the output conv is zero-initialised, the shift mask uses -inf (ResShift: -100), the
``paper`` preset uses window 4 (ResShift's face config: 8) and works in pixel space on [x_t, y, M]
(ResShift's face model works in a VQ latent with a conditioning extractor). The parameter count
stays within 0.1 % of the official 118.7M; the remainder is exactly those three differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core import BaseProcess, ScheduleSpec
from ..core.checks import check_image, check_like, check_mask, check_t
from .blocks import Downsample, ResBlock, UNetBlock, Upsample, group_norm, timestep_embedding, zero_init
from .registry import register_net
from .swin import SwinLayer

__all__ = ["SwinUNetConfig", "SwinUNet", "noise_map"]


@dataclass(frozen=True)
class SwinUNetConfig:
    """Hyper-parameters of ``SwinUNet``; the defaults are the ``paper`` preset.

    Build variants with ``SwinUNetConfig.preset(name)`` and ``dataclasses.replace(cfg, ...)``.
    """

    in_channels: int = 3                    # image channels C (x_t, y and the output have C each)
    model_channels: int = 160               # width of the first level; level l has mult[l] times it
    channel_mult: tuple[int, ...] = (1, 2, 2, 4)  # width multiplier per level (resolution halves per level)
    num_res_blocks: int = 2                 # residual blocks per level in the encoder (decoder: +1)
    attention_levels: tuple[int, ...] = (0, 1, 2, 3)  # levels (0 = full resolution) with Swin layers
    swin_depth: int = 2                     # Swin blocks per Swin layer (plain, shifted, plain, ...)
    swin_embed_dim: int = 192               # transformer width E inside each Swin layer
    window_size: int = 4                    # attention window side ws (tokens per window: ws^2)
    mlp_ratio: float = 4.0                  # hidden width of the Swin MLP, in units of E
    num_head_channels: int = 32             # channels per attention head (heads = E / this)
    dropout: float = 0.0                    # dropout in residual blocks and Swin blocks
    use_noise_map: bool = False             # add the per-pixel noise map rho * eta_t as an input channel
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)  # the schedule it denoises (scaling, T)

    def __post_init__(self):
        ints = ("in_channels", "model_channels", "num_res_blocks", "swin_depth", "swin_embed_dim",
                "window_size", "num_head_channels")
        for name in ints:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        # normalise sequences to tuples so that configs stay hashable and comparable
        for name in ("channel_mult", "attention_levels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.channel_mult or any(not isinstance(m, int) or m < 1 for m in self.channel_mult):
            raise ValueError(f"channel_mult must be a non-empty tuple of positive ints, "
                             f"got {self.channel_mult!r}")
        levels = len(self.channel_mult)
        if any(not isinstance(a, int) or not 0 <= a < levels for a in self.attention_levels):
            raise ValueError(f"attention_levels must hold level indices in 0..{levels - 1}, "
                             f"got {self.attention_levels!r}")
        if self.swin_embed_dim % self.num_head_channels:
            raise ValueError(f"swin_embed_dim ({self.swin_embed_dim}) must be a multiple of "
                             f"num_head_channels ({self.num_head_channels})")
        if not self.mlp_ratio > 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"need mlp_ratio > 0 and dropout in [0, 1), got {self.mlp_ratio!r}, "
                             f"{self.dropout!r}")
        if isinstance(self.schedule, dict):
            object.__setattr__(self, "schedule", ScheduleSpec.from_dict(self.schedule))
        if not isinstance(self.schedule, ScheduleSpec):
            raise ValueError(f"schedule must be a ScheduleSpec, got {type(self.schedule).__name__}")

    @classmethod
    def preset(cls, name: str, schedule=None) -> "SwinUNetConfig":
        """A named configuration, on ``schedule`` (a ``Schedule`` or ``ScheduleSpec``) if given.

        * ``paper``: ResShift's face-inpainting net on 64x64x3 inputs (about 118.6M parameters).
        * ``tiny``: a 1-2M-parameter net for CPU experiments on 32x32 or 64x64 faces.
        """
        if name == "paper":
            cfg = cls()
        elif name == "tiny":
            cfg = cls(model_channels=32, channel_mult=(1, 2, 2), num_res_blocks=2,
                      attention_levels=(1, 2), swin_depth=2, swin_embed_dim=64, window_size=4,
                      mlp_ratio=4.0, num_head_channels=32)
        else:
            raise ValueError(f"unknown preset {name!r}; choose 'paper' or 'tiny'")
        return cfg if schedule is None else cfg.with_schedule(schedule)

    def with_schedule(self, schedule) -> "SwinUNetConfig":
        """This config on ``schedule``: a ``ScheduleSpec``, or a ``Schedule`` built from one."""
        return replace(self, schedule=ScheduleSpec.of(schedule))

    def to_dict(self) -> dict:
        """A JSON-ready dict (``from_dict`` inverts it)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["channel_mult"], d["attention_levels"] = list(self.channel_mult), list(self.attention_levels)
        d["schedule"] = self.schedule.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SwinUNetConfig":
        """The config of a checkpoint JSON; a ``ValueError`` names unknown fields."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SwinUNetConfig field(s) {unknown}")
        return cls(**{**d, "schedule": ScheduleSpec.from_dict(d.get("schedule", {}))})

    @property
    def T(self) -> int:
        """The number of diffusion steps T."""
        return self.schedule.T

    @property
    def size_multiple(self) -> int:
        """Inputs are padded to a multiple of this: ``window_size * 2^(levels - 1)``."""
        return self.window_size * 2 ** (len(self.channel_mult) - 1)


@register_net("swin_unet")
class SwinUNet(nn.Module):
    """ResShift's Swin-UNet denoiser: ``forward(x_t, t, y, mask, noise_map=None) -> x0_pred``.

    Input scaling. The forward marginal is ``x_t = x0 + eta_t e0 + kappa sqrt(eta_t) eps``, so
    ``Var[x_t] ~ Var[x0] + kappa^2 eta_t``: with kappa = 2 the input's scale grows from about 1
    at t = 1 to about 2.2 at t = T. As ResShift does, the net sees

        x_t / sqrt(kappa^2 eta_t + 1)

    which keeps the input at roughly unit scale for every t (Var[x0] <= 1 for images in [-1, 1]),
    so the first layers need not adapt their weights to the noise level. Only ``x_t`` is scaled;
    ``y``, the mask and the noise map are noise-free and enter as they are. (For rho < 1 the true
    variance is smaller; the scaling uses the global eta_t, like ResShift.)

    Args (of ``forward``):
        x_t: noisy state ``[B, C, H, W]``.
        t: LongTensor ``[B]`` (or an int) with values in 1..T; or a float tensor ``[B]`` of
            fractional times in [1, T] (the net was trained on the integers only; the RePaint
            baseline ``mrs.repaint.warp_denoiser`` asks it about intermediate noise levels).
        y: degraded image ``[B, C, H, W]``; mask: ``[B, 1, H, W]`` (1 = hole, 0 = known).
        noise_map: ``rho * eta_t`` as ``[B, 1, H, W]``, required iff ``cfg.use_noise_map``.

    Any H, W work: the input is padded (replicate) to a multiple of ``cfg.size_multiple`` and the
    output cropped back.
    """

    conditions_on_image = False  # y and mask come at the resolution of x_t

    def __init__(self, cfg: SwinUNetConfig | None = None):
        super().__init__()
        cfg = SwinUNetConfig() if cfg is None else cfg
        if not isinstance(cfg, SwinUNetConfig):
            raise ValueError(f"cfg must be a SwinUNetConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.schedule = cfg.schedule.build()
        # the compiled network body, set by mrs.nets.fast.prepare_for_inference(net, compile=True)
        self.compiled_body = None
        C, mc = cfg.in_channels, cfg.model_channels
        emb_dim = 4 * mc
        widths = [m * mc for m in cfg.channel_mult]
        last = len(widths) - 1

        # 1 / sqrt(kappa^2 eta_t + 1) for t = 0..T (t = 0 unused), computed in float64
        etas = self.schedule.etas                                   # float64 [T+1]
        kappa = self.schedule.kappa
        self.register_buffer("input_scale", (kappa**2 * etas + 1).rsqrt().float(), persistent=False)

        def swin(channels: int) -> SwinLayer:
            return SwinLayer(channels, cfg.swin_embed_dim, cfg.swin_depth,
                             cfg.swin_embed_dim // cfg.num_head_channels, cfg.window_size,
                             cfg.mlp_ratio, cfg.dropout)

        def res(c_in: int, c_out: int) -> ResBlock:
            return ResBlock(c_in, c_out, emb_dim, cfg.dropout)

        # time embedding
        self.time_mlp = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        # input: x_t, y, mask (and the noise map) as channels
        self.conv_in = nn.Conv2d(2 * C + 1 + int(cfg.use_noise_map), widths[0], 3, padding=1)

        # encoder: every output is a skip for the decoder
        ch, skip_channels = widths[0], [widths[0]]
        self.down = nn.ModuleList()
        for level, width in enumerate(widths):
            for i in range(cfg.num_res_blocks):
                has_swin = level in cfg.attention_levels and i == 0
                self.down.append(UNetBlock(res(ch, width), swin(width) if has_swin else None))
                ch = width
                skip_channels.append(ch)
            if level != last:
                self.down.append(Downsample(ch))
                skip_channels.append(ch)

        # middle
        self.mid = UNetBlock(res(ch, ch), swin(ch))
        self.mid_out = res(ch, ch)

        # decoder: one more block per level than the encoder, each eating one skip
        self.up = nn.ModuleList()
        for level in reversed(range(len(widths))):
            width = widths[level]
            for i in range(cfg.num_res_blocks + 1):
                has_swin = level in cfg.attention_levels and i == 0
                has_up = level != 0 and i == cfg.num_res_blocks
                self.up.append(UNetBlock(res(ch + skip_channels.pop(), width),
                                         swin(width) if has_swin else None,
                                         Upsample(width) if has_up else None))
                ch = width

        # output: x0 prediction, starting at zero
        self.norm_out = group_norm(ch)
        self.conv_out = zero_init(nn.Conv2d(ch, C, 3, padding=1))

    # -- input checks -------------------------------------------------------------------------
    def _check_time(self, t, x_t):
        """``t`` as a LongTensor [B] in 1..T, or a float tensor [B] of fractional times in [1, T]."""
        return check_t(t, self.cfg.T, x_t.shape[0], device=x_t.device, fractional=True)

    def _check(self, x_t, t, y, mask, noise_map):
        cfg = self.cfg
        check_image("x_t", x_t, channels=cfg.in_channels)
        check_like("y", y, x_t, "x_t")
        check_mask("mask", mask, like=x_t)
        t = self._check_time(t, x_t)
        if cfg.use_noise_map and noise_map is None:
            raise ValueError("noise_map (rho * eta_t, [B, 1, H, W]) is required: this net was built "
                             "with use_noise_map=True")
        if not cfg.use_noise_map and noise_map is not None:
            raise ValueError("noise_map was given but this net was built with use_noise_map=False")
        if noise_map is not None:
            check_image("noise_map", noise_map, channels=1)
            if noise_map.shape != mask.shape or noise_map.dtype != x_t.dtype:
                raise ValueError(f"noise_map must be a {x_t.dtype} tensor of shape {tuple(mask.shape)}, "
                                 f"got {noise_map.dtype} {tuple(noise_map.shape)}")
            if float(noise_map.min()) < 0.0 or float(noise_map.max()) > 1.0:
                raise ValueError("noise_map values must lie in [0, 1] (rho * eta_t, not the variance)")
        return t

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x_t: torch.Tensor, t, y: torch.Tensor, mask: torch.Tensor,
                noise_map: torch.Tensor | None = None) -> torch.Tensor:
        t = self._check(x_t, t, y, mask, noise_map)
        return self._run(x_t, t, y, mask, noise_map)

    @property
    def _run(self):
        """``forward_unchecked``, or ``compiled_body`` when one is set."""
        return self.compiled_body or self.forward_unchecked

    def _input_scale(self, t: torch.Tensor) -> torch.Tensor:
        """``1 / sqrt(kappa^2 eta_t + 1)`` per image ``[B]``; for a fractional ``t`` with
        ``sqrt(eta_t)`` interpolated linearly between the integer times (as
        ``mrs.repaint.fractional_times`` maps noise levels to times)."""
        if not t.is_floating_point():
            return self.input_scale[t]
        sqrt_eta = self.schedule.etas.to(self.input_scale).sqrt()  # [T+1]
        lo = t.floor().long().clamp(1, self.cfg.T)
        hi = (lo + 1).clamp(max=self.cfg.T)
        s = torch.lerp(sqrt_eta[lo], sqrt_eta[hi], (t - lo).to(sqrt_eta.dtype))
        return (self.schedule.kappa**2 * s**2 + 1).rsqrt()

    def forward_unchecked(self, x_t, t, y, mask, noise_map=None):
        """``forward`` without the argument checks (``t`` already a tensor [B])."""
        H, W = x_t.shape[2:]
        # 1. conditioning as channels; only x_t is scaled by 1 / sqrt(kappa^2 eta_t + 1)
        scale = self._input_scale(t).to(x_t.dtype).view(-1, 1, 1, 1)
        parts = [x_t * scale, y, mask] + ([noise_map] if noise_map is not None else [])
        h = torch.cat(parts, dim=1)                                 # (B, 2C+1[+1], H, W)
        # 2. pad to a multiple of window_size * 2^(levels-1)
        m = self.cfg.size_multiple
        pad_h, pad_w = -H % m, -W % m
        if pad_h or pad_w:
            h = F.pad(h, (0, pad_w, 0, pad_h), mode="replicate")    # (B, 2C+1[+1], H', W')
        # 3. time embedding
        emb = timestep_embedding(t, self.cfg.model_channels).to(x_t.dtype)  # (B, mc)
        emb = self.time_mlp(emb)                                    # (B, 4 mc)
        # 4. encoder, keeping skips
        h = self.conv_in(h)
        skips = [h]
        for block in self.down:
            h = block(h, emb) if isinstance(block, UNetBlock) else block(h)
            skips.append(h)
        # 5. middle
        h = self.mid_out(self.mid(h, emb), emb)
        # 6. decoder on [h, skip]
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        # 7. output, cropped back to H x W
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out[:, :, :H, :W]

    def denoiser(self, proc: BaseProcess):
        """``denoiser(x_t, t, y, mask)`` for ``mrs.sample``, supplying ``rho * eta_t`` from ``proc``
        when the net uses the noise map. ``proc``'s schedule must be the net's."""
        if not isinstance(proc, BaseProcess):
            raise ValueError(f"proc must be an mrs process, got {type(proc).__name__}")
        if proc.schedule != self.schedule:
            raise ValueError(f"proc's schedule {proc.schedule!r} does not match the net's "
                             f"{self.schedule!r}; use SwinUNetConfig.with_schedule")

        def denoise(x_t, t, y, mask):
            # the sampler has checked y and mask once; per step only the cheap (no host sync)
            # checks of shapes and times run here
            if x_t.shape != y.shape or x_t.dim() != 4 or mask.shape[2:] != y.shape[2:]:
                raise ValueError(f"x_t {tuple(x_t.shape)}, y {tuple(y.shape)} and mask "
                                 f"{tuple(mask.shape)} must be [B, C, H, W] / [B, 1, H, W] alike")
            if not isinstance(t, torch.Tensor) or t.shape != (x_t.shape[0],):
                t = self._check_time(t, x_t)
            nmap = noise_map(proc, mask, t) if self.cfg.use_noise_map else None
            return self._run(x_t, t, y, mask, nmap).to(x_t.dtype)  # autocast: back to the state's dtype

        return denoise


def noise_map(proc: BaseProcess, mask: torch.Tensor, t) -> torch.Tensor:
    """The per-pixel noise map the net may see: ``Var[x_t | x0] / kappa^2`` = ``rho * eta_t``
    (``m^2 eta_t`` for MVD), ``[B, 1, H, W]`` in [0, 1] (the clamp only removes round-off)."""
    return (proc.marginal_var(mask, t) / proc.kappa**2).clamp(0.0, 1.0)


SwinUNet.Config = SwinUNetConfig
