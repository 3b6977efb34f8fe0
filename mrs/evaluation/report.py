"""``EvalResult``: what ``evaluate`` measured, as tables (markdown, CSV) and image grids."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import to_numpy

__all__ = ["EvalResult"]

# table columns: (key, markdown header, format)
_COLUMNS = [("psnr", "PSNR", "{:.2f}"), ("hole_psnr", "hole PSNR", "{:.2f}"), ("ssim", "SSIM", "{:.4f}"),
            ("seam", "seam excess", "{:.4f}"), ("lpips", "LPIPS", "{:.4f}"), ("nfe", "NFE/img", "{:g}"),
            ("ms_per_image", "ms/img", "{:.1f}")]


@dataclass(frozen=True)
class EvalResult:
    """What ``evaluate`` measured, with every sample kept (for grids).

    Attributes:
        labels:     model labels, in the order given.
        mask_kinds: the mask kinds evaluated.
        x0:         ground truth ``[N, C, S, S]`` (the same images for every mask kind).
        masks:      kind -> masks ``[N, 1, S, S]`` (1 = hole); inputs: kind -> degraded ``y``.
        samples:    (label, kind) -> sampled images ``[N, C, S, S]``.
        per_image:  (label, kind) -> {metric: tensor ``[N]``} (``ssim`` absent below 11 pixels,
                    ``lpips`` absent without real weights).
        nfe:        (label, kind) -> network evaluations per image.
        seconds:    (label, kind) -> wall time per image (not deterministic).
        lpips_note: None when LPIPS was measured, else why not (e.g. "weights unavailable").
        seed:       the sampling seed.
        pasted:     True when the samples were scored with the known pixels pasted back from
                    the ground truth (``evaluate(..., paste_known=True)`` or ``paste_back``),
                    False when scored as they left the sampler.
    """

    labels: tuple
    mask_kinds: tuple
    x0: torch.Tensor
    masks: dict
    inputs: dict
    samples: dict
    per_image: dict
    nfe: dict
    seconds: dict
    lpips_note: str | None
    seed: int
    pasted: bool = False

    def values(self, label: str, metric: str, mask_kinds=None) -> torch.Tensor:
        """One model's per-image ``metric`` over ``mask_kinds`` (None: all), concatenated in that
        order: ``[len(mask_kinds) * N]``, the same image/mask pairs for every model."""
        if label not in self.labels:
            raise ValueError(f"label must be one of the models {self.labels}, got {label!r}")
        kinds = self.mask_kinds if mask_kinds is None else (
            (mask_kinds,) if isinstance(mask_kinds, str) else tuple(mask_kinds))
        if not kinds or any(k not in self.mask_kinds for k in kinds):
            raise ValueError(f"mask_kinds must be kinds of this result {self.mask_kinds}, got {mask_kinds!r}")
        missing = [k for k in kinds if metric not in self.per_image[(label, k)]]
        if missing:
            have = sorted(self.per_image[(label, kinds[0])])
            raise ValueError(f"metric {metric!r} was not measured (measured: {have})")
        return torch.cat([self.per_image[(label, k)][metric] for k in kinds])

    @property
    def table(self) -> list:
        """One dict per (model, mask kind): ``model``, ``mask``, ``n`` and the metric means
        (``psnr``, ``hole_psnr``, ``ssim``, ``seam``, ``lpips`` — None when not measured —
        ``nfe``, ``ms_per_image``)."""
        rows = []
        for label in self.labels:
            for kind in self.mask_kinds:
                per = self.per_image[(label, kind)]
                row = {"model": label, "mask": kind, "n": int(self.x0.shape[0])}
                for key in ("psnr", "hole_psnr", "ssim", "seam", "lpips"):
                    row[key] = float(per[key].double().mean()) if key in per else None
                row["nfe"] = self.nfe[(label, kind)]
                row["ms_per_image"] = 1000.0 * self.seconds[(label, kind)]
                rows.append(row)
        return rows

    def to_markdown(self, timings: bool = True) -> str:
        """The table in markdown. ``timings=False`` leaves out the (non-deterministic) wall time,
        for notebooks checked by nbval. Without LPIPS weights a line says so instead of a column."""
        cols = [c for c in _COLUMNS if (c[0] != "lpips" or self.lpips_note is None)
                and (c[0] != "ms_per_image" or timings)]
        lines = ["| model | mask | " + " | ".join(h for _, h, _ in cols) + " |",
                 "| --- | --- | " + " | ".join("---:" for _ in cols) + " |"]
        for row in self.table:
            cells = ["n/a" if row[k] is None else fmt.format(row[k]) for k, _, fmt in cols]
            lines.append(f"| {row['model']} | {row['mask']} | " + " | ".join(cells) + " |")
        size = self.x0.shape[-1]
        how = ("known pixels pasted back from the ground truth" if self.pasted
               else "scored as sampled (known pixels not pasted back)")
        lines += ["", f"{self.x0.shape[0]} images of {size}x{size} per mask kind, sampling seed "
                  f"{self.seed}, {how}. PSNR in dB; seam excess: mean |jump of the error| "
                  "across the hole's edge (0 = every edge jump as in the ground truth; a blurred "
                  "fill scores > 0 too)."]
        if self.lpips_note is not None:
            lines.append(f"LPIPS: {self.lpips_note}")
        return "\n".join(lines) + "\n"

    def to_csv(self, path) -> Path:
        """Write the table as CSV (empty cells where a metric was not measured)."""
        path = Path(path)
        keys = ["model", "mask", "n"] + [k for k, _, _ in _COLUMNS]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for row in self.table:
                w.writerow({k: "" if row[k] is None else (f"{row[k]:.6g}" if isinstance(row[k], float)
                                                          else row[k]) for k in keys})
        return path

    def grid(self, mask_kind: str, n_images: int = 4, scale: float = 1.5):
        """Qualitative grid for one mask kind: rows = images; columns = input ``y``, each model's
        result (hole-PSNR below it), ground truth. Returns a matplotlib ``Figure``."""
        if mask_kind not in self.mask_kinds:
            raise ValueError(f"mask_kind must be one of {self.mask_kinds}, got {mask_kind!r}")
        rows = [(mask_kind, i) for i in range(self._n_rows(n_images))]
        return self._figure(rows, scale, suptitle=f"mask: {mask_kind}")

    def comparison(self, n_images: int = 2, scale: float = 1.5):
        """Like ``grid`` with ``n_images`` rows for every mask kind, one figure."""
        rows = [(kind, i) for kind in self.mask_kinds for i in range(self._n_rows(n_images))]
        return self._figure(rows, scale)

    def save(self, out_dir, n_images: int = 4) -> dict:
        """Write ``metrics.md`` (with timings), ``metrics.csv``, ``grid_<kind>.png`` per mask kind
        and ``comparison.png`` into ``out_dir``; returns {name: path}."""
        import matplotlib.pyplot as plt

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = {"metrics.md": out / "metrics.md", "metrics.csv": out / "metrics.csv"}
        written["metrics.md"].write_text(self.to_markdown(timings=True))
        self.to_csv(written["metrics.csv"])
        figures = {f"grid_{kind}.png": self.grid(kind, n_images) for kind in self.mask_kinds}
        figures["comparison.png"] = self.comparison(min(2, n_images))
        for name, fig in figures.items():
            fig.savefig(out / name, dpi=100, bbox_inches="tight")
            plt.close(fig)
            written[name] = out / name
        return written

    def _n_rows(self, n_images) -> int:
        if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
            raise ValueError(f"n_images must be an int >= 1, got {n_images!r}")
        return min(n_images, self.x0.shape[0])

    def _figure(self, rows, scale, suptitle=None):
        import matplotlib.pyplot as plt


        titles = ["input y", *self.labels, "ground truth"]
        fig, axes = plt.subplots(len(rows), len(titles), squeeze=False,
                                 figsize=(scale * len(titles), scale * len(rows) + 0.5))
        for r, (kind, i) in enumerate(rows):
            images = [self.inputs[kind][i], *(self.samples[(lb, kind)][i] for lb in self.labels),
                      self.x0[i]]
            for c, (ax, img) in enumerate(zip(axes[r], images)):
                ax.imshow(to_numpy(img), vmin=0, vmax=1, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(titles[c], fontsize=9)
                if 0 < c <= len(self.labels):
                    hp = float(self.per_image[(self.labels[c - 1], kind)]["hole_psnr"][i])
                    ax.set_xlabel(f"hole {hp:.1f} dB", fontsize=7)
            axes[r, 0].set_ylabel(f"{kind} #{i}", fontsize=8)
        if suptitle:
            fig.suptitle(suptitle)
        fig.tight_layout()
        return fig

