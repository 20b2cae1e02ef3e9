"""Avatar profiles: validation messages, JSON round trips, presets, random looks, the emotion table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from facemoji.emotions import EMOTIONS, Emotion
from facemoji.render.avatar import render_avatar_png
from facemoji.render.avatar_profile import (
    ALLOWED,
    DEFAULT_EXPRESSIONS,
    PRESETS,
    AvatarProfile,
    AvatarProfileError,
    Expression,
    load_profile,
    profile_json,
    random_profile,
    resolve_profile,
)


def test_every_emotion_has_a_distinct_expression() -> None:
    assert set(DEFAULT_EXPRESSIONS) == set(EMOTIONS)
    assert len(set(DEFAULT_EXPRESSIONS.values())) == len(EMOTIONS)
    assert DEFAULT_EXPRESSIONS[Emotion.HAPPY].mouth == "smile"
    assert DEFAULT_EXPRESSIONS[Emotion.SURPRISE].eyes == "surprised"
    assert DEFAULT_EXPRESSIONS[Emotion.SAD].mouth == "sad"


def test_unknown_value_lists_the_allowed_ones() -> None:
    with pytest.raises(AvatarProfileError, match=r"hair_type: 'mohawkk' is not one of: none, big_hair, .*mohawk"):
        AvatarProfile(hair_type="mohawkk")
    with pytest.raises(AvatarProfileError, match=r"skin_color: 'green' is not one of: .* or a #RRGGBB colour"):
        AvatarProfile(skin_color="green")
    with pytest.raises(AvatarProfileError, match=r"mouth: 'grin' is not one of: concerned, default"):
        Expression(eyes="happy", eyebrows="default", mouth="grin")


def test_colors_take_names_or_hex() -> None:
    assert AvatarProfile(skin_color="#A0522D", hair_color="platinum").skin_color == "#A0522D"
    with pytest.raises(AvatarProfileError, match="#12345"):
        AvatarProfile(clothing_color="#12345")


def test_json_round_trip_keeps_everything(tmp_path: Path) -> None:
    profile = PRESETS["bearded"].with_expression(Emotion.HAPPY, Expression("wink", "raised_excited", "big_smile"))
    path = tmp_path / "me.json"
    path.write_text(profile_json(profile))
    assert load_profile(path) == profile
    data = json.loads(path.read_text())
    assert data["hair_type"] == "short_waved"
    assert data["expressions"] == {"happy": {"eyes": "wink", "eyebrows": "raised_excited", "mouth": "big_smile"}}


def test_partial_json_and_expression_override_merge_with_defaults() -> None:
    profile = AvatarProfile.from_dict({"hair_type": "Curly", "expressions": {"sad": {"mouth": "concerned"}}})
    assert profile.hair_type == "curly"
    assert profile.skin_color == AvatarProfile().skin_color
    assert profile.expression(Emotion.SAD) == Expression("cry", "sad_concerned", "concerned")
    assert profile.expression(Emotion.HAPPY) == DEFAULT_EXPRESSIONS[Emotion.HAPPY]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "must be a JSON object, got list"),
        ({"hairstyle": "bob"}, "unknown profile key 'hairstyle'; expected some of: skin_color, hair_type"),
        ({"hair_type": 3}, "hair_type: expected a string, got 3"),
        ({"expressions": {"joyful": {}}}, "expressions: 'joyful' is not one of: angry, disgust"),
        ({"expressions": {"happy": {"nose": "small"}}}, "expressions.happy: expected an object with some of: eyes"),
        ({"expressions": {"happy": {"eyes": "starry"}}}, "expressions.happy.eyes: 'starry' is not one of: closed"),
    ],
)
def test_bad_json_content_gets_a_clear_message(data: object, message: str) -> None:
    with pytest.raises(AvatarProfileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AvatarProfile.from_dict(data)


def test_bad_files_name_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"hair_type": "bob",\n}')
    with pytest.raises(AvatarProfileError, match=r"broken.json: not valid JSON \(line 2, column 1"):
        load_profile(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"hat_type": "crown"}')
    with pytest.raises(AvatarProfileError, match=r"wrong.json: hat_type: 'crown' is not one of: none, hat, hijab"):
        load_profile(wrong)
    with pytest.raises(AvatarProfileError, match=r"missing\.json: no such profile file"):
        load_profile(tmp_path / "missing.json")


@pytest.mark.parametrize(("content", "message"), [
    ("[" * 200_000, "not a profile"),  # nested too deep for the parser
    ('{"hair_type": ' + "9" * 5000 + "}", "not a profile"),  # an integer too long to convert
    (" " * 1_000_001, "over 1,000,000 bytes, too large for a profile"),
])  # fmt: skip
def test_hostile_profile_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(AvatarProfileError, match=rf"p\.json: {message}"):
        load_profile(path)


def test_profiles_that_are_not_files(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading must not wait for a writer
    with pytest.raises(AvatarProfileError, match=r"fifo\.json: not a regular file"):
        load_profile(fifo)
    with pytest.raises(AvatarProfileError, match=r"/dev/zero: not a regular file"):
        load_profile("/dev/zero")
    with pytest.raises(AvatarProfileError, match="is neither a profile file nor a preset"):
        resolve_profile("random" + "1" * 5000)  # too long a name even to look for


def test_random_profiles_are_seeded_and_valid() -> None:
    assert random_profile(7) == random_profile(7)
    looks = {random_profile(seed) for seed in range(20)}
    assert len(looks) == 20
    for look in looks:
        for name, allowed in ALLOWED.items():
            assert getattr(look, name) in allowed


def test_resolve_profile_accepts_files_presets_and_random(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"hair_type": "bob"}')
    assert resolve_profile(str(path)).hair_type == "bob"
    assert resolve_profile(None) == AvatarProfile() == PRESETS["classic"]
    assert resolve_profile("punk") == PRESETS["punk"]
    assert resolve_profile("random:3") == random_profile(3)
    with pytest.raises(AvatarProfileError, match="'pirate' is neither a profile file nor a preset; expected"):
        resolve_profile("pirate")
    # -3 would give random:3's look (Python seeds with the absolute value), so it is refused
    for seed in ("abc", "-3", "--5", "\u00b2", "1.5", " 7", "", "9" * 19, "9" * 5000):
        with pytest.raises(AvatarProfileError, match="the seed must be a whole number of up to 18 digits"):
            resolve_profile(f"random:{seed}")
    assert resolve_profile("random:" + "9" * 18) == random_profile(int("9" * 18))
    with pytest.raises(AvatarProfileError, match=r"x\x00\.json: cannot read the profile \(embedded null byte\)"):
        resolve_profile("x\0.json")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(AvatarProfileError, match=r"dir\.json: cannot read the profile \(Is a directory\)"):
        resolve_profile(str(tmp_path / "dir.json"))
    with pytest.raises(AvatarProfileError, match=r"nope\.json: no such profile file"):
        resolve_profile(str(tmp_path / "nope.json"))


def test_shirt_text_takes_any_printable_text_but_no_control_characters(tmp_path: Path) -> None:
    text = '<b> & "café" 日本 😀\t'
    shirt = AvatarProfile(clothing_type="graphic_shirt", clothing_graphic="custom_text", shirt_text=text)
    assert render_avatar_png(shirt, "happy", 64).size == (64, 64)
    with pytest.raises(AvatarProfileError, match=r"shirt_text: '\\x01' is a control character"):
        AvatarProfile(shirt_text="a\u0001b")
    path = tmp_path / "p.json"
    path.write_text('{"shirt_text": "a\\u0000b"}')
    with pytest.raises(AvatarProfileError, match="control character"):
        resolve_profile(str(path))
    AvatarProfile(shirt_text="x" * 32)
    for broken in ("a\nb", "ab\r"):
        with pytest.raises(AvatarProfileError, match="shirt_text: a line break; the shirt holds one line"):
            AvatarProfile(shirt_text=broken)
    with pytest.raises(AvatarProfileError, match="shirt_text: 900,000 characters; a shirt holds at most 32"):
        AvatarProfile(shirt_text="x" * 900_000)  # it used to take minutes to draw


def test_profile_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "me.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"hair_type": "bob"}')
    assert resolve_profile(str(path)).hair_type == "bob"
