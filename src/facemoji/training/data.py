"""Load FER-2013 and other labelled face-crop collections into one in-memory array form.

Three layouts are understood, each given as a path:

* Kaggle's image layout, as a folder or as the ``.zip`` itself: ``train/<class>/*.jpg`` and
  ``test/<class>/*.jpg``; the test files' ``PublicTest_``/``PrivateTest_`` prefixes give the
  ``public`` and ``private`` splits.
* The original ``fer2013.csv`` (columns ``emotion,pixels,Usage``).
* Any folder with one sub-folder per class (class names or synonyms such as ``happiness``);
  missing classes are allowed. Such a folder is a single split, ``all``.

Images are decoded once (through :func:`facemoji.imageio.load_image`, as the app decodes
them), converted to 48x48 grayscale and cached as ``.npz`` under the cache directory. A corrupt
or oversized image, or a bad CSV row, is skipped and counted.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import io
import itertools
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
from facemoji.imageio import IMAGE_SUFFIXES, ImageError, load_image

SIZE = 48
SPLITS = ("train", "test", "public", "private", "all")
MAX_FILE_BYTES = 20_000_000  # no face image comes near; larger files are skipped unread
# Face crops are small (FER-2013's are 48x48) and 12 MP still takes a whole phone photo, while a
# decompression bomb is refused from its header instead of filling memory.
MAX_PIXELS = 12_000_000
MAX_CSV_LINE = 16 * 2**20  # characters; a FER-2013 row is ~7,000, longer lines are skipped unread
_IMAGE_SUFFIXES = IMAGE_SUFFIXES - {".heic", ".heif"}  # the app's, less what it cannot read
_CSV_USAGE = {"training": "train", "publictest": "public", "privatetest": "private"}
# The split of a skipped CSV row whose split is unknown (an unknown Usage, or a line too long or
# malformed to read it): it might have belonged to any split, so every split counts it.
_NO_SPLIT = "?"
_CACHE_VERSION = "3"
_CACHE_NAME_CHARS = 40  # of the data's own name in the cache file's; its hash tells paths apart
_SYNONYM_EXAMPLES = ("anger", "happiness", "joy", "sadness", "surprised", "fearful", "disgusted", "calm")


class DatasetError(ValueError):
    """The path does not hold a dataset in any layout we understand."""


@dataclass(frozen=True)
class FaceDataset:
    """Labelled 48x48 grayscale faces. ``labels[i]`` indexes :data:`facemoji.emotions.EMOTIONS`."""

    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64
    split: str
    source: str
    skipped: int = 0  # unreadable files (or CSV rows) of this split, and CSV rows of no known split, left out

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
    skipped = arrays["skipped_splits"]
    return FaceDataset(
        images=arrays["images"][keep],
        labels=arrays["labels"][keep],
        split=split,
        source=str(path),
        skipped=int((_in_split(skipped, split) | (skipped == _NO_SPLIT)).sum()),
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
    where = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:8]  # fsencode: any file name, even not UTF-8
    state = hashlib.sha256(f"{_CACHE_VERSION}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            try:
                s = p.stat()
            except OSError:  # a broken link or a link loop; decoding skips it too
                continue
            state.update(b"|" + os.fsencode(p.relative_to(path).as_posix()) + f"|{s.st_size}|{s.st_mtime_ns}".encode())
    return where, state.hexdigest()[:16]


def _cached_decode(path: Path, cache_dir: Path) -> dict[str, np.ndarray]:
    where, state = _cache_key(path)
    name = path.name[:_CACHE_NAME_CHARS]  # file names hold at most 255 bytes
    cache = cache_dir / "datasets" / f"{name}-{where}-{state}.npz"
    arrays = _read_cache(cache)
    if arrays is not None:
        return arrays
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
    for old in cache.parent.glob(f"{glob.escape(name)}-{where}-*.npz"):
        if old != cache and not old.name.endswith(".tmp.npz"):
            with contextlib.suppress(OSError):
                old.unlink()
    return arrays


def _read_cache(cache: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays; None when not cached yet or the cache is damaged (then it is decoded again)."""
    try:
        with np.load(cache, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    # A damaged or tampered file fails in many ways (OSError, BadZipFile, zlib.error, ValueError
    # on a bad header, TypeError when it holds a lone array, ...); each one only means "decode again".
    except Exception:
        return None
    return arrays if _well_formed(arrays) else None


def _well_formed(arrays: dict[str, np.ndarray]) -> bool:
    """Whether ``arrays`` are as :func:`_pack` makes them."""
    if set(arrays) != {"images", "labels", "splits", "skipped_splits"}:
        return False
    images, labels, splits, skipped = (arrays[k] for k in ("images", "labels", "splits", "skipped_splits"))
    n = len(labels) if labels.ndim == 1 else -1
    return (
        images.shape == (n, SIZE, SIZE)
        and images.dtype == np.uint8
        and labels.dtype == np.int64
        and bool(((labels >= 0) & (labels < len(EMOTIONS))).all())
        and splits.dtype.kind == skipped.dtype.kind == "U"
        and splits.shape == (n,)
        and skipped.ndim == 1
        and set(np.unique(splits)) | set(np.unique(skipped)) <= {"train", "public", "private", "all", _NO_SPLIT}
    )


def _decode(path: Path) -> dict[str, np.ndarray]:
    if path.is_file() and path.suffix.lower() == ".csv":
        return _decode_csv(path)
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                items = _classify(names)
                if all(zf.getinfo(n).flag_bits & 0x1 for n in items):
                    raise DatasetError(f"{path} is an encrypted (password-protected) zip; unzip it and pass the folder")
                return _decode_files(items, lambda n: _read_member(zf, n), path)
        except zipfile.BadZipFile as e:
            raise DatasetError(f"{path} is a damaged zip file ({e})") from e
    if path.is_file() and path.suffix.lower() == ".zip":
        raise DatasetError(f"{path} is not a readable zip file: it may be truncated or corrupt")
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        items = _classify(names)
        return _decode_files(items, lambda n: _read_file(path / n), path)
    raise DatasetError(f"{path} is neither a folder, a .zip nor a .csv; expected {_EXPECTED}")


def _classify(names: list[str]) -> dict[str, _Item]:
    """Label each image path by its class folder and split it by the Kaggle layout if present."""
    items: dict[str, _Item] = {}
    other_folders: set[str] = set()
    for name in names:
        p = PurePosixPath(name)
        if p.suffix.lower() not in _IMAGE_SUFFIXES or len(p.parts) < 2 or "__MACOSX" in p.parts:
            continue
        emotion = parse_emotion(p.parts[-2])
        if emotion is None:
            other_folders.add(p.parts[-2])
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
        raise DatasetError(_no_class_folders(other_folders))
    return items


def _no_class_folders(folders: set[str]) -> str:
    if not folders:
        return f"found no images in class folders; expected {_EXPECTED}"
    shown = ", ".join(repr(f) for f in sorted(folders)[:5])  # repr: any name prints, even one not UTF-8
    more = f" and {len(folders) - 5} more" if len(folders) > 5 else ""
    return (
        f"found no images in class folders (images are in {shown}{more}); name each class folder "
        f"{', '.join(e.value for e in EMOTIONS)} or a synonym ({', '.join(_SYNONYM_EXAMPLES)}, ...)"
    )


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_FILE_BYTES:  # zipfile never inflates a member past its file_size
        raise ImageError(f"{name}: {info.file_size:,} bytes is too large for a face image")
    return zf.read(info)


def _read_file(path: Path) -> bytes:
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{path}: {size:,} bytes is too large for a face image")
        return f.read()


def _decode_files(items: dict[str, _Item], read, source: Path) -> dict[str, np.ndarray]:
    images, labels, splits, skipped = [], [], [], []
    for name in sorted(items):
        item = items[name]
        try:
            images.append(_to_gray48(read(name)))
        # Damaged files fail in many ways (ImageError from the decoder or our size checks, OSError,
        # zipfile's BadZipFile on a bad CRC, zlib.error, ...); each one only means "skip this file".
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
    # Lines are capped at MAX_CSV_LINE, so the csv module's own field limit (128 KiB) only needs
    # raising to that. It is process-wide, and only ever raised.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_LINE))
    # utf-8-sig: spreadsheet programs start the file with a byte-order mark; a byte that is not
    # UTF-8 can only sit in a broken row, which is then skipped like any other.
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        columns = _csv_header(f, path)
        for row in _csv_rows(f, columns):
            split = _NO_SPLIT if row is None else _csv_split(row.get("usage", ""))
            face = None if split == _NO_SPLIT else _csv_face(row)
            if face is None:
                skipped.append(split)
                continue
            labels.append(face[0])
            images.append(face[1])
            splits.append(split)
    if not images:
        raise DatasetError(f"{path} holds no valid rows; expected {_EXPECTED}")
    if set(splits) != {"all"} and "all" in splits:  # a blank Usage among named ones: its split is unknown
        blank = [i for i, split in enumerate(splits) if split == "all"]
        skipped += [_NO_SPLIT] * len(blank)
        keep = [i for i, split in enumerate(splits) if split != "all"]
        images, labels, splits = [images[i] for i in keep], [labels[i] for i in keep], [splits[i] for i in keep]
    return _pack(images, labels, splits, skipped)


def _csv_face(row: dict[str, str | None]) -> tuple[int, np.ndarray] | None:
    """A row's label and (48, 48) pixels, or None when they are missing or malformed."""
    try:
        label = int(row["emotion"])
        pixels = np.array(row["pixels"].split(), dtype=np.uint8)
    except (ValueError, TypeError, AttributeError, OverflowError):  # TypeError, AttributeError: a value is missing
        return None
    if not 0 <= label < len(EMOTIONS) or pixels.size != SIZE * SIZE:
        return None
    return label, pixels.reshape(SIZE, SIZE)


def _csv_header(f: io.TextIOBase, path: Path) -> list[str]:
    """The column names, stripped and in lower case (``Usage`` and `` usage`` alike)."""
    while (line := _csv_line(f)) is not None and line != "" and not line.strip():  # blank lines before it
        pass
    fields = _csv_fields(line) if line is not None else None
    if fields is None or not all(_is_text(c) for c in fields):  # say so, rather than quote binary bytes
        raise DatasetError(f"{path} is not a readable CSV: its first line is not a text header; expected {_EXPECTED}")
    if not {"emotion", "pixels"} <= {c.strip().lower() for c in fields}:
        more = f" and {len(fields) - 8} more" if len(fields) > 8 else ""
        raise DatasetError(f"{path} has columns {fields[:8]}{more}; expected {_EXPECTED}")
    return [c.strip().lower() for c in fields]


def _is_text(s: str) -> bool:
    return "\ufffd" not in s and all(c.isprintable() or c == "\t" for c in s)


def _csv_rows(f: io.TextIOBase, columns: list[str]) -> Iterator[dict[str, str | None] | None]:
    """Each row as ``{column: value}``, or None for a line too long or too malformed to read.

    One row per line: FER-style CSVs never quote a line break, and so a stray quote spoils only
    its own line instead of swallowing the rest of the file.
    """
    while (line := _csv_line(f)) != "":
        fields = _csv_fields(line) if line is not None else None
        if fields is None:
            yield None
        elif fields:  # a blank line is no row, as for csv.DictReader
            yield dict(itertools.zip_longest(columns, fields))  # a short row's missing values are None


def _csv_line(f: io.TextIOBase) -> str | None:
    """The next line ("" at the end), or None for one over MAX_CSV_LINE characters, which is skipped unread."""
    line = f.readline(MAX_CSV_LINE)
    if len(line) < MAX_CSV_LINE or line.endswith(("\n", "\r")):
        return line
    while (rest := f.readline(MAX_CSV_LINE)) and not rest.endswith(("\n", "\r")):
        pass
    return None


def _csv_fields(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return None


def _csv_split(usage: str | None) -> str:
    """The split a CSV row's Usage names: ``all`` for none (no such column, or an empty value);
    :data:`_NO_SPLIT` for an unknown value, or None: a row too short to hold one."""
    if usage is None:
        return _NO_SPLIT
    usage = usage.strip().lower()
    return _CSV_USAGE.get(usage, _NO_SPLIT) if usage else "all"


def _to_gray48(data: bytes) -> np.ndarray:
    # for an 8-bit grayscale image (R = G = B) this "L" conversion gives back the very same values
    gray = Image.fromarray(load_image(data, MAX_PIXELS)).convert("L")
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
            h.update(os.fsencode(p.relative_to(path).as_posix()) + f"|{p.stat().st_size}\n".encode())
    return h.hexdigest()
