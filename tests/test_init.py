import subprocess
import sys

import facemoji


def test_public_names_resolve() -> None:
    assert sorted(facemoji.__all__) == sorted(facemoji._EXPORTS)
    for name in facemoji.__all__:
        assert getattr(facemoji, name) is not None


def test_import_is_light() -> None:
    code = "import sys, facemoji; print('mediapipe' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
