"""``facemoji avatar``: one avatar per face in photo order, or a photo sticker with ``--cutout``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import facemoji
from facemoji.apps.cli import main
from facemoji.apps.commands import avatar as avatar_cmd
from facemoji.emotions import EMOTIONS, Emotion
from facemoji.render.avatar import PRESETS, render_avatar_png
from facemoji.results import Box, Face, Pose


def _face(emotion: Emotion, box: Box) -> Face:
    scores = {e: float(e == emotion) for e in EMOTIONS}
    return Face(box, emotion, scores, np.zeros((478, 3), np.float32), {}, Pose(0.0, 0.0, 0.0))


@pytest.fixture
def fake_faces(monkeypatch: pytest.MonkeyPatch) -> list[Face]:
    """The faces the (fake) engine finds; tests fill the list."""
    faces: list[Face] = []

    class FakeEngine:
        def __enter__(self) -> FakeEngine:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def analyze(self, image: np.ndarray) -> list[Face]:
            assert image.ndim == 3 and image.shape[2] == 3
            return faces

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
        (["--size", "0"], 2, "--size must be from 1 to 1024, got 0"),
        (["-o", "x.jpg"], 2, "x.jpg must end in .png or .webp"),
    ],
)
def test_misuse_is_one_line(media: Path, tmp_path: Path, fake_faces: list[Face], capsys: pytest.CaptureFixture[str],
                            argv: list[str], code: int, message: str) -> None:
    fake_faces.append(_face(Emotion.HAPPY, Box(10, 10, 50, 50)))
    args = ["avatar", str(media / "justin.jpg"), "-o", str(tmp_path / "a.png"), *argv]
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("facemoji avatar: ") and message in err and err.count("\n") == 1


def test_unreadable_photo_is_exit_1(tmp_path: Path, fake_faces: list[Face], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["avatar", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "a.png")]) == 1
    assert "missing.jpg: no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_real_pipeline_on_a_photo(media: Path, tmp_path: Path) -> None:
    if not (Path(facemoji.__file__).parent / "models" / "emotion.onnx").is_file():
        pytest.skip("the emotion model is not trained yet")
    out = tmp_path / "justin.png"
    assert main(["avatar", str(media / "justin.jpg"), "-o", str(out), "--size", "128"]) == 0
    assert Image.open(out).size == (128, 128)
