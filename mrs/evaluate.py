"""Evaluation and inference: compare denoisers on a fixed validation set, inpaint a user's image.

``evaluate`` samples every model on every mask kind of one fixed validation split (the same
images, masks and sampling noise for every model) and measures, per image:

* PSNR and hole-PSNR in dB, SSIM and the seam score against the ground truth (``mrs.metrics``);
* LPIPS, only when the real pretrained weights exist (``mrs.losses.load_lpips``): a number from
  a random backbone is never reported;
* the number of network evaluations (NFE) and the wall time, per image.

The ``EvalResult`` keeps every sample, so the seed paper's qualitative grids (input ``y``, each
model's result, ground truth) come for free. ``inpaint_image`` runs a net on a picture of any size.

Conventions: images ``[B, C, H, W]`` in [-1, 1]; masks ``[B, 1, H, W]`` with 1 = hole, 0 = known.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import losses, metrics
from ._checks import check_image
from .checkpoint import FORMAT
from .data import open_image, validation_split
from .masks import MASK_KINDS
from .nets import SwinUNet
from .processes import Process
from .sampling import CountingDenoiser, sample
from .train import list_pretrained, load_pretrained

__all__ = ["evaluate", "EvalResult", "inpaint_image", "read_inpainting_inputs", "find_checkpoints",
           "CHECKPOINT_ORDER"]

# the shipped checkpoints in teaching order (others follow alphabetically)
CHECKPOINT_ORDER = ("resshift", "mvd", "emmd", "emmd_smooth", "emmd_smooth_noisemap")

# table columns: (key, markdown header, format)
_COLUMNS = [("psnr", "PSNR", "{:.2f}"), ("hole_psnr", "hole PSNR", "{:.2f}"), ("ssim", "SSIM", "{:.4f}"),
            ("seam", "seam", "{:+.4f}"), ("lpips", "LPIPS", "{:.4f}"), ("nfe", "NFE/img", "{:g}"),
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
        lines += ["", f"{self.x0.shape[0]} images of {size}x{size} per mask kind, sampling seed "
                  f"{self.seed}. PSNR in dB; seam: mean jump across the hole's edge minus the ground "
                  "truth's (0 = invisible)."]
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

        from .viz import to_numpy

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


def _resolve(models, device):
    """label -> (denoiser, proc, net or None) from the ``models`` argument of ``evaluate``."""
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict: label -> (denoiser or SwinUNet, proc) "
                         f"or label -> checkpoint name/path, got {type(models).__name__}")
    out = {}
    for label, spec in models.items():
        if not isinstance(label, str) or not label:
            raise ValueError(f"models keys must be non-empty strings (labels), got {label!r}")
        if isinstance(spec, (str, os.PathLike)):
            net, proc, _ = load_pretrained(spec, device=device)
            out[label] = (net.denoiser(proc), proc, net)
            continue
        if not (isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[1], Process)):
            raise ValueError(f"models[{label!r}] must be (denoiser or SwinUNet, proc) with an mrs "
                             f"process, or a checkpoint name/path; got {type(spec).__name__}")
        model, proc = spec[0], spec[1]
        if isinstance(model, SwinUNet):
            model = model.to(device).eval()
            out[label] = (model.denoiser(proc), proc, model)
        elif callable(model):
            out[label] = (model, proc, None)
        else:
            raise ValueError(f"models[{label!r}][0] must be a SwinUNet or a denoiser callable "
                             f"denoiser(x_t, t, y, mask), got {type(model).__name__}")
    return out


def _check_images(images):
    """The ``images`` argument: a tensor ``[N, C, S, S]`` or a dataset of ``[C, S, S]`` tensors."""
    if isinstance(images, torch.Tensor):
        check_image("images", images)
        first = images[0]
    else:
        if not (hasattr(images, "__len__") and hasattr(images, "__getitem__")) or len(images) < 1:
            raise ValueError("images must be a tensor [N, C, S, S] or a non-empty dataset of images")
        first = images[0]
    if not isinstance(first, torch.Tensor) or first.dim() != 3 or first.shape[1] != first.shape[2]:
        raise ValueError(f"images must hold square images [C, S, S], got "
                         f"{tuple(first.shape) if isinstance(first, torch.Tensor) else type(first)}")
    if first.shape[-1] < 8:
        raise ValueError(f"images must be at least 8x8, got {tuple(first.shape)}")


def _lpips_model():
    """``(model, None)`` with real LPIPS weights, else ``(None, why)``."""
    lp = losses.load_lpips(warn=False)  # silent: load_lpips swallows torch.hub's download prints
    if lp is None or getattr(lp, "random_backbone", False):
        return None, "weights unavailable"
    return lp, None


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def evaluate(models, images=None, n: int = 16, size: int = 32, mask_kinds=MASK_KINDS, seed: int = 0,
             device="cpu", progress: bool = False, batch_size: int | None = None) -> EvalResult:
    """Sample every model on every mask kind of a fixed validation set and measure the results.

    Args:
        models: dict label -> ``(denoiser, proc)`` (a callable ``denoiser(x_t, t, y, mask)``),
            label -> ``(SwinUNet, proc)`` (``load_pretrained``'s triple works too), or
            label -> a checkpoint name or path (loaded with ``mrs.train.load_pretrained``).
            A SwinUNet is moved to ``device`` and put in eval mode.
        images: None for the synthetic validation faces (``mrs.data.validation_split``), or a
            tensor ``[N, C, S, S]`` / dataset of square images in [-1, 1] (e.g. ``FaceFolder``).
        n: number of images (the first ``n`` of ``images``).
        size: side of the synthetic faces (given ``images`` keep their own size).
        mask_kinds: the mask kinds; each gets the split's fixed masks (1 = hole) for the same images.
        seed: seed of the sampling generator, the same for every model and kind.
        device: where the models run.
        progress: show a progress bar over (model, kind).
        batch_size: images per sampling call (None: all at once; samples depend on it).

    Returns:
        An ``EvalResult``; NFE per image is T for a T-step sampler.
    """
    from tqdm.auto import tqdm

    for name, v, lo in (("n", n, 1), ("size", size, 8), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be None or an int >= 1, got {batch_size!r}")
    kinds = (mask_kinds,) if isinstance(mask_kinds, str) else tuple(mask_kinds)
    if not kinds or any(k not in MASK_KINDS + ("mixed",) for k in kinds) or len(set(kinds)) < len(kinds):
        raise ValueError(f"mask_kinds must be distinct kinds from {MASK_KINDS + ('mixed',)}, "
                         f"got {mask_kinds!r}")
    if images is not None:
        _check_images(images)
    runs = _resolve(models, device)

    # 1. the fixed split: the same images for every kind (rendered once), fixed masks per kind
    split, source = {}, images
    for kind in kinds:
        x0, mask, y = validation_split(n, size, mask_kind=kind, images=source)
        split[kind], source = (x0, mask, y), x0
    lp, lpips_note = _lpips_model()
    if lp is not None:
        lp = lp.to(device)

    samples, per_image, nfe, seconds = {}, {}, {}, {}
    bar = tqdm(total=len(runs) * len(kinds), disable=not progress, desc="evaluate", leave=False)
    for label, (denoise, proc, net) in runs.items():
        if net is not None:  # warm-up call, untimed: first-call overheads are not the model's
            x0, mask, y = (z[:1].to(device) for z in split[kinds[0]])
            with torch.no_grad():
                denoise(y, torch.full((1,), proc.steps, device=device), y, mask)
        for kind in kinds:
            x0, mask, y = (z.to(device) for z in split[kind])
            counted, g = CountingDenoiser(denoise), torch.Generator().manual_seed(seed)
            step = batch_size or x0.shape[0]
            # 2. sample (timed), the same noise stream for every model
            _sync(device)
            start = time.perf_counter()
            out = torch.cat([sample(proc, counted, y[i:i + step], mask[i:i + step], generator=g)
                             for i in range(0, x0.shape[0], step)])
            _sync(device)
            seconds[(label, kind)] = (time.perf_counter() - start) / x0.shape[0]
            nfe[(label, kind)] = counted.images / x0.shape[0]
            # 3. per-image metrics against the ground truth
            per = {"psnr": metrics.psnr(out, x0), "hole_psnr": metrics.hole_psnr(out, x0, mask),
                   "seam": metrics.seam_score(out, mask, ref=x0)}
            if x0.shape[-1] >= 11:
                per["ssim"] = metrics.ssim(out, x0)
            if lp is not None:
                try:
                    with torch.no_grad():
                        per["lpips"] = lp(out, x0, normalize=False).flatten()
                except RuntimeError as err:  # e.g. images too small for the backbone's pooling
                    lp, lpips_note = None, f"not measured ({str(err)[:80]})"
            per_image[(label, kind)] = {k: v.detach().float().cpu() for k, v in per.items()}
            samples[(label, kind)] = out.detach().cpu()
            bar.update(1)
    bar.close()
    if lpips_note is not None:  # all or nothing: no partial LPIPS column
        for per in per_image.values():
            per.pop("lpips", None)
    return EvalResult(
        labels=tuple(runs), mask_kinds=kinds, x0=split[kinds[0]][0].cpu(),
        masks={k: split[k][1].cpu() for k in kinds}, inputs={k: split[k][2].cpu() for k in kinds},
        samples=samples, per_image=per_image, nfe=nfe, seconds=seconds, lpips_note=lpips_note,
        seed=seed)


def find_checkpoints(folder=None) -> list:
    """Exported checkpoints, in teaching order (``CHECKPOINT_ORDER``, then alphabetical).

    ``folder=None``: the shipped names (``mrs.train.list_pretrained``); else the paths of the
    exported checkpoints (``NAME.json`` + ``NAME.safetensors``) in ``folder``."""
    if folder is None:
        found = {name: name for name in list_pretrained()}
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"checkpoint folder not found: {folder}")
        found = {p.stem: str(p.with_suffix("")) for p in sorted(folder.glob("*.json"))
                 if _is_exported(p)}
    rank = {name: i for i, name in enumerate(CHECKPOINT_ORDER)}
    return [found[k] for k in sorted(found, key=lambda k: (rank.get(k, len(rank)), k))]


def _is_exported(sidecar: Path) -> bool:
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(meta, dict) and meta.get("format") == FORMAT and "net_config" in meta
            and "optimizer" not in meta and sidecar.with_suffix(".safetensors").is_file())


# -- inference on a user's picture ------------------------------------------------------------

def read_inpainting_inputs(image, mask):
    """``(RGB PIL image, hole (H, W) bool array)`` from an image and a mask (paths or PIL images).

    The mask is white = hole, grayscale or RGB, thresholded at 0.5, and resized to the image's size
    when it differs. Raises ``ValueError`` for a missing or unreadable file or a mask with no hole.
    """
    import numpy as np
    from PIL import Image

    img, m = open_image(image, "image").convert("RGB"), open_image(mask, "mask").convert("L")
    if not (np.asarray(m, dtype=np.float32) > 127.5).any():
        raise ValueError("mask has no hole: no pixel is brighter than 50% (white = hole)")
    if m.size != img.size:
        m = m.resize(img.size, Image.BILINEAR)
    hole = np.asarray(m, dtype=np.float32) > 127.5
    if not hole.any():
        raise ValueError(f"mask has no hole left once resized to the image's {img.size[0]}x{img.size[1]}")
    return img, hole


def inpaint_image(image, mask, model, proc: Process, size: int, seed: int = 0, device="cpu"):
    """Inpaint one picture of any size with a net trained on ``size`` x ``size`` images.

    Args:
        image: a path or PIL image (any size, converted to RGB).
        mask: a path or PIL image, **white = hole**, grayscale or RGB, thresholded at 0.5 and
            resized to the image's size when it differs; or a bool array ``(H, W)``, True = hole.
        model: a ``SwinUNet`` (wrapped with ``model.denoiser(proc)``) or a denoiser callable.
        proc: the process to sample with (the one the net was trained with).
        size: the net's training resolution.
        seed: seed of the sampling noise.

    Steps: 1. centre-pad the image to a square (edge pixels repeated; the padding counts as
    known), 2. resize to ``size`` (a small pixel is a hole if any of its area is), 3. sample,
    4. resize back and crop the padding, 5. paste every known pixel back exactly.

    Returns:
        A PIL RGB image of the original size.
    """
    import numpy as np
    from PIL import Image

    if isinstance(mask, np.ndarray):
        img = open_image(image, "image").convert("RGB")
        hole = mask.astype(bool)
        if hole.shape != (img.size[1], img.size[0]) or not hole.any():
            raise ValueError(f"mask must be a (H, W) = {(img.size[1], img.size[0])} bool array with a "
                             f"hole, got shape {hole.shape}")
    else:
        img, hole = read_inpainting_inputs(image, mask)
    W, H = img.size
    orig = np.asarray(img, dtype=np.uint8)  # (H, W, 3)
    # 1. centre-pad to S x S
    S = max(W, H)
    top, left = (S - H) // 2, (S - W) // 2
    pad = (left, S - W - left, top, S - H - top)
    x = torch.from_numpy(orig.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1  # (1, 3, H, W)
    x = F.pad(x, pad, mode="replicate")                                         # (1, 3, S, S)
    m_full = F.pad(torch.from_numpy(hole).float()[None, None], pad)             # (1, 1, S, S)
    # 2. resize to the net's size; any hole coverage makes a hole pixel
    xs = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False,
                       antialias=S > size).clamp(-1, 1)
    cover = F.interpolate(m_full, size=(size, size), mode="area" if S >= size else "bilinear")
    ms = (cover > 0).float()
    # 3. sample
    denoise = model.to(device).eval().denoiser(proc) if isinstance(model, SwinUNet) else model
    g = torch.Generator().manual_seed(seed)
    out = sample(proc, denoise, ((1 - ms) * xs).to(device), ms.to(device), generator=g).cpu()
    # 4. back to S x S, crop the padding
    up = F.interpolate(out, size=(S, S), mode="bicubic", align_corners=False,
                       antialias=size > S).clamp(-1, 1)[0, :, top:top + H, left:left + W]
    gen = ((up.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    # 5. known pixels exactly from the original
    return Image.fromarray(np.where(hole[..., None], gen, orig), "RGB")
