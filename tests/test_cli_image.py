from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fer_fixtures import export_tiny_model
from PIL import Image
from test_imageio import _png_header

from facemoji.apps.cli import main
from facemoji.classifier import ModelError
from facemoji.emotions import EMOTIONS
from facemoji.engine import Emojifier, EmojifierOptions
from facemoji.imageio import save_image


def _json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_one_photo_json(media: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", str(media / "justin.jpg"), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert line["error"] is None and line["path"].endswith("justin.jpg")
    (face,) = line["faces"]
    x, y, w, h = face["box"]
    assert 0 <= x < 381 and 0 <= y < 384 and 80 < w < 381 and 80 < h < 384
    assert set(face["scores"]) == {e.value for e in EMOTIONS}
    assert abs(sum(face["scores"].values()) - 1) < 0.01
    assert face["emotion"] == max(face["scores"], key=face["scores"].get)


def test_a_model_of_ones_own_reads_the_faces(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "mine.onnx"
    export_tiny_model(model, seed=3)
    photo = str(media / "justin.jpg")
    assert main(["image", photo, "--json"]) == 0
    (shipped,) = _json_lines(capsys)[0]["faces"]
    assert main(["image", photo, "--json", "--model", str(model)]) == 0
    (mine,) = _json_lines(capsys)[0]["faces"]
    assert mine["box"] == shipped["box"] and mine["scores"] != shipped["scores"]
    with Emojifier(EmojifierOptions(emotion_model_path=model)) as engine:
        (want,) = engine.analyze(photo)
    assert mine["scores"] == pytest.approx({e.value: want.scores[e] for e in EMOTIONS}, abs=1e-3)


def test_a_bad_model_fails_before_any_image(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.onnx").write_text("not a model")
    (tmp_path / "unreadable.jpg").write_text("not an image")  # would get its own line if images were read first
    photos = [str(tmp_path / "unreadable.jpg"), str(media / "no-faces.jpg")]
    for model, said in (("missing.onnx", "is missing"), ("junk.onnx", "is not a facemoji emotion model")):
        assert main(["image", *photos, "--json", "--model", str(tmp_path / model), "-o", str(tmp_path / "out")]) == 1
        out, err = capsys.readouterr()
        assert out == "" and said in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_model_that_fails_on_one_photo_spoils_only_its_line(
    media: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    analyze, calls = Emojifier.analyze, []

    def fails_first(self: Emojifier, image: object) -> list:
        calls.append(image)
        if len(calls) == 1:
            raise ModelError("m.onnx returned scores that are not probabilities (each row summing to 1)")
        return analyze(self, image)

    monkeypatch.setattr(Emojifier, "analyze", fails_first)
    assert main(["image", str(media / "justin.jpg"), str(media / "no-faces.jpg"), "--json"]) == 0
    first, second = _json_lines(capsys)
    assert first["error"] == "m.onnx returned scores that are not probabilities (each row summing to 1)"
    assert second["error"] is None and second["path"].endswith("no-faces.jpg")


def test_a_note_when_max_faces_is_reached(media: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", str(media / "justin.jpg"), "--json", "--max-faces", "1"]) == 0
    assert "justin.jpg: found 1 face, the most --max-faces allows; raise it" in capsys.readouterr().err


def test_no_face_is_empty_not_error(media: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", str(media / "no-faces.jpg"), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert line == {"path": str(media / "no-faces.jpg"), "faces": [], "out": None, "error": None}


def test_folder_with_bad_files_completes(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(media / "justin.jpg", src / "justin.jpg")
    shutil.copy(media / "no-faces.jpg", src / "sub" / "empty-room.jpg")
    (src / "notes.jpg").write_text("not an image")
    (src / "cut.jpg").write_bytes((media / "justin.jpg").read_bytes()[:500])
    out = tmp_path / "out"
    assert main(["image", str(src), "-o", str(out), "--json", "--mode", "box"]) == 0
    lines = {Path(line["path"]).name: line for line in _json_lines(capsys)}
    assert set(lines) == {"justin.jpg", "empty-room.jpg", "notes.jpg", "cut.jpg"}
    assert len(lines["justin.jpg"]["faces"]) == 1 and lines["empty-room.jpg"]["faces"] == []
    assert lines["notes.jpg"]["error"] and lines["cut.jpg"]["error"]
    assert (out / "justin.jpg").is_file() and (out / "sub" / "empty-room.jpg").is_file()
    assert not (out / "notes.jpg").exists() and not (out / "cut.jpg").exists()
    assert Image.open(out / "justin.jpg").size == (381, 384)


@pytest.mark.parametrize("mode", ["overlay", "box", "panel"])
def test_modes_draw(media: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / f"{mode}.png"
    assert main(["image", str(media / "justin.jpg"), "-o", str(out), "--mode", mode]) == 0
    drawn = np.asarray(Image.open(out).convert("RGB"))
    photo = np.asarray(Image.open(media / "justin.jpg").convert("RGB"))
    if mode == "panel":
        assert drawn.shape[1] > photo.shape[1]
    else:
        assert drawn.shape == photo.shape
        assert np.abs(drawn.astype(int) - photo).mean() > 1


def test_a_bad_file_is_named_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    assert main(["image", str(bad)]) == 0
    err = capsys.readouterr().err
    assert f"{bad}: not a recognised image" in err and err.count(str(bad)) == 1


def test_usage_errors_exit_2(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", str(tmp_path / "missing.jpg")]) == 2
    assert "missing.jpg" in capsys.readouterr().err
    two = [str(media / "justin.jpg"), str(media / "no-faces.jpg")]
    assert main(["image", *two, "-o", str(tmp_path / "x.png")]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["image", str(media / "justin.jpg"), "--mode", "sideways"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["image", str(media / "justin.jpg"), "--max-faces", "2147483648"])
    assert exit_info.value.code == 2
    assert "--max-faces: must be at most 100,000, got 2147483648" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["image", *two, "-o", str(tmp_path / "file")]) == 2
    assert "file is a file, not a folder" in capsys.readouterr().err
    assert main(["image", *two, "-o", str(tmp_path / "out.gif")]) == 2
    assert "cannot write .gif images; name a .png, .jpg, .jpeg or .webp file" in capsys.readouterr().err
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert main(["image", *two, "-o", str(tmp_path / "loop" / "out")]) == 0  # per-file "cannot write" lines
    assert capsys.readouterr().err.count("cannot write") == 2
    for empty in (["", "-o", str(tmp_path / "e.png")], [two[0], "-o", ""]):  # neither means the current folder
        with pytest.raises(SystemExit) as exit_info:
            main(["image", *empty])
        assert exit_info.value.code == 2 and ": an empty path" in capsys.readouterr().err
    # a file where the output's folder should be is named, not "File exists"
    assert main(["image", two[0], "-o", str(tmp_path / "file" / "x.png")]) == 0
    assert f"cannot write {tmp_path / 'file' / 'x.png'}: {tmp_path / 'file'} is a file, not a folder" in (
        capsys.readouterr().err
    )


def test_a_folder_without_images_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert main(["image", str(tmp_path)]) == 0
    assert f"no images in {tmp_path} (looked for .apng, .avif, .bmp, .gif, .heic" in capsys.readouterr().err


def test_names_at_the_length_limit(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.open(media / "justin.jpg").save(src / ("y" * 251 + ".gif"))  # the output adds .png: too long a name
    Image.open(media / "justin.jpg").save(src / ("y" * 251 + ".jpg"))  # 255 bytes, written as it is
    assert main(["image", str(src), "-o", str(tmp_path / "out"), "--json"]) == 0
    gif, jpg = _json_lines(capsys)
    assert gif["error"].startswith("cannot write") and "File name too long" in gif["error"]
    assert jpg["error"] is None and Path(jpg["out"]).is_file()


def _face_png(media: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(media / "justin.jpg").save(path)
    return path


def test_outputs_never_collide_or_overwrite_inputs(media: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    for name in ("x.gif", "x.bmp", "x.png"):
        _face_png(media, src / name)
    other = _face_png(media, tmp_path / "other" / "x.png")
    out = src / "out"  # inside the input folder
    assert main(["image", str(src), str(other), "-o", str(out), "--json"]) == 0
    written = {Path(line["path"]).relative_to(tmp_path).as_posix(): line["out"] for line in _json_lines(capsys)}
    assert written == {
        "in/x.bmp": str(out / "x.bmp.png"), "in/x.gif": str(out / "x.gif.png"),
        "in/x.png": str(out / "x.png"), "other/x.png": str(out / "x-2.png"),
    }  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["x-2.png", "x.bmp.png", "x.gif.png", "x.png"]
    # a second run does not read its own earlier output
    assert main(["image", str(src), "-o", str(out), "--json"]) == 0
    assert len(_json_lines(capsys)) == 3 and not (out / "out").exists()


def test_outputs_never_replace_an_input(media: Path, tmp_path: Path, capsys) -> None:
    photo = _face_png(media, tmp_path / "in" / "a.png")
    before = photo.read_bytes()
    assert main(["image", str(photo), "-o", str(photo)]) == 2
    assert "a.png would overwrite the input; choose another -o" in capsys.readouterr().err
    assert main(["image", str(photo.parent), "-o", str(photo.parent)]) == 2
    assert "in is the input folder; choose another -o" in capsys.readouterr().err
    assert main(["image", str(photo), "-o", str(photo.parent), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert line["out"] == str(photo.parent / "a-2.png") and photo.read_bytes() == before
    # b.png's output would be out/b.png, the second input, not read yet: it gets another name
    other = _face_png(media, tmp_path / "b.png")
    second = tmp_path / "out" / "b.png"
    second.parent.mkdir()
    second.write_bytes(before)
    assert main(["image", str(other), str(second), "-o", str(second.parent), "--json"]) == 0
    assert [line["out"] for line in _json_lines(capsys)] == [str(second.parent / f"b-{n}.png") for n in (2, 3)]
    assert second.read_bytes() == before
    # an input folder inside the output folder is still searched
    nested = _face_png(media, tmp_path / "all" / "photos" / "b.png")
    assert main(["image", str(nested.parent), "-o", str(tmp_path / "all"), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert line["out"] == str(tmp_path / "all" / "b.png")


def test_links_in_the_output_folder_are_not_written_through(media: Path, tmp_path: Path, capsys) -> None:
    photo = _face_png(media, tmp_path / "in" / "a.png")
    before = photo.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").symlink_to(photo)  # a link to the input: the output goes beside it
    assert main(["image", str(photo), "-o", str(out), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert line["out"] == str(out / "a-2.png") and photo.read_bytes() == before
    assert (out / "a.png").is_symlink()


def test_a_folder_that_cannot_be_listed(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()

    def refuse(path: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "scandir", refuse)  # as for a user without read permission
    assert main(["image", str(locked)]) == 0  # the run completed; the folder has its line
    assert capsys.readouterr().err == f"{locked}: cannot list the folder (Permission denied)\n"
    assert main(["image", str(locked), "--json"]) == 0
    assert _json_lines(capsys) == [
        {"path": str(locked), "faces": [], "out": None, "error": "cannot list the folder (Permission denied)"}
    ]
    monkeypatch.undo()
    assert main(["image", str(tmp_path / ("z" * 300))]) == 2  # too long a name even to look for
    assert "File name too long" in capsys.readouterr().err
    assert main(["image", str(tmp_path), "-o", str(tmp_path / ("z" * 300))]) == 2
    assert "File name too long" in capsys.readouterr().err


def test_a_looping_link_in_a_folder_gets_its_line_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    save_image(np.full((40, 60, 3), 200, np.uint8), tmp_path / "a.png")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "b.jpg")
    assert main(["image", str(tmp_path), "--json"]) == 0
    lines = _json_lines(capsys)
    assert [(line["path"], line["error"]) for line in lines] == [
        (str(tmp_path / "a.png"), None),
        (str(tmp_path / "b.jpg"), "cannot look at the file (Too many levels of symbolic links)"),
    ]


def test_a_failed_write_keeps_the_faces_and_says_where(media: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["image", str(media / "justin.jpg"), "-o", str(blocker / "out"), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert len(line["faces"]) == 1 and line["out"] is None
    assert line["error"].startswith(f"cannot write {blocker / 'out' / 'justin.jpg'}: ")
    taken = tmp_path / "taken"
    (taken / "justin.jpg").mkdir(parents=True)  # the output file's place is a folder
    assert main(["image", str(media / "justin.jpg"), "-o", str(taken), "--json"]) == 0
    (line,) = _json_lines(capsys)
    assert len(line["faces"]) == 1 and line["error"].count("cannot write") == 1


def test_max_pixels_above_pillows_own_limit(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    wide = tmp_path / "panorama.png"
    wide.write_bytes(_png_header(20000, 20000))  # 400 MP, over twice Pillow's default limit
    assert main(["image", str(wide), "--json"]) == 0
    assert "400,000,000 pixels exceeds max_pixels=64,000,000" in _json_lines(capsys)[0]["error"]
    assert main(["image", str(wide), "--json", "--max-pixels", "500000000"]) == 0
    # past both size checks: only the missing pixel data stops it
    assert _json_lines(capsys)[0]["error"].startswith("cannot decode the image")


def test_a_closed_pipe_and_undecodable_names_end_quietly(media: Path, tmp_path: Path) -> None:
    odd = tmp_path / "a\udcff.jpg"  # a file name that is not UTF-8
    odd.write_bytes((media / "no-faces.jpg").read_bytes())
    command = [sys.executable, "-m", "facemoji.apps.cli", "image", str(odd), str(odd), str(odd)]
    env = os.environ | {"PYTHONIOENCODING": "utf-8"}  # strict UTF-8 output, as under a UTF-8 locale
    done = subprocess.run(command, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.count(b"a\\udcff.jpg: no face") == 3
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    done = subprocess.run([*command, "--json"], stdout=reader.stdin, stderr=subprocess.PIPE, env=env, timeout=120)
    reader.stdin.close()
    reader.wait(timeout=10)
    assert done.returncode == 1 and b"Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device that is always full")
def test_a_full_stdout_and_a_closed_stderr(media: Path) -> None:
    command = [sys.executable, "-m", "facemoji.apps.cli", "image", str(media / "justin.jpg"), "--json"]
    with open("/dev/full", "w") as full:
        done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert (done.returncode, done.stderr) == (1, b"facemoji image: cannot write the output: No space left on device\n")
    # with stderr closed (`2>&-`), the note about --max-faces must not land among the JSON lines
    done = subprocess.run(
        [*command, "--max-faces", "1"], capture_output=True, timeout=120, preexec_fn=lambda: os.close(2)
    )
    assert done.returncode == 0 and [json.loads(line)["path"] for line in done.stdout.splitlines()] == [
        str(media / "justin.jpg")
    ]
