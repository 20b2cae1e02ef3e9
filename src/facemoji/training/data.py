"""Load FER-2013 and other labelled face-crop collections into one in-memory array form.

Three layouts are understood, each given as a path:

* Kaggle's image layout, as a folder or as the ``.zip`` itself: ``train/<class>/*.jpg`` and
  ``test/<class>/*.jpg``; the test files' ``PublicTest_``/``PrivateTest_`` prefixes give the
  ``public`` and ``private`` splits.
* The original ``fer2013.csv`` (columns ``emotion,pixels,Usage``).
* Any folder with one sub-folder per class (class names or synonyms such as ``happiness``);
  missing classes are allowed. Such a folder is a single split, ``all``.

Images are decoded once, converted to 48x48 grayscale and cached as ``.npz`` under the cache
directory; a corrupt image is skipped and counted.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from facemoji import paths
from facemoji.emotions import EMOTIONS, parse_emotion
from facemoji.files import sha256_file

SIZE = 48
SPLITS = ("train", "test", "public", "private", "all")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_CSV_USAGE = {"Training": "train", "PublicTest": "public", "PrivateTest": "private"}
_CACHE_VERSION = "2"


class DatasetError(ValueError):
    """The path does not hold a dataset in any layout we understand."""


@dataclass(frozen=True)
class FaceDataset:
    """Labelled 48x48 grayscale faces. ``labels[i]`` indexes :data:`facemoji.emotions.EMOTIONS`."""

    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64
    split: str
    source: str
    skipped: int = 0  # undecodable files (or CSV rows) of this split left out

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {e.value: int(c) for e, c in zip(EMOTIONS, counts, strict=True)}


@dataclass(frozen=True)
class _Item:
    split: str  # train / public / private / all
    label: int


def load_dataset(path: str | Path, split: str = "train", cache_dir: Path | None = None) -> FaceDataset:
    """Load one split of the dataset at ``path``.

    ``split`` is ``train``, ``test`` (public + private), ``public``, ``private``, or ``all``
    (everything). A folder of class sub-folders has no splits: it is returned whole whatever
    ``split`` says, with ``split == "all"``.

    Raises:
        DatasetError: the path is missing or holds no known layout, or the split is empty.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    path = Path(path)
    try:
        path = path.expanduser()
        if not path.exists():
            raise DatasetError(f"{path} does not exist; expected {_EXPECTED}")
    except (OSError, RuntimeError) as e:  # no permission to look, too long a name, ~unknown-user
        raise DatasetError(f"cannot use {path} ({getattr(e, 'strerror', None) or e})") from e
    arrays = _cached_decode(path, cache_dir or paths.cache_dir())
    if set(np.unique(arrays["splits"])) <= {"all"}:
        split = "all"
    keep = _in_split(arrays["splits"], split)
    if not keep.any():
        raise DatasetError(f"{path} has no {split!r} images")
    return FaceDataset(
        images=arrays["images"][keep],
        labels=arrays["labels"][keep],
        split=split,
        source=str(path),
        skipped=int(_in_split(arrays["skipped_splits"], split).sum()),
    )


def _in_split(splits: np.ndarray, split: str) -> np.ndarray:
    """Mask of the entries of ``splits`` (one split name per face) that belong to ``split``."""
    if split == "all":
        return np.ones(len(splits), dtype=bool)
    if split == "test":
        return np.isin(splits, ["public", "private"])
    return splits == split


_EXPECTED = (
    "Kaggle's FER-2013 layout (train/<class>/*.jpg and test/<class>/*.jpg, as a folder or .zip), "
    "the original fer2013.csv (emotion,pixels,Usage), or a folder with one sub-folder per class "
    f"({', '.join(e.value for e in EMOTIONS)})"
)


def _cache_key(path: Path) -> tuple[str, str]:
    """Where the data is, and a state that changes when the file, or any file under the folder,
    is added, removed or rewritten."""
    stat = path.stat()
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    state = hashlib.sha256(f"{_CACHE_VERSION}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            try:
                s = p.stat()
            except OSError:  # a broken link or a link loop; decoding skips it too
                continue
            state.update(f"|{p.relative_to(path).as_posix()}|{s.st_size}|{s.st_mtime_ns}".encode())
    return where, state.hexdigest()[:16]


def _cached_decode(path: Path, cache_dir: Path) -> dict[str, np.ndarray]:
    where, state = _cache_key(path)
    cache = cache_dir / "datasets" / f"{path.name}-{where}-{state}.npz"
    try:
        with np.load(cache, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # not cached yet, or a damaged cache
        pass
    arrays = _decode(path)
    # a per-process temp name: DDP ranks decode the same dataset at the same time
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, **arrays)
        tmp.replace(cache)  # never leave a half-written cache behind
    except OSError as e:
        raise DatasetError(
            f"cannot write the decoded dataset to {cache.parent} ({e}); set FACEMOJI_CACHE to a writable folder"
        ) from e
    finally:
        with contextlib.suppress(OSError):  # left behind only when writing failed
            tmp.unlink()
    # The same data decoded before it changed (or was copied in anew) is never read again.
    for old in cache.parent.glob(f"{glob.escape(path.name)}-{where}-*.npz"):
        if old != cache and not old.name.endswith(".tmp.npz"):
            with contextlib.suppress(OSError):
                old.unlink()
    return arrays


def _decode(path: Path) -> dict[str, np.ndarray]:
    if path.is_file() and path.suffix.lower() == ".csv":
        return _decode_csv(path)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                items = _classify(names)
                return _decode_files(items, lambda n: zf.read(n), path)
        except zipfile.BadZipFile as e:
            raise DatasetError(f"{path} is a damaged zip file ({e})") from e
    if path.is_file() and path.suffix.lower() == ".zip":
        raise DatasetError(f"{path} is not a readable zip file: it may be truncated or corrupt")
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        items = _classify(names)
        return _decode_files(items, lambda n: (path / n).read_bytes(), path)
    raise DatasetError(f"{path} is neither a folder, a .zip nor a .csv; expected {_EXPECTED}")


def _classify(names: list[str]) -> dict[str, _Item]:
    """Label each image path by its class folder and split it by the Kaggle layout if present."""
    items: dict[str, _Item] = {}
    for name in names:
        p = PurePosixPath(name)
        if p.suffix.lower() not in _IMAGE_SUFFIXES or len(p.parts) < 2 or "__MACOSX" in p.parts:
            continue
        emotion = parse_emotion(p.parts[-2])
        if emotion is None:
            continue
        parent = p.parts[-3].lower() if len(p.parts) >= 3 else ""
        if parent == "train":
            split = "train"
        elif parent == "test":
            split = "private" if p.name.startswith("PrivateTest") else "public"
        else:
            split = "all"
        items[name] = _Item(split, EMOTIONS.index(emotion))
    if not items:
        raise DatasetError(f"found no images in class folders; expected {_EXPECTED}")
    return items


def _decode_files(items: dict[str, _Item], read, source: Path) -> dict[str, np.ndarray]:
    images, labels, splits, skipped = [], [], [], []
    for name in sorted(items):
        item = items[name]
        try:
            images.append(_to_gray48(Image.open(io.BytesIO(read(name)))))
        # Damaged files fail in many ways (OSError, zipfile's BadZipFile on a bad CRC, zlib.error,
        # Pillow's SyntaxError or struct.error, ...); each one only means "skip this file".
        except Exception:
            skipped.append(item.split)
            continue
        labels.append(item.label)
        splits.append(item.split)
    if not images:
        raise DatasetError(f"{source}: none of {len(items)} images could be decoded")
    return _pack(images, labels, splits, skipped)


def _decode_csv(path: Path) -> dict[str, np.ndarray]:
    images, labels, splits, skipped = [], [], [], []
    # utf-8-sig: spreadsheet programs start the file with a byte-order mark; a byte that is not
    # UTF-8 can only sit in a broken row, which is then skipped like any other.
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        for row in _rows(csv.DictReader(f), path):
            split = _CSV_USAGE.get((row.get("Usage") or "").strip(), "all")
            try:
                label = int(row["emotion"])
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                if not 0 <= label < len(EMOTIONS) or pixels.size != SIZE * SIZE:
                    raise ValueError
            except (ValueError, TypeError, AttributeError, OverflowError):
                skipped.append(split)
                continue
            images.append(pixels.reshape(SIZE, SIZE))
            labels.append(label)
            splits.append(split)
    if not images:
        raise DatasetError(f"{path} holds no valid rows; expected {_EXPECTED}")
    return _pack(images, labels, splits, skipped)


def _rows(reader: csv.DictReader, path: Path) -> Iterator[dict[str, str]]:
    try:
        if not reader.fieldnames or not {"emotion", "pixels"} <= set(reader.fieldnames):
            raise DatasetError(f"{path} has columns {reader.fieldnames}; expected {_EXPECTED}")
        yield from reader
    except csv.Error as e:
        raise DatasetError(f"{path} is not a readable CSV: {e}") from e


def _to_gray48(img: Image.Image) -> np.ndarray:
    img.load()
    gray = img.convert("L")
    if gray.size != (SIZE, SIZE):
        gray = gray.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.uint8)


def _pack(images: list[np.ndarray], labels: list[int], splits: list[str], skipped: list[str]) -> dict[str, np.ndarray]:
    """The cached arrays; ``skipped`` holds the split of each file or row that could not be read."""
    return {
        "images": np.stack(images),
        "labels": np.asarray(labels, dtype=np.int64),
        "splits": np.asarray(splits, dtype=str),
        "skipped_splits": np.asarray(skipped, dtype=str),
    }


def file_sha256(path: Path) -> str:
    """Hash of a dataset file (for model cards); folders hash their sorted file list and sizes."""
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(path).as_posix()}|{p.stat().st_size}\n".encode())
    return h.hexdigest()
