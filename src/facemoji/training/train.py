"""Train an emotion classifier with Lightning: checkpoints, resume, early stopping, DDP, bf16.

Outputs in ``out``: ``config.json`` (the resolved run configuration, written first),
``checkpoints/{best,last}.ckpt``, ``metrics.csv`` (one row per epoch), ``curves.png`` and
``model.onnx`` (best checkpoint, exported with flip test-time augmentation).

Several GPUs or nodes: launch the same command under ``torchrun`` with ``--devices``/``--num-nodes``;
Lightning picks up the torchrun environment and trains with DDP.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import math
import os
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader, TensorDataset

from facemoji.classifier import center_crop
from facemoji.training.augment import AugmentConfig, augment
from facemoji.training.data import DatasetError, FaceDataset, load_dataset
from facemoji.training.evaluate import save_json
from facemoji.training.models import ModelConfig, build_model


@dataclass
class TrainConfig:
    data: str
    out: str = "runs/emotion"
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 120
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd (one-cycle schedule) or adam (constant rate, the seed recipe)
    lr: float = 0.1
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    patience: int = 25  # epochs without a better validation accuracy before stopping
    val_split: str = "public"  # never "private": PrivateTest stays unseen until the report
    limit: int | None = None  # use only the first N training images (smoke tests)
    seed: int = 42
    precision: str = "bf16-mixed"
    devices: int = 1
    num_nodes: int = 1
    accelerator: str = "cpu"
    teachers: list[str] = field(default_factory=list)  # run folders whose best networks the student imitates
    distill: float = 0.5  # weight of the teachers' term in the loss; the rest is cross-entropy with the labels
    temperature: float = 2.0  # softens both the teachers' and the student's probabilities in that term


RECIPES: dict[str, dict] = {
    "vgg": {},
    "seed-cnn": {"optimizer": "adam", "lr": 1e-4, "weight_decay": 0.0, "label_smoothing": 0.0},
}
"""Per-architecture defaults applied before the user's explicit options."""

HOLD_OUT = 0.1  # validation fraction taken from datasets that come without splits (class folders)


class EmotionModule(L.LightningModule):
    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.save_hyperparameters({"cfg": cfg})
        self.cfg = cfg
        self.model_config = ModelConfig(**cfg["model"])
        self.aug = AugmentConfig(**cfg["augment"])
        # channels-last runs oneDNN's faster convolution kernels on CPU (about 1.3x here)
        self.model = build_model(self.model_config).to(memory_format=torch.channels_last)
        # a plain list, not a ModuleList: the teachers stay out of the student's checkpoints and optimizer
        self.teachers: list[torch.nn.Module] = []
        self.faces_sha256: str | None = None  # of the training faces, saved with each checkpoint: a resume must match

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["faces_sha256"] = self.faces_sha256

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.faces_sha256 = checkpoint.get("faces_sha256")

    def on_fit_start(self) -> None:
        self.teachers = [teacher.to(self.device) for teacher in self.teachers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        images, labels = batch
        x = augment(images, self.model_config.input_size, self.aug).contiguous(memory_format=torch.channels_last)
        logits = self.model(x)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.cfg["label_smoothing"])
        if self.teachers:
            loss = (1 - self.cfg["distill"]) * loss + self.cfg["distill"] * self._distillation(x, logits)
        acc = (logits.argmax(1) == labels).float().mean()
        metrics = {"train_loss": loss, "train_acc": acc}
        self.log_dict(metrics, prog_bar=True, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def _distillation(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """KL divergence from the teachers' mean softened probabilities on the same augmented crops (Hinton et al.)."""
        t = self.cfg["temperature"]
        with torch.no_grad():
            target = torch.stack([m(x).float().div(t).softmax(1) for m in self.teachers]).mean(0)
        # times t^2 keeps the term's gradients on the scale of the cross-entropy's
        return F.kl_div(F.log_softmax(logits.float() / t, 1), target, reduction="batchmean") * t * t

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        images, labels = batch
        x = torch.from_numpy(center_crop(images.cpu().numpy(), self.model_config.input_size)).to(self.device)
        probs = self.model(x).softmax(1) + self.model(x.flip(-1)).softmax(1)
        loss = F.nll_loss((probs / 2).log(), labels)
        acc = (probs.argmax(1) == labels).float().mean()
        self.log_dict({"val_loss": loss, "val_acc": acc}, prog_bar=True, on_epoch=True, sync_dist=True)

    def configure_optimizers(self):
        c = self.cfg
        if c["optimizer"] == "adam":
            return torch.optim.Adam(self.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        opt = torch.optim.SGD(
            self.parameters(), lr=c["lr"], momentum=0.9, nesterov=True, weight_decay=c["weight_decay"]
        )
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=c["lr"], total_steps=int(self.trainer.estimated_stepping_batches), pct_start=0.15
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class CheckpointError(ValueError):
    """A file that is not a loadable facemoji training checkpoint."""


class TeacherError(ValueError):
    """A teacher run that cannot be loaded or does not fit the student."""


def load_checkpoint(path: Path) -> EmotionModule:
    """A run folder's best checkpoint, or a ``.ckpt`` file, on the CPU.

    Raises:
        CheckpointError: it is missing, truncated or not a facemoji checkpoint.
    """
    ckpt = checkpoint_file(path)
    try:
        if not ckpt.is_file():
            run = f": {path} is not a finished run" if ckpt != path else ""
            raise CheckpointError(f"{ckpt} does not exist{run}")
    except OSError as e:  # no permission to look, a name too long
        raise CheckpointError(f"cannot read {ckpt} ({e.strerror or e})") from e
    try:
        return EmotionModule.load_from_checkpoint(ckpt, map_location="cpu")
    except Exception as e:  # torch and Lightning raise many types for missing or foreign files
        # their messages run to dozens of lines (advice on weights_only, every mismatched tensor)
        said = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(f"cannot load a facemoji checkpoint from {ckpt} ({type(e).__name__}: {said})") from e


def checkpoint_file(path: Path) -> Path:
    """The file :func:`load_checkpoint` reads for ``path``: a run's best checkpoint, or ``path`` itself."""
    try:
        return path / "checkpoints" / "best.ckpt" if path.is_dir() else path
    except OSError:
        return path


def load_teacher(run: str, input_size: int) -> torch.nn.Module:
    """The best network of a finished run, frozen, checked to take the student's input size."""
    try:
        teacher = load_checkpoint(Path(run))
    except CheckpointError as e:
        raise TeacherError(f"teacher {run}: {e}") from e
    size = teacher.model_config.input_size
    if size != input_size:
        raise TeacherError(f"teacher {run} takes {size} px faces, the student {input_size} px")
    return teacher.model.eval().requires_grad_(False)


class Patience(EarlyStopping):
    """Lightning's early stopping, keeping the patience it is given when a run resumes (Lightning's
    takes the checkpoint's, and --patience may change on a resume)."""

    @property
    def state_key(self) -> str:  # Lightning's own key, so checkpoints from either class restore
        return "EarlyStopping" + repr({"monitor": self.monitor, "mode": self.mode})

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict({**state_dict, "patience": self.patience})


class EpochLog(Callback):
    """Writes ``metrics.csv``, one row per epoch, keeping the earlier epochs of a resumed run.

    (Lightning's CSVLogger empties its file whenever a fit starts, so a resumed run would lose them.)
    """

    COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        rows = []
        if self.path.exists():  # resuming: keep the epochs the checkpoint already covers
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < trainer.current_epoch]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, self.COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        row = {k: f"{float(metrics[k]):.5f}" for k in self.COLUMNS[1:] if k in metrics}
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.COLUMNS).writerow({"epoch": trainer.current_epoch, **row})


def _loader(ds: FaceDataset, batch_size: int, shuffle: bool) -> DataLoader:
    tensors = TensorDataset(torch.from_numpy(ds.images), torch.from_numpy(ds.labels))
    return DataLoader(tensors, batch_size=batch_size, shuffle=shuffle, drop_last=shuffle)


def _subset(ds: FaceDataset, n: int, seed: int) -> FaceDataset:
    keep = np.random.default_rng(seed).permutation(len(ds))[:n]
    return FaceDataset(ds.images[keep], ds.labels[keep], ds.split, ds.source, ds.skipped)


def _hold_out(ds: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """Split a dataset without splits into (train, validation) at random."""
    order = np.random.default_rng(seed).permutation(len(ds))
    n_val = max(1, round(len(ds) * fraction))
    part = lambda idx, split: FaceDataset(ds.images[idx], ds.labels[idx], split, ds.source, ds.skipped)  # noqa: E731
    return part(order[n_val:], "train"), part(order[:n_val], "validation")


def resolve_config(data: str, arch: str = "vgg", **overrides) -> TrainConfig:
    """Build a TrainConfig: architecture recipe first, then explicit (non-None) overrides."""
    options = {**RECIPES.get(arch, {}), **{k: v for k, v in overrides.items() if v is not None}}
    model_fields = {k: options.pop(k) for k in list(options) if k in ModelConfig.__dataclass_fields__}
    model = ModelConfig(arch=arch, **model_fields)
    build_model(model)  # fail on an unknown architecture before any data is read
    return TrainConfig(data=data, model=model, **options)


class ResumeError(ValueError):
    """A run that cannot be resumed as asked."""


class RunInUse(RuntimeError):
    """Another process is training into the same run folder."""


class TrainingDiverged(RuntimeError):
    """The loss stopped being a finite number (a learning rate far too high)."""


def resume_config(out: Path, data: str, **explicit: object) -> TrainConfig:
    """The configuration a run in ``out`` was started with, with ``out`` and ``data`` as given now
    (the run or the data may have moved since).

    ``explicit`` holds the options given again (None for those left out, as :func:`resolve_config`
    takes them); each must match the run's, since a run resumes only on its own schedule and
    network, except ``patience``, and ``epochs`` for a run without a schedule (``seed-cnn``).

    Raises:
        ResumeError: ``out/config.json`` is missing or unreadable, or an option differs.
    """
    try:
        saved = json.loads((out / "config.json").read_text())
        cfg = TrainConfig(
            **{k: v for k, v in saved.items() if k not in ("model", "augment", "data", "out")},
            data=data, out=str(out), model=ModelConfig(**saved["model"]), augment=AugmentConfig(**saved["augment"]),
        )  # fmt: skip
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise ResumeError(f"cannot resume {out}: its config.json is missing or damaged ({e})") from e
    given = {k: v for k, v in explicit.items() if v is not None}
    # Patience only steers early stopping; a constant rate (adam) has no schedule to outgrow, so
    # such a run may get more epochs. One-cycle's schedule is laid out over the epochs it began with.
    free = {"patience"} | ({"epochs"} if cfg.optimizer == "adam" else set())
    had = {**asdict(cfg), **asdict(cfg.model)}
    if differ := [f"--{k.replace('_', '-')} {had[k]}" for k in sorted(given) if k not in free and given[k] != had[k]]:
        raise ResumeError(f"{out} was trained with {', '.join(differ)}; resume with the same options or leave them out")
    return replace(cfg, **{k: given[k] for k in free & given.keys()})


def _faces_sha256(ds: FaceDataset) -> str:
    return hashlib.sha256(ds.images.tobytes() + ds.labels.tobytes()).hexdigest()


def _check_resumable(last: Path, cfg: TrainConfig, faces_sha256: str) -> bool:
    """Whether the run in ``cfg.out`` can go on from ``last``: True when it stopped early and only
    its export is missing (it was stopped on the way), False when it trains on.

    Raises:
        CheckpointError: ``last`` is damaged.
        ResumeError: another network or other training faces than the run's, or an early stop
            that left nothing to do.
    """
    module = load_checkpoint(last)  # a damaged checkpoint fails here, in one line, not inside Lightning
    if module.model_config != cfg.model:
        raise ResumeError(f"{last} holds a {module.model_config} network, but config.json says {cfg.model}")
    if module.faces_sha256 not in (None, faces_sha256):
        raise ResumeError(f"{cfg.out} was trained on other faces; resume with the data and --limit it started with")
    # Lightning restores early stopping's count but not its decision: a run that stopped would train on.
    callbacks = torch.load(last, map_location="cpu", weights_only=False).get("callbacks", {})
    stop = next((v for k, v in callbacks.items() if k.startswith("EarlyStopping")), {})
    if not (stop.get("stopped_epoch") and stop.get("wait_count", 0) >= cfg.patience):
        return False
    if (Path(cfg.out) / "model.onnx").exists():
        raise ResumeError(
            f"{cfg.out} stopped early after epoch {stop['stopped_epoch']} ({stop['wait_count']} epochs without a "
            "better validation accuracy); nothing to resume, unless with a larger --patience"
        )
    return True


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train, export the best checkpoint to ONNX and return the run folder.

    Raises:
        DatasetError, TeacherError, CheckpointError: bad data, teachers or (resuming) last checkpoint.
        ResumeError: see :func:`_check_resumable`.
        RunInUse: another process is training into ``cfg.out``.
        OSError: the run folder cannot be written.
        TrainingDiverged: the loss became infinite or not a number.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    teachers = [load_teacher(run, cfg.model.input_size) for run in cfg.teachers]  # fail before reading data
    train_ds = load_dataset(cfg.data, "train")
    if train_ds.split == "all":  # a folder of class folders has no splits: hold out a random part
        train_ds, val_ds = _hold_out(train_ds, HOLD_OUT, cfg.seed)
    else:
        val_ds = load_dataset(cfg.data, cfg.val_split)
    if cfg.limit:
        train_ds, val_ds = _subset(train_ds, cfg.limit, cfg.seed), _subset(val_ds, cfg.limit, cfg.seed)
    processes = cfg.devices * cfg.num_nodes
    if len(train_ds) < cfg.batch_size * processes:  # every step takes a whole batch in each process
        raise DatasetError(
            f"{len(train_ds)} training faces are fewer than one batch ({cfg.batch_size} per process x "
            f"{processes} processes); lower --batch-size or give more data"
        )

    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    with _only_process(Path(cfg.out)):
        return _fit_and_export(cfg, resume, teachers, train_ds, val_ds)


@contextlib.contextmanager
def _only_process(out: Path) -> Iterator[None]:
    """A lock on the run folder itself (no file left behind), held by the first process while it
    trains into it; DDP's other processes follow that one."""
    if rank_zero_only.rank != 0:
        yield
        return
    folder = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInUse(f"another facemoji train is using {out}; wait for it or choose another --out") from None
        yield
    finally:
        os.close(folder)


def _fit_and_export(
    cfg: TrainConfig, resume: bool, teachers: list[torch.nn.Module], train_ds: FaceDataset, val_ds: FaceDataset
) -> Path:
    from facemoji.training.export import export_onnx
    from facemoji.training.plots import plot_curves

    out = Path(cfg.out)
    ckpt_dir, last = out / "checkpoints", out / "checkpoints" / "last.ckpt"
    faces_sha256 = _faces_sha256(train_ds)
    export_only = resume and _check_resumable(last, cfg, faces_sha256)
    # Lightning swallows errors writing checkpoints: a folder it cannot write would lose the whole run.
    ckpt_dir.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=ckpt_dir):
        pass
    config_dict = asdict(cfg)
    if not resume:
        save_json(config_dict, out / "config.json")
    module = EmotionModule(config_dict)
    module.teachers, module.faces_sha256 = teachers, faces_sha256
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val_acc", mode="max")
    # Every epoch, after `best` (so it holds best's record): what --resume continues from. (Lightning's
    # save_last on `best` writes only when the best improves, and a resume would go back to then.)
    latest = ModelCheckpoint(dirpath=ckpt_dir, filename="last", enable_version_counter=False)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        precision=cfg.precision,
        logger=False,
        callbacks=[
            best, latest, Patience("val_acc", mode="max", patience=cfg.patience), EpochLog(out / "metrics.csv")
        ],
        deterministic=False,
        enable_model_summary=False,
    )
    try:
        if not export_only:
            trainer.fit(
                module,
                _loader(train_ds, cfg.batch_size, shuffle=True),
                _loader(val_ds, 512, shuffle=False),
                ckpt_path=str(last) if resume and last.exists() else None,
            )
    except SystemExit:
        if trainer.interrupted:  # Lightning answers Ctrl-C with sys.exit(1); give it back as the interrupt it was
            signal.signal(signal.SIGINT, signal.default_int_handler)  # which Lightning had set to be ignored
            raise KeyboardInterrupt from None
        raise
    if not math.isfinite(float(trainer.callback_metrics.get("train_loss", 0.0))):
        raise TrainingDiverged("training diverged: the loss is not a finite number; lower --lr")
    if trainer.global_rank == 0:
        plot_curves(out / "metrics.csv", out / "curves.png")
        winner = load_checkpoint(Path(best.best_model_path or (ckpt_dir / "best.ckpt")))
        export_onnx(winner.model, winner.model_config, out / "model.onnx", flip=True)
    return out
