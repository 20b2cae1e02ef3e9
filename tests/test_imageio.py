"""facemoji.imageio: every input shape, mode and kind of broken file, generated in tmp_path."""

from __future__ import annotations

import io
import os
import random
import shutil
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facemoji import imageio
from facemoji.imageio import (
    DEFAULT_MAX_PIXELS,
    MAX_SIDE,
    ImageError,
    check_rgb,
    iter_image_paths,
    load_image,
    save_image,
)

# Pillow's warnings must never turn into crashes: every test runs with warnings as errors.
pytestmark = pytest.mark.filterwarnings("error")

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _write(path: Path, im: Image.Image, fmt: str | None = None, **kwargs) -> Path:
    path.write_bytes(_encode(im, fmt or Image.registered_extensions()[path.suffix.lower()], **kwargs))
    return path


def _png_header(width: int, height: int) -> bytes:
    """A well-formed PNG claiming width x height RGB pixels, with no pixel data: cheap to make, fails to decode."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _noise(size: tuple[int, int] = (24, 24), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _assert_rgb(out: np.ndarray, shape: tuple[int, int]) -> None:
    assert out.shape == (*shape, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous


# --- sources -----------------------------------------------------------------------------------


def test_justin_loads_from_every_source_kind(media: Path) -> None:
    path = media / "justin.jpg"
    out = load_image(path)
    _assert_rgb(out, (384, 381))
    assert out.flags.writeable
    assert 60 < out.mean() < 200  # a photo, not a blank
    np.testing.assert_array_equal(load_image(str(path)), out)
    np.testing.assert_array_equal(load_image(path.read_bytes()), out)
    np.testing.assert_array_equal(load_image(bytearray(path.read_bytes())), out)
    with Image.open(path) as im:
        np.testing.assert_array_equal(load_image(im), out)
    assert load_image(out) is out  # already (H, W, 3) uint8 contiguous: no copy


@pytest.mark.parametrize("source", [42, None, [[0, 0]], 1.5])
def test_unsupported_source_type(source: object) -> None:
    with pytest.raises(ImageError, match="expected a path, bytes, a numpy array or a PIL image"):
        load_image(source)  # type: ignore[arg-type]


# --- modes ---------------------------------------------------------------------------------------


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), BLUE)
    im.paste(RED, (0, 0, 20, 20))  # red left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = load_image(_write(tmp_path / "rotated.jpg", im, exif=exif))
    _assert_rgb(out, (40, 20))  # portrait once upright
    top, bottom = out[:18].reshape(-1, 3).mean(0), out[22:].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(top, RED, atol=8)  # the left side ends up on top
    np.testing.assert_allclose(bottom, BLUE, atol=8)


def test_16bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 1000, 32768, 65535]], np.uint16)
    path = _write(tmp_path / "deep.png", Image.fromarray(values))
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # really 16-bit on disk
    out = load_image(path)
    _assert_rgb(out, (1, 5))
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 4, 128, 255])  # round(v * 255 / 65535)
    assert (out == out[..., :1]).all()  # gray


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[0, 257, 65535]], np.int32), [0, 1, 255]),  # fits in 16 bits: scaled as 16-bit
        (np.array([[-100, 0, 100]], np.int32), [0, 128, 255]),  # otherwise stretched min..max
        (np.array([[0.0, 0.5, 1.0]], np.float32), [0, 128, 255]),  # unit floats
        (np.array([[0.0, 500.0, 1000.0]], np.float32), [0, 128, 255]),
        (np.array([[7.0, 7.0, 7.0]], np.float32), [0, 0, 0]),  # flat: no division by zero
    ],
)
def test_32bit_int_and_float_tiffs(tmp_path: Path, values: np.ndarray, expected: list[int]) -> None:
    im = Image.fromarray(values)
    assert im.mode in ("I", "F")
    out = load_image(_write(tmp_path / "deep.tif", im))
    np.testing.assert_array_equal(out[0, :, 0], expected)


def test_float_tiff_with_nan_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "nan.tif", Image.fromarray(np.array([[0.0, np.nan]], np.float32)))
    with pytest.raises(ImageError, match="NaN or infinite"):
        load_image(path)


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk(tmp_path: Path, suffix: str) -> None:
    out = load_image(_write(tmp_path / f"cmyk{suffix}", Image.new("CMYK", (8, 8), (0, 255, 255, 0))))
    _assert_rgb(out, (8, 8))
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), RED, atol=4)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 128]]], np.uint8)
    out = load_image(_write(tmp_path / "rgba.png", Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(out[0, 0], WHITE)  # fully transparent
    np.testing.assert_array_equal(out[0, 1], RED)  # opaque
    np.testing.assert_allclose(out[0, 2], (127, 127, 255), atol=1)  # half


def test_la_is_composited_on_white(tmp_path: Path) -> None:
    la = Image.fromarray(np.array([[[0, 0], [0, 255]]], np.uint8), "LA")
    out = load_image(_write(tmp_path / "la.png", la))
    np.testing.assert_array_equal(out[0], [WHITE, (0, 0, 0)])


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_with_transparency(tmp_path: Path, suffix: str) -> None:
    im = Image.new("P", (2, 1))
    im.putpalette([0, 0, 0, *RED] + [0] * 762)
    im.putpixel((1, 0), 1)
    out = load_image(_write(tmp_path / f"p{suffix}", im, transparency=0))
    np.testing.assert_array_equal(out[0], [WHITE, RED])


def test_rgb_with_transparent_colour(tmp_path: Path) -> None:
    im = Image.new("RGB", (2, 1), (0, 255, 0))
    im.putpixel((1, 0), RED)
    out = load_image(_write(tmp_path / "trns.png", im, transparency=(0, 255, 0)))
    np.testing.assert_array_equal(out[0], [WHITE, RED])


def test_one_bit(tmp_path: Path) -> None:
    im = Image.new("1", (3, 2), 0)
    im.putpixel((1, 1), 1)
    out = load_image(_write(tmp_path / "bw.png", im))
    _assert_rgb(out, (2, 3))
    assert set(np.unique(out)) == {0, 255}
    np.testing.assert_array_equal(out[1, 1], WHITE)


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 4), RED), Image.new("RGB", (6, 4), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as im:
        assert im.n_frames == 2
    out = load_image(path)
    _assert_rgb(out, (4, 6))
    np.testing.assert_array_equal(np.unique(out.reshape(-1, 3), axis=0), [RED])


def test_format_detected_by_content_not_suffix(tmp_path: Path) -> None:
    webp = _write(tmp_path / "photo.jpg", Image.new("RGB", (8, 8), BLUE), "WEBP", lossless=True)
    assert webp.read_bytes()[8:12] == b"WEBP"
    np.testing.assert_array_equal(load_image(webp)[0, 0], BLUE)
    png = _write(tmp_path / "notes.txt", Image.new("RGB", (8, 8), RED), "PNG")
    np.testing.assert_array_equal(load_image(png)[0, 0], RED)


@pytest.mark.parametrize("fmt", ["PPM", "TGA", "PCX", "ICO"])
def test_formats_outside_the_accepted_list_are_refused(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path / "image.png", Image.new("RGB", (16, 16), RED), fmt)
    with pytest.raises(ImageError, match=r"not a recognised image; expected JPEG, PNG, WebP, AVIF, GIF, BMP or TIFF"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "AVIF", "BMP", "TIFF"])
def test_tiny_images(fmt: str) -> None:
    out = load_image(_encode(Image.new("RGB", (1, 1), RED), fmt))
    _assert_rgb(out, (1, 1))
    np.testing.assert_allclose(out[0, 0], RED, atol=40)  # JPEG, WebP and AVIF are lossy on one pixel


# --- numpy input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[10, 200]], np.uint8), [[10] * 3, [200] * 3]),
        (np.array([[[10], [200]]], np.uint8), [[10] * 3, [200] * 3]),
        (np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8), [[1, 2, 3], [4, 5, 6]]),
        (np.array([[[255, 0, 0, 0], [255, 0, 0, 255]]], np.uint8), [WHITE, RED]),
        (np.array([[257, 65535]], np.uint16), [[1] * 3, [255] * 3]),
        (np.array([[[0, 257, 65535]]], np.uint16), [[0, 1, 255]]),
        (np.array([[0.2, 1.0]], np.float32), [[51] * 3, [255] * 3]),
        (np.array([[[0.0, 0.5, 1.0, 1.0]]], np.float64), [[0, 128, 255]]),
        (np.array([[[0.0, 0.0, 0.0, 0.0]]], np.float16), [WHITE]),
    ],
)
def test_numpy_inputs(array: np.ndarray, expected: list) -> None:
    out = load_image(array)
    _assert_rgb(out, array.shape[:2])
    np.testing.assert_array_equal(out[0], expected)


def test_numpy_input_is_taken_as_rgb_and_made_contiguous() -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 255
    view = rgb[:, ::-1]
    assert not view.flags.c_contiguous
    out = load_image(view)
    _assert_rgb(out, (4, 6))
    np.testing.assert_array_equal(out[0, 0], RED)  # channel 0 is red, not blue


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(5, np.uint8), r"unsupported array shape \(5,\); expected \(H, W\)"),
        (np.zeros((2, 2, 3, 1), np.uint8), "unsupported array shape"),
        (np.zeros((2, 2, 2), np.uint8), "unsupported array shape"),
        (np.zeros((0, 5, 3), np.uint8), r"the array is empty \(shape \(0, 5, 3\)\)"),
        (np.zeros((2, 2), np.int64), "unsupported array dtype int64; expected .* uint8, uint16 or floats in"),
        (np.zeros((2, 2), bool), "unsupported array dtype bool"),
        (np.zeros((2, 2), object), "unsupported array dtype object"),
        (np.full((2, 2), 255.0), r"float array values span \[255, 255\]; float arrays must hold values in \[0, 1\]"),
        (np.full((2, 2), -0.5, np.float32), r"must hold values in \[0, 1\]"),
        (np.array([[0.0, np.nan]]), "NaN or infinite"),
        (np.array([[0.0, np.inf]]), "NaN or infinite"),
    ],
)
def test_bad_arrays(array: np.ndarray, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        load_image(array)


# --- decompression bombs -------------------------------------------------------------------------


def test_bomb_refused_from_header_before_decoding(tmp_path: Path) -> None:
    # 81 MP: above our limit, below Pillow's error threshold. The file holds no pixel data, so any
    # attempt to decode it would fail with a different message.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(9000, 9000))
    assert DEFAULT_MAX_PIXELS < 9000 * 9000
    message = r"9000x9000 = 81,000,000 pixels exceeds max_pixels=64,000,000 .*raise max_pixels \(--max-pixels"
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_bomb_beyond_pillows_own_limit() -> None:
    # Pillow refuses this one inside Image.open, before our own check; the message is ours all the same
    message = r"10,000,000,000 pixels exceeds max_pixels=64,000,000 \(a guard .* raise max_pixels"
    with pytest.raises(ImageError, match=message):
        load_image(_png_header(100_000, 100_000))
    with pytest.raises(ImageError, match=r"is over Pillow's own limit; raise PIL\.Image\.MAX_IMAGE_PIXELS"):
        load_image(_png_header(100_000, 100_000), max_pixels=10**11)


def test_max_pixels_applies_to_every_source(tmp_path: Path) -> None:
    big = Image.new("RGB", (20, 10))
    path = _write(tmp_path / "small.png", big)
    for source in (path, path.read_bytes(), np.zeros((10, 20, 3), np.uint8)):
        with pytest.raises(ImageError, match=r"20x10 = 200 pixels exceeds max_pixels=199"):
            load_image(source, max_pixels=199)
        _assert_rgb(load_image(source, max_pixels=200), (10, 20))
    lazy = Image.open(io.BytesIO(_png_header(5000, 5000)))  # opened, never decoded
    with pytest.raises(ImageError, match="exceeds max_pixels=1,000"):
        load_image(lazy, max_pixels=1000)


def test_sides_longer_than_mediapipe_takes_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "pano.png", Image.new("RGB", (MAX_SIDE + 1, 2)))
    for source in (path, path.read_bytes(), np.zeros((MAX_SIDE + 1, 2, 3), np.uint8)):
        with pytest.raises(ImageError, match=r"(32767x2|2x32767) pixels; sides over 32,766 px are not supported"):
            load_image(source)
    _assert_rgb(load_image(np.zeros((2, MAX_SIDE, 3), np.uint8)), (2, MAX_SIDE))
    # refused from the header, before decoding: a header alone would otherwise fail as truncated
    with pytest.raises(ImageError, match="40000x1000 pixels; sides over 32,766 px are not supported"):
        load_image(_png_header(40000, 1000))
    with pytest.raises(ValueError, match="image sides over 32,766 px are not supported"):
        check_rgb(np.zeros((1, MAX_SIDE + 1, 3), np.uint8))


# --- broken and missing files ----------------------------------------------------------------------


def test_empty_file_and_empty_bytes(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").touch()
    with pytest.raises(ImageError, match=r"empty.jpg: the file is empty; expected a JPEG, PNG"):
        load_image(tmp_path / "empty.jpg")
    with pytest.raises(ImageError, match=r"image bytes \(0 bytes\): no data"):
        load_image(b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    data = _encode(_noise((64, 64)), fmt)
    path = tmp_path / "half"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="half: cannot decode the image, it may be truncated or corrupt"):
        load_image(path)


def test_non_image_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("hello, not a photo\n")
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", _encode(Image.new("RGB", (4, 4)), "PNG"))
    for path in (text, archive):
        with pytest.raises(ImageError, match=rf"{path.name}: not a recognised image; expected JPEG, PNG, WebP"):
            load_image(path)


def test_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="is a folder, expected an image file"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match=r"nope\.jpg: no such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match=r"^an empty path; expected an image file$"):
        load_image("")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "locked.png", Image.new("RGB", (2, 2)))
    path.chmod(0)
    if os.access(path, os.R_OK):  # running as root, which ignores permissions: simulate the refusal

        def denied(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(imageio, "open", denied, raising=False)
    with pytest.raises(ImageError, match=r"locked\.png: permission denied, cannot read the file"):
        load_image(path)


def test_fuzzed_bytes_raise_only_image_error() -> None:
    """Random cuts, byte flips, insertions and junk tails of real images: success or ImageError, nothing else."""
    rng = random.Random(1234)
    seeds = [_encode(_noise(), fmt) for fmt in ("PNG", "JPEG", "WEBP", "AVIF", "GIF")]
    outcomes = {"ok": 0, "refused": 0}
    for i in range(240):
        data = bytearray(seeds[i % len(seeds)])
        mutation = (i // len(seeds)) % 4
        if mutation == 0:
            data = data[: rng.randrange(1, len(data))]
        elif mutation == 1:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif mutation == 2:
            at = rng.randrange(len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        else:
            data = data[: rng.randint(8, 64)] + rng.randbytes(rng.randint(0, 512))
        try:
            out = load_image(bytes(data), max_pixels=100_000)
        except ImageError:
            outcomes["refused"] += 1
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous
            outcomes["ok"] += 1
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0, outcomes


# --- iter_image_paths ---------------------------------------------------------------------------


def test_iter_image_paths_walks_folders_sorted_and_filters(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for name in ["b.jpg", "a.PNG", "notes.txt", "z.heic", ".hidden.jpg", "._b.jpg", "sub/c.webp",
                 "sub/deeper/d.TIFF", "sub/e.gif", ".cache/f.jpg", "g.bmp", "h.jfif", "i.avif"]:  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    (root / "loop").symlink_to(root, target_is_directory=True)  # a cycle that must not be followed
    given = tmp_path / "scan.dat"  # an explicitly named file is kept whatever its suffix
    given.touch()
    found = list(iter_image_paths([root, str(given)]))
    # HEIC is listed so that its line can say it is not supported
    assert found == [root / "a.PNG", root / "b.jpg", root / "g.bmp", root / "h.jfif", root / "i.avif",
                     root / "sub/c.webp", root / "sub/deeper/d.TIFF", root / "sub/e.gif", root / "z.heic",
                     given]  # fmt: skip


def test_a_looping_link_in_a_folder_is_reported_and_skipped(tmp_path: Path) -> None:
    for name in ("a.jpg", "c.jpg"):
        (tmp_path / name).touch()
    (tmp_path / "b.jpg").symlink_to(tmp_path / "b.jpg")
    errors: list[tuple[Path, str]] = []
    assert list(iter_image_paths([tmp_path], lambda path, why: errors.append((path, why)))) == [
        tmp_path / "a.jpg",
        tmp_path / "c.jpg",
    ]
    assert errors == [(tmp_path / "b.jpg", "cannot look at the file (Too many levels of symbolic links)")]
    with pytest.raises(ImageError, match=r"b\.jpg: cannot look at the file"):
        list(iter_image_paths([tmp_path]))


def test_iter_image_paths_is_lazy(tmp_path: Path) -> None:
    for sub in "az":
        (tmp_path / sub).mkdir()
    (tmp_path / "a" / "1.jpg").touch()
    paths = iter_image_paths([tmp_path])
    assert next(paths) == tmp_path / "a" / "1.jpg"
    (tmp_path / "z" / "2.png").touch()  # created after iteration began: only a lazy walk can see it
    assert list(paths) == [tmp_path / "z" / "2.png"]


def test_iter_image_paths_missing_path_raises_at_call(tmp_path: Path) -> None:
    (tmp_path / "ok.jpg").touch()
    with pytest.raises(ImageError, match=r"no such file or folder: .*gone\.jpg"):
        iter_image_paths([tmp_path / "ok.jpg", tmp_path / "gone.jpg"])
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    with pytest.raises(ImageError, match=r"no such file or folder: .*loop\.jpg \(a broken or looping link\)"):
        iter_image_paths([tmp_path / "loop.jpg"])


def test_a_folder_gone_mid_walk_is_reported_and_skipped(tmp_path: Path) -> None:
    for name in ("a/1.jpg", "b/2.jpg", "c/3.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    errors: list[tuple[Path, str]] = []
    paths = iter_image_paths([tmp_path], lambda folder, reason: errors.append((folder, reason)))
    assert next(paths) == tmp_path / "a/1.jpg"
    shutil.rmtree(tmp_path / "b")
    assert list(paths) == [tmp_path / "c/3.jpg"]
    assert errors == [(tmp_path / "b", "cannot list the folder (No such file or directory)")]
    (tmp_path / "b").mkdir()
    paths = iter_image_paths([tmp_path])
    next(paths)
    shutil.rmtree(tmp_path / "b")
    with pytest.raises(ImageError, match="cannot list the folder"):  # without on_error the walk ends with it
        list(paths)


# --- save_image -----------------------------------------------------------------------------------

RGBA = np.array([[[255, 0, 0, 255], [0, 0, 255, 0]], [[0, 255, 0, 128], [10, 20, 30, 255]]], np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".webp", ".PNG"])
def test_save_keeps_alpha_for_png_and_webp(tmp_path: Path, suffix: str) -> None:
    path = save_image(RGBA, str(tmp_path / f"out{suffix}"))
    assert isinstance(path, Path)
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        back = np.asarray(im)
    np.testing.assert_array_equal(back[..., 3], RGBA[..., 3])
    if suffix.lower() == ".png":
        np.testing.assert_array_equal(back, RGBA)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_save_jpeg_composites_alpha_on_white(tmp_path: Path, suffix: str) -> None:
    big = np.zeros((16, 16, 4), np.uint8)  # transparent black
    with Image.open(save_image(big, tmp_path / f"out{suffix}")) as im:
        assert (im.format, im.mode) == ("JPEG", "RGB")
        assert np.asarray(im).min() >= 250


def test_save_round_trips_rgb_and_pil_images(tmp_path: Path) -> None:
    rgb = np.asarray(_noise((7, 5)))
    np.testing.assert_array_equal(load_image(save_image(rgb, tmp_path / "rgb.png")), rgb)
    p = Image.new("P", (2, 1))
    p.putpalette([0, 0, 0, *RED] + [0] * 762)
    p.putpixel((1, 0), 1)
    p.info["transparency"] = 0
    with Image.open(save_image(p, tmp_path / "p.png")) as im:
        assert im.mode == "RGBA"
        assert np.asarray(im)[0, 0, 3] == 0
    np.testing.assert_array_equal(load_image(save_image(np.full((3, 3), 0.5), tmp_path / "gray.png"))[0, 0], [128] * 3)


@pytest.mark.parametrize("name", ["out.bmp", "out.gif", "out", "out.png.tmp"])
def test_save_unknown_suffix_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ImageError, match=r"unknown suffix .*; use \.png, \.jpg, \.jpeg or \.webp"):
        save_image(RGBA, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_sizes_the_format_cannot_hold(tmp_path: Path) -> None:
    wide = np.zeros((2, 16_384, 3), np.uint8)
    with pytest.raises(ImageError, match=r"wide\.webp: 16384x2 pixels; WEBP holds at most 16,383 px a side, use \.png"):
        save_image(wide, tmp_path / "wide.webp")
    assert load_image(save_image(wide, tmp_path / "wide.png")).shape == (2, 16_384, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.png"]


def test_save_refuses_bad_images(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="unsupported array shape"):
        save_image(np.zeros(4, np.uint8), tmp_path / "x.png")
    with pytest.raises(ImageError, match="cannot save a list; expected a numpy array or a PIL image"):
        save_image([[0]], tmp_path / "x.png")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"previous")

    def disk_full(self: Image.Image, fp: io.BufferedIOBase, *args: object, **kwargs: object) -> None:
        fp.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(ImageError, match=r"cannot write .*out\.png: No space left on device"):
        save_image(RGBA, path)
    assert path.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind

    def interrupted(self: Image.Image, fp: io.BufferedIOBase, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(RGBA, path)
    assert list(tmp_path.iterdir()) == [path]


def test_save_replaces_existing_file_with_umask_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"previous")
    save_image(RGBA, path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), RGBA)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert list(tmp_path.iterdir()) == [path]


def test_save_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"cannot write .*missing/out\.png: No such file or directory"):
        save_image(RGBA, tmp_path / "missing" / "out.png")


def test_a_metadata_bomb_is_named_as_such() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    png = buffer.getvalue()
    body = b"zTXt" + b"k\0\0" + zlib.compress(b"\0" * (20 * 1024 * 1024))  # 20 MB of text in 20 KB
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    with pytest.raises(ImageError, match="a metadata chunk \\(text or colour profile\\) is too large to read"):
        load_image(png[:33] + chunk + png[33:])  # after the 8-byte signature and the 25-byte IHDR


def test_array_subclasses_and_strided_buffers(media: Path) -> None:
    gray = np.asarray(Image.open(media / "justin.jpg").convert("L"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # numpy's advice against np.matrix
        matrix = np.asmatrix(gray)
    _assert_rgb(load_image(matrix), gray.shape)  # np.matrix once crashed the process
    encoded = np.frombuffer((media / "justin.jpg").read_bytes(), np.uint8)
    _assert_rgb(load_image(memoryview(encoded)), gray.shape)
    with pytest.raises(ImageError, match=r"image bytes \(150 bytes\): not a recognised image"):
        load_image(memoryview(np.zeros((10, 10, 3), np.uint8)[::2]))  # a strided view is read, then refused
