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

__all__ = ["OFFICIAL", "OfficialWeightsMissing", "cache_dir", "official_file", "download"]

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
