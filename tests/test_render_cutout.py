"""Photo stickers: the selfie segmenter cuts the person out; overlays land on the face box."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facemoji.imageio import load_image
from facemoji.render.cutout import PersonSegmenter, SegmenterError, cover_face, segmenter_model_path
from facemoji.render.headframe import HeadFrame
from facemoji.results import Box


@pytest.fixture(scope="module")
def segmenter():
    with PersonSegmenter() as seg:
        yield seg


def test_model_is_found() -> None:
    assert segmenter_model_path().name == "selfie_segmenter.tflite"


def test_cut_out_makes_the_background_transparent(media: Path, segmenter: PersonSegmenter) -> None:
    rgb = load_image(media / "justin.jpg")
    sticker = np.asarray(segmenter.cut_out(rgb))
    h, w = rgb.shape[:2]
    assert sticker.shape == (h, w, 4)
    assert np.array_equal(sticker[..., :3], rgb)
    alpha = sticker[..., 3]
    assert alpha[:10, :10].max() < 10 and alpha[:10, -10:].max() < 10, "top corners should be background"
    assert alpha[h // 2 - 10 : h // 2 + 10, w // 2 - 10 : w // 2 + 10].min() > 245, "the face should be opaque"
    assert 0.2 < (alpha > 128).mean() < 0.8


def test_people_in_a_wide_photo_keep_their_bodies(media: Path, segmenter: PersonSegmenter) -> None:
    one = load_image(media / "justin.jpg")
    h, w = one.shape[:2]
    strip = np.concatenate([one] * 4, axis=1)  # four people side by side, a 4:1 photo
    faces = [Box(109 + i * w, 104, 158, 190) for i in range(4)]
    chests = lambda mask: [float(mask[2 * h // 3 :, i * w : (i + 1) * w].mean()) for i in range(4)]  # noqa: E731
    assert max(chests(segmenter.person_mask(strip))) < 0.05  # squeezed into a square, the bodies are lost
    alone = float(segmenter.person_mask(one)[2 * h // 3 :].mean())
    assert alone > 0.4
    np.testing.assert_allclose(chests(segmenter.person_mask(strip, faces)), alone, atol=0.02)
    small = np.full((1500, 2000, 3), 200, np.uint8)  # the same person, small in a big photo
    small[600:792, 900:1090] = np.asarray(Image.fromarray(one).resize((190, 192)))
    mask = segmenter.person_mask(small, [Box(954, 652, 79, 95)])
    assert mask[730:792, 900:1090].mean() > 0.5 > segmenter.person_mask(small)[730:792, 900:1090].mean()
    assert mask[:500].max() < 0.1


def test_person_mask_refuses_bad_input(segmenter: PersonSegmenter) -> None:
    with pytest.raises(ValueError, match=r"expected an RGB image as a \(H, W, 3\) uint8 array, got float64 array"):
        segmenter.person_mask(np.zeros((10, 10, 3)))


def test_cover_face_centres_the_overlay_on_the_frame() -> None:
    base = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    red = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    out = np.asarray(cover_face(base, red, HeadFrame(50, 40, 20, 20), (0, 0, 10, 10)))
    assert (out[30:50, 40:60] == (255, 0, 0, 255)).all()
    assert out[29, 50, 3] == 0 and out[50, 50, 3] == 0 and out[40, 39, 3] == 0 and out[40, 60, 3] == 0


def test_cover_face_maps_the_overlay_face_region() -> None:
    base = Image.new("RGBA", (100, 100), (0, 0, 255, 255))
    overlay = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    overlay.paste((0, 255, 0, 255), (10, 20, 30, 40))  # the "face" is the lower middle square
    out = np.asarray(cover_face(base, overlay, HeadFrame(55, 55, 10, 10), (10, 20, 30, 40))).astype(int)
    # Lanczos resizing blends the rim and rings by a level or two.
    assert np.abs(out[51:59, 51:59] - (0, 255, 0, 255)).max() <= 3
    assert np.abs(out[40:49, 50:60] - (0, 0, 255, 255)).max() <= 3, "the overlay's transparent part keeps the photo"


def test_cover_face_turns_the_overlay_with_the_head() -> None:
    base = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    tall = Image.new("RGBA", (10, 20), (255, 0, 0, 255))
    tall.paste((0, 255, 0, 255), (0, 0, 10, 5))  # a green top, to see which way it turned
    out = np.asarray(cover_face(base, tall, HeadFrame(50, 40, 20, 40, roll=90), (0, 0, 10, 20)))
    opaque = np.argwhere(out[..., 3] > 128)
    (top, left), (bottom, right) = opaque.min(axis=0), opaque.max(axis=0)
    assert (top, left, bottom, right) == (30, 30, 49, 69)  # lying on its side: 40 wide, 20 high, centred
    green = np.argwhere((out[..., 1] > 200) & (out[..., 3] > 128))
    assert green[:, 1].min() >= 59, "turned clockwise, the top ends up on the right"
    tilted = np.asarray(cover_face(base, tall, HeadFrame(50, 40, 20, 40, roll=30), (0, 0, 10, 20)))
    green = np.argwhere((tilted[..., 1] > 200) & (tilted[..., 3] > 128)).mean(axis=0)
    assert green[0] < 30 and green[1] > 55, "tilted 30 degrees clockwise, the top leans right"
    assert np.abs((tilted[..., 3] > 128).sum() - 20 * 40) < 40  # the same area, only turned


def test_cover_face_is_bounded_by_the_canvas() -> None:
    base = Image.new("RGBA", (60, 40), (0, 0, 255, 255))
    red = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    # a 10^12-pixel overlay
    huge = np.asarray(cover_face(base, red, HeadFrame(30, 20, 1e6, 1e6, roll=10), (0, 0, 10, 10)))
    assert (huge == (255, 0, 0, 255)).all()
    for empty in (HeadFrame(-500, 20, 20, 20, roll=10), HeadFrame(30, 20, 0, 0)):  # out of the picture, no size
        assert np.array_equal(np.asarray(cover_face(base, red, empty, (0, 0, 10, 10))), np.asarray(base))


def test_cover_face_refuses_bad_geometry() -> None:
    img = Image.new("RGBA", (10, 10))
    whole = (0, 0, 10, 10)
    for scale in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=f"scale must be a positive finite number, got {scale}"):
            cover_face(img, img, HeadFrame(2.5, 2.5, 5, 5), whole, scale)
    with pytest.raises(ValueError, match="overlay_face must have x1 > x0 and y1 > y0"):
        cover_face(img, img, HeadFrame(2.5, 2.5, 5, 5), (5, 0, 5, 5))
    with pytest.raises(ValueError, match="not finite"):
        cover_face(img, img, HeadFrame(float("nan"), 2.5, 5, 5), whole)
    # a frame astronomically far off lies outside the picture: nothing is drawn (its corners once overflowed int64)
    red = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    for x in (1e19, -1e19, 1e30):
        far = cover_face(img, red, HeadFrame(x, 5, 20, 20), whole)
        assert np.array_equal(np.asarray(far), np.asarray(img))


def test_a_closed_segmenter_says_so() -> None:
    seg = PersonSegmenter()
    seg.close()
    with pytest.raises(SegmenterError, match="this PersonSegmenter is closed"):
        seg.person_mask(np.zeros((8, 8, 3), np.uint8))
