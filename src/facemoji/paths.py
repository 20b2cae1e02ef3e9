"""Where facemoji keeps files it derives at run time (decoded datasets, downloaded models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$FACEMOJI_CACHE``, else ``$XDG_CACHE_HOME/facemoji``, else ``~/.cache/facemoji``."""
    if env := os.environ.get("FACEMOJI_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facemoji"
