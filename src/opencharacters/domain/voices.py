"""The 30 preset voices Runway's API names, with the character we give each one.

Runway publishes only three styles (clara, victoria, vincent); the rest are ours, chosen so
that the presets spread over pitch, pace and timbre and each name's likely gender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Gender = Literal["female", "male"]


@dataclass(frozen=True, slots=True)
class PresetVoice:
    id: str
    name: str
    description: str
    gender: Gender


PRESET_VOICES: tuple[PresetVoice, ...] = (
    PresetVoice("victoria", "Victoria", "Firm, professional", "female"),
    PresetVoice("vincent", "Vincent", "Knowledgeable, authoritative", "male"),
    PresetVoice("clara", "Clara", "Soft, approachable", "female"),
    PresetVoice("drew", "Drew", "Relaxed, casual", "male"),
    PresetVoice("skye", "Skye", "Bright, youthful", "female"),
    PresetVoice("max", "Max", "Energetic, upbeat", "male"),
    PresetVoice("morgan", "Morgan", "Calm, low and even", "female"),
    PresetVoice("felix", "Felix", "Playful, quick", "male"),
    PresetVoice("mia", "Mia", "Friendly, cheerful", "female"),
    PresetVoice("marcus", "Marcus", "Deep, confident", "male"),
    PresetVoice("summer", "Summer", "Warm, sunny", "female"),
    PresetVoice("ruby", "Ruby", "Lively, expressive", "female"),
    PresetVoice("aurora", "Aurora", "Airy, gentle", "female"),
    PresetVoice("jasper", "Jasper", "Thoughtful, measured", "male"),
    PresetVoice("leo", "Leo", "Young, eager", "male"),
    PresetVoice("adrian", "Adrian", "Smooth, polished", "male"),
    PresetVoice("nina", "Nina", "Clear, precise", "female"),
    PresetVoice("emma", "Emma", "Kind, reassuring", "female"),
    PresetVoice("blake", "Blake", "Bold, direct", "male"),
    PresetVoice("david", "David", "Steady, trustworthy", "male"),
    PresetVoice("maya", "Maya", "Curious, light", "female"),
    PresetVoice("nathan", "Nathan", "Easygoing, warm", "male"),
    PresetVoice("sam", "Sam", "Neutral, conversational", "male"),
    PresetVoice("georgia", "Georgia", "Mature, composed", "female"),
    PresetVoice("petra", "Petra", "Crisp, businesslike", "female"),
    PresetVoice("adam", "Adam", "Grounded, plain-spoken", "male"),
    PresetVoice("zach", "Zach", "Bright, fast-talking", "male"),
    PresetVoice("violet", "Violet", "Soft-spoken, breathy", "female"),
    PresetVoice("roman", "Roman", "Resonant, dramatic", "male"),
    PresetVoice("luna", "Luna", "Dreamy, slow", "female"),
)

PRESETS_BY_ID: dict[str, PresetVoice] = {voice.id: voice for voice in PRESET_VOICES}
PRESET_IDS: tuple[str, ...] = tuple(voice.id for voice in PRESET_VOICES)
