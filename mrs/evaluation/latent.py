"""Measurements of latent mode (notebook 13): how the encoder lets the hole leak into the known
latents, and how fractional the latent mask is.

In latent mode the known latents the sampler keeps are those of ``z_y = E(y)``, the encoding of
the degraded image (hole filled with ``fill``), while training puts ``z0 = E(x0)`` there. A
convolutional encoder with normalisation layers and self-attention lets the filled hole change
every latent, most of all the ones next to it: ``encoder_leak`` measures ``|z_y - z0|`` by latent
distance to the hole. ``latent_mask_stats`` counts what ``mrs.masks.to_latent`` makes of a mask.
"""

from __future__ import annotations

import torch

from ..core.checks import check_image, check_mask
from ..core.masks import degrade, to_latent
from ..core.metrics import signed_edge_distance

__all__ = ["encoder_leak", "latent_mask_stats"]


@torch.no_grad()
def encoder_leak(autoencoder, x0: torch.Tensor, mask: torch.Tensor, fill: float = 0.0,
                 distances=(1, 2, 3, 4)) -> dict:
    """Mean ``|E(y) - E(x0)|`` over the known latents at each latent distance from the hole.

        leak(d) = mean over latents l with dist(l, hole) = d, channels c of |z_y[c, l] - z0[c, l]|

    with ``y = degrade(x0, mask, fill)``, hole latents by the binary rule ``to_latent(mask, f,
    "max")`` (so no known latent contains a hole pixel) and ``dist`` the chamfer distance in latents
    (``signed_edge_distance``, rounded). Also returns ``"far"`` (every known latent beyond the
    largest distance), ``"scale"`` (the mean ``|z0|`` over the known latents, for comparison) and
    ``"count"`` (latents per distance). ``nan`` where no latent lies at a distance."""
    check_image("x0", x0)
    check_mask("mask", mask, like=x0)
    ds = list(distances)
    if not ds or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in ds):
        raise ValueError(f"distances must be ints >= 1, got {distances!r}")
    z0 = autoencoder.encode(x0).float()
    zy = autoencoder.encode(degrade(x0, mask, fill)).float()
    hole = to_latent(mask, autoencoder.factor, "max")
    dist = signed_edge_distance(hole, reach=float(max(ds) + 2)).round()
    diff = (zy - z0).abs().mean(1, keepdim=True)
    out, count = {}, {}
    for d in ds:
        sel = dist == d
        count[d] = int(sel.sum())
        out[d] = float(diff[sel].mean()) if count[d] else float("nan")
    far = dist > max(ds)
    out["far"] = float(diff[far].mean()) if bool(far.any()) else float("nan")
    out["scale"] = float(z0.abs().mean(1, keepdim=True)[dist > 0].mean())
    out["count"] = count
    return out


def latent_mask_stats(mask: torch.Tensor, factor: int = 4, how: str = "authors") -> dict:
    """What ``to_latent(mask, factor, how)`` makes of pixel masks: the share of latents that are
    fractional (``0 < m < 1``), fully hole (``m = 1``) and untouched (``m = 0``), and per image the
    largest latent value (``< 1``: no latent of that hole is ever fully noised)."""
    m = to_latent(mask, factor, how).float()
    frac = ((m > 0) & (m < 1)).float().flatten(1).mean(1)
    return {"fractional": float(frac.mean()), "fractional_per_image": frac,
            "hole": float((m >= 1).float().mean()), "known": float((m <= 0).float().mean()),
            "max_per_image": m.flatten(1).max(1).values, "latent": m}
