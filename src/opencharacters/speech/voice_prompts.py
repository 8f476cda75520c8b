"""From a voice description ("A warm, slow, deep older male voice with a British accent") to
voice attributes (gender, age, pitch, pace, timbre, breathiness, expressiveness, accent).

Two parsers:
- the dialogue model, constrained to a JSON schema whose every field is an enum (llama.cpp
  grammar for the embedded model, `response_format: json_schema` for an OpenAI-compatible
  server), decoded greedily so the same description always gives the same answer;
- rules: keyword lists with intensifiers ("very", "extremely") and simple negation ("not too
  fast").

The default ("auto") runs both and lets an attribute the rules found stated in so many words win
over the model's reading: the 0.5B embedded model handles paraphrase ("sounds like a
grandfather telling a bedtime story") but sometimes contradicts an explicit "slow" or "female"
(bench/voice_bench.py scores the three modes on labelled descriptions). If the model cannot be
loaded or answers outside the schema, the rules alone decide."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, get_args

from opencharacters.engine_settings import EngineSettings

if TYPE_CHECKING:
    from opencharacters.dialogue.messages import ChatMessage

log = logging.getLogger(__name__)

Gender = Literal["female", "male", "neutral"]
Age = Literal["child", "young", "adult", "middle-aged", "old"]
Pitch = Literal["very low", "low", "medium", "high", "very high"]
Pace = Literal["very slow", "slow", "medium", "fast", "very fast"]
Timbre = Literal["dark", "warm", "neutral", "bright", "crisp"]
Breathiness = Literal["none", "slight", "breathy"]
Expressiveness = Literal["monotone", "calm", "normal", "lively", "animated"]
Accent = Literal[
    "american",
    "british",
    "scottish",
    "irish",
    "australian",
    "southern us",
    "indian",
    "other",
]
ParserMode = Literal["auto", "model", "rules"]

RENDERED_ACCENTS: frozenset[str] = frozenset({"american"})
"""Accents the embedded engine can speak: Piper `joe` learned General American only (British
and other espeak-ng phoneme sets through joe measured 26-35 % WER, see docs/engines.md)."""


@dataclass(frozen=True, slots=True)
class VoiceAttributes:
    gender: Gender = "neutral"
    age: Age = "adult"
    pitch: Pitch = "medium"
    pace: Pace = "medium"
    timbre: Timbre = "neutral"
    breathiness: Breathiness = "none"
    expressiveness: Expressiveness = "normal"
    accent: Accent = "american"

    def as_dict(self) -> dict[str, str]:
        return dict(asdict(self))


_CHOICES: dict[str, tuple[str, ...]] = {
    "gender": get_args(Gender),
    "age": get_args(Age),
    "pitch": get_args(Pitch),
    "pace": get_args(Pace),
    "timbre": get_args(Timbre),
    "breathiness": get_args(Breathiness),
    "expressiveness": get_args(Expressiveness),
    "accent": get_args(Accent),
}
UNSPECIFIED = "unspecified"


def attribute_schema() -> dict[str, Any]:
    """The JSON schema the model's answer must match: one enum per attribute, each allowing
    "unspecified" so the model need not guess what the description leaves open."""
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "enum": [*choices, UNSPECIFIED]}
            for name, choices in _CHOICES.items()
        },
        "required": list(_CHOICES),
        "additionalProperties": False,
    }


# --- rules -----------------------------------------------------------------------------------

_INTENSIFIER = r"(?:very|extremely|really|super|incredibly|exceptionally|quite\s+very)"
_NEGATION = re.compile(r"\b(?:not|never|no|isn't|without|neither|nor)\s+(?:\w+\s+){0,2}$")

# (attribute, value, patterns). Earlier entries win within an attribute when several match,
# so the more specific phrases come first.
_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # age: child before young ("young girl" is a child voice only with "little"/"child")
    (
        "age",
        "child",
        (
            r"child(?:ish|like)?",
            r"kids?",
            r"little (?:girl|boy)",
            r"toddler",
            r"(?:young|small) child",
            r"[5-9][- ]year[- ]old",
            r"children",
        ),
    ),
    ("age", "middle-aged", (r"middle[- ]aged", r"(?:for|fif)ties", r"mature")),
    (
        "age",
        "old",
        (
            r"old(?:er)?",
            r"elderly",
            r"aged",
            r"senior",
            r"grand(?:father|mother|pa|ma)",
            r"grandparent",
            r"ancient",
            r"(?:six|seven|eigh|nine)ties",
            r"retired",
            r"veteran",
            r"wise old",
            r"old-timer",
        ),
    ),
    (
        "age",
        "young",
        (
            r"young",
            r"youthful",
            r"teen(?:age|ager)?s?",
            r"twenties",
            r"college",
            r"student",
            r"adolescent",
        ),
    ),
    # gender
    (
        "gender",
        "female",
        (
            r"wom[ae]n",
            r"female",
            r"girl",
            r"lady",
            r"feminine",
            r"mother",
            r"mom",
            r"grandmother",
            r"grandma",
            r"she",
            r"her",
            r"actress",
            r"soprano",
            r"alto",
            r"mezzo",
            r"queen",
            r"aunt",
            r"sister",
            r"daughter",
            r"wife",
            r"businesswoman",
            r"gal",
            r"princess",
        ),
    ),
    (
        "gender",
        "male",
        (
            r"m[ae]n",
            r"male",
            r"boy",
            r"guy",
            r"gentleman",
            r"masculine",
            r"father",
            r"dad",
            r"grandfather",
            r"grandpa",
            r"he",
            r"his",
            r"him",
            r"baritone",
            r"bass",
            r"tenor",
            r"king",
            r"uncle",
            r"brother",
            r"son",
            r"husband",
            r"dude",
            r"businessman",
            r"fellow",
            r"prince",
            r"sir",
        ),
    ),
    (
        "gender",
        "neutral",
        (r"(?:gender[- ])?neutral", r"androgynous", r"non[- ]binary", r"genderless"),
    ),
    # pitch
    (
        "pitch",
        "very low",
        (
            rf"{_INTENSIFIER} (?:deep|low)(?:[- ]pitched)?",
            r"booming",
            r"bass",
            r"cavernous",
            r"rumbling",
        ),
    ),
    (
        "pitch",
        "very high",
        (rf"{_INTENSIFIER} high(?:[- ]pitched)?", r"squeaky", r"shrill", r"piping", r"chipmunk"),
    ),
    (
        "pitch",
        "low",
        (r"deep", r"low(?:[- ]pitched)?", r"baritone", r"gravelly", r"resonant", r"husky"),
    ),
    ("pitch", "high", (r"high(?:[- ]pitched)?", r"soprano", r"light", r"thin", r"tenor")),
    ("pitch", "medium", (r"medium[- ]pitched", r"mid[- ]pitched", r"average pitch")),
    # pace
    (
        "pace",
        "very slow",
        (rf"{_INTENSIFIER} slow(?:ly)?", r"painfully slow", r"drawl(?:ing)?", r"glacial"),
    ),
    (
        "pace",
        "very fast",
        (
            rf"{_INTENSIFIER} (?:fast|quick(?:ly)?|rapid(?:ly)?)",
            r"fast[- ]talking",
            r"rapid[- ]fire",
            r"breakneck",
            r"auctioneer",
        ),
    ),
    (
        "pace",
        "slow",
        (
            r"slow(?:ly|er)?",
            r"leisurely",
            r"unhurried",
            r"measured",
            r"deliberate(?:ly)?",
            r"languid",
            r"relaxed pace",
            r"takes? (?:his|her|their) time",
        ),
    ),
    (
        "pace",
        "fast",
        (
            r"fast(?:er)?",
            r"quick(?:ly)?",
            r"rapid(?:ly)?",
            r"brisk(?:ly)?",
            r"hurried",
            r"speedy",
            r"snappy",
            r"energetic",
        ),
    ),
    ("pace", "medium", (r"moderate pace", r"normal pace", r"steady pace", r"average pace")),
    # timbre
    ("timbre", "dark", (r"dark", r"gravelly", r"smoky", r"somber", r"gruff")),
    (
        "timbre",
        "warm",
        (
            r"warm(?:th)?",
            r"rich",
            r"mellow",
            r"velvety",
            r"smooth",
            r"soft",
            r"round",
            r"gentle",
            r"cozy",
            r"soothing",
        ),
    ),
    ("timbre", "crisp", (r"crisp", r"sharp", r"precise", r"clipped", r"articulate")),
    (
        "timbre",
        "bright",
        (
            r"bright",
            r"clear",
            r"brilliant",
            r"cheerful",
            r"sunny",
            r"bubbly",
            r"nasal",
            r"thin",
            r"light",
        ),
    ),
    # breathiness
    (
        "breathiness",
        "breathy",
        (r"breathy", r"airy", r"whisper(?:y|ing|ed)?", r"husky", r"raspy", r"hoarse", r"sultry"),
    ),
    (
        "breathiness",
        "slight",
        (r"soft[- ]spoken", r"slightly breathy", r"gravelly", r"soft", r"gentle"),
    ),
    # expressiveness
    (
        "expressiveness",
        "monotone",
        (r"monotone?", r"monotonous", r"flat", r"robotic", r"deadpan", r"emotionless"),
    ),
    (
        "expressiveness",
        "animated",
        (
            r"animated",
            r"dramatic",
            r"theatrical",
            r"excited",
            r"enthusiastic",
            r"over[- ]the[- ]top",
            r"exuberant",
        ),
    ),
    (
        "expressiveness",
        "lively",
        (
            r"lively",
            r"expressive",
            r"cheerful",
            r"bubbly",
            r"upbeat",
            r"energetic",
            r"playful",
            r"bright and friendly",
            r"peppy",
        ),
    ),
    (
        "expressiveness",
        "calm",
        (
            r"calm(?:ing)?",
            r"soothing",
            r"even",
            r"steady",
            r"serene",
            r"composed",
            r"measured",
            r"reassuring",
            r"relaxed",
        ),
    ),
    # accent
    ("accent", "scottish", (r"scottish", r"scots", r"glaswegian")),
    ("accent", "irish", (r"irish", r"dublin")),
    ("accent", "australian", (r"australian", r"aussie", r"new zealand", r"kiwi")),
    ("accent", "southern us", (r"southern", r"texan", r"texas")),
    ("accent", "indian", (r"indian",)),
    (
        "accent",
        "british",
        (
            r"british",
            r"english accent",
            r"english",
            r"london",
            r"cockney",
            r"received pronunciation",
            r"rp",
            r"posh",
        ),
    ),
    (
        "accent",
        "american",
        (
            r"american",
            r"general american",
            r"midwestern",
            r"californian",
            r"new york(?:er)?",
            r"us accent",
        ),
    ),
    (
        "accent",
        "other",
        (
            r"french",
            r"german",
            r"italian",
            r"spanish",
            r"russian",
            r"japanese",
            r"chinese",
            r"african",
            r"jamaican",
            r"caribbean",
            r"mexican",
            r"brazilian",
            r"dutch",
            r"swedish",
            r"polish",
            r"arabic",
            r"korean",
        ),
    ),
)
_COMPILED = tuple(
    (attribute, value, re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE))
    for attribute, value, patterns in _RULES
)


_YEARS_OLD = re.compile(
    r"\b(\d{1,3})(?:[- ]years?[- ]old|[- ]?yo\b|'?s\b)|\bin (?:his|her|their) (\d0)'?s\b"
)


def _age_from_years(years: int) -> str:
    if years < 13:
        return "child"
    if years < 30:
        return "young"
    if years < 45:
        return "adult"
    if years < 60:
        return "middle-aged"
    return "old"


def parse_rules(prompt: str) -> dict[str, str]:
    """The attributes the description states in so many words (others are absent)."""
    text = prompt.lower().replace("\u2019", "'")
    found: dict[str, tuple[int, str]] = {}
    years = _YEARS_OLD.search(text)
    if years:
        found["age"] = (years.start(), _age_from_years(int(years[1] or years[2])))
        text = text[: years.start()] + " " * (years.end() - years.start()) + text[years.end() :]
    for attribute, value, pattern in _COMPILED:
        for match in pattern.finditer(text):
            if _NEGATION.search(text[: match.start()][-40:]):
                continue
            # Accents count only near the word "accent" or as nationalities of the speaker;
            # "English" alone is also the language, which says nothing.
            if (
                attribute == "accent"
                and value in ("british", "other")
                and not re.search(r"accent|speaker|voice|man|woman|lady|gentleman|narrator", text)
            ):
                continue
            # The first rule (most specific) to match an attribute wins.
            if attribute not in found:
                found[attribute] = (match.start(), value)
            break
    result = {attribute: value for attribute, (_, value) in found.items()}
    # "high" in "high school", "light" as in "light-hearted" are not about pitch: drop a lone
    # weak pitch cue when it is part of such a phrase.
    if result.get("pitch") == "high" and re.search(r"high[- ]school|high[- ]energy", text):
        del result["pitch"]
    return result


# --- the dialogue model --------------------------------------------------------------------

_SYSTEM = (
    "You read a description of a speaking voice and fill in its attributes as JSON. "
    'Use only the allowed values. Use "unspecified" when the description does not say or '
    "imply the attribute. Age: child is under 13; old is over 60. Pitch is how high or deep "
    "the voice is compared with others of the same gender. Pace is how fast the person "
    "speaks. Timbre: dark or warm for rich, mellow, deep-toned voices; bright or crisp for "
    "clear, sharp ones."
)
_EXAMPLE_IN = "A cheerful young woman who talks quickly, with a bright, clear tone."
_EXAMPLE_OUT = {
    "gender": "female",
    "age": "young",
    "pitch": "unspecified",
    "pace": "fast",
    "timbre": "bright",
    "breathiness": "unspecified",
    "expressiveness": "lively",
    "accent": "unspecified",
}


class ModelParser:
    """The process's dialogue model (the model registry's: never a second copy) as a reader of
    voice attributes, its answer constrained to the attribute schema."""

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings

    def _messages(self, prompt: str) -> list[ChatMessage]:
        return [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": _EXAMPLE_IN},
            {"role": "assistant", "content": json.dumps(_EXAMPLE_OUT)},
            {"role": "user", "content": prompt},
        ]

    def parse(self, prompt: str) -> dict[str, str]:
        """Blocking (1-4 s on this CPU with the embedded model): call it from a worker thread."""
        from opencharacters.dialogue.engines import shared_dialogue_model

        model = shared_dialogue_model(self._settings)
        raw = asyncio.run(model.complete_json(self._messages(prompt), attribute_schema(), 200))
        return _validated(json.loads(raw))


def _validated(answer: Any) -> dict[str, str]:
    if not isinstance(answer, dict):
        raise ValueError("the model's answer is not a JSON object")
    out: dict[str, str] = {}
    for name, choices in _CHOICES.items():
        value = answer.get(name)
        if value in choices:
            out[name] = str(value)
        elif value not in (None, UNSPECIFIED):
            raise ValueError(f"the model answered {name}={value!r}, outside the schema")
    return out


_cache: OrderedDict[tuple[str, str], tuple[VoiceAttributes, str]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def combine(model: dict[str, str], rules: dict[str, str]) -> VoiceAttributes:
    """Defaults, overridden by the model's reading, overridden by what the rules found."""
    merged = {**model, **rules}
    values: dict[str, Any] = {
        f.name: merged[f.name] for f in fields(VoiceAttributes) if f.name in merged
    }
    return VoiceAttributes(**values)


def parse_prompt(
    prompt: str, settings: EngineSettings | None = None
) -> tuple[VoiceAttributes, str]:
    """(attributes, how they were read: "model+rules", "model", "rules" or "rules (model
    failed: ...)"). Blocking (the model takes 1-4 s on this CPU): call it from a worker thread."""
    settings = settings or EngineSettings()
    mode: ParserMode = settings.voices.prompt_parser
    key = (mode, prompt)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    rules = parse_rules(prompt)
    how = "rules"
    model: dict[str, str] = {}
    if mode in ("auto", "model"):
        try:
            model = ModelParser(settings).parse(prompt)
            how = "model" if mode == "model" else "model+rules"
        except Exception as exc:  # any failure of the model means: the rules decide
            log.warning("voice prompt parsing by the dialogue model failed: %s", exc)
            how = f"rules (model failed: {type(exc).__name__})"
    result = (combine(model, {} if how == "model" else rules), how)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result
