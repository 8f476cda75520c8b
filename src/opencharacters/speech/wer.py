"""Word error rate, as the benches and tests score ASR and TTS intelligibility."""

from __future__ import annotations

import re

_NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}  # fmt: skip


def normalize_words(text: str) -> list[str]:
    """Lower case, no punctuation, single digits spelled out (Whisper writes "2", we say "two"),
    and a range of digits read as said (Whisper writes "nine to five" as "9-5")."""
    spoken = re.sub(r"(\d+)-(\d+)", r"\1 to \2", text.lower())
    words = re.findall(r"[a-z0-9']+", spoken.replace("-", " "))
    return [_NUMBERS.get(word, word).strip("'") for word in words]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word-level edit distance, number of reference words)."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word))
            previous, row[j] = row[j], current
    return row[len(hyp)], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    errors, total = word_errors(reference, hypothesis)
    return errors / max(total, 1)
