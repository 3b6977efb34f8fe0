"""ResShift's official Swin-UNet (``UNetModelSwin``), reproduced exactly and loadable from its
released weights: ``ResShiftUNet`` (arch ``"resshift_unet"``), its config, and the readers and
writers of the official weight files.

Where ``mrs.nets.SwinUNet`` (arch ``"swin_unet"``) deliberately differs from the official network,
this one follows it: image-resolution conditioning through a small conv feature extractor, Swin
layers that replace the features, GroupNorm inside the Swin blocks, the official shift mask. See
``model.ResShiftUNet`` for the forward convention (``t`` in 1..T, mask in {0, 1}, input scaling
inside the net).
"""

from .config import ResShiftUNetConfig
from .model import ResShiftUNet
from .weights import load_official_state, load_resshift_unet, read_state_dict, save_resshift_unet

__all__ = ["ResShiftUNet", "ResShiftUNetConfig", "load_resshift_unet", "save_resshift_unet",
           "read_state_dict", "load_official_state"]
