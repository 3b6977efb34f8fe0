"""``ResShiftUNet``: ResShift's official ``UNetModelSwin`` in mrs's conventions (arch
``"resshift_unet"``). The module tree and parameter names are the official ones (``time_embed``,
``feature_extractor``, ``input_blocks``, ``middle_block``, ``output_blocks``, ``out``)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ...core import BaseProcess
from ...core.checks import check_image, check_mask, check_t
from ..blocks import timestep_embedding
from ..registry import register_net
from .config import ResShiftUNetConfig
from .layers import Downsample, EmbSequential, ResBlock, Upsample, feature_extractor
from .swin import BasicLayer

__all__ = ["ResShiftUNet"]


@register_net("resshift_unet")
class ResShiftUNet(nn.Module):
    """ResShift's official Swin-UNet (``UNetModelSwin``) as an mrs denoiser:

        x0_pred = net(x_t, t, y, mask)
                = UNetModelSwin(x_t / sqrt(kappa^2 eta_t + 1), t - 1, lq=y, mask=2 mask - 1)

    * ``x_t``: the state ``[B, in_channels, h, w]`` (a VQ latent for the official weights), scaled
      by ``1 / sqrt(kappa^2 eta_t + 1)`` inside the net (ResShift's ``normalize_input`` for
      latents);
    * ``t``: LongTensor ``[B]`` (or an int) in 1..T, this project's convention (the official
      net counts from 0); a float tensor of fractional times in [1, T] works too (``sqrt(eta)``
      interpolated linearly, as ``SwinUNet`` does for RePaint);
    * ``y``: the degraded **image** ``[B, 3, f h, f w]`` (the hole filled with -1, as ResShift's
      data has it), ``f = lq_size / image_size``; ``mask``: ``[B, 1, f h, f w]``, 1 = hole, 0 =
      known (the official net takes ``2 mask - 1``, in {-1, 1}).

    ``[y, 2 mask - 1]`` goes through ``feature_extractor`` (``log2 f`` stages of conv -> SiLU ->
    stride-2 conv; 4 -> 64 channels for f = 4) and is concatenated with the scaled ``x_t``; then
    the U-Net: per level residual blocks with scale-shift time conditioning, a Swin layer
    (``swin.BasicLayer``, replacing the features) after the first block of each level whose side
    is in ``attention_resolutions``, stride-2 convs between levels; a middle block (residual,
    Swin, residual); the mirrored decoder on ``[h, skip]``; GroupNorm -> SiLU -> conv out.
    Latent sides must be multiples of ``cfg.size_multiple`` (64 for the official config; there is
    no padding, as in the official net).
    """

    # the denoiser is conditioned on the image-resolution y and mask: denoiser(proc, y_image, mask_image)
    conditions_on_image = True

    def __init__(self, cfg: ResShiftUNetConfig | None = None):
        super().__init__()
        cfg = ResShiftUNetConfig() if cfg is None else cfg
        if not isinstance(cfg, ResShiftUNetConfig):
            raise ValueError(f"cfg must be a ResShiftUNetConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.schedule = cfg.schedule.build()
        self.compiled_body = None  # set by mrs.nets.fast.prepare_for_inference(compile=True)
        # sqrt(kappa^2 eta_t + 1) for t = 0..T, computed in float64 as ResShift does
        std = (self.schedule.kappa ** 2 * self.schedule.etas + 1).sqrt()
        self.register_buffer("input_std", std.float(), persistent=False)
        mc, emb = cfg.model_channels, 4 * cfg.model_channels
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))
        stages = round(math.log2(cfg.factor))
        self.feature_extractor, cond_ch = feature_extractor(4, stages)
        ch = cfg.channel_mult[0] * mc
        self.input_blocks = nn.ModuleList(
            [EmbSequential(nn.Conv2d(cfg.in_channels + cond_ch, ch, 3, padding=1))])
        skips, ch, ds = self._build_encoder(ch)
        self.middle_block = EmbSequential(self._res(ch, ch), self._swin(ch, ds), self._res(ch, ch))
        ch = self._build_decoder(skips, ch, ds)
        self.out = nn.Sequential(nn.GroupNorm(32, ch), nn.SiLU(),
                                 nn.Conv2d(ch, cfg.out_channels, 3, padding=1))

    # -- construction ---------------------------------------------------------------------------
    def _res(self, c_in: int, c_out: int) -> ResBlock:
        cfg = self.cfg
        return ResBlock(c_in, 4 * cfg.model_channels, cfg.dropout, c_out, cfg.use_scale_shift_norm)

    def _swin(self, ch: int, ds: int) -> BasicLayer:
        cfg = self.cfg
        return BasicLayer(ch, cfg.swin_embed_dim, cfg.heads, cfg.window_size, cfg.swin_depth, ds,
                          cfg.mlp_ratio, cfg.dropout, cfg.patch_norm)

    def _build_encoder(self, ch: int):
        cfg = self.cfg
        skips, ds, last = [ch], cfg.image_size, len(cfg.channel_mult) - 1
        for level, mult in enumerate(cfg.channel_mult):
            width = mult * cfg.model_channels
            for i in range(cfg.num_res_blocks[level]):
                layers = [self._res(ch, width)]
                if ds in cfg.attention_resolutions and i == 0:
                    layers.append(self._swin(width, ds))
                self.input_blocks.append(EmbSequential(*layers))
                ch = width
                skips.append(ch)
            if level != last:
                self.input_blocks.append(EmbSequential(Downsample(ch, cfg.conv_resample)))
                skips.append(ch)
                ds //= 2
        return skips, ch, ds

    def _build_decoder(self, skips: list, ch: int, ds: int) -> int:
        cfg = self.cfg
        self.output_blocks = nn.ModuleList()
        for level in reversed(range(len(cfg.channel_mult))):
            width = cfg.channel_mult[level] * cfg.model_channels
            for i in range(cfg.num_res_blocks[level] + 1):
                layers = [self._res(ch + skips.pop(), width)]
                ch = width
                if ds in cfg.attention_resolutions and i == 0:
                    layers.append(self._swin(ch, ds))
                if level and i == cfg.num_res_blocks[level]:
                    layers.append(Upsample(ch, cfg.conv_resample))
                    ds *= 2
                self.output_blocks.append(EmbSequential(*layers))
        return ch

    # -- input checks ---------------------------------------------------------------------------
    def _check_time(self, t, x_t):
        return check_t(t, self.cfg.T, x_t.shape[0], device=x_t.device, fractional=True)

    def _check_sizes(self, x_t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> None:
        """Shapes only (no host sync): y and mask ``f`` times x_t's side, the side a multiple of
        ``size_multiple``."""
        cfg, (B, _, h, w) = self.cfg, x_t.shape
        f, m = cfg.factor, cfg.size_multiple
        if y.dim() != 4 or tuple(y.shape) != (B, 3, f * h, f * w):
            raise ValueError(f"y must be the image [B, 3, {f} h, {f} w] = [{B}, 3, {f * h}, {f * w}] "
                             f"for x_t {tuple(x_t.shape)}, got {tuple(y.shape)}")
        if mask.dim() != 4 or tuple(mask.shape) != (B, 1, f * h, f * w):
            raise ValueError(f"mask must be [{B}, 1, {f * h}, {f * w}] (image resolution), got "
                             f"{tuple(mask.shape)}")
        if h % m or w % m:
            raise ValueError(f"x_t's side must be a multiple of {m} (the windows of every Swin layer "
                             f"at every level), got {h}x{w}")

    def _check(self, x_t, t, y, mask):
        check_image("x_t", x_t, channels=self.cfg.in_channels)
        check_image("y", y)
        check_image("mask", mask, finite=False)
        self._check_sizes(x_t, y, mask)
        check_mask("mask", mask, like=y)
        if y.dtype != x_t.dtype or y.device != x_t.device:
            raise ValueError(f"y ({y.dtype}, {y.device}) must match x_t ({x_t.dtype}, {x_t.device})")
        return self._check_time(t, x_t)

    # -- forward --------------------------------------------------------------------------------
    def forward(self, x_t: torch.Tensor, t, y: torch.Tensor, mask: torch.Tensor,
                noise_map: torch.Tensor | None = None) -> torch.Tensor:
        if noise_map is not None:
            raise ValueError("noise_map was given but ResShiftUNet has no noise-map input")
        t = self._check(x_t, t, y, mask)
        return self._run(x_t, t, y, mask)

    @property
    def _run(self):
        """``forward_unchecked``, or ``compiled_body`` when one is set."""
        return self.compiled_body or self.forward_unchecked

    def _input_std(self, t: torch.Tensor) -> torch.Tensor:
        """``sqrt(kappa^2 eta_t + 1)`` per image ``[B]``; for fractional ``t`` with ``sqrt(eta)``
        interpolated linearly between the integer times."""
        if not t.is_floating_point():
            return self.input_std[t]
        sqrt_eta = self.schedule.etas.to(self.input_std).sqrt()
        lo = t.floor().long().clamp(1, self.cfg.T)
        hi = (lo + 1).clamp(max=self.cfg.T)
        s = torch.lerp(sqrt_eta[lo], sqrt_eta[hi], (t - lo).to(sqrt_eta.dtype))
        return (self.schedule.kappa ** 2 * s ** 2 + 1).sqrt()

    def forward_unchecked(self, x_t, t, y, mask, noise_map=None):
        """``forward`` without the argument checks (``t`` already a tensor ``[B]``)."""
        std = self._input_std(t).to(x_t.dtype).view(-1, 1, 1, 1)
        cond = self.feature_extractor(torch.cat([y, 2 * mask - 1], dim=1))
        h = torch.cat([x_t / std, cond], dim=1)
        emb = timestep_embedding(t - 1, self.cfg.model_channels).to(x_t.dtype)
        emb = self.time_embed(emb)
        skips = []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h)

    # -- sampling -------------------------------------------------------------------------------
    def denoiser(self, proc: BaseProcess, y_image: torch.Tensor | None = None,
                 mask_image: torch.Tensor | None = None):
        """``denoiser(x_t, t, y, mask)`` for ``mrs.sample`` on latents, conditioned on the images.

        The process (and so the sampler) runs on latents: it hands the denoiser the latent state,
        the latent ``y`` and the latent mask. This net is conditioned on the image-resolution
        ``y_image`` ``[B, 3, f h, f w]`` (hole filled with -1) and ``mask_image``
        ``[B, 1, f h, f w]`` (1 = hole) instead, so they are bound here, once per sampling run;
        the latent ``y`` and mask the sampler passes are used only by the process::

            den = net.denoiser(proc, y_image, mask_image)
            z0 = mrs.sample(proc, den, z_y, mask_latent, generator=g)

        ``proc``'s schedule must be the net's.
        """
        if not isinstance(proc, BaseProcess):
            raise ValueError(f"proc must be an mrs process, got {type(proc).__name__}")
        if proc.schedule != self.schedule:
            raise ValueError(f"proc's schedule {proc.schedule!r} does not match the net's "
                             f"{self.schedule!r}; use ResShiftUNetConfig.with_schedule")
        if y_image is None or mask_image is None:
            raise ValueError("ResShiftUNet is conditioned on the image-resolution y and mask: "
                             "use net.denoiser(proc, y_image, mask_image)")
        check_image("y_image", y_image, channels=3)
        check_mask("mask_image", mask_image, like=y_image)

        def denoise(x_t, t, y, mask):
            if x_t.dim() != 4 or x_t.shape[0] != y_image.shape[0]:
                raise ValueError(f"x_t {tuple(x_t.shape)} must be a batch of "
                                 f"{y_image.shape[0]} latents")
            self._check_sizes(x_t, y_image, mask_image)
            if not isinstance(t, torch.Tensor) or t.shape != (x_t.shape[0],):
                t = self._check_time(t, x_t)
            out = self._run(x_t, t, y_image.to(x_t.dtype), mask_image.to(x_t.dtype))
            return out.to(x_t.dtype)  # under autocast the net may return bf16

        return denoise


ResShiftUNet.Config = ResShiftUNetConfig
