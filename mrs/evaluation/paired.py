"""Paired comparison of two models evaluated on the same images, masks and noise.

``evaluate`` gives every model the same images, the same masks and the same sampling noise, so two
models can be compared image by image. For a metric ``v`` and models ``a`` and ``b`` measured on the
same ``n`` image/mask pairs ``i`` (the images of every mask kind, in order)::

    d_i = v_i(a) - v_i(b),      mean = (1/n) sum_i d_i,
    SE  = s_d / sqrt(n),        s_d^2 = 1/(n-1) sum_i (d_i - mean)^2

The difference is *resolved* when ``|mean| > 2 SE``; otherwise this evaluation cannot tell the two
models apart on that metric. Pairing removes what the images share: the paired SE is much smaller
than the standard error of either model's own mean. The SE covers the images only, not a second
training run or a second sampling seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["PairedDifference", "paired_difference", "paired_differences", "paired_markdown",
           "plot_paired"]

# metric -> (markdown header, format of mean and SE, higher is better)
METRICS = {"psnr": ("PSNR (dB)", "{:+.2f} ± {:.2f}", True),
           "hole_psnr": ("hole PSNR (dB)", "{:+.2f} ± {:.2f}", True),
           "ssim": ("SSIM", "{:+.4f} ± {:.4f}", True),
           "seam": ("seam excess", "{:+.4f} ± {:.4f}", False),
           "lpips": ("LPIPS", "{:+.4f} ± {:.4f}", False)}


@dataclass(frozen=True)
class PairedDifference:
    """``metric(a) - metric(b)`` over the same ``n`` image/mask pairs: its mean and standard error.

    Attributes:
        metric: the metric's key (``psnr``, ``hole_psnr``, ``ssim``, ``seam``, ``lpips``).
        a, b:   the two model labels; the difference is ``a - b``.
        mean:   the mean paired difference.
        se:     its standard error, ``std(d) / sqrt(n)`` (``std`` with ``n - 1``).
        n:      the number of image/mask pairs.
        pasted: whether the samples were scored with the known pixels pasted back.
    """

    metric: str
    a: str
    b: str
    mean: float
    se: float
    n: int
    pasted: bool = False

    @property
    def resolved(self) -> bool:
        """True when ``|mean| > 2 SE``: this evaluation tells the two models apart."""
        return abs(self.mean) > 2 * self.se

    @property
    def better(self) -> str | None:
        """The label of the better model when resolved (by the metric's direction), else None."""
        if not self.resolved:
            return None
        higher = METRICS.get(self.metric, ("", "", True))[2]
        return self.a if (self.mean > 0) == higher else self.b

    def __str__(self) -> str:
        fmt = METRICS.get(self.metric, ("", "{:+.4f} ± {:.4f}", True))[1]
        verdict = "resolved" if self.resolved else "not resolved (|diff| < 2 SE)"
        diff = f"{self.metric}({self.a}) - {self.metric}({self.b})"
        return f"{diff} = {fmt.format(self.mean, self.se)}: {verdict}"


def paired_difference(result, metric: str, a: str, b: str, mask_kinds=None) -> PairedDifference:
    """Mean and standard error of ``metric(a) - metric(b)`` over the same images of ``result``.

    Args:
        result: an ``EvalResult`` (``evaluate``'s answer, or ``paste_back`` of it).
        metric: a per-image metric of ``result`` (``psnr``, ``hole_psnr``, ``ssim``, ``seam``,
            ``lpips`` where measured).
        a, b: two different model labels of ``result``.
        mask_kinds: the mask kinds to pool (None: all of ``result``'s); the pairs are the images
            of every kind, so ``n = len(mask_kinds) * N``.

    Returns:
        A ``PairedDifference`` (``.mean``, ``.se``, ``.resolved``).
    """
    if a == b:
        raise ValueError(f"a and b must be two different models, got {a!r} twice")
    d = result.values(a, metric, mask_kinds).double() - result.values(b, metric, mask_kinds).double()
    if d.numel() < 2:
        raise ValueError(f"a standard error needs at least 2 image/mask pairs, got {d.numel()}")
    if not bool(torch.isfinite(d).all()):
        raise ValueError(f"{metric}({a}) - {metric}({b}) is not finite on every image (e.g. the PSNR "
                         "of an exact match is inf): compare another metric")
    return PairedDifference(metric, a, b, float(d.mean()), float(d.std() / math.sqrt(d.numel())),
                            int(d.numel()), bool(getattr(result, "pasted", False)))


def paired_differences(result, reference: str, metrics=None, mask_kinds=None) -> list:
    """``paired_difference(result, metric, label, reference)`` for every other model and metric.

    ``metrics``: None for every one of ``psnr, hole_psnr, ssim, seam, lpips`` that was measured and
    is finite for every model (an exact match has an infinite PSNR). Returns a list of
    ``PairedDifference``, model by model (in ``result.labels`` order), metric by metric.
    """
    if reference not in result.labels:
        raise ValueError(f"reference must be one of the models {result.labels}, got {reference!r}")
    if len(result.labels) < 2:
        raise ValueError("a paired comparison needs at least two models")
    if metrics is None:
        first = result.per_image[(result.labels[0], result.mask_kinds[0])]
        keys = [k for k in METRICS if k in first and all(
            bool(torch.isfinite(result.values(lb, k, mask_kinds)).all()) for lb in result.labels)]
    else:
        keys = list(metrics)
    return [paired_difference(result, k, label, reference, mask_kinds)
            for label in result.labels if label != reference for k in keys]


def paired_markdown(result, reference: str, metrics=None, mask_kinds=None) -> str:
    """The paired differences against ``reference`` as a markdown table: one row per model, one
    column per metric, cells ``mean ± SE``, resolved ones in bold."""
    diffs = paired_differences(result, reference, metrics, mask_kinds)
    keys = list(dict.fromkeys(d.metric for d in diffs))
    lines = [f"| model - {reference} | " + " | ".join(METRICS.get(k, (k,))[0] for k in keys) + " |",
             "| --- | " + " | ".join("---:" for _ in keys) + " |"]
    for label in dict.fromkeys(d.a for d in diffs):
        cells = []
        for d in (d for d in diffs if d.a == label):
            text = METRICS.get(d.metric, ("", "{:+.4f} ± {:.4f}"))[1].format(d.mean, d.se)
            cells.append(f"**{text}**" if d.resolved else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    how = "known pixels pasted back" if getattr(result, "pasted", False) else "as sampled"
    lines += ["", f"Paired over the same {diffs[0].n} image/mask pairs ({how}): mean difference ± "
              "one standard error; **bold** = resolved (|mean| > 2 SE). Higher is better for PSNR "
              "and SSIM, lower for the seam and LPIPS."]
    return "\n".join(lines) + "\n"


def plot_paired(diffs, ax=None, title: str | None = None, xlabel: str | None = None):
    """Paired differences as points with ±2 SE bars (a bar that crosses 0: not resolved; resolved
    ones in red). Each row is labelled ``a - b``, with the metric when several are shown and
    "(pasted)" for differences scored with the known pixels pasted back.

    Args:
        diffs: ``PairedDifference`` objects, drawn top to bottom.
        ax: a matplotlib axis to draw into (None: a new figure).
        title, xlabel: axis title and x label (default x label: ``a - b`` of the metric).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    diffs = list(diffs)
    if not diffs or not all(isinstance(d, PairedDifference) for d in diffs):
        raise ValueError("diffs must be a non-empty sequence of PairedDifference")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 0.45 * len(diffs) + 1.2))
    ys = list(range(len(diffs)))[::-1]
    for y, d in zip(ys, diffs):
        colour = "C3" if d.resolved else "0.45"
        ax.errorbar(d.mean, y, xerr=2 * d.se, fmt="o", color=colour, capsize=3, ms=4)
    ax.axvline(0, color="k", lw=0.8)
    metrics = sorted({d.metric for d in diffs})
    ax.set_yticks(ys)
    ax.set_yticklabels([(f"{d.metric}: " if len(metrics) > 1 else "") + f"{d.a} - {d.b}"
                        + (" (pasted)" if d.pasted else "") for d in diffs], fontsize=8)
    ax.set_xlabel(xlabel or f"paired difference of {', '.join(metrics)} (mean ± 2 SE)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax.figure
