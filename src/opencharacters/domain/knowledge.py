"""How knowledge is measured: the token count behind the 50,000-tokens-per-avatar limit.

Tokens are counted with a fixed rule that approximates the tokenizer of the default dialogue model
(Qwen2.5's byte-level BPE), so the limit is the same on every server whatever model it runs, and
an API server can check it without loading any model:

- a run of ASCII letters counts one token per started 6 letters ("return" 1, "hypoallergenic" 3);
- a run of other letters (accented Latin, Cyrillic, Greek, ...) one per started 4 letters;
- Chinese, Japanese and Korean characters 0.75 each (rounded up per run);
- every digit counts one (Qwen splits numbers into single digits);
- a run of one repeated punctuation or symbol character one per started 4 ("---" 1, "." 1);
- whitespace is free.

Measured against Qwen2.5's tokenizer (bench/knowledge_bench.py prints the comparison), the rule
counts 3-14 % more tokens than the model on English prose, Markdown and code, about 26 % more on
JSON-heavy text, 16-33 % more on Chinese and Japanese, and up to 12 % fewer on German (long
compound words)."""

from __future__ import annotations

import re

MAX_AVATAR_KNOWLEDGE_TOKENS = 50_000
"""Runway's limit: the documents attached to one avatar hold at most this many tokens."""

_PIECE = re.compile(r"[^\W\d_]+|\d|([^\w\s])\1*|_+")


def _wide(ch: str) -> bool:
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF  # CJK radicals, kana, ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
    )


def _word_tokens(word: str) -> int:
    if word.isascii():
        return -(-len(word) // 6)
    wide = sum(1 for ch in word if _wide(ch))
    rest = len(word) - wide
    return -(-wide * 3 // 4) + (-(-rest // 4) if rest else 0)


def count_tokens(text: str, stop_above: int | None = None) -> int:
    """Tokens in `text` by the rule above. With `stop_above`, counting may stop as soon as the
    count exceeds it (the result is then some number above `stop_above`)."""
    total = 0
    for match in _PIECE.finditer(text):
        piece = match.group(0)
        first = piece[0]
        if first.isdigit():
            total += 1
        elif first.isalpha():
            total += _word_tokens(piece)
        else:
            total += -(-len(piece) // 4)
        if stop_above is not None and total > stop_above:
            return total
    return total
