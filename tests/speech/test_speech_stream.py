"""Streaming a sentence: the vocoder decoded in windows, the voice transform in pieces, and the
resampling across them, each against its whole-sentence counterpart on the real Piper voice."""

from __future__ import annotations

import numpy as np
import pytest

from opencharacters.domain.voice_designs import VOICE_DESIGNS
from opencharacters.media.audio import StreamResampler, resample
from opencharacters.speech.piper_stream import SplitPiper
from opencharacters.speech.tts import PresetSynthesizer
from opencharacters.speech.voice_transform import TransformStream, soft_limit, transform

pytestmark = pytest.mark.integration

SENTENCE = "A check-up costs sixty dollars, and the clinic is open on weekdays."


@pytest.fixture(scope="module")
def split(synthesizer: PresetSynthesizer) -> SplitPiper:
    found = synthesizer.base_for("clara").split
    assert found is not None, "the packaged voice splits at its decoder"
    return found


def test_windows_decode_to_the_whole_sentence(split: SplitPiper) -> None:
    latent = split.latent(split.sentences(SENTENCE)[0], None, None)
    whole = split.decode(latent, 0, latent.n_frames)
    windows = list(split.windows(latent, 20))
    assert len(windows) >= 3
    assert len(whole) == latent.n_samples == sum(len(w) for w in windows)
    assert np.abs(np.concatenate(windows) - whole).max() < 1e-4
    assert latent.spans is not None
    assert sum(span.samples for span in latent.spans) == latent.n_samples


def test_the_transform_in_pieces_matches_the_whole(split: SplitPiper) -> None:
    """WORLD's noise differs run to run, so loudness per 20 ms frame is compared: the same
    contour, and no frame near a join off by more than the runs differ elsewhere."""
    rate = split.sample_rate
    design = VOICE_DESIGNS["clara"]
    latent = split.latent(split.sentences(SENTENCE)[0], design.length_scale, design.noise_w)
    raw = split.decode(latent, 0, latent.n_frames)
    stream = TransformStream(rate, design, 98.0, 1.0)
    pieces = [stream.push(window) for window in split.windows(latent, 48)]
    pieces.append(stream.finish())
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(raw)
    assert sum(1 for p in pieces if len(p)) >= 2
    whole = transform(raw, rate, design, 98.0)

    def level_db(audio: np.ndarray) -> np.ndarray:
        frame = rate // 50
        n = len(audio) // frame
        frames = audio[: n * frame].reshape(n, frame).astype(np.float64)
        return np.asarray(10 * np.log10(np.mean(frames**2, axis=1) + 1e-9))

    a = level_db(streamed / np.sqrt(np.mean(streamed.astype(np.float64) ** 2)))
    b = level_db(whole / np.sqrt(np.mean(whole.astype(np.float64) ** 2)))
    loud = (a > -30) | (b > -30)
    assert np.corrcoef(a[loud], b[loud])[0, 1] > 0.95
    assert np.median(np.abs(a[loud] - b[loud])) < 1.5


def test_resampling_in_pieces_has_no_seams() -> None:
    t = np.arange(22050) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    resampler = StreamResampler(22050, 48000)
    pieces = [resampler.push(tone[:5000]), resampler.push(tone[5000:12345])]
    pieces += [resampler.push(tone[12345:]), resampler.flush()]
    streamed = np.concatenate(pieces)
    whole = resample(tone, 22050, 48000)
    assert len(streamed) == len(whole) == 48000
    assert np.abs(streamed[1000:-1000] - whole[1000:-1000]).max() < 1e-3
    same_rate = StreamResampler(22050, 22050)
    assert np.array_equal(same_rate.push(tone), tone) and len(same_rate.flush()) == 0


def test_the_soft_limit_bends_only_the_peaks() -> None:
    audio = np.array([0.0, 0.5, -0.84, 0.9, -1.5, 3.0])
    limited = soft_limit(audio)
    assert np.allclose(limited[:3], audio[:3])
    assert np.all(np.abs(limited) <= 1.0) and limited[4] < -0.85 and 0.85 < limited[3] < limited[5]


def test_every_voice_speaks_at_about_the_same_level(synthesizer: PresetSynthesizer) -> None:
    levels = {}
    for voice in ("clara", "vincent", "victoria"):
        audio = synthesizer.synthesize_text("Thanks for calling, how can I help you today?", voice)
        levels[voice] = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
        assert np.abs(audio).max() <= 1.0
    assert max(levels.values()) / min(levels.values()) < 1.6, levels
    assert min(levels.values()) > 0.04 and max(levels.values()) < 0.2, levels


def test_a_graph_without_piper_s_decoder_is_not_split(synthesizer: PresetSynthesizer) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"], name="/other/Identity")],
        "not-piper",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])],
    )
    voice = synthesizer.base_for("clara").voice
    assert SplitPiper.from_model(voice, helper.make_model(graph), None, 1) is None
    assert onnx.checker.check_model(helper.make_model(graph)) is None


def test_ids_that_do_not_line_up_give_no_spans() -> None:
    from opencharacters.speech.piper_stream import _phoneme_spans

    id_map = {"_": [0], "^": [1], "$": [2], "a": [5]}
    counts = np.array([1, 1, 3, 1, 2], dtype=np.int64)
    spans = _phoneme_spans(["a"], [1, 0, 5, 0, 2], counts, id_map)
    assert spans is not None and [(s.phoneme, s.samples) for s in spans] == [
        ("^", 2),
        ("a", 4),
        ("$", 2),
    ]
    assert _phoneme_spans(["a"], [1, 0, 6, 0, 2], counts, id_map) is None
    assert _phoneme_spans(["a"], [1, 0, 5, 0], counts, id_map) is None


def test_a_voice_that_cannot_be_split_speaks_whole_sentences(
    synthesizer: PresetSynthesizer,
) -> None:
    """The fallback for Piper voices exported without the usual node names: one piece per
    sentence, peak-normalized as before, with timings that end with the audio."""
    from dataclasses import replace

    base = synthesizer.base_for("clara")
    design = VOICE_DESIGNS["clara"]
    unsplit = replace(base, split=None)
    pieces = list(synthesizer._whole_sentences("Hello there. How are you?", unsplit, design))
    assert len(pieces) == 2
    for audio, timings, _ in pieces:
        assert np.abs(audio).max() == pytest.approx(0.9, abs=0.01)
        assert timings[-1].end_s == pytest.approx(len(audio) / synthesizer.sample_rate, abs=0.05)
