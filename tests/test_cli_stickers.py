"""``facemoji stickers``: writes the pack; a bad profile is one line on stderr and exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facemoji.apps.cli import main
from facemoji.emotions import EMOTIONS


def test_writes_the_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "me.json"
    profile.write_text('{"hair_type": "bob", "hair_color": "red", "expressions": {"happy": {"mouth": "big_smile"}}}')
    assert main(["stickers", "--profile", str(profile), "-o", str(tmp_path / "out")]) == 0
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {f"{e.value}.{x}" for e in EMOTIONS for x in ("png", "webp", "svg")} <= names
    assert "stickers.zip" in names
    assert not [n for n in names if n.endswith(".tmp")]
    assert "wrote 23 files" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such profile file"),
        ("{not json", "not valid JSON (line 1, column 2"),
        ('{"hair_type": "mohawkk"}', "hair_type: 'mohawkk' is not one of: none, big_hair"),
    ],
)
def test_bad_profile_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    profile = tmp_path / "p.json"
    if content is not None:
        profile.write_text(content)
    assert main(["stickers", "--profile", str(profile), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"facemoji stickers: {profile}: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["happy.svg", "stickers.zip"])
def test_a_profile_the_pack_would_overwrite_is_refused(tmp_path: Path, capsys, name: str) -> None:
    profile = tmp_path / name
    profile.write_text('{"hair_type": "bob"}')
    assert main(["stickers", "--profile", str(profile), "-o", str(tmp_path)]) == 2
    assert f"the pack's {name} would overwrite the profile {profile}" in capsys.readouterr().err
    assert profile.read_text() == '{"hair_type": "bob"}' and [p.name for p in tmp_path.iterdir()] == [name]


def test_a_pack_is_rebuilt_in_place_from_its_own_edited_profile(tmp_path: Path) -> None:
    assert main(["stickers", "--profile", "random:5", "-o", str(tmp_path)]) == 0
    happy = (tmp_path / "happy.png").read_bytes()
    profile = json.loads((tmp_path / "profile.json").read_text())
    profile["hair_type"] = "bob" if profile["hair_type"] != "bob" else "bun"
    (tmp_path / "profile.json").write_text(json.dumps(profile, indent=2) + "\n")
    assert main(["stickers", "--profile", str(tmp_path / "profile.json"), "-o", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "profile.json").read_text()) == profile
    assert (tmp_path / "happy.png").read_bytes() != happy


def test_missing_out_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stickers"])
    assert exit_info.value.code == 2
    assert "-o/--out" in capsys.readouterr().err
