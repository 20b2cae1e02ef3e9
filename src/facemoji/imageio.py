"""Reading and writing still images safely: any input in, a (H, W, 3) uint8 RGB array out.

Everything facemoji reads from users goes through :func:`load_image`, which turns files, bytes,
arrays and Pillow images of any mode into one shape and refuses the rest with :class:`ImageError`:

- Formats are recognised by content, never by suffix, and only these are decoded: JPEG (and
  MPO, the multi-picture JPEG many cameras write), PNG, WebP, AVIF, GIF, BMP, TIFF. Pillow's other
  decoders (PSD, EPS through Ghostscript, FLI, ...) are rarely needed and widen the attack surface.
- The pixel count is checked against ``max_pixels`` from the header, before anything is decoded.
- EXIF orientation is applied, so the array is upright as a photo viewer shows it.
- Transparent pixels are composited onto white (what a viewer shows; dropping alpha would expose
  whatever colour the hidden pixels happen to hold, often black, which hides faces).
- Animated images give their first frame.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facemoji.files import write_atomic

# 64 MP covers every camera photo we expect (48 MP phones: 8000x6000; Sony A7R IV: 9504x6336 = 60.2 MP)
# while bounding memory: decoding an RGBA image this size holds ~4 + 3 bytes/pixel, about 450 MB.
# It is below Pillow's own 89.5 MP warning threshold, so by default our message is the one users see.
DEFAULT_MAX_PIXELS = 64_000_000
MAX_SIDE = 32_766
"""Longest side of an image facemoji analyses: OpenCV's remap, which MediaPipe uses to resize its
input, aborts the whole process (no exception) on a side of 32,767 px or more."""

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "TIFF")  # Pillow's JPEG opener also yields MPO
# Suffixes looked for in folders. HEIC is among them so that an iPhone photo gets a line saying it
# cannot be read, rather than being passed over without a word.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".avif", ".gif", ".bmp",
                            ".tif", ".tiff", ".heic", ".heif"})  # fmt: skip
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
SAVE_SUFFIXES = frozenset(_SAVE_FORMATS)  # the file types save_image writes
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 90}}  # above Pillow's 75/80: outputs are viewed
_ALPHA_FORMATS = frozenset({"PNG", "WEBP"})
_SAVE_MAX_SIDE = {"JPEG": 65_535, "WEBP": 16_383}  # what the formats can hold
_HIGH_DEPTH_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_ACCEPTED = "JPEG, PNG, WebP, AVIF, GIF, BMP or TIFF (HEIC is not supported)"
_ACCEPTED_ARRAYS = "(H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA arrays of uint8, uint16 or floats in [0, 1]"
_RAISE_LIMIT = "raise max_pixels (--max-pixels on the command line) to accept it"

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray | Image.Image


class ImageError(ValueError):
    """An input that is not a usable image, or an image that cannot be written; the message says why."""


def load_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Load an image from a path, encoded bytes, an array or a Pillow image.

    Arrays are taken as RGB(A) channel order (convert OpenCV's BGR frames first) with
    uint8 values as they are, uint16 scaled from 0..65535 and floats from 0..1. Pillow's
    32-bit modes carry no declared range: ``I`` holding only 0..65535 is scaled as 16-bit,
    ``F`` holding only 0..1 as unit floats, anything else is stretched from its min..max.
    A Pillow image is used at its current frame.

    Args:
        source: the image.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard). Above
            ``2 * PIL.Image.MAX_IMAGE_PIXELS`` Pillow refuses too, so raise that as well.

    Returns:
        (H, W, 3) uint8 RGB, C-contiguous. An array that already is one is returned as is.

    Raises:
        ImageError: the source is missing, unreadable, empty, truncated, not an accepted format,
            too large (see ``max_pixels`` and :data:`MAX_SIDE`), or an array of the wrong shape,
            dtype or range.
        MemoryError: not enough memory to decode it.
    """
    if isinstance(source, np.ndarray):
        # a plain array: subclasses such as np.matrix break numpy's own functions (one crashed the process)
        rgb = _array_to_rgb(np.asarray(source), max_pixels)
    elif isinstance(source, Image.Image):
        rgb = _decode_pil(source, "image", max_pixels)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = source.tobytes() if isinstance(source, memoryview) else source  # any shape or stride, as bytes
        name = f"image bytes ({len(data):,} bytes)"
        if not len(data):
            raise ImageError(f"{name}: no data; expected an encoded {_ACCEPTED} image")
        rgb = _decode_file(io.BytesIO(data), name, max_pixels)
    elif isinstance(source, (str, os.PathLike)):
        if not os.fspath(source):  # Path("") would be the current folder
            raise ImageError("an empty path; expected an image file")
        rgb = _load_path(Path(source), max_pixels)
    else:
        raise ImageError(
            f"cannot load an image from a {type(source).__name__}; expected a path, bytes, a numpy array or a PIL image"
        )
    return rgb


def check_rgb(rgb: np.ndarray) -> None:
    """Raises ValueError unless ``rgb`` is a non-empty (H, W, 3) uint8 array, as load_image returns."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"expected an RGB image as a (H, W, 3) uint8 array, got {got}")
    if rgb.size == 0:
        raise ValueError(f"expected a non-empty image, got shape {rgb.shape}")
    if max(rgb.shape[:2]) > MAX_SIDE:
        raise ValueError(f"image sides over {MAX_SIDE:,} px are not supported, got shape {rgb.shape}")


def iter_image_paths(
    paths: Iterable[str | os.PathLike], on_error: Callable[[Path, str], None] | None = None
) -> Iterator[Path]:
    """Expand files and folders into image files.

    Files are yielded as given, whatever their suffix (load_image detects formats by content).
    Folders are walked recursively and lazily, one sorted folder listing at a time, keeping files
    whose suffix is one of ``IMAGE_SUFFIXES`` (any case). Hidden entries (names starting with a
    dot: AppleDouble ``._x.jpg`` files, ``.thumbnails``) and symlinked folders (possible cycles)
    are skipped. A folder that cannot be listed (no permission, gone since) or a file that cannot
    be looked at (a looping link) is passed to ``on_error`` with the reason and skipped; without
    ``on_error`` it ends the iteration with an ImageError.

    Raises:
        ImageError: at call time, for a path that does not exist; while iterating, for a folder
            or file that cannot be looked at when there is no ``on_error``.
    """
    roots = [Path(p) for p in paths]
    missing = [f"{p} (a broken or looping link)" if p.is_symlink() else str(p) for p in roots if not p.exists()]
    if missing:
        raise ImageError(f"no such file or folder: {', '.join(missing)}")
    return _expand(roots, on_error)


def save_image(image: np.ndarray | Image.Image, path: str | os.PathLike) -> Path:
    """Write an image atomically (temp file in the same folder, then rename), format from the suffix.

    ``.png`` and ``.webp`` keep an alpha channel ((H, W, 4) arrays, Pillow images with
    transparency); ``.jpg``/``.jpeg`` composite it onto white. Other inputs are converted as
    :func:`load_image` does. An existing file is replaced only once the new one is complete.

    Returns:
        ``path`` as a Path.

    Raises:
        ImageError: unknown suffix, an input load_image refuses, or the file cannot be written.
    """
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"cannot save {path}: unknown suffix {path.suffix!r}; use .png, .jpg, .jpeg or .webp")
    pil = _to_pil(image, keep_alpha=fmt in _ALPHA_FORMATS)
    limit = _SAVE_MAX_SIDE.get(fmt)
    if limit is not None and max(pil.size) > limit:
        w, h = pil.size
        raise ImageError(f"cannot write {path}: {w}x{h} pixels; {fmt} holds at most {limit:,} px a side, use .png")
    encoded = io.BytesIO()
    try:
        pil.save(encoded, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
        return write_atomic(path, encoded.getvalue())
    except OSError as e:
        raise ImageError(f"cannot write {path}: {e.strerror or e}") from e
    except ValueError as e:  # the encoder refusing the image
        raise ImageError(f"cannot write {path}: {e}") from e


def _load_path(path: Path, max_pixels: int) -> np.ndarray:
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(f"{path}: is a folder, expected an image file")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{path}: not a regular file, expected an image file")
        if st.st_size == 0:
            raise ImageError(f"{path}: the file is empty; expected a {_ACCEPTED} image")
        with open(path, "rb") as f:
            return _decode_file(f, str(path), max_pixels)
    except FileNotFoundError as e:
        raise ImageError(f"{path}: no such file") from e
    except PermissionError as e:
        raise ImageError(f"{path}: permission denied, cannot read the file") from e
    except OSError as e:  # I/O errors from the disk itself; Pillow's own are converted in _decode_file
        raise ImageError(f"{path}: cannot read the file ({e.strerror or e})") from e


def _decode_file(fp: io.BufferedIOBase, name: str, max_pixels: int) -> np.ndarray:
    with _decoding(name, max_pixels), Image.open(fp, formats=ACCEPTED_FORMATS) as im:
        return _decode_pil(im, name, max_pixels)


def _decode_pil(im: Image.Image, name: str, max_pixels: int | None) -> np.ndarray:
    """Pillow image (possibly not loaded yet) -> RGB array. Loading (``max_pixels`` given) checks
    the size from the header, before decoding; saving (None) takes any size."""
    w, h = im.size
    if w * h == 0:
        raise ImageError(f"{name}: the image is empty ({w}x{h} pixels)")
    if max_pixels is not None:
        _check_size(name, w, h, max_pixels)
    with _decoding(name, max_pixels):
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in _HIGH_DEPTH_GRAY_MODES:
            return _gray_to_rgb(_scale_high_depth(np.asarray(im), name))
        return np.array(_flatten(im), dtype=np.uint8)


@contextmanager
def _decoding(name: str, max_pixels: int | None) -> Iterator[None]:
    """Around Pillow calls: its warnings silenced, its exceptions turned into ImageError."""
    # Pillow warns about recoverable oddities (corrupt EXIF, palette transparency, sizes near its
    # bomb limit); under `-W error` those would refuse good images, and the size guard is ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except (ImageError, MemoryError):  # the caller knows how to say "not enough memory"
            raise
        except UnidentifiedImageError as e:
            raise ImageError(f"{name}: not a recognised image; expected {_ACCEPTED}") from e
        except Image.DecompressionBombError as e:
            raise ImageError(_bomb_message(name, str(e), max_pixels)) from e
        except ValueError as e:
            if "Decompressed data too large" not in str(e):
                raise ImageError(_corrupt(name, e)) from e
            # PNG's guard against text-chunk bombs: the picture may be fine, its metadata is not
            raise ImageError(f"{name}: a metadata chunk (text or colour profile) is too large to read") from e
        # Pillow's decoders answer hostile data with a zoo of exception types (OSError,
        # SyntaxError, struct.error, IndexError, ...); any of them means "cannot decode".
        except Exception as e:
            raise ImageError(_corrupt(name, e)) from e


def _corrupt(name: str, e: Exception) -> str:
    return f"{name}: cannot decode the image, it may be truncated or corrupt ({type(e).__name__}: {e})"


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _flatten(im: Image.Image) -> Image.Image:
    """Any mode -> RGB, transparent pixels composited onto white."""
    if not _has_alpha(im):
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    out = Image.new("RGB", rgba.size, (255, 255, 255))
    out.paste(rgba, mask=rgba)
    return out


def _from_uint16(a: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255, rounded (65535 * 255 fits in uint32)."""
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _from_unit_float(a: np.ndarray) -> np.ndarray:
    return np.rint(a.astype(np.float32) * 255).astype(np.uint8)


def _scale_high_depth(a: np.ndarray, name: str) -> np.ndarray:
    """A Pillow I;16*/I/F image's values -> uint8 (rules in load_image's docstring)."""
    if a.dtype.kind == "u":  # I;16 variants, possibly big-endian
        return _from_uint16(a)
    if not np.isfinite(a).all():
        raise ImageError(f"{name}: the image holds NaN or infinite values")
    lo, hi = a.min(), a.max()
    if a.dtype.kind == "f" and lo >= 0 and hi <= 1:
        return _from_unit_float(a)
    if a.dtype.kind == "i" and lo >= 0 and hi <= 65535:
        return _from_uint16(a)
    if lo == hi:
        return np.zeros(a.shape, np.uint8)
    return np.rint((a.astype(np.float64) - lo) * 255 / (float(hi) - float(lo))).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _array_to_uint8(a: np.ndarray) -> np.ndarray:
    """Validate an array's dtype and range and bring it to uint8, keeping its shape."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return _from_uint16(a)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ImageError("array holds NaN or infinite values; float arrays must hold values in [0, 1]")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0 or hi > 1:
            raise ImageError(
                f"float array values span [{lo:g}, {hi:g}]; float arrays must hold values in [0, 1] "
                "(divide 0..255 data by 255 or pass it as uint8)"
            )
        return _from_unit_float(a)
    raise ImageError(f"unsupported array dtype {a.dtype}; expected {_ACCEPTED_ARRAYS}")


def _bomb_message(name: str, pillow_message: str, max_pixels: int | None) -> str:
    """Pillow refused the image in ``Image.open``, over twice ``PIL.Image.MAX_IMAGE_PIXELS``."""
    size = re.search(r"\((\d+) pixels\)", pillow_message)
    pixels = int(size.group(1)) if size else None
    said = f"{pixels:,} pixels" if pixels else "too many pixels"
    if max_pixels is not None and (pixels is None or pixels > max_pixels):
        return f"{name}: {said} exceeds max_pixels={max_pixels:,} (a guard against decompression bombs); {_RAISE_LIMIT}"
    return f"{name}: {said} is over Pillow's own limit; raise PIL.Image.MAX_IMAGE_PIXELS as well as max_pixels"


def _check_size(name: str, w: int, h: int, max_pixels: int) -> None:
    if w * h > max_pixels:
        raise ImageError(
            f"{name}: {w}x{h} = {w * h:,} pixels exceeds max_pixels={max_pixels:,} (a guard against "
            f"decompression bombs); {_RAISE_LIMIT}"
        )
    if max(w, h) > MAX_SIDE:
        raise ImageError(f"{name}: {w}x{h} pixels; sides over {MAX_SIDE:,} px are not supported, shrink it first")


def _check_array(a: np.ndarray, max_pixels: int | None) -> None:
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ImageError(f"unsupported array shape {a.shape}; expected {_ACCEPTED_ARRAYS}")
    if a.size == 0:
        raise ImageError(f"the array is empty (shape {a.shape}); expected {_ACCEPTED_ARRAYS}")
    if max_pixels is not None:
        _check_size("array", a.shape[1], a.shape[0], max_pixels)


def _array_to_rgb(a: np.ndarray, max_pixels: int | None) -> np.ndarray:
    _check_array(a, max_pixels)
    a = _array_to_uint8(a)
    if a.ndim == 2 or a.shape[2] == 1:
        return _gray_to_rgb(a.reshape(a.shape[:2]))
    if a.shape[2] == 4:
        return np.array(_flatten(Image.fromarray(np.ascontiguousarray(a), "RGBA")), dtype=np.uint8)
    return np.ascontiguousarray(a)


def _to_pil(image: np.ndarray | Image.Image, keep_alpha: bool) -> Image.Image:
    """What save_image writes: RGBA when asked to keep an alpha channel the input has, else RGB."""
    if isinstance(image, np.ndarray):
        if keep_alpha and image.ndim == 3 and image.shape[2] == 4:
            _check_array(image, None)
            return Image.fromarray(np.ascontiguousarray(_array_to_uint8(image)), "RGBA")
        return Image.fromarray(_array_to_rgb(image, None))
    if isinstance(image, Image.Image):
        if keep_alpha and _has_alpha(image):
            with _decoding("image", None):
                return ImageOps.exif_transpose(image).convert("RGBA")
        return Image.fromarray(_decode_pil(image, "image", None))
    raise ImageError(f"cannot save a {type(image).__name__}; expected a numpy array or a PIL image")


def _expand(roots: list[Path], on_error: Callable[[Path, str], None] | None) -> Iterator[Path]:
    for root in roots:
        if root.is_dir():
            yield from _walk(root, on_error)
        else:
            yield root


def _walk(folder: Path, on_error: Callable[[Path, str], None] | None) -> Iterator[Path]:
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as e:
        _refuse(folder, f"cannot list the folder ({e.strerror or e})", on_error)
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), on_error)
        elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
            try:
                is_file = entry.is_file()
            except OSError as e:  # a looping link; a link into a folder we may not enter
                _refuse(Path(entry.path), f"cannot look at the file ({e.strerror or e})", on_error)
                continue
            if is_file:
                yield Path(entry.path)


def _refuse(path: Path, reason: str, on_error: Callable[[Path, str], None] | None) -> None:
    if on_error is None:
        raise ImageError(f"{path}: {reason}")
    on_error(path, reason)
