"""Shared fixtures: the read-only ../shared folder (or $FACEMOJI_SHARED), skipped when absent."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Once in a full run on a loaded machine, the in-process smoke training was killed by SIGPROF
# ("Profiling timer expired") after many MediaPipe tasks had been created and closed in the same
# process; libmediapipe arms timers (timer_create/setitimer). Not reproduced in isolation yet.
signal.signal(signal.SIGPROF, signal.SIG_IGN)


def _shared() -> Path:
    return Path(os.environ.get("FACEMOJI_SHARED") or ROOT.parent / "shared")


@pytest.fixture(scope="session")
def shared() -> Path:
    path = _shared()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set FACEMOJI_SHARED)")
    return path


@pytest.fixture(scope="session")
def media(shared: Path) -> Path:
    return shared / "media"


@pytest.fixture(scope="session")
def fer2013_zip(shared: Path) -> Path:
    path = shared / "datasets" / "fer2013.zip"
    if not path.is_file():
        pytest.skip(f"FER-2013 not found at {path}")
    return path
