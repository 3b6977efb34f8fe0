"""Input validation shared by every public function.

Every check raises ``ValueError`` naming the argument and what was expected, so that a wrong
shape, a mask outside [0, 1] or a NaN never turns into a silent broadcast or a NaN image.
"""

from __future__ import annotations

import torch

__all__ = ["check_image", "check_mask", "is_binary", "check_like", "check_t", "check_noise", "draw_noise"]


def check_image(name: str, x, *, channels: int | None = None, finite: bool = True) -> torch.Tensor:
    """An image batch: a floating tensor ``[B, C, H, W]`` with finite values (``finite=False``
    checks only the metadata: no host sync on an accelerator)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [B, C, H, W], got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape [B, C, H, W], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor, got dtype {x.dtype}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got shape {tuple(x.shape)}")
    if finite and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return x


def check_mask(name: str, mask, like: torch.Tensor | None = None, values: bool = True) -> torch.Tensor:
    """A mask ``[B, 1, H, W]`` with values in [0, 1] (1 = hole); batch and size match ``like``.
    ``values=False`` checks only the metadata (no host sync on an accelerator)."""
    check_image(name, mask, channels=1, finite=values)
    if values:
        lo, hi = float(mask.min()), float(mask.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{name} values must lie in [0, 1] (1 = hole, 0 = known), got range [{lo:g}, {hi:g}]"
            )
    if like is not None:
        if mask.shape[0] != like.shape[0] or mask.shape[2:] != like.shape[2:]:
            raise ValueError(
                f"{name} must have shape [{like.shape[0]}, 1, {like.shape[2]}, {like.shape[3]}] "
                f"to match the images, got {tuple(mask.shape)}"
            )
        if mask.dtype != like.dtype:
            raise ValueError(f"{name} dtype {mask.dtype} does not match the images' {like.dtype}")
        if mask.device != like.device:
            raise ValueError(f"{name} is on {mask.device} but the images are on {like.device}")
    return mask


def is_binary(mask: torch.Tensor) -> bool:
    """Whether every value of ``mask`` is 0 or 1 (no fractional value in between; the range is
    ``check_mask``'s business)."""
    return not bool(((mask > 0) & (mask < 1)).any())


def check_like(name: str, x, ref: torch.Tensor, ref_name: str, finite: bool = True) -> torch.Tensor:
    """An image batch with exactly the shape, dtype and device of ``ref``."""
    check_image(name, x, finite=finite)
    if x.shape != ref.shape:
        raise ValueError(
            f"{name} must have the shape of {ref_name} {tuple(ref.shape)}, got {tuple(x.shape)}"
        )
    if x.dtype != ref.dtype:
        raise ValueError(f"{name} dtype {x.dtype} does not match {ref_name} dtype {ref.dtype}")
    if x.device != ref.device:
        raise ValueError(f"{name} is on {x.device} but {ref_name} is on {ref.device}")
    return x


def check_t(t, T: int, batch: int, device=None, values: bool = True,
            fractional: bool = False) -> torch.Tensor:
    """Diffusion times: an int or an integer tensor ``[B]`` with values in 1..T.

    Returns a LongTensor ``[B]`` on ``device``. With ``fractional=True`` a floating tensor of
    times in [1, T] is accepted too and returned as float32. ``values=False`` skips the range
    check (no host sync on an accelerator).
    """
    if isinstance(t, bool):
        raise ValueError(f"t must be an int or a LongTensor [B] with values in 1..{T}")
    if isinstance(t, int):
        t = torch.full((batch,), t, dtype=torch.long, device=device)
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"t must be an int or a LongTensor [B], got {type(t).__name__}")
    floating = t.is_floating_point()
    if (floating and not fractional) or t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"t must hold integers (a LongTensor), got dtype {t.dtype}")
    if t.dim() == 0:
        t = t.expand(batch)
    if t.dim() != 1 or t.shape[0] != batch:
        raise ValueError(f"t must have shape [{batch}] (one time per image), got {tuple(t.shape)}")
    if floating:
        if values and (not bool(torch.isfinite(t).all()) or float(t.min()) < 1.0
                       or float(t.max()) > T):
            raise ValueError(f"fractional times t must lie in [1, {T}], got "
                             f"{float(t.min()):g}..{float(t.max()):g}")
        return t.to(device=device, dtype=torch.float32)
    if values and (int(t.min()) < 1 or int(t.max()) > T):
        raise ValueError(
            f"t must lie in 1..{T} (t = 0 is the clean image), got values "
            f"{int(t.min())}..{int(t.max())}"
        )
    return t.to(device=device, dtype=torch.long)


def check_noise(noise, like: torch.Tensor) -> torch.Tensor:
    """Injected standard-normal noise with the shape, dtype and device of ``like``."""
    return check_like("noise", noise, like, "the image")


def draw_noise(like: torch.Tensor, noise=None, generator: torch.Generator | None = None):
    """``noise`` checked, or a fresh standard-normal draw from ``generator``.

    Draws happen on the generator's device and are then moved, so a CPU generator gives the same
    numbers whatever device the images live on.
    """
    if noise is not None:
        return check_noise(noise, like)
    gen_device = generator.device if generator is not None else like.device
    eps = torch.randn(like.shape, generator=generator, device=gen_device, dtype=like.dtype)
    return eps.to(like.device)
