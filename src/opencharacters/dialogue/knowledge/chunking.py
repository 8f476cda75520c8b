"""Cutting documents into passages that respect their Markdown structure.

A document is read as blocks: ATX and setext headings, fenced code, tables, lists, block quotes and
paragraphs. Blocks are packed into chunks of about `target_tokens` within one section (a chunk
never spans two headings), and every chunk carries its heading path ("Returns > What is your
returns policy?"), which is searched and shown with it. A block is only cut when it alone is larger
than `max_tokens`: paragraphs at sentence ends, lists between items, tables between rows (the
header row is repeated), code between lines. Plain text is the same path without headings.

Sizes are in the tokens of `opencharacters.domain.knowledge.count_tokens`, the rule that also
counts the 50,000-token limit (a close, slightly generous stand-in for the dialogue model's
tokenizer)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from opencharacters.domain.knowledge import count_tokens

TARGET_TOKENS = 160
MAX_TOKENS = 256

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_ROW = re.compile(r"^ {0,3}\|")
_QUOTE = re.compile(r"^ {0,3}>")
_RULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
# Sentence ends: ASCII . ! ? and the ellipsis, ideographic full stop, fullwidth ! and ?,
# then closing quotes or brackets (straight or curly).
_SENTENCE_END = re.compile("(?<=[.!?\u2026\u3002\uff01\uff1f])[\"'\u201d\u2019)\\]]*\\s+")


@dataclass(frozen=True, slots=True)
class Block:
    kind: str
    """heading, paragraph, list, table, code, quote"""
    text: str
    level: int = 0


@dataclass(frozen=True, slots=True)
class Chunk:
    headings: tuple[str, ...]
    body: str
    tokens: int
    """Tokens of `text` (heading path and body)."""

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)

    @property
    def text(self) -> str:
        """What is indexed and shown: the heading path, then the body."""
        return f"{self.heading_path}\n{self.body}" if self.headings else self.body


def parse_blocks(text: str) -> list[Block]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            j = i + 1
            while j < n and not lines[j].lstrip().startswith(marker):
                j += 1
            blocks.append(Block("code", "\n".join(lines[i : j + 1])))
            i = j + 1
            continue
        heading = _ATX.match(line)
        if heading:
            blocks.append(Block("heading", (heading.group(2) or "").strip(), len(heading.group(1))))
            i += 1
            continue
        if _TABLE_ROW.match(line):
            j = i
            while j < n and _TABLE_ROW.match(lines[j]):
                j += 1
            blocks.append(Block("table", "\n".join(lines[i:j])))
            i = j
            continue
        if _RULE.match(line):
            i += 1
            continue
        if _LIST_ITEM.match(line):
            j = i + 1
            while j < n:
                nxt = lines[j]
                if _LIST_ITEM.match(nxt) or (nxt.strip() and nxt[:1] in " \t"):
                    j += 1
                elif (
                    not nxt.strip()
                    and j + 1 < n
                    and (_LIST_ITEM.match(lines[j + 1]) or lines[j + 1][:1] in " \t")
                ):
                    j += 1  # a loose list: blank lines between items
                else:
                    break
            blocks.append(Block("list", "\n".join(x for x in lines[i:j] if x.strip())))
            i = j
            continue
        if _QUOTE.match(line):
            j = i
            while j < n and lines[j].strip() and _QUOTE.match(lines[j]):
                j += 1
            blocks.append(Block("quote", "\n".join(lines[i:j])))
            i = j
            continue
        # A paragraph runs to a blank line or the start of another kind of block; a single
        # line underlined with === or --- is a setext heading.
        j = i + 1
        setext = 0
        while j < n:
            nxt = lines[j]
            if not nxt.strip():
                break
            if j == i + 1 and _SETEXT.match(nxt):
                setext = 1 if "=" in nxt else 2
                break
            if (
                _ATX.match(nxt)
                or _FENCE.match(nxt)
                or _LIST_ITEM.match(nxt)
                or _TABLE_ROW.match(nxt)
                or _QUOTE.match(nxt)
            ):
                break
            j += 1
        if setext:
            blocks.append(Block("heading", line.strip(), setext))
            i = j + 1
            continue
        blocks.append(Block("paragraph", "\n".join(lines[i:j])))
        i = j
    return blocks


def _split_oversized(block: Block, max_tokens: int) -> list[str]:
    """Pieces of a block that alone exceeds `max_tokens`, cut at the block's natural seams."""
    if block.kind == "paragraph" or block.kind == "quote":
        units = [s for s in _SENTENCE_END.split(block.text) if s.strip()]
        joiner = " "
    elif block.kind == "list":
        units = []
        current: list[str] = []
        for line in block.text.split("\n"):
            if _LIST_ITEM.match(line) and current:
                units.append("\n".join(current))
                current = []
            current.append(line)
        if current:
            units.append("\n".join(current))
        joiner = "\n"
    elif block.kind == "table":
        rows = block.text.split("\n")
        header = (
            rows[:2]
            if len(rows) > 2 and set(rows[1].replace("|", "").strip()) <= set("-: ")
            else rows[:1]
        )
        body_rows = rows[len(header) :]
        pieces: list[str] = []
        current_rows: list[str] = []
        for row in body_rows:
            candidate = "\n".join([*header, *current_rows, row])
            if current_rows and count_tokens(candidate) > max_tokens:
                pieces.append("\n".join([*header, *current_rows]))
                current_rows = []
            current_rows.append(row)
        if current_rows:
            pieces.append("\n".join([*header, *current_rows]))
        return [p for piece in pieces for p in _hard_split(piece, max_tokens)]
    else:
        units = block.text.split("\n")
        joiner = "\n"
    pieces = []
    current_units: list[str] = []
    for unit in units:
        for part in _hard_split(unit, max_tokens):
            candidate = joiner.join([*current_units, part])
            if current_units and count_tokens(candidate) > max_tokens:
                pieces.append(joiner.join(current_units))
                current_units = []
            current_units.append(part)
    if current_units:
        pieces.append(joiner.join(current_units))
    return pieces


def _hard_split(text: str, max_tokens: int) -> list[str]:
    """Last resort for a single sentence or line that is still too large: cut between words."""
    if count_tokens(text) <= max_tokens:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    for word in text.split(" "):
        if current and count_tokens(" ".join([*current, word])) > max_tokens:
            pieces.append(" ".join(current))
            current = []
        if count_tokens(word) > max_tokens:  # one enormous "word" (a URL, base64 ...)
            step = max_tokens * 3
            pieces.extend(word[k : k + step] for k in range(0, len(word), step))
            continue
        current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def _sections(blocks: list[Block]) -> Iterator[tuple[tuple[str, ...], list[Block]]]:
    path: list[tuple[int, str]] = []
    body: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            if body:
                yield tuple(t for _, t in path), body
                body = []
            while path and path[-1][0] >= block.level:
                path.pop()
            if block.text:
                path.append((block.level, block.text))
            continue
        body.append(block)
    if body:
        yield tuple(t for _, t in path), body


def _pack(
    headings: tuple[str, ...], blocks: list[Block], target_tokens: int, max_tokens: int
) -> list[Chunk]:
    """One section's blocks packed into chunks."""
    head_tokens = count_tokens(" > ".join(headings)) + 1 if headings else 0
    budget = max(max_tokens - head_tokens, 32)
    target = max(min(target_tokens, budget) - head_tokens // 2, 16)
    groups: list[list[str]] = []
    current: list[str] = []
    current_tokens = 0
    for block in blocks:
        tokens = count_tokens(block.text)
        pieces = [block.text] if tokens <= budget else _split_oversized(block, budget)
        for piece in pieces:
            piece_tokens = tokens if len(pieces) == 1 else count_tokens(piece)
            if current and (current_tokens + piece_tokens > budget or current_tokens >= target):
                groups.append(current)
                current, current_tokens = [], 0
            current.append(piece)
            current_tokens += piece_tokens
    if current:
        groups.append(current)
    chunks = []
    for group in groups:
        body = "\n\n".join(group)
        text = f"{' > '.join(headings)}\n{body}" if headings else body
        chunks.append(Chunk(headings, body, count_tokens(text)))
    return chunks


def chunk_document(
    text: str, *, target_tokens: int = TARGET_TOKENS, max_tokens: int = MAX_TOKENS
) -> list[Chunk]:
    """The chunks of one Markdown or plain-text document, in document order."""
    chunks: list[Chunk] = []
    for headings, blocks in _sections(parse_blocks(text)):
        chunks.extend(_pack(headings, blocks, target_tokens, max_tokens))
    return chunks
