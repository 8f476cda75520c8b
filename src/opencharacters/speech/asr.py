"""Speech recognition backends: the interface and the embedded Whisper (CTranslate2) one.

Whisper is trained on 30-second windows and faster-whisper always pads to 30 s, which costs about
1.1 s per utterance here whatever its length. CTranslate2's Whisper accepts shorter windows, so we
compute log-mel features for the utterance padded with silence to a few hundred frames only:
about 5x less encoder work for a 3 s utterance, with the same transcripts on our test set
(bench/asr_bench.py measures both)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from opencharacters.engine_settings import AsrSettings
from opencharacters.media.audio import Samples, resample

ASR_SAMPLE_RATE = 16_000
_HOP = 160
_MAX_WINDOW_FRAMES = 3000
_MAX_PIECE_S = 28.0


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    audio_s: float
    decode_s: float


class SpeechRecognizer(Protocol):
    """Turns one utterance into text. Implementations must not block the event loop."""

    async def transcribe(self, samples: Samples, sample_rate: int) -> Transcript: ...


def window_frames(n_samples: int, minimum: int) -> int:
    """Encoder window for an utterance: its frames plus a margin, in steps of 100 frames (1 s)
    so the encoder sees few distinct shapes; never below `minimum`, never above Whisper's 3000."""
    frames = n_samples // _HOP + 50
    return int(min(_MAX_WINDOW_FRAMES, max(minimum, -(-frames // 100) * 100)))


def drop_echo(text: str) -> str:
    """Whisper sometimes starts the utterance over once it has finished it ("Could you book a
    table? Could you book a"), more so on the silence after short windows. A trailing sentence
    that repeats the start of an earlier one is dropped."""
    sentences = re.findall(r"[^.?!]+[.?!]*", text)
    kept: list[str] = []
    for sentence in sentences:
        words = _words(sentence)
        if words and any(_repeats(words, _words(earlier)) for earlier in kept):
            continue
        kept.append(sentence)
    return "".join(kept).strip()


def _repeats(words: list[str], earlier: list[str]) -> bool:
    """`words` restarts `earlier`; its last word may be cut short ("Thursday" for "Thursdays")."""
    if len(words) > len(earlier):
        return False
    head, last = words[:-1], words[-1]
    return head == earlier[: len(head)] and earlier[len(head)].startswith(last)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


class WhisperRecognizer:
    """Whisper through ctranslate2 directly, with short feature windows."""

    def __init__(self, model_dir: Path, settings: AsrSettings) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        self._settings = settings
        self._model = ctranslate2.models.Whisper(
            str(model_dir),
            device="cpu",
            compute_type=settings.compute_type,
            intra_threads=settings.threads,
            inter_threads=1,
        )
        self._features = FeatureExtractor(feature_size=self._model.n_mels)
        hf_tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer = Tokenizer(
            hf_tokenizer,
            self._model.is_multilingual,
            task="transcribe",
            language=settings.language if self._model.is_multilingual else None,
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        # One decode at a time: two would only fight over the same two cores.
        self._lock = threading.Lock()

    @property
    def language(self) -> str:
        return str(self._tokenizer.language_code)

    def transcribe_sync(self, samples: Samples, sample_rate: int = ASR_SAMPLE_RATE) -> Transcript:
        started = time.perf_counter()
        audio = resample(samples, sample_rate, ASR_SAMPLE_RATE)
        piece = int(_MAX_PIECE_S * ASR_SAMPLE_RATE)
        texts = [
            self._decode_piece(audio[i : i + piece]) for i in range(0, max(len(audio), 1), piece)
        ]
        text = " ".join(t for t in texts if t)
        return Transcript(
            text=text,
            language=self.language,
            audio_s=len(audio) / ASR_SAMPLE_RATE,
            decode_s=time.perf_counter() - started,
        )

    def _decode_piece(self, audio: Samples) -> str:
        import ctranslate2

        if len(audio) < ASR_SAMPLE_RATE // 10:
            return ""
        frames = window_frames(len(audio), self._settings.min_window_frames)
        padded = np.zeros(frames * _HOP, dtype=np.float32)
        padded[: len(audio)] = audio[: len(padded)]
        mel = self._features(padded, padding=0)[:, :frames]
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], np.float32))
        # About 3 words (4 tokens) per second of speech: a generous cap stops a runaway loop.
        max_tokens = min(224, 16 + int(len(audio) / ASR_SAMPLE_RATE * 8))
        with self._lock:
            result = self._model.generate(
                features,
                [self._prompt],
                beam_size=self._settings.beam_size,
                max_length=max_tokens,
                return_no_speech_prob=True,
                suppress_blank=True,
            )[0]
        if result.no_speech_prob > 0.6 and not result.sequences_ids[0]:
            return ""
        return drop_echo(str(self._tokenizer.decode(result.sequences_ids[0])).strip())

    async def transcribe(self, samples: Samples, sample_rate: int) -> Transcript:
        return await asyncio.to_thread(self.transcribe_sync, samples, sample_rate)
