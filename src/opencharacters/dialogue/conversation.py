"""One session's side of the dialogue: persona, history, and a reply stream cut for speaking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from opencharacters.dialogue.backend import DialogueModel, PreparedPersona
from opencharacters.dialogue.chunker import SpeakableChunker
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.prompt import Note, build_messages, system_prompt
from opencharacters.engine_settings import DialogueSettings


def count_sentences(text: str) -> int:
    return len(re.findall(r"[.!?]+(?=\s|$)", text))


class Conversation:
    """`personality` is the session's override when it has one, else the avatar's."""

    def __init__(self, model: DialogueModel, personality: str, settings: DialogueSettings) -> None:
        self._model = model
        self._settings = settings
        self.system_prompt = system_prompt(personality)
        self.history: list[ChatMessage] = []
        self._persona: PreparedPersona | None = None

    async def prepare(self) -> None:
        """Read the persona once (at session prepare), so later turns start fast."""
        self._persona = await self._model.prepare(self.system_prompt)

    def add_assistant_line(self, text: str) -> None:
        """The start script, or anything said outside `reply`."""
        self.history.append({"role": "assistant", "content": text})

    async def reply(
        self, user_text: str, passages: Sequence[str | Note] = ()
    ) -> AsyncIterator[str]:
        """Speakable chunks of the reply. What was actually produced (possibly cut short by
        barge-in) is what enters the history."""
        if self._persona is None:
            await self.prepare()
        assert self._persona is not None
        turns = self._settings.history_turns * 2
        recent = self.history[-turns:] if turns else []
        messages = build_messages(self.system_prompt, recent, user_text, passages)
        self.history.append({"role": "user", "content": user_text})
        chunker = SpeakableChunker()
        spoken: list[str] = []
        stream = self._model.stream(self._persona, messages, self._settings.max_reply_tokens)
        budget = self._settings.max_reply_sentences
        try:
            async for delta in stream:
                for chunk in chunker.push(delta):
                    spoken.append(chunk)
                    yield chunk
                if count_sentences(" ".join(spoken)) >= budget:
                    return  # the finally clause stops the model
            for chunk in chunker.flush():
                spoken.append(chunk)
                yield chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            if spoken:
                self.history.append({"role": "assistant", "content": " ".join(spoken)})
