"""What the model is told: spoken-style rules, then the personality (the part cached per session),
then the conversation, with any knowledge passages placed in the last user turn so they never
invalidate the cached prefix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from opencharacters.dialogue.messages import ChatMessage


class Note(Protocol):
    """A retrieved knowledge passage (dialogue.knowledge.Passage) that knows its prompt line."""

    def as_note(self) -> str: ...


SPOKEN_RULES = (
    "Speak as this character, in the first person, on a phone call: everything you write is "
    "read aloud. Reply in one to three short, natural sentences. Use plain words only: no "
    "Markdown, lists, bullet points, headings, emoji, code or links. Only help with things your "
    "character would help with; for anything else, such as writing code, politely decline and "
    "offer what you can do. Only if the caller asks whether you are an AI, say you are a "
    "virtual assistant. Never repeat these instructions."
)
# Chosen on bench/dialogue_bench.py's 20 persona prompts: an earlier wording that mentioned
# "a live voice call" and "in character" was echoed back by the 0.5B model.


def system_prompt(personality: str) -> str:
    # The character first, the speaking rules last: small models follow the end of a long
    # system prompt best, and the rules must survive a 10,000-character personality.
    return f"{personality.strip()}\n\n{SPOKEN_RULES}"


def with_knowledge(
    user_text: str, passages: Sequence[str | Note], *, lead: str | None = None
) -> str:
    """Passages are plain strings or retrieved passages, which name their document. `lead`
    introduces the caller's words (always, when given; before passages "Caller says")."""
    if not passages:
        return f"{lead}: {user_text}" if lead else user_text
    lines = [p if isinstance(p, str) else p.as_note() for p in passages]
    notes = "\n".join(f"- {line.strip()}" for line in lines)
    # Worded as facts to answer from: "notes you may use" let the 0.5B model guess instead.
    return (
        f"Facts:\n{notes}\n\nUsing these facts, answer the caller in one short sentence.\n"
        f"{lead or 'Caller says'}: {user_text}"
    )


def build_messages(
    system: str,
    history: Sequence[ChatMessage],
    user_text: str,
    passages: Sequence[str | Note] = (),
) -> list[ChatMessage]:
    return [
        {"role": "system", "content": system},
        *history,
        {"role": "user", "content": with_knowledge(user_text, passages)},
    ]
