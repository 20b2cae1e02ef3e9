"""facemoji: facial expressions to emoji and avatars, offline.

>>> import facemoji
>>> faces = facemoji.analyze("photo.jpg")  # doctest: +SKIP
>>> faces[0].emotion, faces[0].box  # doctest: +SKIP
(<Emotion.HAPPY: 'happy'>, Box(x=112, y=80, w=150, h=170))

For streams use ``facemoji.Emojifier(facemoji.EmojifierOptions(video=True))``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Public name -> defining module. Imported on first access, so `import facemoji.training` or
# `facemoji --help` does not load MediaPipe and ONNX Runtime.
_EXPORTS = {
    "EMOTIONS": "facemoji.emotions",
    "Emotion": "facemoji.emotions",
    "Box": "facemoji.results",
    "Face": "facemoji.results",
    "Pose": "facemoji.results",
    "Emojifier": "facemoji.engine",
    "EmojifierOptions": "facemoji.engine",
    "analyze": "facemoji.engine",
    "ImageError": "facemoji.imageio",
    "ModelError": "facemoji.classifier",
    "LandmarkerModelError": "facemoji.landmarker_model",
}
__all__ = [
    "EMOTIONS",
    "Box",
    "Emojifier",
    "EmojifierOptions",
    "Emotion",
    "Face",
    "ImageError",
    "LandmarkerModelError",
    "ModelError",
    "Pose",
    "analyze",
]

if TYPE_CHECKING:
    from facemoji.classifier import ModelError
    from facemoji.emotions import EMOTIONS, Emotion
    from facemoji.engine import Emojifier, EmojifierOptions, analyze
    from facemoji.imageio import ImageError
    from facemoji.landmarker_model import LandmarkerModelError
    from facemoji.results import Box, Face, Pose


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'facemoji' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
