"""ResShift's official inpainting weights: where they come from, where they go, one download.

Files are fetched once into ``$MRS_HOME`` (default ``~/.cache/mrs``) with a progress bar, written
to a temporary file and renamed into place only when complete (and, where the server says, of the
announced size). Without a network, ``official_file`` raises one clear error saying which file to
put where, so a user can copy it there by hand.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["OFFICIAL", "OfficialWeightsMissing", "cache_dir", "official_file", "download", "load_official"]

_RELEASE = "https://github.com/zsyOAOA/ResShift/releases/download/v2.0/"
# name -> (denoiser file, autoencoder file): ResShift's inference_resshift.py lists these URLs
OFFICIAL = {
    "resshift_official_face": ("resshift_inpainting_face_s4.pth", "celeba256_vq_f4_dim3_face.pth"),
    "resshift_official_imagenet": ("resshift_inpainting_imagenet_s4.pth", "autoencoder_vq_f4.pth"),
}


class OfficialWeightsMissing(FileNotFoundError):
    """An official weights file is neither in the cache nor downloadable here."""


def cache_dir() -> Path:
    """``$MRS_HOME``, else ``~/.cache/mrs``."""
    return Path(os.environ.get("MRS_HOME") or Path.home() / ".cache" / "mrs")


def download(url: str, dest, progress: bool = True, timeout: float = 30.0) -> Path:
    """Fetch ``url`` into ``dest`` atomically (temporary file + rename), checking the size the
    server announces. Raises ``OSError`` (e.g. ``urllib.error.URLError``) when offline."""
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout) as r:
        total = int(r.headers.get("Content-Length") or 0) or None
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f, tqdm(total=total, unit="B", unit_scale=True,
                                                 desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    f.write(chunk)
                    bar.update(len(chunk))
            size = os.path.getsize(tmp)
            if total is not None and size != total:
                raise OSError(f"download of {url} stopped at {size} of {total} bytes")
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return dest


def official_file(filename: str, progress: bool = True, allow_download: bool = True) -> Path:
    """The cached path of an official file, downloading it first if needed (and allowed)."""
    path = cache_dir() / filename
    if path.is_file():
        return path
    if allow_download:
        try:
            return download(_RELEASE + filename, path, progress=progress)
        except (OSError, urllib.error.URLError) as err:
            why = f"the download failed ({type(err).__name__}: {str(err)[:100]})"
    else:
        why = "downloads are off"
    raise OfficialWeightsMissing(
        f"ResShift's {filename} is not in {cache_dir()} and {why}. Download "
        f"{_RELEASE + filename} on a machine with a network and put it at {path} "
        "(or set $MRS_HOME to the folder that holds it).")


def load_official(name: str, device="cpu", sampler=None, allow_download: bool = True,
                  unet_kwargs: dict | None = None, vq_kwargs: dict | None = None):
    """ResShift's released inpainting model ``name`` (``OFFICIAL``) as a 256-px latent pipeline.

    The network (``mrs.nets.ResShiftUNet``, exact) and the VQ-f4 autoencoder
    (``mrs.nets.autoencoder``) are read from the cache (downloaded first if needed); the process
    is plain ``resshift`` on the schedule the weights were trained with (T = 4, kappa = 2,
    ``mrs.ScheduleSpec()``), the hole of ``y`` is filled with -1 as in ResShift's data.
    ``unet_kwargs`` / ``vq_kwargs`` override the architecture (tests use small random files)."""
    from ..core import ScheduleSpec, make_process
    from ..nets import load_resshift_unet
    from ..nets.autoencoder import load_resshift_vq
    from .pipeline import InpaintPipeline

    if name not in OFFICIAL:
        raise ValueError(f"name must be one of {sorted(OFFICIAL)}, got {name!r}")
    unet_file, vq_file = (official_file(f, allow_download=allow_download) for f in OFFICIAL[name])
    schedule = ScheduleSpec().build()
    net = load_resshift_unet(unet_file, schedule=schedule, **(unet_kwargs or {})).to(device).eval()
    vq = load_resshift_vq(vq_file, device=device, **(vq_kwargs or {}))
    meta = {"official": name, "files": [str(unet_file), str(vq_file)], "schedule": schedule.spec.to_dict(),
            "process": {"name": "resshift", "options": {}}, "loss": "ResShift's own training"}
    image_size = int(net.cfg.lq_size)
    return InpaintPipeline(net, make_process("resshift", schedule), sampler=sampler, image_size=image_size,
                           name=name, meta=meta, autoencoder=vq, latent_mask="max", fill=-1.0)
