"""Fast inference: a net prepared for sampling, and region-adaptive denoising.

Region-adaptive inference computes the network only where the hole can change the result. The
known pixels of ``x0`` are known exactly (``y = x0`` there), so a denoiser only has to *predict*
the hole; the known region around it is context. ``region_denoiser`` therefore runs the wrapped
denoiser on the crop

    box = bounding box of {M > 0}, dilated by ``margin`` pixels, grown to a multiple of ``multiple``

and returns ``x0_pred = y`` outside the box (exact: every pixel there is known). A network's output
inside the box then differs from the full-image output only through the context it no longer sees
beyond ``margin`` pixels from the hole: how much that costs is measured in
``benchmarks/bench_region.py`` and notebook 12, not assumed. The cost of a forward pass grows with
the number of pixels, so a hole that covers a fraction ``f`` of a large image costs about
``(sqrt(f) + 2 margin / size)^2`` of the full pass.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import torch

from ..core.checks import check_mask
from ..sampling import Denoiser

__all__ = ["prepare_for_inference", "region_box", "region_denoiser", "keep_freed_memory",
           "receptive_field", "forward_flops"]


def keep_freed_memory(max_bytes: int = 32 << 20) -> bool:
    """Ask glibc to keep freed blocks of up to ``max_bytes`` for reuse instead of returning them to
    the system. PyTorch on CPU frees and re-allocates the same large activations at every forward
    pass; by default glibc serves blocks above 128 KiB with fresh ``mmap``s, and every page of
    those is zero-filled again on first touch. Returns False (and changes nothing) where glibc's
    ``mallopt`` is not available. Measured in ``benchmarks/bench_sampling.py``.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, int(max_bytes)) == 1
    return ok and mallopt(m_trim_threshold, 8 * int(max_bytes)) == 1


def prepare_for_inference(net: torch.nn.Module, channels_last: bool = True,
                          compile: bool = False) -> torch.nn.Module:
    """``net`` in eval mode, without gradients, optionally channels-last and compiled.

    The net is changed **in place** (and returned); ``copy.deepcopy`` it first to keep the
    original. Each option was measured (``benchmarks/bench_sampling.py`` prints the
    before/after): channels-last lets the Swin layers' ``[B, C, H, W] -> [B, H, W, C]`` permutes
    become free views. ``compile=True`` compiles the network body with ``torch.compile`` (the
    argument checks stay outside it, so they cause no graph breaks); ``net(...)`` and
    ``net.denoiser(proc)`` both use it. Compiling takes about a minute on CPU before the first
    sample: worth it for long jobs, not for a few images.
    """
    if not isinstance(net, torch.nn.Module):
        raise ValueError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    net = net.eval().requires_grad_(False)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if compile:
        if not hasattr(net, "forward_unchecked"):
            raise ValueError("compile=True needs a registered mrs network (mrs.nets.register_net)")
        net.compiled_body = torch.compile(net.forward_unchecked)
    return net


def _int(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    return value


def _grow(lo: int, hi: int, size: int, multiple: int) -> tuple[int, int]:
    """``[lo, hi)`` grown (about its centre) to a multiple of ``multiple``, kept inside
    ``[0, size)``; the whole axis when that is not possible."""
    length = -(-(hi - lo) // multiple) * multiple
    if length >= size:
        return 0, size
    lo = max(0, min(lo - (length - (hi - lo)) // 2, size - length))
    return lo, lo + length


def region_box(mask: torch.Tensor, margin: int = 16, multiple: int = 1):
    """The crop that region-adaptive inference computes: ``(top, bottom, left, right)``.

    The bounding box of every pixel with ``M > 0`` in any image of the batch, dilated by
    ``margin`` pixels on each side, grown about its centre to a multiple of ``multiple`` (a
    network's ``size_multiple``, so that it needs no padding) and clipped to the image. ``None``
    when the mask has no hole.
    """
    check_mask("mask", mask)
    margin, multiple = _int("margin", margin, 0), _int("multiple", multiple, 1)
    H, W = mask.shape[2:]
    hole = (mask > 0).any(dim=0)[0]                       # (H, W)
    rows = torch.nonzero(hole.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(hole.any(dim=0)).flatten()
    top, bottom = _grow(max(0, int(rows[0]) - margin), min(H, int(rows[-1]) + 1 + margin), H,
                        multiple)
    left, right = _grow(max(0, int(cols[0]) - margin), min(W, int(cols[-1]) + 1 + margin), W,
                        multiple)
    return top, bottom, left, right


def region_denoiser(denoiser: Denoiser, margin: int = 16, multiple: int = 1) -> Denoiser:
    """A denoiser that runs ``denoiser`` only on ``region_box(mask, margin, multiple)``:

        x0_pred = denoiser(x_t[box], t, y[box], M[box])   inside the box,
        x0_pred = y                                       outside it (all known pixels).

    ``y`` must hold the true known pixels (``y = (1 - M) x0``, as ``mrs.masks.degrade`` makes it).
    For a batch the box is the union of the images' boxes: batch images with similar holes (or
    call per image). The box is computed once per mask (it is cached while the same mask tensor
    is passed, as ``mrs.sample`` does at every step).
    """
    if not callable(denoiser):
        raise ValueError("denoiser must be callable as denoiser(x_t, t, y, mask) -> x0_pred")
    margin, multiple = _int("margin", margin, 0), _int("multiple", multiple, 1)
    cache: dict = {}

    def denoise(x_t, t, y, mask):
        key = (id(mask), mask._version, tuple(mask.shape))
        if cache.get("key") != key:
            cache.update(key=key, box=region_box(mask, margin, multiple))
        box = cache["box"]
        if box is None:                                    # no hole: x0 = y exactly
            return y.clone()
        top, bottom, left, right = box
        if (top, bottom, left, right) == (0, y.shape[2], 0, y.shape[3]):
            return denoiser(x_t, t, y, mask)

        def crop(z):
            return z[:, :, top:bottom, left:right]

        pred = denoiser(crop(x_t), t, crop(y), crop(mask))
        out = y.clone()
        out[:, :, top:bottom, left:right] = pred
        return out

    denoise.margin, denoise.multiple = margin, multiple
    return denoise


def receptive_field(net: torch.nn.Module, size: int = 32, t: int | None = None, batch: int = 4,
                    mass: float = 0.95, seed: int = 0) -> dict:
    """How far the net looks: the input gradient of its centre output pixel, by distance.

        g(p) = E | d f(x_t, t, y, M)[c] / d (x_t, y)(p) |      summed over channels,

    with ``c`` the centre pixel, averaged over ``batch`` random inputs (faces, a centred hole of
    a quarter of the image, x_t drawn from the forward marginal). ``profile[r]`` is the share of
    the total gradient at Chebyshev distance ``r`` from ``c`` (so a square crop of half-width
    ``r`` around a pixel holds ``cumulative[r]`` of it), and ``radius`` the smallest ``r`` with
    ``cumulative[r] >= mass``: the margin beyond which the rest of the image moves the output
    by little. ``per_pixel[r]`` is the mean share of one pixel at distance ``r``: a floor that
    does not decay with ``r`` is a global dependence (GroupNorm's per-image statistics carry part of it;
    notebook 12 detaches them and measures how much).
    A theoretical receptive field only bounds this; the measured one is what matters for
    ``region_denoiser``'s ``margin``.

    Returns ``dict(profile=[...], per_pixel=[...], cumulative=[...], radius=int)``.
    """
    from ..core import make_process
    from ..core.masks import box_mask, degrade
    from ..data import synthetic_faces
    from .unet import noise_map

    if not isinstance(net, torch.nn.Module) or not hasattr(net, "schedule"):
        raise ValueError("net must be a registered mrs network")
    size, batch = _int("size", size, 8), _int("batch", batch, 1)
    if not 0.0 < mass <= 1.0:
        raise ValueError(f"mass must lie in (0, 1], got {mass!r}")
    cfg = net.cfg
    t = cfg.T if t is None else t
    proc = make_process("emmd", net.schedule)
    x0 = synthetic_faces(batch, size, seed=seed)
    q = size // 4
    mask = box_mask(size, q, q, 2 * q, 2 * q, n=batch)
    y = degrade(x0, mask)
    g = torch.Generator().manual_seed(seed)
    x_t = proc.q_sample(x0, y, mask, t, generator=g).requires_grad_(True)
    y = y.clone().requires_grad_(True)
    was_training = net.training
    net.eval()
    nmap = None
    if cfg.use_noise_map:
        nmap = noise_map(proc, mask, t)
    with torch.enable_grad():
        out = net(x_t, t, y, mask, noise_map=nmap)
        out[:, :, size // 2, size // 2].sum().backward()
    net.train(was_training)
    grad = (x_t.grad.abs() + y.grad.abs()).sum(dim=(0, 1))          # (H, W)
    rows = torch.arange(size).view(-1, 1) - size // 2
    cols = torch.arange(size).view(1, -1) - size // 2
    cheb = torch.maximum(rows.abs(), cols.abs())                      # (H, W)
    total = float(grad.sum())
    rings = range(int(cheb.max()) + 1)
    profile = [float(grad[cheb == r].sum()) / total for r in rings]
    per_pixel = [float(grad[cheb == r].mean()) / total for r in rings]
    cumulative, acc = [], 0.0
    for share in profile:
        acc += share
        cumulative.append(acc)
    radius = next(r for r, c in enumerate(cumulative) if c >= mass - 1e-12)
    return dict(profile=profile, per_pixel=per_pixel, cumulative=cumulative, radius=radius)


def forward_flops(net: torch.nn.Module, batch: int, size: int) -> dict:
    """Floating-point operations of one forward pass at ``batch x C x size x size``, by kind.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add is 2 FLOPs):
    ``{"convolution": ..., "linear": ..., "attention": ..., "total": ...}``. Element-wise work
    (norms, activations) is not counted; it costs time but few FLOPs.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if not hasattr(net, "cfg"):
        raise ValueError("net must be a registered mrs network")
    batch, size = _int("batch", batch, 1), _int("size", size, 1)
    param = next(net.parameters())
    x = torch.zeros(batch, net.cfg.in_channels, size, size).to(param)
    # a net conditioned on the image sees y and the mask at the image's resolution
    side = size * net.cfg.factor if getattr(net, "conditions_on_image", False) else size
    y = torch.zeros(batch, 3 if side != size else net.cfg.in_channels, side, side).to(param)
    mask = torch.zeros(batch, 1, side, side).to(param)
    extra = {"noise_map": torch.zeros(batch, 1, size, size).to(param)} if net.cfg.use_noise_map else {}
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x, torch.ones(batch, dtype=torch.long, device=param.device), y, mask, **extra)
    kinds = {"convolution": 0, "linear": 0, "attention": 0}
    for op, n in counter.get_flop_counts()["Global"].items():
        name = str(op)
        key = ("convolution" if "convolution" in name else
               "linear" if any(k in name for k in ("addmm", ".mm")) else "attention")
        kinds[key] += int(n)
    kinds["total"] = sum(kinds.values())
    return kinds
