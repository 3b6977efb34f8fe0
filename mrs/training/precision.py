"""Numerical precision of a training step: float32, or autocast to bfloat16 / float16.

Under autocast the convolutions and matrix products of the forward pass run in 16 bits, the
weights, the optimiser and the loss's reduction stay float32. bfloat16 keeps float32's exponent
range, so gradients cannot underflow; float16 has 10 mantissa bits but a smallest normal number
of about 6e-5, so small gradients vanish unless the loss is scaled first: the gradient scaler
multiplies the loss by ``S`` before ``backward``, divides the gradients by ``S`` before the
update, skips a step whose gradients overflowed (and halves ``S``), and doubles ``S`` after a
run of good steps:

    g = (1 / S) * grad(S * L),      S <- S / 2 on inf/nan (step skipped),  S <- 2 S every N good steps.

``resolve_precision("auto", device)``: bfloat16 on a CUDA device of compute capability >= 8.0
(Ampere and later: A100, L4, H100 ...), float16 with the scaler below that (Colab's T4 is 7.5 and
has no bfloat16 convolutions), float32 on the CPU and on any other device.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["PRECISIONS", "resolve_precision", "autocast", "grad_scaler", "DTYPES", "fused_adamw_ok"]

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_precision(requested: str, device) -> str:
    """The precision a run uses on ``device``: ``requested`` itself, or for ``"auto"`` bf16 on
    CUDA with capability >= 8.0, fp16 on older CUDA devices, fp32 elsewhere. Asking for bf16 on a
    CUDA device below 8.0 raises ``ValueError``."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    device = torch.device(device)
    if device.type != "cuda":
        return "fp32" if requested == "auto" else requested
    major, minor = torch.cuda.get_device_capability(device)
    if requested == "auto":
        return "bf16" if (major, minor) >= (8, 0) else "fp16"
    if requested == "bf16" and (major, minor) < (8, 0):
        raise ValueError(f"precision bf16 needs a GPU of compute capability >= 8.0; this one is "
                         f"{major}.{minor}: use fp16 or auto")
    return requested


def autocast(precision: str, device):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {tuple(DTYPES)}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])


def grad_scaler(precision: str, device):
    """A ``torch.amp.GradScaler`` for fp16, None otherwise (bf16 and fp32 need none)."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(torch.device(device).type)


def fused_adamw_ok(device) -> bool:
    """Whether AdamW's fused kernel exists for ``device`` in this torch."""
    try:
        torch.optim.AdamW([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True
