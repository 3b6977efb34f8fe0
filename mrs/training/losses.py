"""Training loss: MSE + 10 x LPIPS (the paper's Fig. 13), with an honest offline fallback.

LPIPS (Zhang et al. 2018, the ``lpips`` package) compares deep features of a pretrained AlexNet or
VGG. ``lpips`` ships only its small linear heads; the backbone comes from torchvision's model
download (``alexnet-owt-7be5be79.pth`` into ``$TORCH_HOME/hub/checkpoints/``). Without a network
and without that file, ``load_lpips`` warns once and returns None: training then uses MSE only and
no LPIPS number is ever reported. ``load_lpips(random_backbone=True)`` builds the same code path with
a randomly initialised backbone, for tests only — its numbers mean nothing.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import torch
import torch.nn.functional as F

__all__ = ["load_lpips", "lpips_available", "InpaintingLoss", "LPIPSMetric", "LPIPS_MISSING"]

LPIPS_MISSING = (
    "LPIPS weights unavailable: the pretrained {net} backbone could not be loaded ({why}). "
    "Training uses MSE only and no LPIPS number is reported. To enable LPIPS offline, place "
    "torchvision's '{file}' in $TORCH_HOME/hub/checkpoints/ (default ~/.cache/torch/hub/checkpoints/)."
)
_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
_CACHE: dict = {}
_WARNED: set = set()


class LPIPSMetric(torch.nn.Module):
    """LPIPS between images in [-1, 1]: ``metric(x, ref) -> [B]``.

    Attributes:
        model: the ``lpips.LPIPS`` module (eval mode, frozen).
        net: its backbone, ``"alex"`` or ``"vgg"``.
        random_backbone: True when the backbone is random (tests only: never report a number).
    """

    def __init__(self, model: torch.nn.Module, net: str, random_backbone: bool):
        super().__init__()
        self.model, self.net, self.random_backbone = model, net, bool(random_backbone)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.model(x, ref, normalize=False).flatten()

    def describe(self) -> str:
        return f"LPIPS({self.net}{', random backbone' if self.random_backbone else ''})"


def load_lpips(net: str = "alex", random_backbone: bool = False, warn: bool = True):
    """An ``LPIPSMetric`` in eval mode with frozen weights, or None if unavailable.

    ``random_backbone=True`` gives a randomly initialised backbone (tests only: never report it).
    The result is cached per process.
    """
    if net not in _FILES:
        raise ValueError(f"net must be 'alex' or 'vgg', got {net!r}")
    key = (net, random_backbone)
    if key in _CACHE:
        return _CACHE[key]
    why = None
    model = None
    try:
        import lpips
    except ImportError as err:
        why = f"the lpips package is not installed: {err}"
    else:
        try:
            # torch.hub prints "Downloading: ..." (stdout/stderr): keep it out of notebook output
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                model = lpips.LPIPS(net=net, pnet_rand=random_backbone, verbose=False)
        except (OSError, RuntimeError) as err:  # URLError is an OSError
            why = f"{type(err).__name__}: {str(err)[:120]}"
    if model is None:
        if warn and key not in _WARNED:
            _WARNED.add(key)
            warnings.warn(LPIPS_MISSING.format(net=net, why=why, file=_FILES[net]), stacklevel=2)
        _CACHE[key] = None
        return None
    metric = LPIPSMetric(model.eval().requires_grad_(False), net, random_backbone)
    _CACHE[key] = metric
    return metric


def lpips_available(net: str = "alex") -> bool:
    """Whether LPIPS with real (pretrained) weights can be built here."""
    return load_lpips(net, warn=False) is not None


class InpaintingLoss(torch.nn.Module):
    """``MSE(x0_pred, x0) + lpips_weight * LPIPS(x0_pred, x0)`` over the whole image.

    ``lpips_model`` is an ``LPIPSMetric`` (see ``load_lpips``) or None (MSE only). Returns the
    total and a dict of its parts (floats) for logging; ``describe()`` says what is optimised.
    """

    def __init__(self, lpips_weight: float = 10.0, lpips_model=None):
        super().__init__()
        self.lpips_weight = float(lpips_weight)
        self.lpips = lpips_model

    def forward(self, x0_pred: torch.Tensor, x0: torch.Tensor, lpips_pair=None):
        """``lpips_pair``: None (LPIPS on ``x0_pred`` vs ``x0``) or a callable returning the images
        to compare instead (latent mode: the decoded prediction and the image)."""
        mse = F.mse_loss(x0_pred.float(), x0.float())
        parts = {"mse": float(mse.detach())}
        total = mse
        if self.lpips is not None and self.lpips_weight > 0:
            a, b = lpips_pair() if lpips_pair is not None else (x0_pred, x0)
            self.lpips.to(b.device)
            lp = self.lpips(a.float(), b.float()).mean()
            parts["lpips"] = float(lp.detach())
            total = total + self.lpips_weight * lp
        parts["loss"] = float(total.detach())
        return total, parts

    def describe(self) -> str:
        """The loss actually optimised, as recorded in checkpoints (``"mse"`` when LPIPS is off)."""
        if self.lpips is None or self.lpips_weight == 0:
            return "mse"
        return f"mse + {self.lpips_weight:g} * {self.lpips.describe()}"
