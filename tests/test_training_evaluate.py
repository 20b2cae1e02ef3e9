"""Evaluation metrics and the ``facemoji evaluate`` command on all three data forms."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fer_fixtures import csv_row, export_tiny_model, face, write_kaggle_tree, zip_tree
from PIL import Image

from facemoji.apps.cli import main
from facemoji.classifier import shipped_model_path
from facemoji.emotions import EMOTIONS
from facemoji.training.evaluate import Evaluation, time_per_face


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEMOJI_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    export_tiny_model(path, flip=True)
    return path


def test_metrics_from_predictions() -> None:
    labels = np.array([0, 0, 1, 3, 3, 3])
    predicted = np.array([0, 1, 1, 3, 3, 0])
    ev = Evaluation.from_predictions(labels, predicted, "m.onnx", "d", "test")
    assert ev.n == 6 and ev.accuracy == pytest.approx(4 / 6)
    assert ev.balanced_accuracy == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)  # classes 0, 1, 3 are present
    angry, disgust, fear = ev.per_class["angry"], ev.per_class["disgust"], ev.per_class["fear"]
    assert (angry.precision, angry.recall, angry.support) == (pytest.approx(1 / 2), pytest.approx(1 / 2), 2)
    assert disgust.precision == pytest.approx(1 / 2) and disgust.recall == 1.0
    assert disgust.f1 == pytest.approx(2 / 3)
    assert (fear.precision, fear.recall, fear.f1, fear.support) == (0.0, 0.0, 0.0, 0)
    assert ev.confusion[0] == [1, 1, 0, 0, 0, 0, 0] and ev.confusion[3] == [1, 0, 0, 2, 0, 0, 0]
    assert sum(map(sum, ev.confusion)) == 6


def _datasets(root: Path) -> dict[str, tuple[Path, int]]:
    """The three forms, each with the number of faces ``--split test`` scores."""
    kaggle = write_kaggle_tree(root / "kaggle", per_class=2)
    csv_path = root / "fer2013.csv"
    rows = [csv_row(i % 7, face(i), "PublicTest" if i % 2 else "PrivateTest") for i in range(9)]
    csv_path.write_text("emotion,pixels,Usage\n" + csv_row(1, face(50), "Training") + "".join(rows))
    folders = root / "crops"
    for name in ("happiness", "sad"):
        (folders / name).mkdir(parents=True)
        for s in range(3):
            Image.fromarray(face(s)).save(folders / name / f"{s}.png")
    archive = zip_tree(kaggle, root / "fer.zip")
    return {"zip": (archive, 28), "folder": (kaggle, 28), "csv": (csv_path, 9), "classes": (folders, 6)}


def test_evaluate_json_on_all_data_forms(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for form, (path, n) in _datasets(tmp_path / "data").items():
        out = tmp_path / f"eval-{form}"
        assert main(["evaluate", "--data", str(path), "--model", str(tiny), "--json", "--out", str(out)]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["n"] == n, form
        assert 0 <= result["accuracy"] <= 1 and 0 <= result["balanced_accuracy"] <= 1
        assert list(result["per_class"]) == [e.value for e in EMOTIONS]
        assert sum(c["support"] for c in result["per_class"].values()) == n
        assert set(result["per_class"]["happy"]) == {"precision", "recall", "f1", "support"}
        assert np.array(result["confusion"]).sum() == n
        assert json.loads((out / "evaluation.json").read_text()) == result
        assert (out / "confusion.png").stat().st_size > 1000
        assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "evaluation.json"]


def test_evaluate_splits_and_table(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kaggle = write_kaggle_tree(tmp_path / "kaggle", per_class=2)
    for split, n in (("public", 14), ("private", 14), ("train", 14)):
        args = ["--data", str(kaggle), "--split", split, "--model", str(tiny), "--out", str(tmp_path / split)]
        assert main(["evaluate", *args]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].endswith(f"kaggle [{split}]: {n} faces (0 skipped: unreadable, or of no known split)")
        assert lines[1].startswith("accuracy 0.") and "balanced accuracy 0." in lines[1]
        assert [line.split()[0] for line in lines[3:10]] == [e.value for e in EMOTIONS]
        assert lines[10] == f"wrote {tmp_path / split / 'evaluation.json'}, {tmp_path / split / 'confusion.png'}"


def test_evaluate_default_out_folder(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kaggle = write_kaggle_tree(tmp_path / "fer", per_class=1)
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--data", str(kaggle), "--model", str(tiny), "--json"]) == 0
    assert (tmp_path / "runs" / "eval-tiny-fer-test" / "evaluation.json").is_file()


def test_evaluate_bad_inputs(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--data", str(tmp_path / "missing.zip"), "--model", str(tiny)]) == 1
    assert "facemoji evaluate: " in (err := capsys.readouterr().err) and "missing.zip does not exist; expected" in err
    kaggle = write_kaggle_tree(tmp_path / "fer", per_class=1)
    assert main(["evaluate", "--data", str(kaggle), "--model", str(tmp_path / "none.onnx")]) == 1
    assert "none.onnx is missing; pass a .onnx file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--data", str(kaggle), "--split", "validation"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'validation'" in capsys.readouterr().err
    blocked = tmp_path / "blocked"
    (blocked / "confusion.png").mkdir(parents=True)  # the plot cannot land there
    assert main(["evaluate", "--data", str(kaggle), "--model", str(tiny), "--out", str(blocked)]) == 1
    assert f"cannot write to {blocked}" in capsys.readouterr().err
    assert sorted(p.name for p in blocked.iterdir()) == ["confusion.png"]  # nothing else written either
    assert main(["evaluate", "--data", str(kaggle), "--model", str(tiny), "--out", str(kaggle / "eval")]) == 2
    assert "is inside the data folder" in capsys.readouterr().err


def test_evaluate_a_model_whose_name_looks_like_math(tiny: Path, tmp_path: Path) -> None:
    odd = tmp_path / "m$\\foo{$.onnx"  # matplotlib would parse "$...$" in the plot's title as math text
    odd.write_bytes(tiny.read_bytes())
    kaggle = write_kaggle_tree(tmp_path / "fer", per_class=1)
    assert main(["evaluate", "--data", str(kaggle), "--model", str(odd), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["confusion.png", "evaluation.json"]


def test_evaluate_does_not_need_torch(tiny: Path, tmp_path: Path) -> None:
    kaggle = write_kaggle_tree(tmp_path / "fer", per_class=1)
    argv = ["evaluate", "--data", str(kaggle), "--model", str(tiny), "--json", "--out", str(tmp_path / "out")]
    block = "import sys; sys.modules['torch'] = sys.modules['lightning'] = None"  # any import of them fails
    code = f"{block}; from facemoji.apps.cli import main; sys.exit(main({argv!r}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["n"] == 14


def test_time_per_face(tiny: Path) -> None:
    latency = time_per_face(tiny, runs=5, warmup=1)
    assert latency.runs == 5 and latency.median_ms > 0 and latency.cpu_ms > 0


def test_shipped_model_on_the_fer2013_test_split(fer2013_zip: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    card_path = shipped_model_path().with_name("model_card.json")
    monkeypatch.delenv("FACEMOJI_CACHE")  # the decoded FER-2013 is worth keeping in the user cache
    card = json.loads(card_path.read_text())
    assert main(["evaluate", "--data", str(fer2013_zip), "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 7178
    assert result["accuracy"] >= card["accuracy"]["test"] - 0.001
    shutil.rmtree(tmp_path)
