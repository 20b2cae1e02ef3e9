"""The pipeline end to end: still images in any input form, video mode, misuse, and FER-2013 faces with known labels."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from facemoji.align import align_face
from facemoji.classifier import EmotionClassifier, ModelError
from facemoji.emotions import EMOTIONS, Emotion
from facemoji.engine import Emojifier, EmojifierOptions, analyze
from facemoji.results import Face, Pose
from facemoji.training.data import load_dataset

VIDEO_FRAMES = 30
# Four clearly different expressions; each is represented by a PrivateTest face of its class that the shipped
# classifier labels right with probability > SURE on the raw 48x48 crop (the first such face the landmarker
# finds in the composite).
COMPOSITE_CLASSES = (Emotion.ANGRY, Emotion.HAPPY, Emotion.SAD, Emotion.SURPRISE)
SURE = 0.9
CANDIDATES = 100  # faces of each class scanned for sure ones
FINDING_ATTEMPTS = 5
# Each crop is upscaled to TILE px and framed in gray. The landmarker misses some of these blurry faces: over 8
# face sets and tiles of 192-208 px with 16-32 px borders, all four were found in 55 of 72 composites.
TILE, BORDER, GRAY = 200, 24, 128


def _same_faces(a: list[Face], b: list[Face]) -> None:
    assert [f.box for f in a] == [f.box for f in b]
    assert [f.emotion for f in a] == [f.emotion for f in b]
    for fa, fb in zip(a, b, strict=True):
        assert np.allclose(fa.landmarks, fb.landmarks, atol=1e-3)
        assert [fa.scores[e] for e in EMOTIONS] == pytest.approx([fb.scores[e] for e in EMOTIONS], abs=1e-5)


def test_every_input_form_gives_the_same_faces(media: Path) -> None:
    path = media / "justin.jpg"
    pil = Image.open(path)
    by_path = analyze(path)
    assert len(by_path) == 1
    face = by_path[0]
    assert sum(face.scores.values()) == pytest.approx(1, abs=1e-5)
    assert face.track_id is None
    for other in (str(path), path.read_bytes(), np.asarray(pil.convert("RGB")), pil):
        _same_faces(by_path, analyze(other))


def test_scores_are_the_classifiers_on_the_aligned_colour_photo(media: Path) -> None:
    rgb = np.asarray(Image.open(media / "justin.jpg").convert("RGB"))
    (face,) = analyze(rgb)
    crop = align_face(rgb, face.landmarks)  # the documented route: RGB in, gray crop out
    (want,) = EmotionClassifier().predict(crop[None])
    assert [face.scores[e] for e in EMOTIONS] == pytest.approx(list(want), abs=1e-6)


def test_an_upside_down_photo_reads_like_the_upright_one(media: Path) -> None:
    # Cropped: upside down, the whole photo gives the landmarker a false upright face over the real one.
    rgb = np.ascontiguousarray(np.asarray(Image.open(media / "justin.jpg").convert("RGB"))[:, :-37])
    (upright,) = analyze(rgb)
    (face,) = analyze(np.ascontiguousarray(rgb[::-1, ::-1]))
    # The turned search sees exactly the upright photo, so only the frame of reference changes.
    assert (face.pose.roll - upright.pose.roll) % 360 == pytest.approx(180)
    assert (face.pose.yaw, face.pose.pitch) == pytest.approx((-upright.pose.yaw, -upright.pose.pitch))
    h, w = rgb.shape[:2]
    assert np.allclose(face.landmarks[:, :2], [w, h] - upright.landmarks[:, :2], atol=1e-4)
    assert upright.emotion == face.emotion == Emotion.HAPPY
    assert [face.scores[e] for e in EMOTIONS] == pytest.approx([upright.scores[e] for e in EMOTIONS], abs=1e-6)


def test_no_face_is_an_empty_list(media: Path) -> None:
    assert analyze(media / "no-faces.jpg") == []


def test_video_mode_tracks_one_face_across_frames(media: Path) -> None:
    import cv2

    capture = cv2.VideoCapture(str(media / "test.mp4"))
    fps = capture.get(cv2.CAP_PROP_FPS)
    assert fps > 0
    seen: list[list[Face]] = []
    with Emojifier(EmojifierOptions(video=True)) as engine:
        for index in range(VIDEO_FRAMES):
            ok, bgr = capture.read()
            assert ok, f"test.mp4 ended at frame {index}"
            seen.append(engine.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), round(index * 1000 / fps)))
    capture.release()
    assert [len(faces) for faces in seen] == [1] * VIDEO_FRAMES
    assert {faces[0].track_id for faces in seen} == {seen[0][0].track_id}
    assert seen[0][0].track_id is not None
    for (face,) in seen:
        assert sum(face.scores.values()) == pytest.approx(1, abs=1e-5)
        assert face.emotion == max(face.scores, key=face.scores.__getitem__)


def test_video_engine_reopened_after_close_starts_afresh(media: Path) -> None:
    frame = np.asarray(Image.open(media / "justin.jpg").convert("RGB"))
    with Emojifier(EmojifierOptions(video=True)) as fresh:
        (want,) = fresh.process(frame, 5)
    engine = Emojifier(EmojifierOptions(video=True))
    for t in (0, 800):
        engine.process(frame, t)
    engine.close()
    (again,) = engine.process(frame, 5)  # the next clip starts its clock at 0 again
    engine.close()
    # nothing carried over from the closed run: the same answer as a new engine, probabilities intact
    assert again.track_id == want.track_id
    assert again.scores == pytest.approx(want.scores, abs=1e-6)


def test_video_timestamps_must_be_whole_milliseconds(media: Path) -> None:
    frame = np.asarray(Image.open(media / "justin.jpg").convert("RGB"))
    with Emojifier(EmojifierOptions(video=True)) as engine:
        with pytest.raises(ValueError, match=r"timestamp_ms must be a whole number of milliseconds, got 40\.0"):
            engine.process(frame, 40.0)
        with pytest.raises(ValueError, match="timestamp_ms must be from 0 to"):
            engine.process(frame, 2**63)
        assert len(engine.process(frame, np.int64(40))) == 1  # a refused call leaves the clock where it was
        assert len(engine.process(frame, 41)) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threads": 0}, "threads must be a whole number of at least 1, got 0"),
        ({"threads": 1.5}, "threads must be a whole number of at least 1, got 1.5"),
        ({"max_faces": 2.5}, "max_faces must be a whole number of at least 1, got 2.5"),
        ({"max_faces": 2**31}, "max_faces must be at most 100,000, got 2147483648"),
        ({"max_pixels": 0}, "max_pixels must be a whole number of at least 1, got 0"),
        ({"min_detection_confidence": 1.5}, "min_detection_confidence must be a number in 0..1, got 1.5"),
        ({"min_detection_confidence": "0.5"}, "min_detection_confidence must be a number in 0..1, got '0.5'"),
        ({"threads": 10**6}, "threads must be at most 256, got 1000000"),
        ({"landmarker_path": 123}, "landmarker_path must be None (the default model) or a file path, got 123"),
        ({"emotion_model_path": ""}, "emotion_model_path must be None (the default model) or a file path, got ''"),
    ],
)
def test_bad_options_are_refused_where_they_are_set(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        EmojifierOptions(**options)


def test_faces_compare_by_value(media: Path) -> None:
    assert analyze(media / "justin.jpg") == analyze(media / "justin.jpg")


def test_analyze_on_a_video_engine_is_refused() -> None:
    with Emojifier(EmojifierOptions(video=True)) as engine, pytest.raises(ValueError) as err:
        engine.analyze(np.zeros((64, 64, 3), np.uint8))
    assert str(err.value) == "this Emojifier was created for video (options.video=True); use process(frame, ts)"


def test_process_on_an_image_engine_is_refused() -> None:
    with Emojifier() as engine, pytest.raises(ValueError) as err:
        engine.process(np.zeros((64, 64, 3), np.uint8), 0)
    assert str(err.value) == "this Emojifier was created for still images; pass EmojifierOptions(video=True)"


def _confident_faces(fer2013_zip: Path) -> list[np.ndarray]:
    """Per COMPOSITE_CLASSES entry, the raw 48x48 crops the shipped classifier is sure of (see that constant)."""
    data = load_dataset(fer2013_zip, "private")  # decoded once, then cached
    classifier = EmotionClassifier()
    candidates = []
    for emotion in COMPOSITE_CLASSES:
        label = EMOTIONS.index(emotion)
        index = np.flatnonzero(data.labels == label)[:CANDIDATES]
        probs = classifier.predict(data.images[index])
        sure = np.flatnonzero((probs.argmax(axis=1) == label) & (probs[:, label] > SURE))
        if not len(sure):
            pytest.fail(f"no {emotion.value} face among the first {CANDIDATES} scored above {SURE}")
        candidates.append(data.images[index[sure]])
    return candidates


def _composite(crops: list[np.ndarray]) -> np.ndarray:
    cell = TILE + 2 * BORDER
    composite = Image.new("L", (2 * cell, 2 * cell), GRAY)
    for i, crop in enumerate(crops):
        big = Image.fromarray(crop).resize((TILE, TILE), Image.Resampling.BICUBIC)
        composite.paste(ImageOps.expand(big, BORDER, fill=GRAY), ((i % 2) * cell, (i // 2) * cell))
    return np.asarray(composite.convert("RGB"))


def _faces_by_tile(faces: list[Face]) -> dict[int, Emotion]:
    cell = TILE + 2 * BORDER
    found: dict[int, Emotion] = {}
    for face in faces:
        col, row = (face.box.x + face.box.w // 2) // cell, (face.box.y + face.box.h // 2) // cell
        assert 2 * row + col not in found, "two faces found in one tile"
        found[2 * row + col] = face.emotion
    return found


def test_fer2013_composite_gets_the_known_labels(fer2013_zip: Path) -> None:
    """Labels are what is tested: a tile whose face the landmarker misses gets its class's next sure face."""
    candidates = _confident_faces(fer2013_zip)
    pick = [0] * len(candidates)
    for _ in range(FINDING_ATTEMPTS):
        found = _faces_by_tile(analyze(_composite([c[k] for c, k in zip(candidates, pick, strict=True)])))
        missed = [i for i in range(4) if i not in found and pick[i] + 1 < len(candidates[i])]
        if not missed:
            break
        for i in missed:
            pick[i] += 1
    assert sorted(found) == [0, 1, 2, 3], f"faces found in tiles {sorted(found)} of the 4"
    right = sum(found[i] is emotion for i, emotion in enumerate(COMPOSITE_CLASSES))
    assert right >= 3, f"expected {[e.value for e in COMPOSITE_CLASSES]}, got {[found[i].value for i in range(4)]}"


def test_json_form_has_no_negative_zero(media: Path) -> None:
    (face,) = analyze(media / "justin.jpg")
    tiny = dataclasses.replace(face, pose=Pose(yaw=-0.01, pitch=-0.04, roll=-0.0))
    assert json.dumps(tiny.to_dict()["pose"]) == '{"yaw": 0.0, "pitch": 0.0, "roll": 0.0}'


def test_load_fails_early_on_a_bad_model(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_text("not a model")
    engine = Emojifier(EmojifierOptions(emotion_model_path=tmp_path / "junk.onnx"))
    with engine, pytest.raises(ModelError, match="is not a facemoji emotion model"):
        engine.load()
    with Emojifier() as engine:
        engine.load()
        model = engine._classifier
        engine.analyze(np.zeros((64, 64, 3), np.uint8))
        assert engine._classifier is model  # loaded once, not again on first use
