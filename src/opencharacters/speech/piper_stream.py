"""A Piper voice split at its vocoder, so a sentence's audio comes out a piece at a time.

Piper (VITS) turns phonemes into a latent sequence (text encoder, duration predictor, flow), one
frame per `hop_length` samples, and a HiFi-GAN decoder turns those frames into audio. The first
part is cheap and needs the whole sentence (durations, prosody); the decoder is most of the cost
and is convolutional, so a window of frames with enough frames of context either side decodes
to exactly the samples the whole sentence would have (checked in the tests). The first words
can then be heard after decoding a fraction of the sentence instead of all of it.

The split needs the graph Piper's training code exports (the decoder's first node
`/dec/conv_pre/Conv`, reading one tensor); a voice exported otherwise is played whole."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from opencharacters.media.audio import Samples

DECODER_CONTEXT_FRAMES = 16
"""Latent frames decoded either side of a window and thrown away: the decoder's reach is below
this, so the window's samples equal the whole sentence's (a max difference of ~1e-6)."""

_DECODER_FIRST_NODE = "/dec/conv_pre/Conv"
_DECODER_OUTPUT = "/dec/Tanh_output_0"
_PAD, _BOS, _EOS = "_", "^", "$"  # piper.const


@dataclass(frozen=True, slots=True)
class PhonemeSpan:
    phoneme: str
    samples: int


@dataclass(frozen=True, slots=True)
class Latent:
    """One sentence before the vocoder."""

    frames: npt.NDArray[np.float32]
    """(1, channels, n_frames)"""
    hop_length: int
    spans: tuple[PhonemeSpan, ...] | None
    """Samples per phoneme (with its following pad), when the model exposes durations."""

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[2])

    @property
    def n_samples(self) -> int:
        return self.n_frames * self.hop_length


class SplitPiper:
    """The two halves of one Piper voice as ONNX sessions, sharing the voice's config."""

    def __init__(self, voice: Any, front: Any, decoder: Any, durations_output: bool) -> None:
        self.voice = voice
        """piper.PiperVoice: phonemization and phoneme ids."""
        self._front = front
        self._decoder = decoder
        self._latent_input = str(decoder.get_inputs()[0].name)
        self._durations_output = durations_output

    @classmethod
    def from_model(
        cls, voice: Any, proto: Any, durations_output: str | None, threads: int
    ) -> SplitPiper | None:
        """None when the graph has no decoder to split at (see the module's docstring)."""
        import onnx.utils
        import onnxruntime as ort

        first = next((n for n in proto.graph.node if n.name == _DECODER_FIRST_NODE), None)
        names = {o for n in proto.graph.node for o in n.output}
        if first is None or _DECODER_OUTPUT not in names:
            return None
        latent = str(first.input[0])
        inputs = [i.name for i in proto.graph.input]
        outputs = [latent] + ([durations_output] if durations_output else [])
        try:
            extractor = onnx.utils.Extractor(proto)
            front = extractor.extract_model(inputs, outputs)
            decoder = extractor.extract_model([latent], [_DECODER_OUTPUT])
        except Exception:  # onnx raises plain Exceptions for graphs it cannot cut
            return None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1

        def session(model: Any) -> Any:
            return ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )

        return cls(voice, session(front), session(decoder), durations_output is not None)

    @property
    def sample_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    def sentences(self, text: str) -> list[list[str]]:
        return [p for p in self.voice.phonemize(text) if p]

    def latent(
        self, phonemes: list[str], length_scale: float | None, noise_w: float | None
    ) -> Latent:
        config = self.voice.config
        ids = self.voice.phonemes_to_ids(phonemes)
        scales = np.array(
            [
                config.noise_scale,
                config.length_scale if length_scale is None else length_scale,
                config.noise_w_scale if noise_w is None else noise_w,
            ],
            dtype=np.float32,
        )
        feed: dict[str, Any] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        }
        if config.num_speakers > 1:
            feed["sid"] = np.array([config.default_speaker_id or 0], dtype=np.int64)
        result = self._front.run(None, feed)
        frames = np.asarray(result[0], dtype=np.float32)
        hop = int(config.hop_length)
        spans = None
        if self._durations_output:
            per_id = (np.asarray(result[1]).reshape(-1) * hop).astype(np.int64)
            spans = _phoneme_spans(phonemes, ids, per_id, config.phoneme_id_map)
        return Latent(frames, hop, spans)

    def decode(self, latent: Latent, start: int, end: int) -> Samples:
        """Audio of frames [start, end), as the whole sentence's decoding would give it."""
        lo = max(0, start - DECODER_CONTEXT_FRAMES)
        hi = min(latent.n_frames, end + DECODER_CONTEXT_FRAMES)
        audio = self._decoder.run(None, {self._latent_input: latent.frames[:, :, lo:hi]})[0]
        flat = np.asarray(audio, dtype=np.float32).reshape(-1)
        offset = (start - lo) * latent.hop_length
        return flat[offset : offset + (end - start) * latent.hop_length]

    def windows(self, latent: Latent, first: int) -> Iterator[Samples]:
        """The sentence's audio in windows: `first` frames, then two of half that (a first
        piece is cut as soon as an unvoiced stretch shows up), then each twice the last (the
        rest with little decoding repeated)."""
        sizes = itertools.chain(
            [first, first // 2, first // 2], (first * 2**k for k in itertools.count())
        )
        start = 0
        for size in sizes:
            if start >= latent.n_frames:
                return
            end = min(latent.n_frames, start + max(1, size))
            yield self.decode(latent, start, end)
            start = end


def _phoneme_spans(
    phonemes: list[str],
    ids: Sequence[int],
    samples_per_id: npt.NDArray[np.int64],
    id_map: dict[str, list[int]],
) -> tuple[PhonemeSpan, ...] | None:
    """Piper's own grouping of ids into phonemes (each but the last followed by a pad id),
    as `PiperVoice.synthesize` does for its alignments; None when the ids do not line up."""
    if len(samples_per_id) != len(ids):
        return None
    pad = id_map.get(_PAD, [])
    position = 0
    spans = []
    for phoneme in itertools.chain([_BOS], phonemes, [_EOS]):
        expected = list(id_map.get(phoneme, [])) + (list(pad) if phoneme != _EOS else [])
        if list(ids[position : position + len(expected)]) != expected:
            return None
        count = int(samples_per_id[position : position + len(expected)].sum())
        spans.append(PhonemeSpan(phoneme, count))
        position += len(expected)
    return tuple(spans)
