"""write_atomic: whole files or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from facemoji.files import inside_folder, make_folder, same_file, write_all_atomic, write_atomic


def test_writes_bytes_and_text_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    assert write_atomic(path, b"old") == path
    write_atomic(path, "néw")
    assert path.read_text(encoding="utf-8") == "néw"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomic(path, 42)  # type: ignore[arg-type]  # not bytes: fails while writing
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "b.txt", b"x")


def test_same_file_sees_through_links_and_needs_both(tmp_path: Path) -> None:
    photo = tmp_path / "a.png"
    photo.write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(photo)
    assert same_file(tmp_path / "link.png", photo) and same_file(tmp_path, tmp_path / ".")
    assert not same_file(tmp_path / "missing.png", photo) and not same_file(photo, tmp_path)


def test_names_at_the_length_limit_are_written_and_bad_paths_are_no_file(tmp_path: Path) -> None:
    longest = tmp_path / ("y" * 251 + ".png")  # 255 bytes, the most a name may have
    write_atomic(longest, b"x")
    assert longest.read_bytes() == b"x"
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert not same_file(tmp_path / "loop", longest)
    assert not same_file(tmp_path / ("z" * 300 + ".png"), longest)  # too long a name to look at


def test_a_set_of_files_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "b.txt").write_text("old b")
    with pytest.raises(OSError):  # the third file cannot be written: nothing changes
        write_all_atomic({tmp_path / "a.txt": "new a", tmp_path / "b.txt": b"new b", tmp_path / "gone" / "c": "c"})
    assert (tmp_path / "a.txt").read_text() == "old a" and (tmp_path / "b.txt").read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert write_all_atomic({tmp_path / "a.txt": "new a", tmp_path / "b.txt": b"new b"}) == [
        tmp_path / "a.txt", tmp_path / "b.txt"
    ]
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "new b"


def test_only_files_and_links_are_replaced(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    for name in ("fifo", "folder"):
        with pytest.raises(OSError, match="it exists and is not a regular file"):
            write_atomic(tmp_path / name, b"x")
    assert (tmp_path / "folder").is_dir() and not (tmp_path / "fifo").is_file()
    (tmp_path / "link").symlink_to(tmp_path / "fifo")  # the link itself is replaced, not what it points at
    write_atomic(tmp_path / "link", b"x")
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "link").read_bytes() == b"x"
    assert (tmp_path / "fifo").exists() and not (tmp_path / "fifo").is_file()


def test_inside_folder_sees_through_links(tmp_path: Path) -> None:
    (tmp_path / "data" / "happy").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    assert inside_folder(tmp_path / "alias" / "happy" / "out", tmp_path / "data")
    assert inside_folder(tmp_path / "data", tmp_path / "alias")
    assert not inside_folder(tmp_path / "elsewhere", tmp_path / "data")
    assert not inside_folder(tmp_path / "data" / "x", tmp_path / "data.zip")  # not a folder


def test_make_folder_names_the_file_in_the_way(tmp_path: Path) -> None:
    make_folder(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    make_folder(tmp_path / "a" / "b")  # already there: fine
    (tmp_path / "f").write_text("x")
    for folder in (tmp_path / "f", tmp_path / "f" / "sub", tmp_path / "f" / "sub" / "deeper"):
        with pytest.raises(NotADirectoryError, match=f"{tmp_path / 'f'} is a file, not a folder"):
            make_folder(folder)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match=f"{tmp_path / 'dangling'} is a broken link"):
        make_folder(tmp_path / "dangling" / "sub")
