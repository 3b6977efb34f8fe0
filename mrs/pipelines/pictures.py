"""A user's picture: read an image and a mask file, inpaint at the model's size, paste back.

Pictures of any size are centre-padded to a square, resized to the model's training size,
inpainted, resized back and cropped; every known pixel is then taken from the original exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data import open_image

__all__ = ["read_inpainting_inputs", "to_model_size", "from_model_size"]


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


def _as_picture(image, mask):
    """``(RGB PIL image, hole (H, W) bool array)``; ``mask`` may also be a bool array (True = hole)."""
    import numpy as np

    if not isinstance(mask, np.ndarray):
        return read_inpainting_inputs(image, mask)
    img = open_image(image, "image").convert("RGB")
    hole = mask.astype(bool)
    if hole.shape != (img.size[1], img.size[0]) or not hole.any():
        raise ValueError(f"mask must be a (H, W) = {(img.size[1], img.size[0])} bool array with a "
                         f"hole, got shape {hole.shape}")
    return img, hole


def to_model_size(image, mask, size: int):
    """A picture at the model's size: ``(x [1, 3, size, size], mask [1, 1, size, size], layout)``.

    1. centre-pad the image to a square (edge pixels repeated; the padding counts as known),
    2. resize to ``size``; a small pixel is a hole if any of its area is (the mask is binary).
    ``layout`` carries what ``from_model_size`` needs to undo it.
    """
    import numpy as np

    img, hole = _as_picture(image, mask)
    W, H = img.size
    orig = np.asarray(img, dtype=np.uint8)                                      # (H, W, 3)
    S = max(W, H)
    top, left = (S - H) // 2, (S - W) // 2
    pad = (left, S - W - left, top, S - H - top)
    x = torch.from_numpy(orig.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1  # (1, 3, H, W)
    x = F.pad(x, pad, mode="replicate")                                         # (1, 3, S, S)
    m_full = F.pad(torch.from_numpy(hole).float()[None, None], pad)             # (1, 1, S, S)
    xs = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False,
                       antialias=S > size).clamp(-1, 1)
    cover = F.interpolate(m_full, size=(size, size), mode="area" if S >= size else "bilinear")
    layout = {"orig": orig, "hole": hole, "S": S, "top": top, "left": left}
    return xs, (cover > 0).float(), layout


def from_model_size(out: torch.Tensor, layout: dict):
    """The model's output ``[1, 3, size, size]`` back on the picture: resized to the padded square,
    cropped, and every known pixel taken from the original exactly. Returns a PIL RGB image."""
    import numpy as np
    from PIL import Image

    orig, hole, S, top, left = (layout[k] for k in ("orig", "hole", "S", "top", "left"))
    H, W = hole.shape
    size = out.shape[-1]
    up = F.interpolate(out.float().cpu(), size=(S, S), mode="bicubic", align_corners=False,
                       antialias=size > S).clamp(-1, 1)[0, :, top:top + H, left:left + W]
    gen = ((up.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(np.where(hole[..., None], gen, orig), "RGB")
