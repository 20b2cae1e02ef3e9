"""Owning a MediaPipe Tasks object: quiet creation, and a close that always happens in time."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import numpy as np

from facemoji.imageio import check_rgb

if TYPE_CHECKING:
    import mediapipe as mp


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)

_stderr_lock = threading.Lock()
_open: weakref.WeakSet[TaskHandle] = weakref.WeakSet()


class TaskHandle(Generic[T]):
    """One MediaPipe task (landmarker, segmenter, ...), created with its native logs silenced.

    ``close()`` releases it; so does garbage collection, and so does interpreter exit. ``task`` is
    the MediaPipe object; :meth:`silenced_first_use` wraps the first call, which may log too.
    """

    def __init__(self, create: Callable[[], T]) -> None:
        with native_logs_silenced():
            self.task = create()
        self._finalizer = weakref.finalize(self, self.task.close)
        self._used = False
        _open.add(self)
        _close_open_at_exit()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Release the task; calling it again does nothing."""
        self._finalizer()

    @contextlib.contextmanager
    def silenced_first_use(self) -> Iterator[None]:
        if self._used:
            yield
            return
        with native_logs_silenced():
            yield
        self._used = True


@functools.cache
def _close_open_at_exit() -> None:
    """Close every task still open when the interpreter exits.

    MediaPipe sends each call, close included, through a thread pool, and concurrent.futures
    stops its pools before ``atexit`` callbacks run; a task left open then fails in its own
    ``__del__`` during module teardown ("TypeError: 'NoneType' object is not callable"). Threading's
    exit callbacks run last-registered first, so registering after the first task made its pool
    (and so after concurrent.futures registered its own) closes ours while the pools still run.
    """
    threading._register_atexit(_close_open)


def _close_open() -> None:
    for handle in list(_open):
        handle.close()


@contextlib.contextmanager
def native_logs_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a while.

    MediaPipe's C++ side (glog, absl, TFLite) writes "Logging before InitGoogle()", "Created
    TensorFlow Lite XNNPACK delegate" and W0000/I0000 lines straight to the descriptor while a
    task is created and first used; GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL and
    GOOGLE_STDERRTHRESHOLD do not reach it.
    """
    with _stderr_lock:
        if sys.stderr is not None:
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # descriptor 2 is closed: there is nothing to keep quiet
            saved = None
        if saved is None:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def mp_image(rgb: np.ndarray) -> mp.Image:
    """Wrap an (H, W, 3) uint8 RGB array for MediaPipe. Raises ValueError for anything else."""
    import mediapipe as mp

    check_rgb(rgb)
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
