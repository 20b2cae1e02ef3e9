"""Model card: evaluation on the FER-2013 splits, data hash, size and speed, written beside the model."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import onnx
import pytest
from fer_fixtures import export_tiny_model, write_kaggle_tree, zip_tree
from onnx import numpy_helper

from facemoji.training.data import file_sha256
from facemoji.training.export import export_onnx
from facemoji.training.model_card import main
from facemoji.training.models import ModelConfig, build_model
from facemoji.training.train import resolve_config


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("FACEMOJI_CACHE", str(tmp_path / "cache"))
    data = zip_tree(write_kaggle_tree(tmp_path / "fer", per_class=2), tmp_path / "fer2013.zip")
    run = tmp_path / "run"
    run.mkdir()
    export_tiny_model(run / "model.onnx", flip=True)
    (run / "config.json").write_text(json.dumps(asdict(resolve_config(str(data), width=4))))
    (run / "metrics.csv").write_text(
        "epoch,train_loss,train_acc,val_loss,val_acc\n0,1.9,0.20,1.8,0.25\n1,1.7,0.30,1.7,0.35\n2,1.6,0.40,1.75,0.30\n"
    )
    export_tiny_model(tmp_path / "baseline.onnx", arch="seed-cnn")
    return {"data": data, "run": run, "model": run / "model.onnx", "baseline": tmp_path / "baseline.onnx"}


def test_ship_writes_model_and_card(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "models"
    argv = ["--model", str(setup["model"]), "--run", str(setup["run"]), "--data", str(setup["data"]), "--out", str(out)]
    assert main([*argv, "--baseline", str(setup["baseline"])]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "emotion.onnx", "model_card.json"]
    assert (out / "emotion.onnx").read_bytes() == setup["model"].read_bytes()
    assert "ms per face" in capsys.readouterr().out

    card = json.loads((out / "model_card.json").read_text())
    assert set(card["accuracy"]) == {"public", "private", "test"}
    assert all(0 <= a <= 1 for a in card["accuracy"].values())
    assert set(card["baseline"]["accuracy"]) == {"public", "private", "test"}
    assert card["data"] == {"file": "fer2013.zip", "sha256": file_sha256(setup["data"]), "faces": {
        "train": 14, "public": 14, "private": 14}}  # fmt: skip
    weights = onnx.load(setup["model"]).graph.initializer
    assert card["model"]["parameters"] == sum(numpy_helper.to_array(t).size for t in weights)
    assert card["model"]["flip_tta"] is True and card["model"]["architecture"]["width"] == 4
    assert card["model"]["sha256"] == file_sha256(out / "emotion.onnx")
    assert card["ms_per_face"] > 0 and card["ms_per_face_wall"] > 0
    assert sum(c["support"] for c in card["per_class_test"].values()) == 28
    assert (card["model"]["ensemble_members"], card["model"]["int8"]) == (1, False)
    (training,) = card["training"]
    assert (training["epochs_run"], training["best_epoch"], training["best_val_acc"]) == (3, 2, 0.35)
    assert training["config"]["model"]["width"] == 4 and "FER-2013" in card["licence"]

    md = (out / "MODEL_CARD.md").read_text()
    assert f"| whole test | 28 | {card['accuracy']['test']:.2%} |" in md
    assert "Baseline `baseline.onnx` on the same splits: PublicTest" in md
    assert file_sha256(setup["data"]) in md and "research" in md


def test_missing_run_files(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (setup["run"] / "config.json").unlink()
    argv = ["--model", str(setup["model"]), "--run", str(setup["run"]), "--data", str(setup["data"])]
    assert main([*argv, "--out", str(tmp_path / "models")]) == 1
    assert "config.json" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_unfinished_runs_data_without_splits_and_a_file_as_out(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--model", str(setup["model"]), "--run", str(setup["run"])]
    out = ["--out", str(tmp_path / "models")]
    class_folders = write_kaggle_tree(tmp_path / "plain", per_class=2) / "train"
    assert main([*argv, "--data", str(class_folders), *out]) == 1
    assert "has no train/PublicTest/PrivateTest splits" in capsys.readouterr().err
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main([*argv, "--data", str(setup["data"]), "--out", str(taken)]) == 1
    assert "model card: " in capsys.readouterr().err and taken.read_text() == "a file"
    for metrics in ("epoch,train_loss,train_acc,val_loss,val_acc\n", "step,val_acc\n0,0.5\n", "epoch,val_acc\n0,\n"):
        (setup["run"] / "metrics.csv").write_text(metrics)  # no epochs, no epoch column, no accuracy
        assert main([*argv, "--data", str(setup["data"]), *out]) == 1
        assert "is not a finished facemoji training run" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_a_model_and_its_card_change_together(setup: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "models"
    (out / "MODEL_CARD.md").mkdir(parents=True)  # the card cannot be written: the model is not replaced either
    argv = ["--model", str(setup["model"]), "--run", str(setup["run"]), "--data", str(setup["data"])]
    assert main([*argv, "--out", str(out)]) == 1
    assert "model card: " in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["MODEL_CARD.md"]
    config = json.loads((setup["run"] / "config.json").read_text())
    config["model"]["width"] = 48
    (setup["run"] / "config.json").write_text(json.dumps(config))  # the run trained another network
    assert main([*argv, "--out", str(tmp_path / "other")]) == 1
    assert "none of the runs trained one" in capsys.readouterr().err


def test_runs_must_match_the_networks(setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--model", str(setup["model"]), "--run", str(setup["run"]), str(setup["run"]), "--data", str(setup["data"])]
    assert main([*argv, "--out", str(tmp_path / "models")]) == 1
    assert "model.onnx holds 1 network(s) but 2 run(s) were given" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_ensemble_card_lists_every_member(setup: dict[str, Path], tmp_path: Path) -> None:
    members = [build_model(ModelConfig(width=4)).eval() for _ in range(2)]
    model = export_onnx(members, ModelConfig(width=4), tmp_path / "ensemble.onnx", flip=True)
    out = tmp_path / "models"
    argv = ["--model", str(model), "--run", str(setup["run"]), str(setup["run"]), "--data", str(setup["data"])]
    assert main([*argv, "--out", str(out)]) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert (card["model"]["ensemble_members"], card["model"]["flip_tta"], len(card["training"])) == (2, True, 2)
    md = (out / "MODEL_CARD.md").read_text()
    assert "an ensemble of 2 networks" in md and "Network 2 of 2" in md
