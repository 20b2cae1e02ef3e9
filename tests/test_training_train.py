"""``facemoji train``: configuration, a one-epoch smoke run, resume, misuse, and DDP over two CPU processes."""

from __future__ import annotations

import copy
import csv
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from fer_fixtures import write_kaggle_tree, zip_tree

from facemoji.apps.cli import main
from facemoji.classifier import EmotionClassifier
from facemoji.training.models import ModelConfig, build_model
from facemoji.training.train import EmotionModule, TeacherError, load_teacher, resolve_config, resume_config

QUICK = ["--epochs", "1", "--width", "8", "--limit", "64", "--batch-size", "16"]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEMOJI_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def fer_zip(tmp_path: Path) -> Path:
    return zip_tree(write_kaggle_tree(tmp_path / "fer", per_class=10), tmp_path / "fer2013.zip")


def _epochs(metrics_csv: Path) -> dict[int, dict[str, str]]:
    rows: dict[int, dict[str, str]] = {}
    with metrics_csv.open() as f:
        for row in csv.DictReader(f):
            rows.setdefault(int(row["epoch"]), {}).update({k: v for k, v in row.items() if v})
    return rows


def test_resolve_config_applies_recipe_then_overrides() -> None:
    seed = resolve_config("d.zip", "seed-cnn", epochs=3, lr=None)
    assert (seed.optimizer, seed.lr, seed.label_smoothing, seed.epochs) == ("adam", 1e-4, 0.0, 3)
    vgg = resolve_config("d.zip", width=16, lr=0.05, limit=None)
    assert (vgg.model.arch, vgg.model.width, vgg.optimizer, vgg.lr, vgg.limit) == ("vgg", 16, "sgd", 0.05, None)
    with pytest.raises(ValueError, match="unknown architecture 'resnet'; choose one of seed-cnn, vgg"):
        resolve_config("d.zip", "resnet")


def test_smoke_train_exports_a_working_model(
    fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    caplog.set_level(logging.DEBUG)
    assert main(["train", "--data", str(fer_zip), "--out", str(out), *QUICK]) == 0
    stdout, stderr = capsys.readouterr()
    assert stdout.startswith("best validation accuracy ") and stdout.endswith(f"; model: {out / 'model.onnx'}\n")
    assert stdout.count("\n") == 1 and "Epoch 0" in stderr  # the progress bar goes to stderr
    notes = [r.getMessage() for r in caplog.records if r.name.startswith("lightning") and r.levelno < logging.WARNING]
    assert notes == [], "Lightning's start-up notes (GPU available, a tip, ...) are not shown"
    for name in ("config.json", "metrics.csv", "curves.png", "model.onnx", "checkpoints/last.ckpt"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == {"arch": "vgg", "input_size": 40, "width": 8, "dropout": 0.3}
    assert (config["epochs"], config["limit"], config["val_split"]) == (1, 64, "public")
    epoch = _epochs(out / "metrics.csv")[0]
    assert {"train_loss", "train_acc", "val_loss", "val_acc"} <= set(epoch)
    clf = EmotionClassifier(out / "model.onnx")
    assert clf.info.config["width"] == 8
    assert clf.predict(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)


def test_resume_continues_the_run(fer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(fer_zip), "--arch", "seed-cnn", "--out", str(out), *QUICK]
    assert main(args) == 0
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert sorted(_epochs(out / "metrics.csv")) == [0, 1]


def test_every_epoch_leaves_the_checkpoint_a_resume_continues_from(fer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    # a rate too small to learn anything: validation accuracy stops improving after the first epoch
    args = ["train", "--data", str(fer_zip), "--out", str(out), *QUICK, "--epochs", "3", "--lr", "1e-12"]
    assert main(args) == 0
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 2
    assert torch.load(out / "checkpoints" / "best.ckpt", weights_only=False)["epoch"] < 2
    metrics = (out / "metrics.csv").read_bytes()
    assert main([*args, "--resume"]) == 0  # a finished run: nothing is trained again
    assert (out / "metrics.csv").read_bytes() == metrics


def test_a_run_that_stopped_early_is_not_resumed_unless_given_more_patience(
    fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(fer_zip), "--out", str(out), *QUICK, "--epochs", "20", "--lr", "1e-12"]
    assert main([*args, "--patience", "1"]) == 0
    metrics = (out / "metrics.csv").read_bytes()
    assert main([*args, "--resume"]) == 1
    assert "stopped early after epoch 1 (1 epochs without a better validation accuracy); nothing to resume" in (
        capsys.readouterr().err
    )
    assert (out / "metrics.csv").read_bytes() == metrics
    (out / "model.onnx").unlink()  # as when the run was killed while exporting: the resume only exports
    assert main([*args, "--resume"]) == 0
    assert (out / "model.onnx").is_file() and (out / "metrics.csv").read_bytes() == metrics
    assert main([*args, "--resume", "--patience", "3"]) == 0
    assert sorted(_epochs(out / "metrics.csv")) == [0, 1, 2, 3]


def test_a_resume_must_find_the_network_and_data_it_began_with(
    fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data", str(fer_zip), "--out", str(out), *QUICK]) == 0
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume", "--limit", "32"]) == 2  # an option
    capsys.readouterr()
    other = zip_tree(write_kaggle_tree(tmp_path / "fer2", per_class=12), tmp_path / "other.zip")
    assert main(["train", "--data", str(other), "--out", str(out), "--resume"]) == 1  # as many faces, not the same
    assert "was trained on other faces; resume with the data and --limit it started with" in capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    config["model"]["width"] = 16  # config.json edited by hand since
    (out / "config.json").write_text(json.dumps(config))
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume"]) == 1
    assert "last.ckpt holds a ModelConfig(arch='vgg', input_size=40, width=8" in capsys.readouterr().err
    (out / "config.json").write_text("[]")
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume"]) == 2
    assert "its config.json is missing or damaged" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_says_interrupted_and_leaves_a_run_to_resume(fer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "facemoji.apps.cli", "train", "--data", str(fer_zip), "--out", str(out), *QUICK]
    env = os.environ | {"FACEMOJI_CACHE": str(tmp_path / "cache")}
    run = subprocess.Popen([*command, "--epochs", "500"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "last.ckpt").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "interrupted" in err.decode().splitlines()  # a line of its own, among the bar's
    assert (out / "checkpoints" / "last.ckpt").is_file()


def test_a_run_folder_takes_one_training_at_a_time(
    fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # as another facemoji train holds it
    try:
        assert main(["train", "--data", str(fer_zip), "--out", str(out), *QUICK]) == 1
        assert f"another facemoji train is using {out}; wait for it" in capsys.readouterr().err
    finally:
        os.close(held)
    assert list(out.iterdir()) == []
    assert main(["train", "--data", str(fer_zip), "--out", str(out), *QUICK]) == 0  # free again


def test_names_that_are_not_utf8(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, data = tmp_path / "run\udcff", tmp_path / "fer\udcff.zip"  # bytes 0xff in the names on disk
    data.write_bytes(fer_zip.read_bytes())
    assert main(["train", "--data", str(data), "--out", str(out), *QUICK]) == 0
    model = out / "model.onnx"
    assert main(["evaluate", "--data", str(data), "--model", str(model), "--out", str(out / "eval"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 140 and (out / "eval" / "confusion.png").is_file()


def test_distil_from_teacher_runs(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    assert main(["train", "--data", str(fer_zip), "--out", str(teacher), *QUICK]) == 0
    assert main(["train", "--data", str(fer_zip), "--out", str(student), *QUICK, "--teacher", str(teacher)]) == 0
    assert json.loads((student / "config.json").read_text())["teachers"] == [str(teacher)]
    weights = torch.load(student / "checkpoints" / "best.ckpt", weights_only=False)["state_dict"]
    assert weights and all(name.startswith("model.") for name in weights)  # the teacher is not saved with it
    with pytest.raises(TeacherError, match="takes 40 px faces, the student 32 px"):
        load_teacher(str(teacher), 32)
    capsys.readouterr()

    (tmp_path / "broken" / "checkpoints").mkdir(parents=True)
    (tmp_path / "broken" / "checkpoints" / "best.ckpt").write_bytes(b"not a checkpoint")
    (tmp_path / "unfinished").mkdir()
    cases = (("missing", "missing does not exist"), ("unfinished", "is not a finished run"), ("broken", "cannot load"))
    for run, message in cases:
        args = ["train", "--data", str(fer_zip), "--out", str(tmp_path / "s2"), *QUICK]
        assert main([*args, "--teacher", str(tmp_path / run)]) == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / "s2").exists()  # refused before anything was written


def test_distillation_term_measures_disagreement_with_the_teachers() -> None:
    module = EmotionModule(asdict(resolve_config("d.zip", width=8)))
    module.model.eval()  # no dropout: the same input gives the same answer
    x = torch.rand(4, 1, 40, 40)
    module.teachers = [copy.deepcopy(module.model)]
    assert module._distillation(x, module.model(x)).item() == pytest.approx(0.0, abs=1e-5)
    module.teachers = [build_model(ModelConfig(width=8)).eval()]
    assert module._distillation(x, module.model(x)).item() > 1e-3


def test_export_an_int8_ensemble_with_flip(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]
    for seed, run in enumerate(runs):
        assert main(["train", "--data", str(fer_zip), "--out", str(run), *QUICK, "--seed", str(seed)]) == 0
    out = tmp_path / "ensemble.onnx"
    args = ["export", *map(str, runs), "-o", str(out), "--flip", "--int8", "--data", str(fer_zip)]
    assert main(args) == 0
    assert f"model: {out} (ensemble of 2, flip TTA, int8)" in capsys.readouterr().out
    few = tmp_path / "few.csv"  # too few faces to show int8 agrees with float
    few.write_text("emotion,pixels,Usage\n" + "".join(f"3,{' '.join(['9'] * 2304)},Training\n" for _ in range(5)))
    assert main([*args[:-1], str(few), "-o", str(tmp_path / "few.onnx")]) == 1
    assert "few.csv has 5 training faces; int8 calibration needs at least 64" in capsys.readouterr().err
    clf = EmotionClassifier(out)
    assert clf.info.config["width"] == 8
    probs = clf.predict(np.stack([np.full((48, 48), v, np.uint8) for v in (0, 128, 255)]))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-3)
    (tmp_path / "afile").write_text("x")
    assert main(["export", str(runs[0]), "-o", str(tmp_path / "afile" / "m.onnx")]) == 1
    assert f"cannot write {tmp_path / 'afile' / 'm.onnx'}: {tmp_path / 'afile'} is a file, not a folder" in (
        capsys.readouterr().err
    )


def test_export_misuse(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nothing"), "-o", str(tmp_path / "m.onnx")]) == 1
    assert "nothing does not exist" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "m.onnx"), "--int8"]) == 2
    assert "--int8 needs --data" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
    (tmp_path / "folder.onnx").mkdir()
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "folder.onnx")]) == 2
    assert "folder.onnx is not a regular file; -o takes the .onnx file to write" in capsys.readouterr().err
    os.mkfifo(tmp_path / "fifo.onnx")  # a device or pipe is never replaced by a model file
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "fifo.onnx")]) == 2
    assert "fifo.onnx is not a regular file" in capsys.readouterr().err
    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    best.parent.mkdir(parents=True)
    best.write_bytes(b"weights")
    data_bytes = fer_zip.read_bytes()
    for target in (best, fer_zip):  # not a .onnx name: refused whether or not the file is an input
        for data in ([], ["--data", str(fer_zip)]):
            assert main(["export", str(best.parent.parent), "-o", str(target), *data]) == 2
            assert f"{target} does not end in .onnx" in capsys.readouterr().err
    odd = tmp_path / "weights.onnx"  # a checkpoint given under a .onnx name is an input all the same
    odd.write_bytes(b"weights")
    assert main(["export", str(odd), "-o", str(odd)]) == 2
    assert f"{odd} would overwrite the input" in capsys.readouterr().err
    assert best.read_bytes() == b"weights" and odd.read_bytes() == b"weights" and fer_zip.read_bytes() == data_bytes
    assert main(["export", str(best.parent.parent), "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert f"cannot load a facemoji checkpoint from {best}" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("field", "value"), [("input_size", "40"), ("input_size", 64), ("width", 0), ("dropout", 1.0)])
def test_model_configs_are_checked(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{field} must be"):
        ModelConfig(**{field: value})


def test_class_folders_hold_out_a_validation_part(tmp_path: Path) -> None:
    root = write_kaggle_tree(tmp_path / "fer", per_class=4) / "train"  # class folders only, no splits
    out = tmp_path / "run"
    assert main(["train", "--data", str(root), "--out", str(out), *QUICK]) == 0
    assert "val_acc" in _epochs(out / "metrics.csv")[0]


def test_run_folder_misuse(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume"]) == 2
    assert f"nothing to resume: {out / 'checkpoints' / 'last.ckpt'} does not exist" in capsys.readouterr().err
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert main(["train", "--data", str(fer_zip), "--out", str(out)]) == 2
    assert "already holds a run; pass --resume or choose another --out" in capsys.readouterr().err


def test_bad_data_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), *QUICK]) == 1
    err = capsys.readouterr().err
    assert err.startswith("facemoji train: ") and "nowhere does not exist; expected Kaggle's FER-2013 layout" in err
    assert err.count("\n") == 1


def test_fewer_faces_than_one_batch(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--limit", "64", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "64 training faces are fewer than one batch (128 per process x 1 processes); lower --batch-size" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "argument --epochs: must be positive, got 0"),
        (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
        (["--arch", "resnet"], "argument --arch: invalid choice: 'resnet'"),
        (["--lr", "nan"], "argument --lr: must be a finite number, got nan"),
        (["--seed", "-1"], "argument --seed: must be from 0 to 4,294,967,295, got -1"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", "x.zip", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_resume_keeps_the_run_as_it_was(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data", str(fer_zip), "--out", str(out), *QUICK]) == 0
    config = (out / "config.json").read_bytes()
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume", "--width", "16"]) == 2
    assert "was trained with --width 8; resume with the same options or leave them out" in capsys.readouterr().err
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume", "--epochs", "3"]) == 2
    assert "was trained with --epochs 1" in capsys.readouterr().err  # one-cycle's schedule is fixed
    assert resume_config(out, str(fer_zip)).out == str(out)
    moved = tmp_path / "moved"
    out.rename(moved)  # a run moved since it started resumes where it is now
    assert resume_config(moved, str(fer_zip)).out == str(moved)
    moved.rename(out)
    (out / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert main(["train", "--data", str(fer_zip), "--out", str(out), "--resume"]) == 1
    err = capsys.readouterr().err
    assert "cannot load a facemoji checkpoint from" in err and len(err.splitlines()) == 1
    assert (out / "config.json").read_bytes() == config  # never rewritten by a resume


def test_out_folders_that_are_not_runs(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(["train", "--data", str(fer_zip), "--out", str(tmp_path / "afile"), *QUICK]) == 2
    assert "afile is a file; --out takes the folder the run goes into" in capsys.readouterr().err
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "config.json").write_text('{"mine": "precious"}')
    assert main(["train", "--data", str(fer_zip), "--out", str(mine), *QUICK]) == 2
    assert "holds files other than a just-started run's" in capsys.readouterr().err
    assert (mine / "config.json").read_text() == '{"mine": "precious"}'
    data = write_kaggle_tree(tmp_path / "fer", per_class=10)
    assert main(["train", "--data", str(data), "--out", str(data / "run"), *QUICK]) == 2
    assert "is inside the data folder" in capsys.readouterr().err
    (tmp_path / "blocked" / "checkpoints").mkdir(parents=True)
    (tmp_path / "blocked" / "checkpoints" / "x").write_text("")  # not a run's file: refused, not overwritten
    assert main(["train", "--data", str(fer_zip), "--out", str(tmp_path / "blocked"), *QUICK]) == 2
    assert main(["train", "--data", str(fer_zip), "--out", str(tmp_path / "nodes"), "--num-nodes", "2"]) == 2
    assert "--num-nodes needs torchrun on every machine" in capsys.readouterr().err


def test_a_diverging_run_says_so(fer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(fer_zip), "--out", str(tmp_path / "run"), *QUICK, "--lr", "1e30"]) == 1
    assert "training diverged: the loss is not a finite number; lower --lr" in capsys.readouterr().err


def test_a_network_past_its_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "x.zip", "--width", "5000", "--out", str(tmp_path / "run")]) == 2
    assert "facemoji train: width must be a whole number from 1 to 256, got 5000" in capsys.readouterr().err


def test_without_the_train_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for module in ("torch", "facemoji.training.models", "lightning", "lightning.pytorch.utilities"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import` fail as if not installed
    assert main(["train", "--data", "x.zip"]) == 1
    assert capsys.readouterr().err == (
        "facemoji train: lightning is not installed; install the train extra: pip install '.[train]' in the facemoji "
        "checkout\n"
    )


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(fer_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "facemoji.apps.cli", "train", "--data", str(fer_zip), "--out", str(out), *QUICK]
    env = {**os.environ, "FACEMOJI_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([*cmd, "--devices", "2"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    assert "All distributed processes registered. Starting with 2 processes" in proc.stderr + proc.stdout
    assert EmotionClassifier(out / "model.onnx").info.config["width"] == 8
    assert proc.stdout.count("best validation accuracy") == 1  # only rank 0 reports
