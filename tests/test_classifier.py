"""EmotionClassifier: ONNX Runtime inference with the training preprocessing, and its misuse errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.helper
import onnx.numpy_helper
import pytest
from fer_fixtures import export_tiny_model, face

from facemoji import classifier
from facemoji.classifier import EmotionClassifier, ModelError, center_crop


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    export_tiny_model(path, flip=True)
    return path


def test_predict_gives_probabilities(tiny: Path) -> None:
    clf = EmotionClassifier(tiny)
    probs = clf.predict(np.stack([face(s) for s in range(5)]))
    assert probs.shape == (5, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert clf.info.input_size == 40 and clf.info.config["width"] == 4
    assert clf.predict(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)


def test_center_crop_is_the_training_crop() -> None:
    faces = np.arange(48 * 48, dtype=np.int64).reshape(1, 48, 48).astype(np.uint8)
    x = center_crop(faces, 40)
    assert x.shape == (1, 1, 40, 40) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], faces[0, 4:44, 4:44] / 255.0)


def test_wrong_face_shape(tiny: Path) -> None:
    with pytest.raises(ValueError, match=r"expected faces of shape \(N, 48, 48\), got \(48, 48\)"):
        EmotionClassifier(tiny).predict(face(1))


def test_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match=r"emotion model .*nope\.onnx is missing; pass a \.onnx file made by"):
        EmotionClassifier(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match=r"emotion model .* is a folder; pass a \.onnx file"):
        EmotionClassifier(tmp_path)
    monkeypatch.setattr(classifier, "shipped_model_path", lambda: tmp_path / "emotion.onnx")
    with pytest.raises(ModelError, match=r"the shipped emotion model is missing from .*; reinstall facemoji"):
        EmotionClassifier()


def test_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelError, match=r"junk.onnx is not a facemoji emotion model"):
        EmotionClassifier(path)


def test_model_without_facemoji_metadata(tiny: Path, tmp_path: Path) -> None:
    proto = onnx.load(tiny)
    del proto.metadata_props[:]
    onnx.save(proto, tmp_path / "bare.onnx")
    with pytest.raises(ModelError, match=r"bare.onnx is not a facemoji emotion model: its metadata lacks 'facemoji'"):
        EmotionClassifier(tmp_path / "bare.onnx")


def test_model_whose_graph_does_not_fit_its_metadata(tiny: Path, tmp_path: Path) -> None:
    proto = onnx.load(tiny)
    meta = json.loads(proto.metadata_props[0].value)
    meta["input_size"] = 48  # the graph takes 40 px faces
    proto.metadata_props[0].value = json.dumps(meta)
    onnx.save(proto, tmp_path / "size.onnx")
    with pytest.raises(ModelError, match=r"takes tensor\(float\) \['n', 1, 40, 40\]; expected one float input"):
        EmotionClassifier(tmp_path / "size.onnx")
    proto = onnx.load(tiny)
    proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5  # five classes out
    onnx.save(proto, tmp_path / "five.onnx")
    with pytest.raises(ModelError, match=r"five.onnx returns .*; expected one float output of shape \(N, 7\)"):
        EmotionClassifier(tmp_path / "five.onnx")


def test_model_with_a_fixed_batch(tiny: Path, tmp_path: Path) -> None:
    proto = onnx.load(tiny)
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1  # one face per call
    onnx.save(proto, tmp_path / "one.onnx")
    with pytest.raises(ModelError, match=r"one.onnx takes tensor\(float\) \[1, 1, 40, 40\]; .* with N free"):
        EmotionClassifier(tmp_path / "one.onnx")


def _with_nodes(path: Path, out: Path, before: bool) -> None:
    """``path``'s graph with a node that keeps one face only: a Reshape to one face on the way in
    (``before``), or a Slice of the first row on the way out."""
    proto = onnx.load(path)
    graph = proto.graph
    if before:
        name = graph.input[0].name
        graph.initializer.append(onnx.numpy_helper.from_array(np.array([1, 1, 40, 40], np.int64), "one"))
        for node in graph.node:
            node.input[:] = [f"{name}_one" if i == name else i for i in node.input]
        graph.node.insert(0, onnx.helper.make_node("Reshape", [name, "one"], [f"{name}_one"]))
    else:
        name = graph.output[0].name
        for node in graph.node:
            node.output[:] = [f"{name}_all" if o == name else o for o in node.output]
        for value, array in (("s0", [0]), ("s1", [1]), ("ax", [0])):
            graph.initializer.append(onnx.numpy_helper.from_array(np.array(array, np.int64), value))
        graph.node.append(onnx.helper.make_node("Slice", [f"{name}_all", "s0", "s1", "ax"], [name]))
    onnx.save(proto, out)


def test_models_that_answer_for_one_face_only(tiny: Path, tmp_path: Path) -> None:
    _with_nodes(tiny, tmp_path / "in.onnx", before=True)  # the shapes it declares say N faces
    with pytest.raises(ModelError, match=r"in.onnx failed on 2 faces: "):
        EmotionClassifier(tmp_path / "in.onnx")
    _with_nodes(tiny, tmp_path / "out.onnx", before=False)
    with pytest.raises(ModelError, match=r"out.onnx returned shape \(1, 7\) for 2 faces"):
        EmotionClassifier(tmp_path / "out.onnx")


def test_model_with_its_weights_in_an_external_file(tiny: Path, tmp_path: Path) -> None:
    onnx.save_model(onnx.load(tiny), tmp_path / "ext.onnx", save_as_external_data=True, location="ext.data",
                    size_threshold=0)  # fmt: skip
    assert (tmp_path / "ext.data").is_file()
    faces = np.stack([face(s) for s in range(3)])
    external = EmotionClassifier(tmp_path / "ext.onnx").predict(faces)
    np.testing.assert_allclose(external, EmotionClassifier(tiny).predict(faces), atol=1e-6)


def test_model_that_returns_logits_not_probabilities(tiny: Path, tmp_path: Path) -> None:
    proto = onnx.load(tiny)
    softmax = [node for node in proto.graph.node if node.op_type == "Softmax"]
    assert softmax
    for node in softmax:
        node.op_type = "Identity"
        del node.attribute[:]
    onnx.save(proto, tmp_path / "logits.onnx")
    with pytest.raises(ModelError, match=r"logits.onnx returned scores that are not probabilities"):
        EmotionClassifier(tmp_path / "logits.onnx")


def test_model_with_other_classes(tiny: Path, tmp_path: Path) -> None:
    proto = onnx.load(tiny)
    meta = json.loads(proto.metadata_props[0].value)
    meta["classes"] = ["cat", "dog"]
    proto.metadata_props[0].value = json.dumps(meta)
    onnx.save(proto, tmp_path / "pets.onnx")
    with pytest.raises(ModelError, match=r"predicts \('cat', 'dog'\), expected \['angry', 'disgust'"):
        EmotionClassifier(tmp_path / "pets.onnx")


def test_shipped_model_loads() -> None:
    clf = EmotionClassifier()
    assert clf.predict(face(1)[None]).shape == (1, 7)
