"""The interface every dialogue backend offers: prepare a persona once, then stream replies.

Capabilities some backends have are asked for explicitly, never guessed with getattr:
`action_chooser()` (deciding "act or talk" apart from the conversation) and `complete_json`
(one answer constrained to a JSON schema)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import ToolCall, ToolSpec

HOLD_LIMIT_S = 2.0
"""A hold never outlasts this: a reply must not stall on a synthesizer that hangs."""


class WritingHold:
    """Lets the reply's listener stop the model writing for a moment. While the first words of
    a reply are synthesized, the model writing on and the synthesizer share the same cores,
    and the caller hears nothing until that synthesis is done: a held model lets it finish
    sooner. Thread-safe: held and released on the event loop, waited on in the model's thread."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._released.set()

    @property
    def held(self) -> bool:
        return not self._released.is_set()

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def wait_released(self, stop: threading.Event, limit_s: float = HOLD_LIMIT_S) -> None:
        """Blocks until released, `stop` is set or `limit_s` has passed."""
        deadline = time.monotonic() + limit_s
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._released.wait(min(left, 0.01)):
                return


class PreparedPersona(Protocol):
    """Opaque per-session handle: whatever a backend keeps so a persona is not re-read each turn."""

    @property
    def system_prompt(self) -> str: ...


class ActionChooser(Protocol):
    """Decides whether the caller's words ask for an action, apart from the conversation (a
    small model that sees its own earlier replies keeps talking instead of acting)."""

    async def call_probability(self, user_text: str, tools: Sequence[ToolSpec]) -> float:
        """P(the reply to these words is an action call)."""
        ...

    async def generate_call(self, user_text: str, tools: Sequence[ToolSpec]) -> ToolCall | None:
        """The call, with well-formed arguments for one of `tools`."""
        ...


class DialogueModel(Protocol):
    def action_chooser(self) -> ActionChooser | None:
        """The model's own action chooser, or None: then actions are chosen in the reply
        stream (native tool calls or call markup)."""
        ...

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        """One deterministic answer that is a JSON document valid against `schema`."""
        ...

    async def prepare(self, system_prompt: str) -> PreparedPersona: ...

    async def read_persona(self, system_prompt: str) -> bool:
        """Reads a persona before any call needs it (an avatar just saved), in the background:
        it must give way to every other request soon. True when a later `prepare` will find it
        read (or has nothing to read); False when it gave way, or cannot read in the
        background."""
        ...

    async def read_ahead(self, persona: PreparedPersona, messages: Sequence[ChatMessage]) -> None:
        """A head start, best effort: read `messages` (the conversation ending with the caller's
        words so far, still being spoken) into the model's cache, so that a reply whose prompt
        starts the same way has only the rest to read. The reply's assistant header is not
        read. May do nothing (a server model, or the model busy with another reply); must not
        delay a reply that starts meanwhile, and stops soon after being cancelled."""
        ...

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
        """Text deltas of the reply. Closing the iterator early (barge-in) stops generation.
        With tools, a reply is either speech or one call written as `<call>{"name",
        "arguments"}</call>` (see dialogue/tools.py), whatever the backend's native form.
        `speech_only`: the reply may not contain call markup (where the backend can enforce
        it). `hold`: while held, a model on these cores computes nothing and resumes where it
        stopped (a server model may ignore it)."""
        ...
