"""``facemoji avatar``: one avatar per face in photo order, or a photo sticker with ``--cutout``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from face_fixtures import make_face
from PIL import Image

from facemoji.apps.cli import main
from facemoji.apps.commands import avatar as avatar_cmd
from facemoji.emotions import Emotion
from facemoji.engine import EmojifierOptions
from facemoji.render.avatar import render_avatar_png
from facemoji.render.avatar_profile import PRESETS
from facemoji.results import Box, Face


def _face(emotion: Emotion, box: Box) -> Face:
    """A face whose landmarks fill ``box``, scoring 1 for ``emotion``."""
    return make_face(box.x + box.w / 2, box.y + box.h / 2, box.w, box.h, emotion=emotion, score=1.0)


@pytest.fixture
def fake_faces(monkeypatch: pytest.MonkeyPatch) -> list[Face]:
    """The faces the (fake) engine finds; tests fill the list."""
    faces: list[Face] = []

    class FakeEngine:
        def __init__(self, options: EmojifierOptions) -> None:
            self.options = options

        def __enter__(self) -> FakeEngine:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def analyze(self, image: np.ndarray) -> list[Face]:
            assert image.ndim == 3 and image.shape[2] == 3
            return faces[: self.options.max_faces]

    monkeypatch.setattr(avatar_cmd, "Emojifier", FakeEngine)
    return faces


def test_one_avatar_per_face_side_by_side(media: Path, tmp_path: Path, fake_faces: list[Face],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    fake_faces += [_face(Emotion.HAPPY, Box(10, 10, 50, 50)), _face(Emotion.SAD, Box(200, 10, 50, 50))]
    out = tmp_path / "avatars.png"
    assert main(["avatar", str(media / "justin.jpg"), "--profile", "punk", "-o", str(out), "--size", "96"]) == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (96, 192, 4)
    for i, emotion in enumerate((Emotion.HAPPY, Emotion.SAD)):
        expected = np.asarray(render_avatar_png(PRESETS["punk"], emotion, 96))
        assert np.array_equal(img[:, i * 96 : (i + 1) * 96], expected)
    assert capsys.readouterr().out.strip() == f"{out}: happy, sad"


def test_cutout_puts_the_avatar_on_the_person(media: Path, tmp_path: Path, fake_faces: list[Face]) -> None:
    fake_faces.append(_face(Emotion.SURPRISE, Box(110, 90, 160, 190)))  # justin's face
    out = tmp_path / "sticker.webp"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--cutout"]) == 0
    img = np.asarray(Image.open(out).convert("RGBA")).astype(int)
    assert img.shape == (384, 381, 4)
    assert img[:10, :10, 3].max() < 10, "the background is cut away"
    skin = np.array([0xED, 0xB9, 0x8A])  # the classic avatar's skin covers the face
    assert np.abs(img[230, 130, :3] - skin).max() < 12


def test_cutout_emoji_puts_the_emoji_on_the_person(media: Path, tmp_path: Path, fake_faces: list[Face],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    box = Box(110, 90, 160, 190)  # justin's face
    # landmarks filling the box: the emoji is 1.2 x 190 px across, centred on it
    fake_faces.append(_face(Emotion.HAPPY, box))
    out = tmp_path / "sticker.png"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--cutout", "--emoji"]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: happy"
    sticker = Image.open(out)
    assert (sticker.format, sticker.mode, sticker.size) == ("PNG", "RGBA", (381, 384))
    img = np.asarray(sticker).astype(int)
    assert img[:10, :10, 3].max() < 10 and img[:10, -10:, 3].max() < 10, "the background is cut away"
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    face = img[np.hypot(xx - 190, yy - 185) < 100]  # the face's middle, inside the emoji's 114 px radius
    yellow = np.array([0xFF, 0xCC, 0x4D])  # Twemoji's face colour
    assert (face[:, 3] == 255).all(), "the emoji covers the face"
    assert (np.abs(face[:, :3] - yellow).max(axis=1) < 12).mean() > 0.6


def test_no_face_is_exit_1(media: Path, tmp_path: Path, fake_faces: list[Face],
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "none.png"
    assert main(["avatar", str(media / "no-faces.jpg"), "-o", str(out)]) == 1
    assert capsys.readouterr().err == f"facemoji avatar: no face found in {media / 'no-faces.jpg'}\n"
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--profile", "pirate"], 1, "'pirate' is neither a profile file nor a preset"),
        (["-o", "x.jpg"], 2, "x.jpg must end in .png or .webp"),
        (["--emoji"], 2, "--emoji goes with --cutout (it puts the emoji on the cut-out people)"),
        (["--cutout", "--size", "64"], 2, "--size sets the avatar row; --cutout keeps the photo's size"),
        (["--cutout", "--emoji", "--profile", "punk"], 2, "--profile does not apply to --emoji"),
    ],
)
def test_misuse_is_one_line(media: Path, tmp_path: Path, fake_faces: list[Face], capsys: pytest.CaptureFixture[str],
                            argv: list[str], code: int, message: str) -> None:
    fake_faces.append(_face(Emotion.HAPPY, Box(10, 10, 50, 50)))
    args = ["avatar", str(media / "justin.jpg"), "-o", str(tmp_path / "a.png"), *argv]
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("facemoji avatar: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("size", ["0", "1025", "big"])
def test_a_size_out_of_range_is_a_usage_error(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              size: str) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["avatar", str(media / "justin.jpg"), "-o", str(tmp_path / "a.png"), "--size", size])
    assert stop.value.code == 2
    assert "argument --size: " in capsys.readouterr().err and not (tmp_path / "a.png").exists()


def test_output_on_top_of_the_photo_is_refused(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "me.png"
    Image.open(media / "justin.jpg").save(photo)
    before = photo.read_bytes()
    assert main(["avatar", str(photo), "-o", str(photo)]) == 2
    assert "me.png would overwrite the photo; choose another -o" in capsys.readouterr().err
    assert photo.read_bytes() == before


def test_max_faces_and_a_note_when_it_is_reached(media: Path, tmp_path: Path, fake_faces: list[Face],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    fake_faces += [_face(Emotion.HAPPY, Box(10 + 60 * i, 10, 50, 50)) for i in range(3)]
    out = tmp_path / "row.png"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--size", "16", "--max-faces", "2"]) == 0
    assert Image.open(out).size == (32, 16)
    assert "found 2 faces, the most --max-faces allows" in capsys.readouterr().err
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--size", "16", "--max-faces", "3"]) == 0
    assert Image.open(out).size == (48, 16) and "the most --max-faces allows" in capsys.readouterr().err
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--size", "16", "--max-faces", "4"]) == 0
    assert capsys.readouterr().err == ""


def test_output_folders_are_made(media: Path, tmp_path: Path, fake_faces: list[Face]) -> None:
    fake_faces.append(_face(Emotion.HAPPY, Box(10, 10, 50, 50)))
    out = tmp_path / "new folder" / "ü a.png"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--size", "32"]) == 0
    assert Image.open(out).size == (32, 32)


def test_unreadable_photo_is_exit_1(tmp_path: Path, fake_faces: list[Face], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["avatar", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "a.png")]) == 1
    assert "missing.jpg: no such file" in capsys.readouterr().err


def test_max_pixels(media: Path, tmp_path: Path, fake_faces: list[Face], capsys: pytest.CaptureFixture[str]) -> None:
    fake_faces.append(_face(Emotion.HAPPY, Box(10, 10, 50, 50)))
    photo, out = str(media / "justin.jpg"), str(tmp_path / "a.png")
    assert main(["avatar", photo, "-o", out, "--max-pixels", "1000"]) == 1
    assert "381x384 = 146,304 pixels exceeds max_pixels=1,000" in capsys.readouterr().err
    assert main(["avatar", photo, "-o", out, "--max-pixels", "146304"]) == 0


@pytest.mark.slow
def test_real_pipeline_on_a_photo(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "justin.png"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--size", "128"]) == 0
    assert Image.open(out).size == (128, 128)


@pytest.mark.slow
def test_real_pipeline_emoji_sticker(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "justin.png"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--cutout", "--emoji"]) == 0
    sticker = Image.open(out)
    assert (sticker.format, sticker.mode) == ("PNG", "RGBA")
    img = np.asarray(sticker).astype(int)
    assert img[:10, :10, 3].max() < 10 and img[:10, -10:, 3].max() < 10
    assert (np.abs(img[150:250, 140:240, :3] - (0xFF, 0xCC, 0x4D)).max(axis=2) < 12).mean() > 0.5
    assert (img[150:250, 140:240, 3] == 255).all(), "the emoji covers the face"


def test_a_missing_model_is_one_line(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.png"
    assert main(["avatar", str(media / "justin.jpg"), "--model", str(tmp_path / "gone.onnx"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("facemoji avatar: emotion model") and "gone.onnx is missing" in err and err.count("\n") == 1
    assert not out.exists()


def test_options_are_not_abbreviated(media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:  # "--cut" is not --cutout
        main(["avatar", str(media / "justin.jpg"), "-o", str(tmp_path / "a.png"), "--cut"])
    assert stop.value.code == 2 and "unrecognized arguments: --cut" in capsys.readouterr().err
