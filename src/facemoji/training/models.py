"""Emotion classifier architectures, built by name from a :class:`ModelConfig`.

Every network takes ``(N, 1, S, S)`` grayscale faces scaled to ``[0, 1]`` (``S`` is
``config.input_size``) and returns ``(N, 7)`` logits in :data:`facemoji.emotions.EMOTIONS` order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from facemoji.emotions import EMOTIONS

MAX_WIDTH = 256  # channels of a first stage: 75 million weights, far past what FER-2013 trains (4096: 77 GB)


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "vgg"
    input_size: int = 40  # side of the square crop taken from the 48x48 face
    width: int = 48  # channels of the first stage; later stages double it (vgg only)
    dropout: float = 0.3

    def __post_init__(self) -> None:
        # Checked here because a checkpoint's stored configuration is input too.
        if not isinstance(self.arch, str):
            raise ValueError(f"arch must be a name, got {self.arch!r}")
        for name, low, high in (("input_size", 16, 48), ("width", 1, MAX_WIDTH)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        return asdict(self)


_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register(name: str):
    def add(builder: Callable[[ModelConfig], nn.Module]) -> Callable[[ModelConfig], nn.Module]:
        _REGISTRY[name] = builder
        return builder

    return add


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def build_model(config: ModelConfig) -> nn.Module:
    """Build the network ``config.arch`` names. Raises ValueError for an unknown name."""
    if config.arch not in _REGISTRY:
        raise ValueError(f"unknown architecture {config.arch!r}; choose one of {', '.join(list_models())}")
    return _REGISTRY[config.arch](config)


class _Standardize(nn.Module):
    """Maps [0, 1] pixels to roughly zero mean, unit variance (FER-2013 train statistics)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.507) / 0.255


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


@register("vgg")
def vgg(config: ModelConfig) -> nn.Module:
    """Four stages of two 3x3 conv-BN-ReLU blocks; the first three end in a 2x2 max-pool."""
    w = config.width
    return nn.Sequential(
        _Standardize(),
        _conv_bn(1, w), _conv_bn(w, w), nn.MaxPool2d(2),  # (N, w, S/2, S/2)
        _conv_bn(w, 2 * w), _conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),  # (N, 2w, S/4, S/4)
        _conv_bn(2 * w, 4 * w), _conv_bn(4 * w, 4 * w), nn.MaxPool2d(2),  # (N, 4w, S/8, S/8)
        _conv_bn(4 * w, 8 * w), _conv_bn(8 * w, 8 * w),  # (N, 8w, S/8, S/8)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (N, 8w)
        nn.Dropout(config.dropout),
        nn.Linear(8 * w, len(EMOTIONS)),  # (N, 7)
    )  # fmt: skip


@register("seed-cnn")
def seed_cnn(config: ModelConfig) -> nn.Module:
    """The seed tutorial's Keras CNN (valid padding, ReLU), kept as the baseline; ``width`` is unused."""
    s = config.input_size
    flat = 128 * ((((s - 4) // 2 - 2) // 2 - 2) // 2) ** 2
    return nn.Sequential(
        _Standardize(),
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),  # (N, 64, S-4, S-4)
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),  # (N, 128, s', s')
        nn.Flatten(), nn.Linear(flat, 1024), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(1024, len(EMOTIONS)),  # (N, 7)
    )  # fmt: skip
