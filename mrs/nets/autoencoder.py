"""ResShift's VQ-f4 autoencoder (the latent space the paper works in) on diffusers' ``VQModel``.

ResShift's face model encodes a 256x256 RGB image ``x`` in [-1, 1] into a 64x64x3 latent and
decodes a latent by first snapping it to the nearest of 8192 codebook vectors:

$$ z = E(x) = \\mathrm{quant\\_conv}(\\mathrm{Encoder}(x)), \\qquad
   \\hat x = D(z) = \\mathrm{Decoder}(\\mathrm{post\\_quant\\_conv}(e_{k^*})), \\qquad
   k^*(z) = \\arg\\min_k \\lVert z - e_k \\rVert^2 . $$

The weights ResShift publishes are state dicts of LDM's ``VQModelTorch``; ``load_resshift_vq``
renames them onto diffusers' ``VQModel`` (the field's maintained implementation of the same network)
and ``save_resshift_vq`` writes the reverse, so that tests can make files in the official format.
The two differ only in names, except that LDM numbers the decoder's levels from the finest up
(``decoder.up.0`` is the last one run) while diffusers numbers them in the order they run, and
LDM's mid-block attention uses 1x1 convolutions where diffusers uses linear layers.

The code lookup always runs in float32 (float64 for float64 latents), also under autocast: the
codebook's vectors lie close together, so distances computed in bf16 pick another nearest code for a
share of the latents, and the decoded image changes with it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

__all__ = ["VQAutoencoder", "vq_config", "build_resshift_vq", "load_resshift_vq", "save_resshift_vq"]

_PREFIXES = ("module.", "_orig_mod.")  # added by DistributedDataParallel and torch.compile
_LOOKUP_ELEMENTS = 2 ** 24  # distances computed at once by the code lookup (64 MB in float32)
_ATTN_WEIGHT = re.compile(r"\.mid\.attn_1\.(q|k|v|proj_out)\.weight$")


def vq_config(*, ch: int = 128, ch_mult=(1, 2, 4), num_res_blocks: int = 2, embed_dim: int = 3,
              n_embed: int = 8192, z_channels: int = 3) -> dict:
    """The diffusers ``VQModel`` config equal to LDM's ``VQModelTorch`` with this ``ddconfig``
    (``ch``, ``ch_mult``, ``num_res_blocks``, ``z_channels``; 3 image channels, no attention
    inside the levels, ``double_z=False``) and this codebook (``n_embed`` vectors of ``embed_dim``)."""
    ch_mult = tuple(ch_mult)
    for name, value in (("ch", ch), ("num_res_blocks", num_res_blocks), ("embed_dim", embed_dim),
                        ("n_embed", n_embed), ("z_channels", z_channels)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not ch_mult or not all(isinstance(m, int) and m >= 1 for m in ch_mult):
        raise ValueError(f"ch_mult must be a non-empty sequence of positive ints, got {ch_mult!r}")
    widths = tuple(ch * m for m in ch_mult)
    if any(w % 32 for w in widths):
        raise ValueError(f"every width ch x ch_mult must be a multiple of 32 (GroupNorm with 32 groups), "
                         f"got {widths}")
    return dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * len(widths),
                up_block_types=("UpDecoderBlock2D",) * len(widths), block_out_channels=widths,
                layers_per_block=num_res_blocks, latent_channels=z_channels, num_vq_embeddings=n_embed,
                vq_embed_dim=embed_dim, norm_num_groups=32, mid_block_add_attention=True,
                lookup_from_codebook=False)


def _vq_model_class():
    try:
        from diffusers import VQModel
    except ImportError as e:  # pragma: no cover - diffusers is a dependency
        raise ImportError("the VQ autoencoder needs diffusers: pip install diffusers") from e
    return VQModel


class VQAutoencoder(nn.Module):
    """A frozen VQ autoencoder (always in eval mode, no parameter requires grad) around a diffusers
    ``VQModel`` ``vq``. Gradients still flow to the inputs: ``decode`` passes them through the code
    lookup unchanged (straight-through, as LDM does), so a loss on decoded images trains a
    latent-space network."""

    def __init__(self, vq, scale: float = 1.0):
        super().__init__()
        self.vq = vq
        self.scale = scale
        self.requires_grad_(False)
        self.train(False)

    @property
    def scale(self) -> float:
        """The latent scale ``s`` (LDM's ``scale_factor``): ``encode`` returns ``s z`` and ``decode``
        reads ``z / s``, so that the diffusion sees latents of about unit variance (1 for ResShift's
        autoencoders, whose latents already are)."""
        return self._scale

    @scale.setter
    def scale(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                or value == float("inf"):
            raise ValueError(f"the latent scale must be a finite number > 0, got {value!r}")
        self._scale = float(value)

    def train(self, mode: bool = True):
        """Stays in eval mode whatever ``mode`` says (the autoencoder is never trained here)."""
        return super().train(False)

    @property
    def factor(self) -> int:
        """Downsampling factor from image to latent (4 for VQ-f4)."""
        return 2 ** (len(self.vq.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        return self.vq.config.vq_embed_dim

    @property
    def codebook(self) -> torch.Tensor:
        """The codebook ``[n_embed, embed_dim]``."""
        return self.vq.quantize.embedding.weight

    def extra_repr(self) -> str:
        c = self.vq.config
        return (f"widths={tuple(c.block_out_channels)}, res_blocks={c.layers_per_block}, "
                f"codes={c.num_vq_embeddings}x{c.vq_embed_dim}, factor={self.factor}")

    def _check(self, t, channels: int, what: str, divisible: int = 1):
        if not isinstance(t, torch.Tensor) or t.ndim != 4 or t.shape[1] != channels:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{what} must be a tensor [B, {channels}, H, W], got {shape}")
        if t.shape[2] % divisible or t.shape[3] % divisible:
            raise ValueError(f"{what}'s height and width must be multiples of {divisible}, "
                             f"got {tuple(t.shape[2:])}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``z = s quant_conv(Encoder(x))`` for images ``x`` [B, 3, H, W] in [-1, 1]: the latent
        [B, embed_dim, H/f, W/f] before quantization (LDM's ``VQModelTorch.encode``), times the
        latent scale ``s``."""
        self._check(x, self.vq.config.in_channels, "x", self.factor)
        z = self.vq.quant_conv(self.vq.encoder(x))
        return z if self._scale == 1.0 else z * self._scale

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """Index [B, h, w] of the nearest codebook vector of every latent,
        ``k*(z) = argmin_k ||z||^2 + ||e_k||^2 - 2 z.e_k`` (LDM's formula), always in float32."""
        self._check(z, self.latent_channels, "z")
        b, d, h, w = z.shape
        dtype = torch.promote_types(z.dtype, torch.float32)  # float64 stays float64
        with torch.autocast(z.device.type, enabled=False), torch.no_grad():
            rows = z.detach().to(dtype).permute(0, 2, 3, 1).reshape(-1, d)
            emb = self.codebook.detach().to(dtype)
            e2 = torch.sum(emb ** 2, dim=1)
            out = torch.empty(rows.shape[0], dtype=torch.long, device=z.device)
            step = max(1, _LOOKUP_ELEMENTS // emb.shape[0])
            for i in range(0, rows.shape[0], step):
                r = rows[i:i + step]
                dist = torch.sum(r ** 2, dim=1, keepdim=True) + e2 - 2 * (r @ emb.t())
                out[i:i + step] = torch.argmin(dist, dim=1)
        return out.view(b, h, w)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """``z + sg(e_{k*(z)} - z)`` in float32 (float64 for float64 ``z``): the nearest codebook
        vectors, with the gradient of the identity (LDM's straight-through estimator)."""
        idx = self.codes(z)
        dtype = torch.promote_types(z.dtype, torch.float32)
        with torch.autocast(z.device.type, enabled=False):
            zf = z.to(dtype)
            zq = self.codebook.to(dtype)[idx].permute(0, 3, 1, 2)
            return zf + (zq - zf).detach()

    def decode(self, z: torch.Tensor, *, quantize: bool = True) -> torch.Tensor:
        """``Decoder(post_quant_conv(quantize(z / s)))``: images [B, 3, f h, f w] from latents
        [B, embed_dim, h, w] (LDM's ``VQModelTorch.decode``; ``quantize=False`` skips the lookup)."""
        self._check(z, self.latent_channels, "z")
        z = z if self._scale == 1.0 else z / self._scale
        zq = self.quantize(z) if quantize else z
        # the weights' dtype (autocast, if on, then casts as it does for every convolution)
        return self.vq.decoder(self.vq.post_quant_conv(zq.to(self.vq.post_quant_conv.weight.dtype)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``decode(encode(x))``."""
        return self.decode(self.encode(x))


def build_resshift_vq(*, ch: int = 128, ch_mult=(1, 2, 4), num_res_blocks: int = 2, embed_dim: int = 3,
                      n_embed: int = 8192, z_channels: int = 3, device="cpu") -> VQAutoencoder:
    """A VQ autoencoder of ResShift's architecture with diffusers' random initial weights."""
    cfg = vq_config(ch=ch, ch_mult=ch_mult, num_res_blocks=num_res_blocks, embed_dim=embed_dim,
                    n_embed=n_embed, z_channels=z_channels)
    return VQAutoencoder(_vq_model_class()(**cfg)).to(device)


def _ldm_name(key: str, levels: int) -> str:
    """The LDM ``VQModelTorch`` name of a diffusers ``VQModel`` state-dict key."""
    rules = (
        (r"^encoder\.down_blocks\.(\d+)\.resnets\.", lambda m: f"encoder.down.{m[1]}.block."),
        (r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", lambda m: f"encoder.down.{m[1]}.downsample."),
        # diffusers runs up_blocks.0 first; LDM runs up[levels - 1] first
        (r"^decoder\.up_blocks\.(\d+)\.resnets\.", lambda m: f"decoder.up.{levels - 1 - int(m[1])}.block."),
        (r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
         lambda m: f"decoder.up.{levels - 1 - int(m[1])}.upsample."),
        (r"\.mid_block\.resnets\.(\d+)\.", lambda m: f".mid.block_{int(m[1]) + 1}."),
        (r"\.mid_block\.attentions\.0\.", ".mid.attn_1."),
        (r"\.group_norm\.", ".norm."),
        (r"\.to_([qkv])\.", r".\1."),
        (r"\.to_out\.0\.", ".proj_out."),
        (r"\.conv_shortcut\.", ".nin_shortcut."),
        (r"\.conv_norm_out\.", ".norm_out."),
    )
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    return key


def _describe(path, cfg: dict) -> str:
    return (f"{path} (read as a VQ autoencoder with widths {cfg['block_out_channels']}, "
            f"{cfg['layers_per_block']} res blocks, {cfg['num_vq_embeddings']} codes of "
            f"{cfg['vq_embed_dim']}, z_channels {cfg['latent_channels']})")


def _read_state_dict(path: Path) -> dict:
    """The state dict in ``path``: plain or under ``state_dict``, prefixes ``module.`` and
    ``_orig_mod.`` removed."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as e:  # a truncated zip, a bad pickle, a pickled object weights_only refuses
        raise ValueError(f"{path}: cannot be read with torch.load(weights_only=True) - truncated or "
                         f"corrupt file, or not a weights file ({type(e).__name__}: {e})") from e
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) for k in obj):
        what = f"a dict with keys {list(obj)[:5]}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        raise ValueError(f"{path}: not a state dict (a dict of parameter names to tensors, plain or under "
                         f"'state_dict'); it holds {what}")
    out = {}
    for key, value in obj.items():
        name = key
        while name.startswith(_PREFIXES):
            name = name.split(".", 1)[1]
        if name in out:
            raise ValueError(f"{path}: key {key!r} repeats {name!r} once its prefixes are removed")
        out[name] = value
    return out


def load_resshift_vq(path, *, ch: int = 128, ch_mult=(1, 2, 4), num_res_blocks: int = 2, embed_dim: int = 3,
                     n_embed: int = 8192, z_channels: int = 3, device="cpu") -> VQAutoencoder:
    """ResShift's VQ autoencoder from one of its released state dicts (LDM ``VQModelTorch`` names,
    e.g. ``celeba256_vq_f4_dim3_face.pth``; the defaults are that file's config). The file must hold
    exactly the architecture's keys, with their shapes; anything else raises ``ValueError`` naming
    the file and the key. Weights are loaded in float32."""
    path = Path(path)
    cfg = vq_config(ch=ch, ch_mult=ch_mult, num_res_blocks=num_res_blocks, embed_dim=embed_dim,
                    n_embed=n_embed, z_channels=z_channels)
    sd = _read_state_dict(path)
    with torch.device("meta"):
        vq = _vq_model_class()(**cfg)
    levels = len(cfg["block_out_channels"])
    names = {_ldm_name(k, levels): (k, t.shape) for k, t in vq.state_dict().items()}
    where = _describe(path, cfg)
    missing = [k for k in names if k not in sd]
    if len(missing) == len(names):
        raise ValueError(f"{where}: not a ResShift VQ autoencoder state dict - none of its keys is one "
                         f"(first: {next(iter(sd))!r}, expected e.g. {missing[0]!r})")
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}"
                         + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    unexpected = [k for k in sd if k not in names]
    if unexpected:
        raise ValueError(f"{where}: unexpected key {unexpected[0]!r}"
                         + (f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""))
    converted = {}
    for ldm, (key, shape) in names.items():
        value = sd[ldm]
        want = (*shape, 1, 1) if _ATTN_WEIGHT.search(ldm) else tuple(shape)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ValueError(f"{where}: key {ldm!r} is not a floating-point tensor")
        if tuple(value.shape) != want:
            raise ValueError(f"{where}: key {ldm!r} has shape {tuple(value.shape)}, the config expects "
                             f"{want}")
        converted[key] = value.to(torch.float32).reshape(shape)
    vq.load_state_dict(converted, strict=True, assign=True)
    return VQAutoencoder(vq).to(device)


def save_resshift_vq(model, path) -> None:
    """Write ``model`` (a ``VQAutoencoder`` or a diffusers ``VQModel``) as ResShift releases its
    autoencoders: a plain state dict with LDM ``VQModelTorch`` names, saved by ``torch.save``."""
    vq = model.vq if isinstance(model, VQAutoencoder) else model
    config = getattr(vq, "config", None)
    if not isinstance(vq, nn.Module) or not hasattr(config, "block_out_channels"):
        raise ValueError(f"save_resshift_vq needs a VQAutoencoder or a diffusers VQModel, "
                         f"got {type(model).__name__}")
    levels = len(config.block_out_channels)
    sd = {}
    for key, value in vq.state_dict().items():
        name = _ldm_name(key, levels)
        value = value.detach().to("cpu").clone()
        sd[name] = value[:, :, None, None] if _ATTN_WEIGHT.search(name) else value
    torch.save(sd, Path(path))
