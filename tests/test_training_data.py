"""Dataset loaders on small generated fixtures: CSV, class folders, Kaggle tree and zip."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fer_fixtures import csv_row, face, write_kaggle_tree, zip_tree
from PIL import Image

from facemoji.emotions import EMOTIONS, Emotion, parse_emotion
from facemoji.training import data
from facemoji.training.data import DatasetError, file_sha256, load_dataset


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FACEMOJI_CACHE", str(cache))
    return cache


def test_csv_splits_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    rows = [
        csv_row(3, face(1), "Training"),
        csv_row(5, face(2), "Training"),
        csv_row(0, face(3), "PublicTest"),
        csv_row(6, face(4), "PrivateTest"),
        csv_row(9, face(5), "Training"),  # label out of range
        csv_row("x", face(6), "Training"),  # label not a number
        csv_row(1, "1 2 3", "Training"),  # too few pixels
        csv_row(1, "", "Training"),  # no pixels
    ]
    path.write_text("emotion,pixels,Usage\n" + "".join(rows))

    train = load_dataset(path, "train")
    assert train.split == "train" and len(train) == 2 and train.skipped == 4
    assert load_dataset(path, "test").skipped == 0  # the bad rows are all training rows
    assert train.labels.tolist() == [3, 5]
    np.testing.assert_array_equal(train.images[0], face(1))
    assert load_dataset(path, "public").labels.tolist() == [0]
    assert load_dataset(path, "private").labels.tolist() == [6]
    assert load_dataset(path, "test").labels.tolist() == [0, 6]
    assert len(load_dataset(path, "all")) == 4


def test_csv_without_usage_is_one_split(tmp_path: Path) -> None:
    path = tmp_path / "faces.csv"
    path.write_text("emotion,pixels\n" + csv_row(4, face(1), "").rstrip(",\n") + "\n")
    ds = load_dataset(path, "test")
    assert ds.split == "all" and ds.labels.tolist() == [4]


def test_csv_with_wrong_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,age\nbob,3\n")
    with pytest.raises(DatasetError, match=r"columns \['name', 'age'\]; expected .*fer2013.csv"):
        load_dataset(path)


def test_csv_from_a_spreadsheet_with_a_byte_order_mark_and_a_latin1_byte(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    body = "emotion,pixels,Usage\n" + csv_row(3, face(1), "Training") + csv_row(2, "caf\u00e9", "Training")
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("latin-1"))
    ds = load_dataset(path, "train")
    assert ds.labels.tolist() == [3] and ds.skipped == 1


def test_binary_file_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    for binary in (bytes(range(256)) * 4, b"\x7fELF\x02\x01\x01" + bytes(range(128, 256))):
        path.write_bytes(binary)
        with pytest.raises(DatasetError, match=r"fer2013\.csv is not a readable CSV: its first line is not") as e:
            load_dataset(path)
        assert "\\x" not in str(e.value) and str(e.value).isprintable()  # no bytes quoted


def test_csv_with_a_huge_row_and_a_stray_quote_loses_only_those_rows(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    pixels = " ".join(str(v) for v in face(2).ravel())
    rows = [
        csv_row(3, face(1), "Training"),
        csv_row(4, " ".join(["7"] * 70_000), "Training"),  # 140 KB, over csv's default field limit
        f'5,"{pixels},Training\n',  # a stray quote: the field runs on past the line
        csv_row(0, face(3), "PublicTest"),
        csv_row(6, face(4), "PrivateTest"),
    ]
    path.write_text("emotion,pixels,Usage\n" + "".join(rows))
    train = load_dataset(path, "train")
    assert train.labels.tolist() == [3] and train.skipped == 2
    # the stray quote's row lost its Usage: it might have been in any split, so every split counts it
    public = load_dataset(path, "public")
    assert public.labels.tolist() == [0] and public.skipped == 1
    assert load_dataset(path, "private").labels.tolist() == [6]


def test_csv_line_over_the_limit_is_skipped_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "MAX_CSV_LINE", 10_000)  # FER rows are ~7,000 characters
    path = tmp_path / "fer2013.csv"
    long_line = "1," + "9 " * 70_000 + ",Training\n"
    rows = [csv_row(3, face(1), "Training"), long_line, csv_row(2, face(2), "Training")]
    path.write_text("emotion,pixels,Usage\n" + "".join(rows))
    train = load_dataset(path, "train")
    assert train.labels.tolist() == [3, 2] and train.skipped == 1


def test_csv_usage_ignores_case_and_spaces_and_counts_unknown_ones(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    rows = [
        csv_row(3, face(1), "TRAINING"),
        csv_row(0, face(2), " publictest "),
        csv_row(6, face(3), "PrivateTest "),
        csv_row(2, face(4), "Validation"),  # no split we know: left out of all, and counted by each
    ]
    path.write_text("emotion,pixels,Usage\n" + "".join(rows))
    train = load_dataset(path, "train")
    assert train.split == "train" and train.labels.tolist() == [3] and train.skipped == 1
    assert load_dataset(path, "public").labels.tolist() == [0]
    test = load_dataset(path, "test")
    assert test.labels.tolist() == [0, 6] and test.skipped == 1
    everything = load_dataset(path, "all")
    assert len(everything) == 3 and everything.skipped == 1


def test_csv_column_names_in_any_case_and_a_blank_usage_among_named_ones(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    rows = [csv_row(3, face(1), "Training"), csv_row(0, face(2), "PublicTest"), csv_row(6, face(3), "")]
    path.write_text("\n Emotion , Pixels, usage\n" + "".join(rows))  # a blank line first, as some exports have
    assert load_dataset(path, "train").labels.tolist() == [3]  # the Usage column is read, whatever its case
    test = load_dataset(path, "test")  # the blank Usage could be any split: left out, and counted by each
    assert test.labels.tolist() == [0] and test.skipped == 1 and load_dataset(path, "train").skipped == 1


def test_class_folders_with_synonyms_missing_classes_and_a_corrupt_file(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    for folder, seeds in {"Happiness": [1, 2], "surprised": [3], "anger": [4]}.items():
        (root / folder).mkdir(parents=True)
        for s in seeds:
            Image.fromarray(face(s)).save(root / folder / f"{s}.png")
    Image.new("RGB", (96, 80), (200, 10, 10)).save(root / "anger" / "big-colour.jpg")
    (root / "surprised" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (root / "surprised" / "notes.txt").write_text("not an image")
    (root / "unknown-class").mkdir()
    Image.fromarray(face(9)).save(root / "unknown-class" / "9.png")

    ds = load_dataset(root, "train")
    assert ds.split == "all" and ds.skipped == 1 and len(ds) == 5
    counts = ds.class_counts()
    assert counts == {"angry": 2, "disgust": 0, "fear": 0, "happy": 2, "sad": 0, "surprise": 1, "neutral": 0}
    assert ds.images.shape == (5, 48, 48) and ds.images.dtype == np.uint8
    happy = ds.images[ds.labels == EMOTIONS.index(Emotion.HAPPY)]
    np.testing.assert_array_equal(happy[0], face(1))


def _write(path: Path, image: Image.Image, **save_options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save_options)
    return path


def test_images_are_decoded_as_a_viewer_shows_them(tmp_path: Path) -> None:
    happy = tmp_path / "faces" / "happy"
    _write(happy / "a-16bit.png", Image.fromarray(face(1).astype(np.uint16) * 257))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to view
    _write(happy / "b-rotated.png", Image.fromarray(np.rot90(face(2)).copy()), exif=exif)
    alpha = np.full((48, 48), 255, np.uint8)
    alpha[:, 24:] = 0  # the right half transparent
    _write(happy / "c-transparent.png", Image.fromarray(np.dstack([face(3), alpha]), "LA"))
    jpeg = _write(happy / "d-gray.jpg", Image.fromarray(face(4)))

    images = load_dataset(tmp_path / "faces").images
    np.testing.assert_array_equal(images[0], face(1))  # 16 bits scaled, not clipped to white
    np.testing.assert_array_equal(images[1], face(2))
    np.testing.assert_array_equal(images[2][:, :24], face(3)[:, :24])
    assert (images[2][:, 24:] == 255).all()  # on white
    # an ordinary 8-bit grayscale JPEG (all of FER-2013) gives the values it always gave
    np.testing.assert_array_equal(images[3], np.asarray(Image.open(jpeg).convert("L")))


def test_decompression_bomb_is_skipped_and_counted(tmp_path: Path) -> None:
    happy = tmp_path / "faces" / "happy"
    _write(happy / "face.png", Image.fromarray(face(1)))
    _write(happy / "bomb.png", Image.new("1", (6000, 6000)))  # 36 MP, a few KB
    ds = load_dataset(tmp_path / "faces")
    assert len(ds) == 1 and ds.skipped == 1


def _png_of_size(size: int) -> bytes:
    """A valid 48x48 PNG padded with zeros to ``size`` bytes (decoders ignore what follows the image)."""
    buf = io.BytesIO()
    Image.fromarray(face(1)).save(buf, "PNG")
    return buf.getvalue().ljust(size, b"\0")


def test_oversized_files_are_skipped_unread(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    _write(root / "happy" / "face.png", Image.fromarray(face(1)))
    big = root / "happy" / "big.png"
    big.write_bytes(_png_of_size(100))
    os.truncate(big, data.MAX_FILE_BYTES + 1)  # sparse: takes no disk space
    ds = load_dataset(root)
    assert len(ds) == 1 and ds.skipped == 1

    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("happy/face.png", _png_of_size(100))
        zf.writestr("happy/big.png", _png_of_size(data.MAX_FILE_BYTES + 1))
    ds = load_dataset(archive)
    assert len(ds) == 1 and ds.skipped == 1


def test_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    root = tmp_path / os.fsdecode(b"faces-\xff")
    _write(root / "happy" / os.fsdecode(b"caf\xe9.png"), Image.fromarray(face(1)))
    ds = load_dataset(root)
    np.testing.assert_array_equal(ds.images, face(1)[None])
    assert len(file_sha256(root)) == 64


def test_folder_with_a_long_name_gets_a_short_cache_name(tmp_path: Path, _cache: Path) -> None:
    root = tmp_path / ("faces" * 48)  # 240 characters
    _write(root / "happy" / "1.png", Image.fromarray(face(1)))
    assert load_dataset(root).labels.tolist() == [EMOTIONS.index(Emotion.HAPPY)]
    (cached,) = (_cache / "datasets").glob("*.npz")
    assert len(os.fsencode(cached.name)) < 100


def test_encrypted_zip_says_so(tmp_path: Path) -> None:
    root = write_kaggle_tree(tmp_path / "fer", per_class=1)
    archive = zip_tree(root, tmp_path / "fer2013.zip")
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:  # zipfile cannot write encrypted members: set their flag bit
        for info in zf.infolist():
            raw[info.header_offset + 6] |= 0x1
        central = zf.start_dir
    while raw[central : central + 4] == b"PK\x01\x02":
        raw[central + 8] |= 0x1
        name, extra, comment = (int.from_bytes(raw[central + i : central + i + 2], "little") for i in (28, 30, 32))
        central += 46 + name + extra + comment
    archive.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"fer2013\.zip is an encrypted \(password-protected\) zip"):
        load_dataset(archive)


def test_kaggle_folder_and_zip_give_the_same_splits(tmp_path: Path) -> None:
    root = write_kaggle_tree(tmp_path / "fer", per_class=2, suffix=".jpg")
    archive = zip_tree(root, tmp_path / "fer2013.zip")
    for path in (root, archive):
        train, public, private = (load_dataset(path, s) for s in ("train", "public", "private"))
        assert (len(train), len(public), len(private)) == (14, 14, 14)
        assert len(load_dataset(path, "test")) == 28
        assert len(load_dataset(path, "all")) == 42
        assert public.class_counts() == {e.value: 2 for e in EMOTIONS}
    np.testing.assert_array_equal(load_dataset(root, "private").images, load_dataset(archive, "private").images)
    # Kaggle's folder order (..., neutral, sad, ...) is not label order: labels follow the folder names
    neutral = load_dataset(root, "train").labels[-6:-4]
    assert neutral.tolist() == [EMOTIONS.index(Emotion.NEUTRAL)] * 2


def test_zip_member_with_a_bad_crc_is_skipped_and_counted(tmp_path: Path) -> None:
    root = write_kaggle_tree(tmp_path / "fer", per_class=1, suffix=".png")
    raw = bytearray(zip_tree(root, tmp_path / "fer2013.zip").read_bytes())
    # flip a byte of the first member's data (stored uncompressed): its CRC no longer matches
    raw[raw.index(b"PK\x03\x04") + 80] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    everything = load_dataset(damaged, "all")
    assert len(everything) == 20 and everything.skipped == 1


def test_truncated_zip(tmp_path: Path) -> None:
    root = write_kaggle_tree(tmp_path / "fer", per_class=1)
    archive = zip_tree(root, tmp_path / "fer2013.zip")
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DatasetError, match=r"fer2013\.zip is not a readable zip file: it may be truncated"):
        load_dataset(archive)


def test_broken_links_and_link_loops_in_a_folder_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    (root / "happy").mkdir(parents=True)
    Image.fromarray(face(1)).save(root / "happy" / "1.png")
    (root / "happy" / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (root / "happy" / "loop.png").symlink_to(root / "happy" / "loop.png")
    ds = load_dataset(root)
    assert ds.labels.tolist() == [EMOTIONS.index(Emotion.HAPPY)]


def test_unwritable_cache_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FACEMOJI_CACHE", str(blocker / "cache"))
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + csv_row(3, face(1), "Training"))
    with pytest.raises(DatasetError, match=r"cannot write the decoded dataset to .*set FACEMOJI_CACHE"):
        load_dataset(path)
    assert not list(tmp_path.rglob("*.tmp.npz"))


def test_damaged_cache_is_decoded_again(tmp_path: Path, _cache: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + csv_row(3, face(1), "Training"))
    load_dataset(path)
    (cached,) = (_cache / "datasets").glob("*.npz")
    cached.write_bytes(b"PK\x03\x04 damaged")
    assert load_dataset(path).labels.tolist() == [3]


@pytest.mark.parametrize(
    "tampered",
    [
        {"images": np.zeros((1, 10, 10), np.uint8)},
        {"images": np.zeros((2, 48, 48), np.uint8)},  # two images, one label
        {"labels": np.array([7])},  # no such emotion
        {"labels": np.array([3.0])},
        {"splits": np.array(["validation"])},
        {"skipped_splits": None},  # missing
    ],
    ids=["small-images", "more-images-than-labels", "label-out-of-range", "float-labels", "unknown-split", "missing"],
)
def test_tampered_cache_is_decoded_again(tmp_path: Path, _cache: Path, tampered: dict) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + csv_row(3, face(1), "Training"))
    load_dataset(path)
    (cached,) = (_cache / "datasets").glob("*.npz")
    with np.load(cached) as z:
        arrays = {k: z[k] for k in z.files} | tampered
    np.savez(cached, **{k: v for k, v in arrays.items() if v is not None})
    ds = load_dataset(path)
    assert ds.labels.tolist() == [3] and ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.images, face(1)[None])


def test_decoded_once_then_cached_until_a_file_changes(
    tmp_path: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_kaggle_tree(tmp_path / "fer", per_class=1)
    first = load_dataset(root, "train")
    assert len(list((_cache / "datasets").glob("*.npz"))) == 1

    def no_decoding(path: Path) -> None:
        raise AssertionError("decoded again")

    with monkeypatch.context() as m:
        m.setattr(data, "_decode", no_decoding)
        np.testing.assert_array_equal(load_dataset(root, "train").images, first.images)
    Image.fromarray(face(99)).save(root / "train" / "happy" / "Training_new.png")
    assert len(load_dataset(root, "train")) == len(first) + 1
    assert len(list((_cache / "datasets").glob("*.npz"))) == 1  # the stale decoding is gone


def test_paths_that_cannot_be_looked_at(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"cannot use .* \(File name too long\)"):
        load_dataset(tmp_path / ("x" * 300 + ".csv"))
    with pytest.raises(DatasetError, match=r"cannot use ~nosuchuser-facemoji/fer\.zip \(Could not determine home"):
        load_dataset("~nosuchuser-facemoji/fer.zip")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nowhere does not exist; expected Kaggle's FER-2013 layout"):
        load_dataset(tmp_path / "nowhere")


def test_folder_without_class_folders(tmp_path: Path) -> None:
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="found no images in class folders; expected"):
        load_dataset(tmp_path / "album")


def test_folders_with_unknown_class_names_are_named(tmp_path: Path) -> None:
    for folder in ("joyful", "blue", os.fsdecode(b"bl\xfc")):
        _write(tmp_path / "faces" / folder / "1.png", Image.fromarray(face(1)))
    with pytest.raises(DatasetError) as e:
        load_dataset(tmp_path / "faces")
    message = str(e.value)
    assert message.startswith("found no images in class folders (images are in 'blue', 'bl\\udcfc', 'joyful'); ")
    assert "angry, disgust, fear, happy, sad, surprise, neutral or a synonym (anger, happiness" in message
    assert all(parse_emotion(s) for s in data._SYNONYM_EXAMPLES)


def test_unknown_and_empty_split(tmp_path: Path) -> None:
    path = tmp_path / "train-only.csv"
    path.write_text("emotion,pixels,Usage\n" + csv_row(3, face(1), "Training"))
    with pytest.raises(DatasetError, match="unknown split 'val'; choose one of train, test"):
        load_dataset(path, "val")
    with pytest.raises(DatasetError, match="has no 'private' images"):
        load_dataset(path, "private")


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"facemoji" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"facemoji" * 1000).hexdigest()
    root = write_kaggle_tree(tmp_path / "fer", per_class=1)
    before = file_sha256(root)
    Image.fromarray(face(99)).save(root / "train" / "happy" / "extra.png")
    assert file_sha256(root) != before


def test_shared_fer2013_split_sizes(fer2013_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEMOJI_CACHE")  # the 35,887 decoded faces are worth keeping in the user cache
    test = load_dataset(fer2013_zip, "test")
    assert len(test) == 7178 and test.skipped == 0
    assert test.class_counts() == {
        "angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "sad": 1247, "surprise": 831, "neutral": 1233
    }  # fmt: skip
    assert len(load_dataset(fer2013_zip, "public")) == len(load_dataset(fer2013_zip, "private")) == 3589
