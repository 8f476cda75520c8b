"""The interface every dialogue backend offers: prepare a persona once, then stream replies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from opencharacters.dialogue.messages import ChatMessage


class PreparedPersona(Protocol):
    """Opaque per-session handle: whatever a backend keeps so a persona is not re-read each turn."""

    @property
    def system_prompt(self) -> str: ...


class DialogueModel(Protocol):
    async def prepare(self, system_prompt: str) -> PreparedPersona: ...

    def stream(
        self, persona: PreparedPersona, messages: Sequence[ChatMessage], max_tokens: int
    ) -> AsyncIterator[str]:
        """Text deltas of the reply. Closing the iterator early (barge-in) stops generation."""
        ...
