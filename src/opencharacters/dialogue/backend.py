"""The interface every dialogue backend offers: prepare a persona once, then stream replies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import ToolSpec


class PreparedPersona(Protocol):
    """Opaque per-session handle: whatever a backend keeps so a persona is not re-read each turn."""

    @property
    def system_prompt(self) -> str: ...


class DialogueModel(Protocol):
    async def prepare(self, system_prompt: str) -> PreparedPersona: ...

    def stream(
        self,
        persona: PreparedPersona,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        *,
        speech_only: bool = False,
        temperature: float | None = None,
    ) -> AsyncIterator[str]:
        """Text deltas of the reply. Closing the iterator early (barge-in) stops generation.
        With tools, a reply is either speech or one call written as `<call>{"name",
        "arguments"}</call>` (see dialogue/tools.py), whatever the backend's native form.
        `speech_only`: the reply may not contain call markup (where the backend can enforce
        it)."""
        ...
