"""What the model is told: spoken-style rules, then the personality (the part cached per session),
then the conversation, with any knowledge passages placed in the last user turn so they never
invalidate the cached prefix."""

from __future__ import annotations

from collections.abc import Sequence

from opencharacters.dialogue.messages import ChatMessage

SPOKEN_RULES = (
    "You are on a live voice call, and everything you write is spoken aloud by a voice. "
    "Stay in the character described below at all times; never say you are an AI model "
    "unless the character description says so. "
    "Answer in one to three short, natural spoken sentences. "
    "Never use Markdown, lists, headings, bold, emoji, code, or links. "
    "If the caller asks about something outside your role, say so briefly and steer back."
)


def system_prompt(personality: str) -> str:
    return f"{SPOKEN_RULES}\n\nYour character:\n{personality.strip()}"


def with_knowledge(user_text: str, passages: Sequence[str]) -> str:
    if not passages:
        return user_text
    notes = "\n".join(f"- {passage.strip()}" for passage in passages)
    return f"Notes you may use if relevant:\n{notes}\n\nCaller says: {user_text}"


def build_messages(
    system: str,
    history: Sequence[ChatMessage],
    user_text: str,
    passages: Sequence[str] = (),
) -> list[ChatMessage]:
    return [
        {"role": "system", "content": system},
        *history,
        {"role": "user", "content": with_knowledge(user_text, passages)},
    ]
