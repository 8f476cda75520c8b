"""How each of the 30 presets is made from the one natural voice we ship (Piper `joe`, male).

Each preset is a recipe for real signal processing on joe's speech (see voice_transform.py):
target median pitch, pitch range, formant (vocal-tract length) scaling, spectral tilt, breathiness,
plus Piper's own speaking rate and prosody variability. Female presets raise pitch ~1.7-2.6x and
formants 1.1-1.24x, which keeps them intelligible but audibly processed (docs/engines.md).

The values spread the presets over pitch (male 84-150 Hz, female 166-256 Hz) and timbre so that
no two are within a just-noticeable difference of each other (bench/tts_bench.py checks it), and
follow each preset's documented style: soft = darker and breathier, firm/crisp = brighter and
steadier, energetic/expressive = wider pitch range and faster."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from opencharacters.domain.voices import PRESET_IDS

SOURCE_MEDIAN_F0_HZ = 88.6
"""Median F0 of joe's speech over the bench sentences, by the same Praat tracker the bench uses
to check the presets (so a preset's design F0 is what the bench measures)."""


@dataclass(frozen=True, slots=True)
class VoiceDesign:
    f0_hz: float | None
    """Target median pitch; None keeps joe's own pitch and skips the vocoder entirely."""
    formant_ratio: float = 1.0
    """>1 shortens the virtual vocal tract (younger, more female), <1 lengthens it (deeper)."""
    pitch_range: float = 1.0
    """Scales pitch movement around the median: <1 even and calm, >1 lively."""
    tilt_db_per_octave: float = 0.0
    """Spectral tilt around 1 kHz: negative is warmer/softer, positive brighter/crisper."""
    breathiness: float = 0.0
    """0..1: adds aperiodic (noisy) energy above ~1 kHz."""
    length_scale: float = 1.0
    """Piper's duration scale: <1 faster, >1 slower."""
    noise_w: float = 0.8
    """Piper's phoneme-duration variability: higher sounds looser, lower more deliberate."""
    base: str | None = None
    """The Piper voice it is made from: None = the packaged joe, else a name configured in
    engines.tts.piper_voices (speech/piper_voices.py)."""


VOICE_DESIGNS: dict[str, VoiceDesign] = {
    # --- female ---
    "victoria": VoiceDesign(184, 1.15, 0.9, 1.5, 0.0, 0.97, 0.6),
    "clara": VoiceDesign(206, 1.16, 1.0, -2.5, 0.2, 1.05, 0.8),
    "skye": VoiceDesign(248, 1.23, 1.2, 2.0, 0.05, 0.92, 0.9),
    "morgan": VoiceDesign(166, 1.12, 0.7, -1.0, 0.1, 1.1, 0.6),
    "mia": VoiceDesign(228, 1.18, 1.25, 0.5, 0.05, 0.95, 0.9),
    "summer": VoiceDesign(220, 1.14, 1.1, -0.5, 0.1, 1.0, 0.8),
    "ruby": VoiceDesign(238, 1.2, 1.45, 1.0, 0.0, 0.93, 1.0),
    "aurora": VoiceDesign(222, 1.2, 0.9, -3.5, 0.45, 1.08, 0.7),
    "nina": VoiceDesign(198, 1.2, 1.0, 3.0, 0.0, 1.0, 0.6),
    "emma": VoiceDesign(188, 1.16, 1.05, -2.5, 0.15, 1.08, 0.7),
    "maya": VoiceDesign(256, 1.24, 1.15, -0.5, 0.1, 0.96, 0.9),
    "georgia": VoiceDesign(174, 1.1, 0.85, -1.5, 0.05, 1.05, 0.6),
    "petra": VoiceDesign(182, 1.13, 0.9, 4.0, 0.0, 0.93, 0.5),
    "violet": VoiceDesign(210, 1.19, 0.9, -4.5, 0.45, 1.06, 0.7),
    "luna": VoiceDesign(232, 1.17, 0.8, -2.5, 0.3, 1.25, 0.8),
    # --- male ---
    "vincent": VoiceDesign(100, 0.95, 0.9, 0.5, 0.0, 1.05, 0.6),
    "drew": VoiceDesign(112, 1.0, 0.9, -1.5, 0.15, 1.08, 0.9),
    "max": VoiceDesign(134, 1.03, 1.35, 2.0, 0.0, 0.88, 1.0),
    "felix": VoiceDesign(142, 1.07, 1.3, 0.5, 0.0, 0.9, 1.0),
    "marcus": VoiceDesign(88, 0.9, 0.9, -2.0, 0.0, 1.05, 0.6),
    "jasper": VoiceDesign(106, 0.97, 0.85, -0.5, 0.05, 1.15, 0.5),
    "leo": VoiceDesign(150, 1.1, 1.2, 1.0, 0.0, 0.9, 0.9),
    "adrian": VoiceDesign(122, 0.98, 1.0, -1.0, 0.0, 1.0, 0.6),
    "blake": VoiceDesign(121, 0.94, 1.0, 2.5, 0.0, 0.95, 0.7),
    "david": VoiceDesign(96, 1.03, 0.8, -0.5, 0.0, 1.02, 0.6),
    "nathan": VoiceDesign(112, 0.93, 1.0, -3.0, 0.1, 1.05, 0.8),
    "sam": VoiceDesign(None),
    "adam": VoiceDesign(92, 1.0, 0.95, 1.0, 0.0, 1.0, 0.7),
    "zach": VoiceDesign(134, 1.1, 1.1, 3.0, 0.0, 0.82, 0.9),
    "roman": VoiceDesign(84, 0.88, 1.4, 0.0, 0.0, 1.1, 0.8),
}

if set(VOICE_DESIGNS) != set(PRESET_IDS):  # pragma: no cover - guards edits to either table
    raise RuntimeError("every preset voice needs exactly one design")

PREVIEW_SENTENCES: dict[str, str] = {
    preset_id: sentence
    for preset_id, sentence in zip(
        PRESET_IDS,
        (
            "Good morning. Let's review the figures and agree on the next steps.",
            "There is a simple explanation for that, and I am happy to walk you through it.",
            "Hi there, it's lovely to meet you. Take your time, I'm listening.",
            "Hey, no rush at all. Tell me what you've got in mind.",
            "Oh, this is going to be fun! Where shall we start?",
            "Alright, let's get moving, we have a lot of great stuff to cover today!",
            "Breathe in, and let's take this one step at a time.",
            "Quick question before we dive in: do you like surprises?",
            "Hello and welcome! How can I brighten your day?",
            "I've done this many times before. You're in good hands.",
            "What a beautiful day to plan something new together.",
            "Wow, you won't believe what happened at the market this morning!",
            "Close your eyes for a moment, and imagine a quiet place.",
            "Let me think about that carefully before I give you an answer.",
            "I can't wait to show you what we've been working on!",
            "Thank you for calling. I'll make sure everything is taken care of.",
            "The appointment is on Tuesday the fourth, at half past two.",
            "Don't worry, we'll sort this out together, one step at a time.",
            "Here's the deal: we fix it today, and we fix it properly.",
            "You can count on me. I'll keep you updated every step of the way.",
            "I wonder what's behind that door. Shall we take a look?",
            "Sounds good to me. Grab a coffee and we'll have a chat.",
            "Sure, I can help with that. What would you like to know?",
            "In my experience, the best decisions are the patient ones.",
            "Your order has been confirmed and will ship on Monday.",
            "Let's keep it simple: plant the seeds in spring and water them often.",
            "Okay okay, so here's the plan, and it's a really good one!",
            "Come a little closer, and I'll tell you a secret.",
            "And so, at last, the curtain rises on our final act!",
            "The stars are out tonight, drifting slowly across the sky.",
        ),
        strict=True,
    )
}


def design_to_json(design: VoiceDesign) -> dict[str, Any]:
    return dict(asdict(design))


def design_from_json(data: dict[str, Any]) -> VoiceDesign:
    known = {key: data[key] for key in asdict(VoiceDesign(None)) if key in data}
    return replace(VoiceDesign(None), **known)
