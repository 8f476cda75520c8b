"""VAD and end-of-turn: real Silero on known speech/silence boundaries, plus the timing rules
with a scripted VAD."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from opencharacters.engine_settings import EngineSettings, VadSettings
from opencharacters.media.audio import Samples
from opencharacters.speech.engines import load_turn_detector
from opencharacters.speech.turns import TurnDetector, TurnEvent, ends_sentence
from opencharacters.speech.vad import VAD_FRAME_SAMPLES

pytestmark = pytest.mark.integration

FRAME_S = VAD_FRAME_SAMPLES / 16_000


def _feed(detector: TurnDetector, audio: Samples, step: int = 320) -> list[TurnEvent]:
    events: list[TurnEvent] = []
    for i in range(0, len(audio), step):
        events.extend(detector.push(audio[i : i + step]))
    return events


def test_real_vad_finds_the_speech_boundaries(
    engine_settings: EngineSettings,
    speak16k: Callable[[str], Samples],
    silence: Callable[[float], Samples],
) -> None:
    first = speak16k("Could you book me a table for two at seven tonight?")
    second = speak16k("Thanks, that would be great.")
    audio = np.concatenate([silence(1.0), first, silence(2.0), second, silence(1.5)])
    events = _feed(load_turn_detector(engine_settings), audio)
    kinds = [event.kind for event in events]
    assert kinds == ["speech_start", "turn_end", "speech_start", "turn_end"]
    first_end = 1.0 + len(first) / 16_000
    second_start = first_end + 2.0
    # Piper leaves a little silence around its speech, so the true boundaries are inside these.
    assert 1.0 <= events[0].speech_start_s <= 1.35
    assert events[1].speech_end_s is not None
    assert first_end - 0.4 <= events[1].speech_end_s <= first_end + 0.1
    assert second_start <= events[2].speech_start_s <= second_start + 0.35
    assert events[1].audio is not None
    assert 0.8 * len(first) <= len(events[1].audio) <= len(first) + 16_000 * 0.5


def test_real_vad_ignores_silence_and_low_noise(
    engine_settings: EngineSettings, silence: Callable[[float], Samples]
) -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16_000 * 2) * 0.003).astype(np.float32)
    detector = load_turn_detector(engine_settings)
    assert _feed(detector, np.concatenate([silence(1.0), noise])) == []
    assert not detector.in_speech


class ScriptedVad:
    """Speech probabilities from a script, one per frame (unit tests of the timing rules)."""

    def __init__(self, probabilities: list[float]) -> None:
        self._probabilities: Iterator[float] = iter(probabilities)

    def probability(self, frame: Samples) -> float:
        return next(self._probabilities, 0.0)


def _frames(seconds: float) -> int:
    return round(seconds / FRAME_S)


def _run_script(speech_s: float, pause_s: float, partial: str) -> list[TurnEvent]:
    script = [0.0] * _frames(0.3) + [0.9] * _frames(speech_s) + [0.05] * _frames(pause_s)
    settings = VadSettings(end_silence_ms=700, end_silence_after_sentence_ms=300)
    detector = TurnDetector(ScriptedVad(script), settings)  # type: ignore[arg-type]
    detector.set_partial_transcript("")
    events = []
    audio = np.zeros(len(script) * VAD_FRAME_SAMPLES, dtype=np.float32)
    for i in range(0, len(audio), VAD_FRAME_SAMPLES):
        events.extend(detector.push(audio[i : i + VAD_FRAME_SAMPLES]))
        if detector.in_speech:
            detector.set_partial_transcript(partial)
    return events


@pytest.mark.parametrize(
    ("partial", "pause_s", "ends"),
    [
        ("Could you book a table for two?", 0.4, True),
        ("I would like to", 0.4, False),
        ("I would like to", 0.8, True),
        ("", 0.5, False),
    ],
)
def test_a_finished_sentence_needs_a_shorter_pause(
    partial: str, pause_s: float, ends: bool
) -> None:
    events = _run_script(1.0, pause_s, partial)
    assert [e.kind for e in events] == (["speech_start", "turn_end"] if ends else ["speech_start"])


def test_turn_end_time_follows_the_silence_rule() -> None:
    events = _run_script(1.0, 1.0, "Thanks, that's all.")
    end = events[-1]
    assert end.speech_end_s is not None
    assert end.time_s - end.speech_end_s == pytest.approx(0.3, abs=2 * FRAME_S)


def test_a_click_is_not_speech() -> None:
    assert _run_script(0.1, 1.0, "") == []


def _turn_audio_frames(script: list[float]) -> tuple[list[TurnEvent], list[int]]:
    """Runs a script over audio whose every frame holds its own index; returns the events and
    the frame indices the turn's audio is made of."""
    detector = TurnDetector(ScriptedVad(script), VadSettings())  # type: ignore[arg-type]
    audio = np.repeat(np.arange(len(script), dtype=np.float32), VAD_FRAME_SAMPLES)
    events = detector.push(audio)
    ended = [e for e in events if e.kind == "turn_end"]
    assert ended and ended[0].audio is not None
    frames = ended[0].audio.reshape(-1, VAD_FRAME_SAMPLES)[:, 0]
    return events, [int(f) for f in frames]


def test_a_short_word_just_before_the_speech_is_part_of_the_turn() -> None:
    """ "Stop," (5 frames: too short to start a turn), a 0.2 s pause, then "please, ...": the
    turn starts on "please", but its audio starts before "Stop", or Whisper never hears it."""
    quiet, stop, pause = _frames(0.5), 5, _frames(0.2)
    script = [0.0] * quiet + [0.9] * stop + [0.05] * pause + [0.9] * _frames(1.0) + [0.0] * 40
    events, frames = _turn_audio_frames(script)
    assert events[0].speech_start_s == pytest.approx((quiet + stop + pause) * FRAME_S)
    pad = _frames(0.2)
    assert frames[0] == quiet - pad  # the word, and the usual pre-roll before it
    assert frames == list(range(frames[0], frames[-1] + 1))


def test_short_sounds_are_kept_at_most_one_second_before_the_speech() -> None:
    """A chain of short sounds, each close to the next, reaches back 1 s at most."""
    quiet, burst, gap, bursts = _frames(0.5), 5, 5, 6  # 6 x 0.32 s: ~1.9 s of chain
    chain = ([0.9] * burst + [0.05] * gap) * bursts
    script = [0.0] * quiet + chain + [0.9] * _frames(1.0) + [0.0] * 40
    events, frames = _turn_audio_frames(script)
    start = quiet + len(chain)
    assert events[0].speech_start_s == pytest.approx(start * FRAME_S)
    assert frames[0] == start - _frames(0.2) - _frames(1.0)


def test_a_sound_long_before_the_speech_is_not() -> None:
    quiet, click, pause = _frames(0.5), 5, _frames(0.8)
    script = [0.0] * quiet + [0.9] * click + [0.05] * pause + [0.9] * _frames(1.0) + [0.0] * 40
    _, frames = _turn_audio_frames(script)
    assert frames[0] == quiet + click + pause - _frames(0.2)  # the usual pre-roll only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Could you help me?", True),
        ("That's all.", True),
        ("I want to go to.", False),
        ("Well...", False),
        ("and then the", False),
        ("", False),
    ],
)
def test_ends_sentence(text: str, expected: bool) -> None:
    assert ends_sentence(text) is expected


def test_a_partial_older_than_the_last_words_does_not_shorten_the_pause() -> None:
    # Speech 1 s, a partial ending a sentence decoded from that first second only, then the
    # caller goes on for 0.5 s and pauses 0.4 s: the 700 ms mid-phrase pause still applies.
    script = [0.0] * _frames(0.3) + [0.9] * _frames(1.5) + [0.05] * _frames(0.4)
    detector = TurnDetector(ScriptedVad(script), VadSettings())  # type: ignore[arg-type]
    events: list[TurnEvent] = []
    stale_partial_set = False
    for _ in script:
        events.extend(detector.push(np.zeros(VAD_FRAME_SAMPLES, dtype=np.float32)))
        covered = len(detector.utterance_so_far())
        if detector.in_speech and not stale_partial_set and covered >= 16_000:
            detector.set_partial_transcript("Book a table for two.", covers_samples=covered)
            stale_partial_set = True
    assert stale_partial_set
    assert [e.kind for e in events] == ["speech_start"]


def test_streams_sharing_the_model_keep_their_own_state(
    engine_settings: EngineSettings,
    speak16k: Callable[[str], Samples],
    silence: Callable[[float], Samples],
) -> None:
    talking = np.concatenate([silence(0.5), speak16k("Hello, is anyone there?"), silence(1.5)])
    quiet = silence(len(talking) / 16_000)
    caller, other = load_turn_detector(engine_settings), load_turn_detector(engine_settings)
    caller_events, other_events = [], []
    for i in range(0, len(talking), 512):  # interleaved, frame by frame
        caller_events.extend(caller.push(talking[i : i + 512]))
        other_events.extend(other.push(quiet[i : i + 512]))
    assert [e.kind for e in caller_events] == ["speech_start", "turn_end"]
    assert other_events == []
