"""Batched training augmentation on uint8 48x48 faces, done in torch so it costs little per step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.1  # fraction of the face side
    flip: bool = True
    brightness: float = 0.25
    contrast: float = 0.25
    erase_p: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.2)


def augment(images: torch.Tensor, size: int, cfg: AugmentConfig) -> torch.Tensor:
    """Random affine crop, flip, photometric jitter and erasing.

    images: (N, 48, 48) uint8. Returns (N, 1, size, size) float in [0, 1]. With no randomness the
    affine grid reduces to the centre ``size`` crop used at inference.
    """
    n, side = images.shape[0], images.shape[-1]
    x = images.unsqueeze(1).float() / 255.0  # (N, 1, 48, 48)
    u = lambda *shape: torch.rand(*shape, device=x.device)  # noqa: E731
    angle = (u(n) * 2 - 1) * math.radians(cfg.rotate_deg)
    scale = cfg.scale[0] + u(n) * (cfg.scale[1] - cfg.scale[0])
    crop = size / side  # the output window covers `crop` of the face at scale 1
    flip = torch.where(u(n) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n, device=x.device)
    cos, sin = torch.cos(angle) * crop / scale, torch.sin(angle) * crop / scale
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    theta[:, :, 2] = (u(n, 2) * 2 - 1) * cfg.shift * 2
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    mean = x.mean(dim=(2, 3), keepdim=True)
    contrast = 1 + (u(n, 1, 1, 1) * 2 - 1) * cfg.contrast
    brightness = (u(n, 1, 1, 1) * 2 - 1) * cfg.brightness
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 1)
    return _erase(x, cfg)


def _erase(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """Random erasing (Zhong et al.): one rectangle of noise per chosen image."""
    n, _, h, w = x.shape
    area = (cfg.erase_area[0] + torch.rand(n) * (cfg.erase_area[1] - cfg.erase_area[0])) * h * w
    aspect = torch.exp((torch.rand(n) * 2 - 1) * math.log(3))
    eh = (area * aspect).sqrt().clamp(1, h).long()
    ew = (area / aspect).sqrt().clamp(1, w).long()
    top = (torch.rand(n) * (h - eh + 1)).long()
    left = (torch.rand(n) * (w - ew + 1)).long()
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    mask = (
        (rows >= top.view(n, 1, 1)) & (rows < (top + eh).view(n, 1, 1))
        & (cols >= left.view(n, 1, 1)) & (cols < (left + ew).view(n, 1, 1))
        & (torch.rand(n) < cfg.erase_p).view(n, 1, 1)
    )  # fmt: skip
    return torch.where(mask.unsqueeze(1).to(x.device), torch.rand_like(x), x)
