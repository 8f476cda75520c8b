"""One session's side of the dialogue: persona, history, and a reply stream cut for speaking."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from opencharacters.dialogue.backend import (
    ActionChooser,
    DialogueModel,
    PreparedPersona,
    WritingHold,
)
from opencharacters.dialogue.chunker import SpeakableChunker, chunk_text
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.prompt import Note, build_messages, system_prompt, with_knowledge
from opencharacters.dialogue.questions import asks_question, question_part
from opencharacters.dialogue.routing import ActionRouter
from opencharacters.dialogue.tools import (
    CALL_CLOSE,
    CALL_OPEN,
    ToolCall,
    ToolOutcome,
    ToolSpec,
    parse_call,
    tools_prompt,
)
from opencharacters.engine_settings import DialogueSettings

EVENT_SENT = {"status": "event_sent"}
"""A client_event's result: the event left; nothing was learnt."""


def count_sentences(text: str) -> int:
    return len(re.findall(r"[.!?]+(?=\s|$)", text))


@dataclass(slots=True)
class ReplyRecord:
    """What one reply produced: its speech chunks. (An action's result is shown to the model
    only for the answer it leads to: a small model would copy it into later replies.)"""

    produced: list[str] = field(default_factory=list)
    first_token_s: float | None = None
    """When the model's first text of the reply arrived (the conversation's clock)."""
    call: str = ""
    """The action call in the model's own markup, when the reply was an action. Kept in the
    history before the spoken words: the model then knows it acted, and acts again when asked
    (without it, a small model answers later requests with the words alone)."""

    @property
    def text(self) -> str:
        return " ".join(self.produced)

    def history_entry(self) -> ChatMessage | None:
        content = f"{self.call} {self.text}".strip()
        return {"role": "assistant", "content": content} if content else None


RunTool = Callable[[ToolCall], Awaitable[ToolOutcome]]


def conversation_prompt(personality: str, tools: Sequence[ToolSpec] = ()) -> str:
    """The system prompt of a session's conversation: the persona, and its actions when it has
    any. The model reads it once per persona (`DialogueModel.prepare`)."""
    prompt = system_prompt(personality)
    return f"{prompt}\n\n{tools_prompt(tools)}" if tools else prompt


class Conversation:
    """`personality` is the session's override when it has one, else the avatar's; `tools` are
    the session's actions (their descriptions join the cached system prompt)."""

    def __init__(
        self,
        model: DialogueModel,
        personality: str,
        settings: DialogueSettings,
        tools: Sequence[ToolSpec] = (),
        router: ActionRouter | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        """`now`: the clock the replies' `first_token_s` is read on (the session's)."""
        self._model = model
        self._now = now
        self._router = router
        self.last_action_score: float | None = None
        self._settings = settings
        self.tools = tuple(tools)
        self.system_prompt = conversation_prompt(personality, self.tools)
        self.history: list[ChatMessage] = []
        self._persona: PreparedPersona | None = None
        self._calls = 0
        self.writing = WritingHold()
        """Held by whoever speaks the replies while a reply's first words are synthesized."""
        mode = settings.tool_replies
        self._templated_tool_replies = mode == "template" or (
            mode == "auto" and settings.backend == "embedded"
        )

    async def prepare(self) -> None:
        """Read the persona once (at session prepare), so later turns start fast."""
        self._persona = await self._model.prepare(self.system_prompt)

    def add_assistant_line(self, text: str) -> None:
        """The start script, or anything said outside `reply`."""
        self.history.append({"role": "assistant", "content": text})

    def keep_heard(self, heard: str) -> None:
        """After a barge-in: the last reply entered the history as produced; keep only the words
        the caller actually heard (none: the reply is forgotten, the caller's turn stays)."""
        if self.history and self.history[-1]["role"] == "assistant":
            content = self.history[-1]["content"]
            call = (
                content[: content.index(CALL_CLOSE) + len(CALL_CLOSE)]
                if content.startswith(CALL_OPEN) and CALL_CLOSE in content
                else ""
            )
            kept = f"{call} {heard}".strip()
            if kept:
                self.history[-1] = {"role": "assistant", "content": kept}
            else:
                self.history.pop()

    def restore_reply(self, words: str) -> None:
        """The last reply, cut by a sound that held no words, is said again: its entry holds
        `words` again (keeping its action call), as if heard whole."""
        if self.history and self.history[-1]["role"] == "assistant":
            self.keep_heard(words)
        elif words:
            self.add_assistant_line(words)

    def take_back_unanswered(self, user_text: str) -> None:
        """The caller's last turn, left unanswered in the history, is about to be answered
        after all: `reply` puts it back with its answer."""
        if self.history and self.history[-1] == {"role": "user", "content": user_text}:
            self.history.pop()

    def record_turn(self, user_text: str, record: ReplyRecord) -> None:
        """Enters a turn generated with `record=False` (e.g. a speculative reply kept)."""
        self.history.append({"role": "user", "content": user_text})
        entry = record.history_entry()
        if entry is not None:
            self.history.append(entry)

    def _messages(self, user_text: str, passages: Sequence[str | Note]) -> list[ChatMessage]:
        turns = self._settings.history_turns * 2
        recent = self.history[-turns:] if turns else []
        return build_messages(self.system_prompt, recent, user_text, passages)

    async def read_ahead(self, words_so_far: str, passages: Sequence[str | Note] = ()) -> None:
        """The caller is still speaking: the model reads the prompt a reply to these words
        would have (history, passages, the words), so the reply reads only what changed."""
        if self._persona is not None:
            await self._model.read_ahead(self._persona, self._messages(words_so_far, passages))

    async def reply(
        self,
        user_text: str,
        passages: Sequence[str | Note] = (),
        *,
        record: bool = True,
        into: ReplyRecord | None = None,
        run_tool: RunTool | None = None,
    ) -> AsyncGenerator[str, None]:
        """Speakable chunks of the reply. What was actually produced (possibly cut short by
        barge-in) is what enters the history — unless `record` is False: then the history is
        left alone and `into` receives it, for `record_turn` later.

        With `run_tool` and tools, the model may answer with an action call instead of
        speech: the call is run (`run_tool` checks, executes and times it), its result is
        put before the model, and the spoken reply that follows is what is yielded."""
        if self._persona is None:
            await self.prepare()
        assert self._persona is not None
        messages = self._messages(user_text, passages)
        if record:
            self.history.append({"role": "user", "content": user_text})
        out = into if into is not None else ReplyRecord()
        tools = self.tools if run_tool is not None else ()
        chooser = self._model.action_chooser() if tools else None
        try:
            call = None
            if chooser is not None:
                # The embedded model: act or talk is decided apart from the conversation.
                call = await self._choose_action(user_text, tools, chooser)
                if call is None:
                    async for chunk in self._speak(
                        messages, (), out, speech_only=True, factual=bool(passages)
                    ):
                        if isinstance(chunk, str):
                            yield chunk
            else:
                async for chunk in self._speak(messages, tools, out, factual=bool(passages)):
                    if isinstance(chunk, str):
                        yield chunk
                    else:
                        call = chunk
            if call is not None and run_tool is not None:
                out.call = _call_markup(call)
                outcome = await run_tool(call)
                async for chunk in self._after_action(
                    user_text, passages, messages, call, outcome, out
                ):
                    yield chunk
        finally:
            entry = out.history_entry()
            if record and entry is not None:
                self.history.append(entry)

    async def _after_action(
        self,
        user_text: str,
        passages: Sequence[str | Note],
        messages: Sequence[ChatMessage],
        call: ToolCall,
        outcome: ToolOutcome,
        out: ReplyRecord,
    ) -> AsyncGenerator[str, None]:
        """What is said once an action ran. An action never replaces an answer: when the
        words ask a question, the answer is spoken (from the knowledge passages, as on a turn
        without actions) unless the action's own result is what was asked for ("where is my
        order?" answered by the order's status). An acknowledgement ("Done, there you go.")
        alone would leave the caller's question unanswered."""
        question = asks_question(user_text)
        informative = outcome.error is None and outcome.result not in (None, EVENT_SENT)
        if self._templated_tool_replies:
            if not question or informative or outcome.error:
                for line in chunk_text([tool_reply(call, outcome)]):
                    out.produced.append(line)
                    yield line
            if question and not informative:
                # The same generation as a turn without actions, the passages included, on
                # the words that ask (the request beside them is done).
                asked = question_part(user_text)
                if asked != user_text:
                    messages = build_messages(self.system_prompt, messages[1:-1], asked, passages)
                async for spoken in self._speak(
                    messages, (), out, speech_only=True, factual=bool(passages)
                ):
                    if isinstance(spoken, str):
                        yield spoken
            return
        answer = question and not informative
        note = _result_note(call, outcome, answer_question=answer)
        said = with_knowledge(user_text, passages if answer else (), lead="The caller said")
        last: ChatMessage = {"role": "user", "content": f"{said}\n{note}"}
        follow_up = [*messages[:-1], last]
        async for spoken in self._speak(
            follow_up, (), out, speech_only=True, factual=answer and bool(passages)
        ):
            if isinstance(spoken, str):
                yield spoken

    async def _choose_action(
        self, user_text: str, tools: Sequence[ToolSpec], chooser: ActionChooser
    ) -> ToolCall | None:
        probability = await chooser.call_probability(user_text, tools)
        candidates = list(tools)
        closeness = 0.0
        if self._router is not None:
            similarities = await asyncio.to_thread(self._router.similarities, user_text)
            closeness = max(similarities, default=0.0)
            candidates = self._router.candidates(similarities)
        self.last_action_score = probability + closeness
        if self.last_action_score < self._settings.tool_call_threshold:
            return None
        return await chooser.generate_call(user_text, candidates)

    async def _speak(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec],
        out: ReplyRecord,
        *,
        speech_only: bool = False,
        factual: bool = False,
    ) -> AsyncGenerator[str | ToolCall, None]:
        """One generation: speakable chunks, or (with tools) a single action call."""
        assert self._persona is not None
        # "Yes," or "Sure," is worth saying at once: the rest follows while it plays.
        chunker = SpeakableChunker(
            first_clause_min_words=1,
            first_phrase_min_words=self._settings.first_phrase_min_words,
            first_piece_max_words=self._settings.first_piece_max_words,
        )
        stream = self._model.stream(
            self._persona,
            messages,
            self._settings.max_reply_tokens,
            tools,
            speech_only=speech_only or bool(self.tools and not tools),
            temperature=self._settings.knowledge_temperature if factual else None,
            hold=self.writing if self._settings.hold_for_first_speech else None,
        )
        budget = self._settings.max_reply_sentences
        pending = ""
        deciding = bool(tools)
        try:
            async for delta in stream:
                if out.first_token_s is None and self._now is not None:
                    out.first_token_s = self._now()
                if deciding:
                    # Speech or a call? The first characters tell (the grammar allows no mix).
                    pending += delta
                    head = pending.lstrip()
                    if not head or (len(head) < len(CALL_OPEN) and CALL_OPEN.startswith(head)):
                        continue
                    if head.startswith(CALL_OPEN):
                        if CALL_CLOSE not in head:
                            continue
                        self._calls += 1
                        call = parse_call(head, tools, f"call_{self._calls}")
                        if call is not None:
                            yield call
                        return
                    deciding = False
                    delta, pending = pending, ""
                for chunk in chunker.push(delta):
                    out.produced.append(chunk)
                    yield chunk
                if count_sentences(out.text) >= budget:
                    return  # the finally clause stops the model
            for chunk in chunker.flush():
                out.produced.append(chunk)
                yield chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


def _result_note(call: ToolCall, outcome: ToolOutcome, *, answer_question: bool = False) -> str:
    action = call.name.replace("_", " ")
    details = _plain(call.arguments)
    if outcome.error:
        done = f"You tried to {action} ({details}) but it did not work."
        ask = "tell the caller you could not do it right now"
    else:
        result = outcome.result
        found = "" if result in (None, EVENT_SENT) else f" and found: {_plain(result)}"
        done = f"You did {action} ({details}){found[:1500]}."
        ask = "tell the caller what you did or found"
    if answer_question:
        return f"{done} Answer the caller's question in one or two short spoken sentences."
    return f"{done} In one short spoken sentence, {ask}."


def _call_markup(call: ToolCall) -> str:
    body = json.dumps({"name": call.name, "arguments": call.arguments})
    return f"{CALL_OPEN}{body}{CALL_CLOSE}"


def tool_reply(call: ToolCall, outcome: ToolOutcome) -> str:
    """A plain sentence about an action's outcome, for models that cannot phrase one."""
    if outcome.error:
        return "Sorry, I couldn't do that right now."
    result = outcome.result
    if result in (None, EVENT_SENT):
        return "Done, there you go."
    return f"Here's what I found: {_plain(result)}."


def _plain(value: object) -> str:
    """A result in words the model can say (JSON punctuation gets read out or copied)."""
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    return str(value)
