"""Chunking along Markdown structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencharacters.dialogue.knowledge.chunking import chunk_document, parse_blocks
from opencharacters.domain.knowledge import count_tokens

pytestmark = pytest.mark.unit

FAQ = Path(__file__).parents[3] / "bench" / "data" / "store_faq.md"

DOC = """# Store

Intro paragraph.

## Returns

### Policy

You can return items within 45 days.

- opened mattresses
- gift cards
  (physical or digital)

| Service | Price |
|---|---|
| Standard | $6.95 |

```python
print("# not a heading")
```

Section title
-------------

Under a setext heading.
"""


def test_blocks_keep_lists_tables_and_code_whole() -> None:
    blocks = parse_blocks(DOC)
    kinds = [b.kind for b in blocks]
    assert kinds == [
        "heading",
        "paragraph",
        "heading",
        "heading",
        "paragraph",
        "list",
        "table",
        "code",
        "heading",
        "paragraph",
    ]
    listed = next(b for b in blocks if b.kind == "list")
    assert "(physical or digital)" in listed.text
    code = next(b for b in blocks if b.kind == "code")
    assert "# not a heading" in code.text
    assert blocks[8].text == "Section title" and blocks[8].level == 2


def test_chunks_carry_their_heading_path_and_never_cross_headings() -> None:
    chunks = chunk_document(DOC)
    paths = [c.headings for c in chunks]
    assert paths == [
        ("Store",),
        ("Store", "Returns", "Policy"),
        ("Store", "Section title"),
    ]
    policy = chunks[1]
    assert policy.text.startswith("Store > Returns > Policy\n")
    assert "| Standard | $6.95 |" in policy.body and "- gift cards" in policy.body
    assert policy.tokens == count_tokens(policy.text)


def test_plain_text_is_cut_at_paragraphs() -> None:
    text = "\n\n".join(f"Paragraph {i} says something about topic {i}. " * 6 for i in range(12))
    chunks = chunk_document(text, target_tokens=60, max_tokens=120)
    assert len(chunks) > 1
    assert all(c.headings == () for c in chunks)
    assert all(c.tokens <= 120 for c in chunks)
    # Paragraphs are whole: each chunk starts at a paragraph start.
    assert all(c.body.startswith("Paragraph") for c in chunks)


def test_oversized_blocks_are_cut_at_their_seams() -> None:
    sentences = " ".join(f"Sentence number {i} is here." for i in range(200))
    table = "| a | b |\n|---|---|\n" + "\n".join(f"| row {i} | value {i} |" for i in range(200))
    items = "\n".join(f"- item {i} of a long list" for i in range(200))
    text = f"# Big\n\n{sentences}\n\n{table}\n\n{items}\n"
    chunks = chunk_document(text, target_tokens=100, max_tokens=128)
    assert all(c.tokens <= 128 for c in chunks)
    for c in chunks:
        if "| row" in c.body:
            assert c.body.startswith("| a | b |\n|---|---|"), "table pieces repeat the header"
        if "Sentence number" in c.body:
            assert c.body.rstrip().endswith("here.")
        if "- item" in c.body:
            assert c.body.startswith("- item")
    joined = " ".join(c.body for c in chunks)
    assert "Sentence number 199 is here." in joined and "| row 199 |" in joined
    assert "- item 199 of a long list" in joined


def test_one_enormous_word_is_still_cut() -> None:
    chunks = chunk_document("x" * 20_000, max_tokens=64)
    assert all(c.tokens <= 64 for c in chunks)
    assert "".join(c.body for c in chunks).replace(" ", "") == "x" * 20_000


def test_faq_chunks_are_one_question_each() -> None:
    chunks = chunk_document(FAQ.read_text())
    questions = FAQ.read_text().count("\n### ")
    assert len(chunks) == questions + 1  # plus the introduction under the title
    assert max(c.tokens for c in chunks) <= 256
