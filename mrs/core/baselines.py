"""Classical inpainting without a network: the baselines every model here is judged against.

* ``harmonic``: the hole is the solution of Laplace's equation ``Delta u = 0`` with the known
  pixels as boundary values (the smoothest fill in the least-squares sense: it minimises
  ``sum |grad u|^2`` over the hole). Solved exactly, per channel, as one sparse linear system
  (5-point Laplacian; at the image border only the neighbours that exist count).
* ``telea``: OpenCV's fast marching method (Telea 2004), ``cv2.inpaint(..., cv2.INPAINT_TELEA)``.
* ``navier_stokes``: OpenCV's fluid-dynamics method (Bertalmio et al. 2001), ``cv2.INPAINT_NS``.

Every fill returns the known pixels of ``y`` exactly and fills where ``mask > 0`` (binary masks;
1 = hole). Images ``[B, C, H, W]`` in [-1, 1]; OpenCV works on 8-bit images, so its hole values are
quantised to steps of 2/255.
"""

from __future__ import annotations

import numpy as np
import torch

from .checks import check_image, check_mask, is_binary

__all__ = ["BASELINES", "Baseline", "harmonic_fill", "opencv_fill", "make_baseline"]

BASELINES = ("harmonic", "telea", "navier_stokes")


def _check(y, mask):
    check_image("y", y)
    check_mask("mask", mask, like=y)
    if not is_binary(mask):
        raise ValueError("mask must be binary (0 = known, 1 = hole) for a classical fill")


def _laplace_system(hole: np.ndarray):
    """The sparse system ``A u = B k`` of the 5-point Laplacian on the hole pixels (``A`` over the
    hole, ``B`` coupling to the known pixels), with a tiny pull towards the known mean so that a
    hole region that touches no known pixel is still determined."""
    import scipy.sparse as sp

    h, w = hole.shape
    idx = -np.ones((h, w), dtype=np.int64)
    idx[hole] = np.arange(int(hole.sum()))
    rows, cols, vals, brow, bcol = [], [], [], [], []
    deg = np.zeros(int(hole.sum()))
    ys, xs = np.nonzero(hole)
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        me, ny, nx = idx[ys[inside], xs[inside]], ny[inside], nx[inside]
        deg[me] += 1
        other = idx[ny, nx]
        unknown = other >= 0
        rows.append(me[unknown]), cols.append(other[unknown]), vals.append(-np.ones(int(unknown.sum())))
        brow.append(me[~unknown]), bcol.append(ny[~unknown] * w + nx[~unknown])
    n = int(hole.sum())
    a = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), (n, n))
    a = (a + sp.diags(deg + 1e-6)).tocsc()
    b = sp.coo_matrix((np.ones(sum(len(r) for r in brow)), (np.concatenate(brow), np.concatenate(bcol))),
                      (n, h * w)).tocsr()
    return a, b


def harmonic_fill(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the hole by solving Laplace's equation with the known pixels as boundary values::

        4 u(p) - sum_{q ~ p} u(q) = 0   for hole pixels p   (u = y on known pixels),

    (``~``: the 4 neighbours inside the image; the count replaces 4 at the border). Exact up to
    the solver's rounding; a hole region touching no known pixel gets the mean of the known ones
    (0 if there are none)."""
    import scipy.sparse.linalg as spla

    _check(y, mask)
    out = y.detach().to(torch.float64).cpu().clone()
    holes = (mask[:, 0] > 0).cpu().numpy()
    for i in range(y.shape[0]):
        hole = holes[i]
        if not hole.any():
            continue
        a, b = _laplace_system(hole)
        solve = spla.factorized(a)
        for c in range(y.shape[1]):
            img = out[i, c].numpy()
            known_mean = float(img[~hole].mean()) if (~hole).any() else 0.0
            rhs = b @ img.reshape(-1) + 1e-6 * known_mean
            img[hole] = solve(rhs)
    return out.to(y.dtype).to(y.device)


def opencv_fill(y: torch.Tensor, mask: torch.Tensor, method: str = "telea", radius: int = 3) -> torch.Tensor:
    """OpenCV's inpainting (``method`` "telea" or "navier_stokes", neighbourhood ``radius`` in
    pixels) on the 8-bit version of ``y``; the known pixels are ``y``'s, exactly."""
    import cv2

    _check(y, mask)
    flags = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}
    if method not in flags:
        raise ValueError(f"method must be one of {tuple(flags)}, got {method!r}")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be an int >= 1, got {radius!r}")
    if y.shape[1] not in (1, 3):
        raise ValueError(f"OpenCV inpaints 1- or 3-channel images, y has {y.shape[1]} channels")
    img = ((y.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    holes = (mask[:, 0] > 0).cpu().numpy().astype(np.uint8)
    filled = []
    for i in range(y.shape[0]):
        arr = np.ascontiguousarray(img[i].permute(1, 2, 0).numpy())
        res = cv2.inpaint(arr, holes[i], radius, flags[method])
        filled.append(torch.from_numpy(res.reshape(arr.shape)).permute(2, 0, 1))
    fill = torch.stack(filled).to(torch.float32) / 127.5 - 1
    return torch.where(mask.cpu() > 0, fill.to(y.dtype), y.detach().cpu()).to(y.device)


class Baseline:
    """A classical fill by name, callable as ``baseline(y, mask) -> image``; no network (NFE 0)."""

    def __init__(self, name: str = "harmonic", **options):
        if name not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {name!r}")
        if name == "harmonic" and options:
            raise ValueError(f"the harmonic fill takes no options, got {sorted(options)}")
        self.name, self.options = name, options

    def __call__(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.name == "harmonic":
            return harmonic_fill(y, mask)
        return opencv_fill(y, mask, method=self.name, **self.options)

    def __repr__(self):
        return f"Baseline({self.name!r})"


def make_baseline(name: str, **options) -> Baseline:
    """``Baseline(name, **options)``: "harmonic", "telea" or "navier_stokes"."""
    return Baseline(name, **options)
