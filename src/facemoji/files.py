"""Files written whole or not at all, and never over the file they were read from."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import uuid
from pathlib import Path


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents as needed.

    Raises:
        OSError: it cannot be made; when a part of the path is a file, the message names that file
            (Python's own says only "File exists").
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        for part in (folder, *folder.parents):
            if part.is_symlink() and not part.exists():
                raise NotADirectoryError(errno.ENOTDIR, f"{part} is a broken link", str(part)) from e
            if part.exists() and not part.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{part} is a file, not a folder", str(part)) from e
        raise


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to a temp file beside ``path``, then rename it over ``path``.

    Readers see the old file or the complete new one, never a part; on any error the temp file
    is removed and an existing ``path`` is left as it was. Text is written as UTF-8.

    Raises:
        OSError: the file cannot be written.
    """
    write_all_atomic({path: data})
    return path


def write_all_atomic(files: dict[Path, bytes | str]) -> list[Path]:
    """Write several files as one: every temp file first, then the renames.

    Running out of space, or any other error while writing, leaves every existing file as it was
    and no temp file behind, so a set of files (a sticker pack) is not left half old, half new.
    (Only the renames come after that point; they fail only when the folder's permissions change
    under the run.)
    A path that holds something other than a file or a link (a folder, a device, a FIFO) is refused.

    Returns:
        The paths, in the order given.

    Raises:
        OSError: a file cannot be written.
    """
    for path in files:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):  # a folder, a device such as /dev/null, a FIFO
            raise OSError(errno.EEXIST, "it exists and is not a regular file", str(path))
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            # Not named after ``path``: a name near the 255-byte limit would leave no room for a suffix.
            tmp = temps[path] = path.with_name(f".facemoji-{uuid.uuid4().hex[:12]}.tmp")
            # os.open with 0o666 lets the umask decide the final permissions (mkstemp would force 0o600).
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
        for path, tmp in temps.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    return list(files)


def same_file(a: Path, b: Path) -> bool:
    """Whether both exist and are one file or folder (through links too): an output that would replace its input.

    A path that cannot be looked at (too long, a symlink loop, no permission, a NUL in it) is no file, so False.
    """
    try:
        return a.samefile(b)
    except (OSError, ValueError):  # ValueError: a NUL in a name
        return False


def inside_folder(path: Path, folder: Path) -> bool:
    """Whether ``folder`` is a folder and ``path`` is it or lies under it (through links too): an
    output that would end up among the inputs it was made from."""
    return folder.is_dir() and Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
