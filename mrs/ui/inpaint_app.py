"""Inpaint your own picture in the notebook (``inpaint_app``): the pipeline of
``python -m mrs inpaint IMAGE MASK --checkpoint NAME --seed S``.

Upload an image (any size) and either upload a mask (white = hole, thresholded at 0.5, resized to
the image) or draw a box with four sliders (used while no mask is uploaded). The picture goes
through ``pipe.inpaint`` exactly as the command line sends it: centre-padded to a square, resized
to the network's training size, inpainted, resized back, and every known pixel pasted back from
the original. Without an upload a synthetic face stands in.
"""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np

from .appkit import FigureApp, dropdown, set_tooltip, slider
from .sampler_core import _pretrained, _shipped

__all__ = ["InpaintApp", "inpaint_app", "box_hole", "uploaded_picture", "inpaint_picture"]

TOOLTIPS = {
    "checkpoint": "the shipped network (as --checkpoint of python -m mrs inpaint)",
    "top": "top edge of the box, as a fraction of the picture's height",
    "left": "left edge of the box, as a fraction of the picture's width",
    "height": "height of the box, as a fraction of the picture's height",
    "width": "width of the box, as a fraction of the picture's width",
    "seed": "sampling seed (as --seed)",
    "image": "your image (png, jpg, ...); without one a synthetic face is used",
    "mask": "your mask: white = hole (grayscale or RGB, resized to the image); replaces the box",
}


@lru_cache(maxsize=1)
def _face():
    from PIL import Image

    from ..data import synthetic_faces

    x = synthetic_faces(1, 96, seed=7)[0]
    arr = ((x.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    return Image.fromarray(arr, "RGB")


def uploaded_picture(value, what: str):
    """The PIL image of a ``FileUpload`` value (None when nothing is uploaded)."""
    from ..data import open_image

    if not value:
        return None
    if isinstance(value, dict):  # ipywidgets 7: {name: {"metadata": {...}, "content": bytes}}
        name, item = next(iter(value.items()))
    else:                        # ipywidgets 8: a tuple of {"name", "content", ...}
        item = value[0]
        name = item["name"] if isinstance(item, dict) else item.name
    content = bytes(item["content"]) if isinstance(item, dict) else bytes(item.content)
    try:
        return open_image(io.BytesIO(content), what)
    except ValueError:
        raise ValueError(f"cannot read the uploaded {what} {name!r} as an image") from None


def box_hole(size, top: float, left: float, height: float, width: float) -> np.ndarray:
    """A ``(H, W)`` bool hole (True = hole) for a box given as fractions of the picture."""
    W, H = size
    for name, v in (("top", top), ("left", left), ("height", height), ("width", width)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {v!r}")
    r0, c0 = int(round(top * H)), int(round(left * W))
    r1, c1 = min(H, r0 + max(1, int(round(height * H)))), min(W, c0 + max(1, int(round(width * W))))
    hole = np.zeros((H, W), dtype=bool)
    hole[r0:r1, c0:c1] = True
    if not hole.any():
        raise ValueError("the box lies outside the picture: move it in (top, left < 1)")
    return hole


def inpaint_picture(checkpoint: str, image, mask, seed: int = 0):
    """``(image, hole, result)``: what ``python -m mrs inpaint`` does with these inputs
    (``mask``: a PIL image, white = hole, or a ``(H, W)`` bool array)."""
    from ..pipelines import read_inpainting_inputs

    if isinstance(mask, np.ndarray):
        image, hole = image.convert("RGB"), mask
    else:
        image, hole = read_inpainting_inputs(image, mask)
    result = _pretrained(checkpoint).inpaint(image, hole, seed=int(seed))
    return image, hole, result


def _figure(image, hole, result, checkpoint: str, seed: int):
    grey = np.asarray(image, dtype=np.float32) / 255.0
    shown = np.where(hole[..., None], 0.5, grey)
    fig, axes = plt.subplots(1, 3, figsize=(12.0, 4.6))
    for ax, img, title in zip(axes, (shown, hole, result),
                              ("input (hole in grey)", "mask (white = hole)", "result")):
        ax.imshow(img, cmap="gray" if img is hole else None, interpolation="nearest")
        ax.set_title(title, fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
    size = _pretrained(checkpoint).image_size
    fig.suptitle(f"{image.size[0]}x{image.size[1]} picture, inpainted at {size}x{size} by "
                 f"'{checkpoint}', seed {seed}; known pixels pasted back", fontsize=12)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.86, bottom=0.03, wspace=0.08)
    return fig


class InpaintApp(FigureApp):
    """``inpaint_app``'s app: ``controls`` include the two ``FileUpload`` widgets ``image`` and
    ``mask``; ``last`` holds the last ``(image, hole, result)``."""

    def __init__(self, checkpoint: str):
        import ipywidgets as widgets

        self.last = None
        names = list(_shipped())
        if checkpoint not in names:
            raise ValueError(f"checkpoint must be one of {names}, got {checkpoint!r}")
        controls = {
            "checkpoint": dropdown("checkpoint", checkpoint, names, TOOLTIPS["checkpoint"]),
            "seed": slider("seed", 0, 0, 99, 1, TOOLTIPS["seed"]),
            **{k: slider(k, v, 0.0, 1.0, 0.02, TOOLTIPS[k]) for k, v in
               (("top", 0.3), ("left", 0.22), ("height", 0.3), ("width", 0.56))},
            "image": set_tooltip(widgets.FileUpload(accept="image/*", description="image"),
                                 TOOLTIPS["image"]),
            "mask": set_tooltip(widgets.FileUpload(accept="image/*", description="mask"), TOOLTIPS["mask"]),
        }
        rows = [("checkpoint", "seed"), ("top", "left"), ("height", "width"), ("image", "mask")]
        super().__init__(self._draw, controls, rows=rows, rules=_rules,
                         title="inpaint your own picture (mrs.widgets.inpaint_app)")

    def _draw(self, v: dict):
        image = uploaded_picture(v["image"], "image") or _face()
        mask = uploaded_picture(v["mask"], "mask")
        if mask is None:
            mask = box_hole(image.size, v["top"], v["left"], v["height"], v["width"])
        self.last = inpaint_picture(v["checkpoint"], image, mask, v["seed"])
        fig = _figure(*self.last, v["checkpoint"], v["seed"])
        source = "your image" if v["image"] else "a synthetic face (upload an image to use yours)"
        return fig, [], f"{source}; python -m mrs inpaint IMAGE MASK --checkpoint {v['checkpoint']} " \
                        f"--seed {v['seed']} -o out.png gives the same result"


def _rules(v: dict) -> dict:
    if v["mask"]:
        return {k: "the hole comes from the uploaded mask (reset to draw a box)"
                for k in ("top", "left", "height", "width")}
    return {}


def inpaint_app(checkpoint: str = "emmd_smooth") -> InpaintApp:
    """Inpaint your own picture with a shipped network (module docstring); display the returned
    app as the last line of a cell."""
    return InpaintApp(checkpoint)
