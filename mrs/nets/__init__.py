"""Networks (layer 4): the Swin-UNet denoiser, its blocks, the registry of architectures, and
tools for fast inference. ``net.denoiser(proc)`` makes any registered net a denoiser for the
samplers."""

from . import fast, swin
from .blocks import Downsample, ResBlock, UNetBlock, Upsample, count_parameters, timestep_embedding
from .registry import build_net, denoiser_of, describe_net, net_class, net_config, net_names, register_net
from .resshift_unet import ResShiftUNet, ResShiftUNetConfig, load_resshift_unet, save_resshift_unet
from .unet import SwinUNet, SwinUNetConfig, noise_map

__all__ = ["SwinUNet", "SwinUNetConfig", "noise_map", "count_parameters", "timestep_embedding",
           "ResBlock", "Downsample", "Upsample", "UNetBlock",
           "register_net", "denoiser_of", "net_names", "net_class", "net_config", "build_net", "describe_net",
           "fast", "swin", "ResShiftUNet", "ResShiftUNetConfig", "load_resshift_unet",
           "save_resshift_unet"]
