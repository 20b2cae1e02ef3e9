"""Sticker packs: every file written, named by emotion, 512 px, transparent and under 100 KB."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facemoji.emotions import EMOTIONS
from facemoji.render import stickers
from facemoji.render.avatar_profile import PRESETS, load_profile
from facemoji.render.raster import rasterise
from facemoji.render.stickers import (
    MAX_STICKER_BYTES,
    PACK_FILES,
    STICKER_SIZE,
    StickerError,
    sticker_png,
    sticker_webp,
    write_sticker_pack,
)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack") / "new" / "folder"
    write_sticker_pack(PRESETS["curly"], out)
    return out


def test_pack_holds_every_file_and_nothing_else(pack: Path) -> None:
    expected = {f"{e.value}.{ext}" for e in EMOTIONS for ext in ("png", "webp", "svg")}
    assert {p.name for p in pack.iterdir()} == expected | {"stickers.zip", "profile.json"} == set(PACK_FILES)
    with zipfile.ZipFile(pack / "stickers.zip") as z:
        assert set(z.namelist()) == expected | {"profile.json"}
        assert z.read("happy.png") == (pack / "happy.png").read_bytes()
    assert load_profile(pack / "profile.json") == PRESETS["curly"]


@pytest.mark.parametrize("ext", ["png", "webp"])
def test_stickers_are_512_transparent_and_small(pack: Path, ext: str) -> None:
    for emotion in EMOTIONS:
        path = pack / f"{emotion.value}.{ext}"
        assert path.stat().st_size < MAX_STICKER_BYTES
        with Image.open(path) as im:
            assert im.size == (STICKER_SIZE, STICKER_SIZE)
            rgba = np.asarray(im.convert("RGBA"))
        assert rgba[[0, 0, -1, -1], [0, -1, 0, -1], 3].max() == 0
        assert (rgba[..., 3] == 255).mean() > 0.3


def test_each_svg_draws_its_png_and_the_seven_differ(pack: Path) -> None:
    pngs = {}
    for emotion in EMOTIONS:
        svg = (pack / f"{emotion.value}.svg").read_text()
        assert ET.fromstring(svg).tag.endswith("svg")
        drawn = _premultiplied(rasterise(svg, STICKER_SIZE))
        pngs[emotion] = _premultiplied(Image.open(pack / f"{emotion.value}.png"))
        # the PNG is the same drawing, only palette-quantised to fit under 100 KB
        assert np.abs(drawn - pngs[emotion]).mean() < 3, emotion
    for i, a in enumerate(EMOTIONS):
        for b in EMOTIONS[i + 1 :]:
            assert (np.abs(pngs[a] - pngs[b]).max(axis=2) > 24).sum() > 400, (a, b)


def _premultiplied(image: Image.Image) -> np.ndarray:
    a = np.asarray(image.convert("RGBA")).astype(np.float32)
    return np.concatenate([a[..., :3] * a[..., 3:] / 255, a[..., 3:]], axis=2)


def test_big_png_is_quantised_under_the_limit() -> None:
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    image = Image.fromarray(palette[rng.integers(0, 4, (512, 512))], "RGBA")  # ~200 KB as full-colour PNG
    data = sticker_png(image)
    assert len(data) <= MAX_STICKER_BYTES
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")), np.asarray(image))


def test_incompressible_sticker_is_refused() -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (320, 320, 4), dtype=np.uint8), "RGBA")
    with pytest.raises(StickerError, match=r"the PNG sticker is [\d,]+ bytes, over the 100,000-byte limit"):
        sticker_png(noise)
    with pytest.raises(StickerError, match=r"the WebP sticker is [\d,]+ bytes, over the 100,000-byte limit"):
        sticker_webp(noise)


def test_unwritable_folder_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StickerError, match="cannot create the folder"):
        write_sticker_pack(PRESETS["classic"], blocker / "pack")


def test_a_folder_in_a_stickers_place_stops_the_pack_before_any_file(tmp_path: Path) -> None:
    (tmp_path / "pack" / "sad.png").mkdir(parents=True)
    with pytest.raises(StickerError, match=r"cannot write the pack: .*sad\.png: it exists and is not a regular file"):
        write_sticker_pack(PRESETS["classic"], tmp_path / "pack")
    assert [p.name for p in (tmp_path / "pack").iterdir()] == ["sad.png"]


def test_a_pack_that_cannot_be_written_leaves_no_new_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(files: dict) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(stickers, "write_all_atomic", full)
    with pytest.raises(StickerError, match=r"cannot write the pack: .*: No space left on device"):
        write_sticker_pack(PRESETS["classic"], tmp_path / "pack")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()  # a folder that was there before stays
    with pytest.raises(StickerError):
        write_sticker_pack(PRESETS["classic"], tmp_path / "mine")
    assert (tmp_path / "mine").is_dir()
