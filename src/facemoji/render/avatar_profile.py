"""Avatar profiles: how a person's avatar looks, validated, with presets and a small JSON form.

A profile holds every attribute python_avatars offers except the face parts that show an
expression; those come from the emotion table (:data:`DEFAULT_EXPRESSIONS`), which a profile can
override per emotion. Values are python_avatars' enum member names in lower case (``short_flat``,
``blue_01``); colours may also be ``#RRGGBB``. Rendering lives in :mod:`facemoji.render.avatar`.

The JSON form (see docs/avatar.md) lists the attributes by name; all are optional::

    {"hair_type": "curly", "hair_color": "auburn", "expressions": {"happy": {"mouth": "big_smile"}}}
"""

from __future__ import annotations

import json
import os
import random
import re
import stat
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from pathlib import Path

import python_avatars as pa

from facemoji.emotions import EMOTIONS, Emotion


class AvatarProfileError(ValueError):
    """A profile value, file or preset that is not valid; the message lists what is allowed."""


def _names(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(m.name.lower() for m in enum)


_HEX = re.compile(r"#[0-9a-fA-F]{6}")
MAX_PROFILE_BYTES = 1_000_000  # a profile is a few hundred bytes; more is not one
BACKGROUND_STYLES = ("none", "circle")
EYEBROW_STYLES = ("default", "natural")

# Characters XML 1.0 forbids (the avatar is an SVG document); tab, newline and return are allowed.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# attribute -> allowed names; the *_color attributes also accept "#RRGGBB".
ALLOWED: dict[str, tuple[str, ...]] = {
    "skin_color": _names(pa.SkinColor),
    "hair_type": _names(pa.HairType),
    "hair_color": _names(pa.HairColor),
    "hat_type": ("none", *_names(pa.HatType)),
    "hat_color": _names(pa.ClothingColor),
    "facial_hair_type": _names(pa.FacialHairType),
    "facial_hair_color": _names(pa.HairColor),
    "clothing_type": _names(pa.ClothingType),
    "clothing_color": _names(pa.ClothingColor),
    "clothing_graphic": _names(pa.ClothingGraphic),
    "accessory": _names(pa.AccessoryType),
    "nose_type": _names(pa.NoseType),
    "eyebrow_style": EYEBROW_STYLES,
    "background_style": BACKGROUND_STYLES,
    "background_color": _names(pa.BackgroundColor),
}
PART_ALLOWED: dict[str, tuple[str, ...]] = {
    "eyes": _names(pa.EyeType),
    "eyebrows": _names(pa.EyebrowType),
    "mouth": _names(pa.MouthType),
}


def _check(name: str, value: object, allowed: tuple[str, ...], color: bool = False) -> None:
    if isinstance(value, str) and (value in allowed or (color and _HEX.fullmatch(value))):
        return
    extra = " or a #RRGGBB colour" if color else ""
    raise AvatarProfileError(f"{name}: {value!r} is not one of: {', '.join(allowed)}{extra}")


@dataclass(frozen=True)
class Expression:
    """The face parts that show one emotion: python_avatars eye, eyebrow and mouth names.

    Raises:
        AvatarProfileError: a name python_avatars does not have (the message lists the allowed ones).
    """

    eyes: str
    eyebrows: str
    mouth: str

    def __post_init__(self) -> None:
        for part, allowed in PART_ALLOWED.items():
            _check(part, getattr(self, part), allowed)


DEFAULT_EXPRESSIONS: dict[Emotion, Expression] = {
    Emotion.ANGRY: Expression(eyes="squint", eyebrows="angry", mouth="grimace"),
    Emotion.DISGUST: Expression(eyes="side", eyebrows="up_down", mouth="vomit"),
    Emotion.FEAR: Expression(eyes="surprised", eyebrows="sad_concerned", mouth="concerned"),
    Emotion.HAPPY: Expression(eyes="happy", eyebrows="default", mouth="smile"),
    Emotion.SAD: Expression(eyes="cry", eyebrows="sad_concerned", mouth="sad"),
    Emotion.SURPRISE: Expression(eyes="surprised", eyebrows="raised_excited", mouth="disbelief"),
    Emotion.NEUTRAL: Expression(eyes="default", eyebrows="default", mouth="serious"),
}
"""What each emotion looks like unless a profile overrides it (the table in docs/avatar.md)."""

_DEFAULT_TABLE = tuple(DEFAULT_EXPRESSIONS[e] for e in EMOTIONS)


MAX_SHIRT_TEXT = 32  # characters; the letters shrink to fit the shirt, and past this they are too small to read


@dataclass(frozen=True)
class AvatarProfile:
    """How an avatar looks. Frozen and hashable, so renders can be cached by profile.

    ``hat_type`` other than ``none`` replaces the hair (python_avatars draws one top: hair or a
    hat). ``clothing_graphic`` shows on ``graphic_shirt`` only, ``shirt_text`` (at most
    :data:`MAX_SHIRT_TEXT` characters) with the ``custom_text`` graphic only.
    ``eyebrow_style="natural"`` draws the hairy variant of each emotion's eyebrows where
    python_avatars has one. ``background_style="none"`` gives a transparent background; ``circle``
    a disc of ``background_color``. ``expressions`` holds the 7 emotions' face parts in
    :data:`facemoji.emotions.EMOTIONS` order; use :meth:`with_expression` to change one.

    Raises:
        AvatarProfileError: any value not allowed (see :data:`ALLOWED`).
    """

    skin_color: str = "light"
    hair_type: str = "short_flat"
    hair_color: str = "brown"
    hat_type: str = "none"
    hat_color: str = "heather"
    facial_hair_type: str = "none"
    facial_hair_color: str = "brown"
    clothing_type: str = "shirt_crew_neck"
    clothing_color: str = "blue_02"
    clothing_graphic: str = "none"
    shirt_text: str = "Hola!"
    accessory: str = "none"
    nose_type: str = "default"
    eyebrow_style: str = "default"
    background_style: str = "none"
    background_color: str = "default"
    expressions: tuple[Expression, ...] = field(default=_DEFAULT_TABLE, repr=False)

    def __post_init__(self) -> None:
        for name, allowed in ALLOWED.items():
            _check(name, getattr(self, name), allowed, color=name.endswith("_color"))
        if not isinstance(self.shirt_text, str):
            raise AvatarProfileError(f"shirt_text: expected a string, got {self.shirt_text!r}")
        if len(self.shirt_text) > MAX_SHIRT_TEXT:
            raise AvatarProfileError(
                f"shirt_text: {len(self.shirt_text):,} characters; a shirt holds at most {MAX_SHIRT_TEXT}"
            )
        if "\n" in self.shirt_text or "\r" in self.shirt_text:
            raise AvatarProfileError("shirt_text: a line break; the shirt holds one line")
        if bad := _NOT_IN_XML.search(self.shirt_text):
            raise AvatarProfileError(f"shirt_text: {bad.group()!r} is a control character, which SVG cannot hold")
        if len(self.expressions) != len(EMOTIONS) or not all(isinstance(x, Expression) for x in self.expressions):
            raise AvatarProfileError(f"expressions: expected {len(EMOTIONS)} Expression values in EMOTIONS order")

    def expression(self, emotion: Emotion) -> Expression:
        """The face parts this profile draws for ``emotion``."""
        return self.expressions[EMOTIONS.index(emotion)]

    def with_expression(self, emotion: Emotion, expression: Expression) -> AvatarProfile:
        """A copy of this profile drawing ``emotion`` with ``expression``."""
        table = list(self.expressions)
        table[EMOTIONS.index(emotion)] = expression
        return replace(self, expressions=tuple(table))

    def to_dict(self) -> dict:
        """JSON-ready form: every attribute, plus ``expressions`` for the emotions that differ from the default."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "expressions"}
        pairs = zip(EMOTIONS, self.expressions, strict=True)
        overrides = {e.value: asdict(x) for e, x in pairs if x != DEFAULT_EXPRESSIONS[e]}
        if overrides:
            data["expressions"] = overrides
        return data

    @classmethod
    def from_dict(cls, data: object) -> AvatarProfile:
        """Build a profile from its JSON form; missing attributes keep their defaults.

        An ``expressions`` entry may give only some parts (``{"happy": {"mouth": "big_smile"}}``);
        the others come from :data:`DEFAULT_EXPRESSIONS`. Values are matched case-insensitively; keys
        (``hair_type``, ``happy``) are written as shown.

        Raises:
            AvatarProfileError: not an object, unknown keys, or values not allowed.
        """
        if not isinstance(data, dict):
            raise AvatarProfileError(f"an avatar profile must be a JSON object, got {type(data).__name__}")
        keys = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in keys]
        if unknown:
            raise AvatarProfileError(f"unknown profile key {unknown[0]!r}; expected some of: {', '.join(keys)}")
        values = {k: _lower(k, v) for k, v in data.items() if k not in ("expressions", "shirt_text")}
        if "shirt_text" in data:
            values["shirt_text"] = data["shirt_text"]
        table = _expressions_from_dict(data.get("expressions", {}))
        return cls(**values, expressions=table)


def _lower(key: str, value: object) -> object:
    if not isinstance(value, str):
        raise AvatarProfileError(f"{key}: expected a string, got {value!r}")
    return value.strip().lower()


def _expressions_from_dict(data: object) -> tuple[Expression, ...]:
    if not isinstance(data, dict):
        raise AvatarProfileError('expressions: expected an object like {"happy": {"mouth": "big_smile"}}')
    table = dict(DEFAULT_EXPRESSIONS)
    for name, parts in data.items():
        try:
            emotion = Emotion(name)
        except ValueError:
            raise AvatarProfileError(
                f"expressions: {name!r} is not one of: {', '.join(e.value for e in EMOTIONS)}"
            ) from None
        if not isinstance(parts, dict) or any(p not in PART_ALLOWED for p in parts):
            raise AvatarProfileError(
                f"expressions.{name}: expected an object with some of: {', '.join(PART_ALLOWED)}, got {parts!r}"
            )
        given = {p: _lower(f"expressions.{name}.{p}", v) for p, v in parts.items()}
        try:
            table[emotion] = replace(table[emotion], **given)
        except AvatarProfileError as e:
            raise AvatarProfileError(f"expressions.{name}.{e}") from None
    return tuple(table[e] for e in EMOTIONS)


PRESETS: dict[str, AvatarProfile] = {
    "classic": AvatarProfile(),
    "curly": AvatarProfile(
        skin_color="brown", hair_type="curly", hair_color="black", clothing_type="hoodie",
        clothing_color="pastel_green", accessory="round",
    ),
    "bearded": AvatarProfile(
        skin_color="pale", hair_type="short_waved", hair_color="auburn", facial_hair_type="beard_medium",
        facial_hair_color="auburn", clothing_type="blazer_shirt", clothing_color="black", eyebrow_style="natural",
    ),
    "hijab": AvatarProfile(
        skin_color="dark_brown", hat_type="hijab", hat_color="pink", clothing_type="collar_sweater",
        clothing_color="pastel_blue", background_style="circle", background_color="white",
    ),
    "punk": AvatarProfile(
        skin_color="pale", hair_type="mohawk", hair_color="pastel_pink", clothing_type="graphic_shirt",
        clothing_color="black", clothing_graphic="skull", accessory="sunglasses",
    ),
}
"""Named looks for quick starts; ``classic`` is the default profile."""


def random_profile(seed: int | None = None) -> AvatarProfile:
    """A random look (same seed, same look). Hats, facial hair and accessories are picked less often.

    The expression table stays the default one.
    """
    rng = random.Random(seed)

    def pick(name: str, rare: bool = False) -> str:
        allowed = ALLOWED[name]
        if rare and rng.random() < 0.6:
            return allowed[0]  # "none" is listed first for hats, facial hair and accessories
        return rng.choice(allowed)

    return AvatarProfile(
        **{name: pick(name) for name in ALLOWED if name not in ("hat_type", "facial_hair_type", "accessory")},
        hat_type=pick("hat_type", rare=True),
        facial_hair_type=pick("facial_hair_type", rare=True),
        accessory=pick("accessory", rare=True),
    )


def load_profile(path: str | os.PathLike) -> AvatarProfile:
    """Read a profile from a JSON file.

    Raises:
        AvatarProfileError: the file is missing or unreadable, not JSON, or holds a bad profile;
            the message starts with the path.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a file.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise AvatarProfileError(f"{path}: not a regular file, expected a JSON profile")
            raw = f.read(MAX_PROFILE_BYTES + 1)
        if len(raw) > MAX_PROFILE_BYTES:
            raise AvatarProfileError(f"{path}: over {MAX_PROFILE_BYTES:,} bytes, too large for a profile")
        text = raw.decode("utf-8-sig")  # editors on Windows may start the file with a BOM
    except FileNotFoundError:
        raise AvatarProfileError(f"{path}: no such profile file") from None
    except OSError as e:
        raise AvatarProfileError(f"{path}: cannot read the profile ({e.strerror or e})") from None
    except ValueError as e:  # not UTF-8; a NUL in the name
        raise AvatarProfileError(f"{path}: cannot read the profile ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise AvatarProfileError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (ValueError, RecursionError) as e:  # numbers with thousands of digits, nesting thousands deep
        raise AvatarProfileError(f"{path}: not a profile ({e})") from None
    try:
        return AvatarProfile.from_dict(data)
    except AvatarProfileError as e:
        raise AvatarProfileError(f"{path}: {e}") from None


def profile_json(profile: AvatarProfile) -> str:
    """The profile as indented JSON text, as :func:`load_profile` reads it."""
    return json.dumps(profile.to_dict(), indent=2) + "\n"


def resolve_profile(spec: str | None) -> AvatarProfile:
    """A profile from what a user typed: a JSON file, a preset name, ``random`` or ``random:SEED``.

    ``None`` gives the default profile. A spec that names an existing file is always read as one.

    Raises:
        AvatarProfileError: a bad file, an unknown preset, or a seed that is not a whole number.
    """
    if spec is None:
        return AvatarProfile()
    if _is_file(spec) or spec.lower().endswith(".json"):
        return load_profile(spec)
    if spec in PRESETS:
        return PRESETS[spec]
    if spec == "random" or spec.startswith("random:"):
        colon, seed = spec.partition(":")[1:]
        if colon and not re.fullmatch(r"[0-9]{1,18}", seed):
            raise AvatarProfileError(f"{spec}: the seed must be a whole number of up to 18 digits, e.g. random:7")
        return random_profile(int(seed) if seed else None)
    raise AvatarProfileError(
        f"{spec!r} is neither a profile file nor a preset; expected a .json file, one of: "
        f"{', '.join(PRESETS)}, random or random:SEED"
    )


def _is_file(spec: str) -> bool:
    try:
        return Path(spec).is_file()
    except (OSError, ValueError):  # a name too long to be a file; a NUL in it
        return False
