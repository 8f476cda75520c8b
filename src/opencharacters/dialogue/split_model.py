"""One model talks, another decides: the act-or-talk decision and the call's arguments come
from a second (bigger) embedded model while the persona's replies stream from the first.

Measured in bench/dialogue_bench.py: the 1.5B model separates requests from chat far better
than the 0.5B (AUC of the routing score), while the 0.5B reaches its first word ~2.4x sooner.
The decision costs one short read of the caller's words on the decider (its routing prompt is
cached like a persona), so pairing them keeps most of the 0.5B's speed of speech."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from opencharacters.dialogue.backend import (
    ActionChooser,
    DialogueModel,
    PreparedPersona,
    WritingHold,
)
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import ToolSpec


class SplitDialogueModel:
    def __init__(self, talker: DialogueModel, decider: ActionChooser) -> None:
        self.talker = talker
        self.decider = decider

    async def prepare(self, system_prompt: str) -> PreparedPersona:
        return await self.talker.prepare(system_prompt)

    async def read_persona(self, system_prompt: str) -> bool:
        return await self.talker.read_persona(system_prompt)

    def stream(
        self,
        persona: PreparedPersona,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        *,
        speech_only: bool = False,
        temperature: float | None = None,
        hold: WritingHold | None = None,
    ) -> AsyncIterator[str]:
        return self.talker.stream(
            persona,
            messages,
            max_tokens,
            tools,
            speech_only=speech_only,
            temperature=temperature,
            hold=hold,
        )

    async def read_ahead(self, persona: PreparedPersona, messages: Sequence[ChatMessage]) -> None:
        await self.talker.read_ahead(persona, messages)

    def action_chooser(self) -> ActionChooser:
        """The decider chooses the actions (see the module's docstring)."""
        return self.decider

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        return await self.talker.complete_json(messages, schema, max_tokens)
