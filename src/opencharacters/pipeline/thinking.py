"""The dialogue stage: the conversation (persona, history, tools), the avatar's knowledge with a
deadline, and speculative replies started while the caller pauses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opencharacters.dialogue.conversation import Conversation, ReplyRecord
from opencharacters.dialogue.routing import ActionRouter
from opencharacters.dialogue.tools import ToolSpec
from opencharacters.engine_settings import DialogueSettings
from opencharacters.pipeline.frames import Interruption
from opencharacters.pipeline.ports import DialogueModel, Knowledge
from opencharacters.pipeline.stage import StageTasks

log = logging.getLogger(__name__)

KNOWLEDGE_TIMEOUT_S = 0.5
"""A late answer is worse than one without notes: retrieval gets this long per turn."""
RELEVANT_SHARE = 0.6
"""Knowledge passages scoring under this share of the best one are left out."""


@dataclass(slots=True)
class Speculation:
    """A reply started on the caller's words so far, before the turn detector was sure they
    had finished. Kept when the final transcript matches, dropped otherwise."""

    text: str
    chunks: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    record: ReplyRecord = field(default_factory=ReplyRecord)
    task: asyncio.Task[Any] | None = None
    first_text_s: float | None = None
    started_s: float | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def drain(self) -> AsyncIterator[str]:
        while (chunk := await self.chunks.get()) is not None:
            yield chunk


def note_source(note: Any) -> dict[str, Any]:
    return {
        "document": getattr(note, "document_name", None),
        "headings": list(getattr(note, "headings", ())),
    }


class Thinking:
    name = "thinking"

    def __init__(
        self,
        session_id: str,
        personality: str,
        tools: Sequence[ToolSpec],
        settings: DialogueSettings,
        knowledge: Knowledge | None,
        now: Callable[[], float],
        tasks: StageTasks,
    ) -> None:
        self._session_id = session_id
        self._personality = personality
        self.tools = tuple(tools)
        self._settings = settings
        self._knowledge = knowledge
        self._now = now
        self._tasks = tasks
        self.conversation: Conversation | None = None
        self._persona_ready: asyncio.Task[None] | None = None
        self._speculation: Speculation | None = None
        self._reading: asyncio.Task[None] | None = None
        self._read_next: str | None = None
        self._found: tuple[str, Sequence[Any]] | None = None
        """The last search's words and passages: a speculation on the same words reuses them."""

    async def start(self, model: DialogueModel, embedder: Any) -> None:
        """Builds the conversation, then reads the persona and indexes the documents in the
        background (while the start script plays)."""
        router = None
        if self.tools and embedder is not None:
            router = await asyncio.to_thread(ActionRouter, embedder, self.tools)
        self.conversation = Conversation(
            model, self._personality, self._settings, tools=self.tools, router=router, now=self._now
        )
        self._persona_ready = self._tasks.spawn(self.conversation.prepare(), "persona")
        if self._knowledge is not None:
            self._tasks.spawn(self._warm(self._knowledge), "knowledge")

    async def ready(self) -> Conversation:
        assert self.conversation is not None
        if self._persona_ready is not None:
            await self._persona_ready
        return self.conversation

    async def _warm(self, knowledge: Knowledge) -> None:
        try:
            await knowledge.warm()
        except Exception:  # answers go on without notes; each turn retries the search
            log.exception("session %s: indexing the avatar's documents failed", self._session_id)

    async def notes_for(self, text: str) -> Sequence[Any]:
        """Knowledge passages for the caller's words; none when retrieval is slow or fails."""
        if self._knowledge is None:
            return ()
        if self._found is not None and self._found[0] == text:
            return self._found[1]
        try:
            found = await asyncio.wait_for(self._knowledge.search(text), KNOWLEDGE_TIMEOUT_S)
            # Passages far behind the best one mostly distract a small model.
            best = max((getattr(p, "score", 0.0) for p in found), default=0.0)
            kept = [p for p in found if getattr(p, "score", 0.0) >= RELEVANT_SHARE * best]
            self._found = (text, kept)
            return kept
        except TimeoutError:
            log.warning(
                "session %s: knowledge search too slow; answering without", self._session_id
            )
        except Exception:
            log.exception("session %s: knowledge search failed", self._session_id)
        return ()

    # ----- reading ahead -------------------------------------------------------------------

    def read_ahead(self, words_so_far: str) -> None:
        """The caller is still speaking: search the knowledge and let the model read the prompt
        with their words so far, so that little is left to read when they stop. One reading
        at a time; words that arrive meanwhile are read next (only the newest)."""
        words_so_far = words_so_far.strip()
        if not words_so_far or self.conversation is None or self.tools:
            # With actions the act-or-talk decision reads its own prompt first (and replaces
            # the conversation in the model's cache): reading ahead would be wasted.
            return
        if self._persona_ready is None or not self._persona_ready.done():
            return
        if self._reading is not None and not self._reading.done():
            self._read_next = words_so_far
            return
        self._reading = self._tasks.spawn(self._read(words_so_far), "read-ahead")

    async def _read(self, words: str) -> None:
        assert self.conversation is not None
        while True:
            try:
                notes = await self.notes_for(words)
                await self.conversation.read_ahead(words, notes)
            except asyncio.CancelledError:
                raise
            except Exception:  # a head start only: the reply reads everything anyway
                log.exception("session %s: reading ahead failed", self._session_id)
                return
            words, self._read_next = self._read_next or "", None
            if not words:
                return

    def stop_reading_ahead(self) -> None:
        self._read_next = None
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    # ----- speculation ---------------------------------------------------------------------

    def speculate(self, text: str) -> None:
        """The caller paused: start answering what they said so far."""
        text = text.strip()
        if not text or self.conversation is None:
            return
        if self.tools:
            return  # a speculative reply must never fire an action the caller did not finish
        current = self._speculation
        if current is not None:
            if current.text == text:
                return
            self.drop_speculation()
        self.stop_reading_ahead()
        speculation = Speculation(text, started_s=self._now())

        async def think() -> None:
            conversation = await self.ready()
            notes = await self.notes_for(text)
            # Filled in place: the turn's timings may already hold this list (the caller
            # finished before the search did).
            speculation.notes.extend(note_source(note) for note in notes)
            source = conversation.reply(text, notes, record=False, into=speculation.record)
            try:
                async for chunk in source:
                    if speculation.first_text_s is None:
                        speculation.first_text_s = self._now()
                    speculation.chunks.put_nowait(chunk)
            finally:
                await source.aclose()
                speculation.chunks.put_nowait(None)

        speculation.task = self._tasks.spawn(think(), "speculation")
        self._speculation = speculation

    def drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation.cancel()
            self._speculation = None

    def take_speculation(self, text: str) -> Speculation | None:
        """The speculation for exactly these words, if one is under way (any other is dropped)."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None
        if speculation.text != text or speculation.task is None:
            speculation.cancel()
            return None
        return speculation

    def interrupt(self, frame: Interruption) -> None:
        self.stop_reading_ahead()
        self.drop_speculation()
