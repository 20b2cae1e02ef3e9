"""The seven FER-2013 emotions, in the dataset's label order, and the names people use for them."""

from __future__ import annotations

from enum import Enum


class Emotion(str, Enum):
    """An expression class. The value is the lowercase name; the order is FER-2013's label order."""

    ANGRY = "angry"
    DISGUST = "disgust"
    FEAR = "fear"
    HAPPY = "happy"
    SAD = "sad"
    SURPRISE = "surprise"
    NEUTRAL = "neutral"

    def __str__(self) -> str:
        return self.value


EMOTIONS: tuple[Emotion, ...] = tuple(Emotion)
"""All emotions in label order: index ``i`` is FER-2013's ``emotion == i``."""

_SYNONYMS: dict[str, Emotion] = {
    "anger": Emotion.ANGRY,
    "angry": Emotion.ANGRY,
    "mad": Emotion.ANGRY,
    "disgust": Emotion.DISGUST,
    "disgusted": Emotion.DISGUST,
    "contempt": Emotion.DISGUST,
    "fear": Emotion.FEAR,
    "fearful": Emotion.FEAR,
    "afraid": Emotion.FEAR,
    "scared": Emotion.FEAR,
    "happy": Emotion.HAPPY,
    "happiness": Emotion.HAPPY,
    "joy": Emotion.HAPPY,
    "sad": Emotion.SAD,
    "sadness": Emotion.SAD,
    "surprise": Emotion.SURPRISE,
    "surprised": Emotion.SURPRISE,
    "neutral": Emotion.NEUTRAL,
    "calm": Emotion.NEUTRAL,
}


def parse_emotion(name: str) -> Emotion | None:
    """Map a class name or common synonym ("Happiness", "surprised", ...) to an Emotion, or None."""
    return _SYNONYMS.get(name.strip().lower())


def to_emotion(value: object) -> Emotion:
    """An Emotion from an Emotion, its name or a synonym (see :func:`parse_emotion`).

    Raises:
        ValueError: anything else, with a message listing the 7 emotions.
    """
    parsed = parse_emotion(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"unknown emotion {value!r}; choose one of {', '.join(e.value for e in EMOTIONS)}")
    return parsed
