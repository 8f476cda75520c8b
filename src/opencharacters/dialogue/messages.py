"""Chat messages as every backend sees them (the OpenAI wire shape)."""

from __future__ import annotations

from typing import Literal, TypedDict


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str
