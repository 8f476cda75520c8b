"""Embedded dialogue: a GGUF chat model through llama-cpp-python.

One model is shared by every session in the process. Each session's persona (rules + personality,
up to ~2,500 tokens) is evaluated once in `prepare` and its KV state saved; before a turn, if
another session has used the model since, that state is restored instead of re-reading the
persona, and llama.cpp's prefix matching then skips everything already evaluated."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from opencharacters.dialogue.backend import PreparedPersona, WritingHold
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.prompt import persona_prefix, prompt_through_words
from opencharacters.dialogue.tools import (
    CALL_OPEN,
    SPEECH_GRAMMAR,
    ToolCall,
    ToolSpec,
    call_grammar,
    parse_call,
    routing_prompt,
)
from opencharacters.engine_settings import DialogueSettings

_DONE = object()
READ_AHEAD_BATCH = 16
"""Tokens read per step ahead of a reply: a reply that starts meanwhile waits for one step."""


@lru_cache(maxsize=64)
def _parsed_grammar(text: str) -> Any:
    """Parsed once per tool set (a session's tools never change during the call)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def _grammar_for(tools: Sequence[ToolSpec], *, calls_only: bool = False) -> Any:
    return _parsed_grammar(call_grammar(tools, calls_only=calls_only))


@lru_cache(maxsize=16)
def _json_grammar(schema_json: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


def _speech_grammar() -> Any:
    return _parsed_grammar(SPEECH_GRAMMAR)


_PARAMS_LOCK = threading.Lock()


@contextmanager
def _model_params(*, use_extra_buffers: bool) -> Iterator[None]:
    """llama-cpp-python does not expose llama.cpp's `use_extra_bufts`, so the defaults it reads
    are adjusted while one model loads. A native build on CPUs that report Intel AMX places
    weights in the AMX buffer type, whose matmul segfaults on the first decode (seen here with
    llama-cpp-python 0.3.36); plain CPU buffers avoid it."""
    import llama_cpp.llama_cpp as low_level

    original = low_level.llama_model_default_params

    def adjusted() -> Any:
        params = original()
        params.use_extra_bufts = use_extra_buffers
        return params

    with _PARAMS_LOCK:
        low_level.llama_model_default_params = adjusted
        try:
            yield
        finally:
            low_level.llama_model_default_params = original


@dataclass(slots=True)
class LlamaPersona:
    system_prompt: str
    prefix_tokens: list[int]
    state: bytes = b""
    """llama.cpp's context state (KV cache of the prefix) only. llama-cpp-python's own
    save_state() also copies a logits buffer of n_batch x vocabulary floats (311 MB for Qwen),
    which would make every cached persona cost that much."""
    prepare_s: float = 0.0
    state_bytes: int = 0


class LlamaDialogueModel:
    def __init__(self, model_path: Path, settings: DialogueSettings) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._settings = settings
        with _model_params(use_extra_buffers=settings.cpu_extra_buffers):
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=settings.n_ctx,
                n_threads=settings.threads,
                n_threads_batch=settings.batch_threads,
                verbose=False,
            )
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{model_path} has no chat template; use an instruction-tuned GGUF")
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(self._llm.token_eos()),
            bos_token=self._token_text(self._llm.token_bos()),
        )
        # Chat models end a turn with their own marker (<|im_end|> for Qwen), not always EOS.
        # A blank line or a code fence starts a document, not a spoken answer: stop there.
        self._stop_strings = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "</s>", "\n\n", "```"]
        self._lock = threading.Lock()
        self._call_tokens: list[int] | None = None
        self._actions = 0
        self._prepared: OrderedDict[str, LlamaPersona] = OrderedDict()
        self.read_ahead_tokens = 0
        """Prompt tokens read ahead of replies (for tests and bench/)."""

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return str(self._llm.detokenize([token], special=True).decode("utf-8", "replace"))

    @property
    def n_ctx(self) -> int:
        return int(self._llm.n_ctx())

    def render(self, messages: Sequence[ChatMessage]) -> str:
        return str(self._formatter(messages=list(messages)).prompt)  # type: ignore[arg-type]

    def tokenize(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode(), add_bos=False, special=True))

    def _prepare_sync(self, system_prompt: str) -> LlamaPersona:
        started = time.perf_counter()
        with self._lock:
            cached = self._prepared.get(system_prompt)
            if cached is not None:
                # Another session of the same avatar: reuse its evaluated persona.
                self._prepared.move_to_end(system_prompt)
                return replace(cached, prepare_s=time.perf_counter() - started)
        tokens = self.tokenize(persona_prefix(self.render, system_prompt))
        room = self.n_ctx - self._settings.max_reply_tokens - 256
        if len(tokens) > room:
            raise ValueError(
                f"the personality needs {len(tokens)} tokens but n_ctx={self.n_ctx} leaves room "
                f"for {room}; raise OPENCHARACTERS_ENGINES__DIALOGUE__N_CTX"
            )
        with self._lock:
            self._llm.reset()  # type: ignore[no-untyped-call]
            self._llm.eval(tokens)
            state = self._save_context_state()
            persona = LlamaPersona(
                system_prompt=system_prompt,
                prefix_tokens=tokens,
                state=state,
                prepare_s=time.perf_counter() - started,
                state_bytes=len(state),
            )
            self._prepared[system_prompt] = persona
            while len(self._prepared) > self._settings.persona_cache_size:
                self._prepared.popitem(last=False)
        return persona

    def _save_context_state(self) -> bytes:
        import ctypes

        import llama_cpp.llama_cpp as low_level

        ctx = self._llm.ctx
        size = low_level.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = low_level.llama_state_get_data(ctx, buffer, size)
        return bytes(buffer)[:written]

    def _restore_context_state(self, persona: LlamaPersona) -> None:
        import ctypes

        import llama_cpp.llama_cpp as low_level

        buffer = (ctypes.c_uint8 * len(persona.state)).from_buffer_copy(persona.state)
        if low_level.llama_state_set_data(self._llm.ctx, buffer, len(persona.state)) == 0:
            raise RuntimeError("llama.cpp refused the saved persona state")
        n_tokens = len(persona.prefix_tokens)
        self._llm.input_ids[:n_tokens] = persona.prefix_tokens
        self._llm.n_tokens = n_tokens
        # The restored context has no fresh logits: llama-cpp-python must decode before sampling.
        self._llm._requires_eval = True

    async def prepare(self, system_prompt: str) -> LlamaPersona:
        return await asyncio.to_thread(self._prepare_sync, system_prompt)

    async def read_persona(self, system_prompt: str) -> bool:
        """Not in the background: llama-cpp-python reads a persona in one call that a reply
        would have to wait for (the default runtime, xllamacpp, does)."""
        return False

    async def read_ahead(self, persona: PreparedPersona, messages: Sequence[ChatMessage]) -> None:
        if not isinstance(persona, LlamaPersona):
            raise TypeError("a persona prepared by another dialogue backend")
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        reading = loop.run_in_executor(None, self._read_ahead_sync, persona, list(messages), stop)
        try:
            await asyncio.shield(reading)
        finally:
            stop.set()  # cancelled: the thread stops after the batch it is reading

    def _read_ahead_sync(
        self, persona: LlamaPersona, messages: list[ChatMessage], stop: threading.Event
    ) -> None:
        """Reads the prompt up to the end of the caller's words (not the `<|im_end|>` and
        assistant header after them: the words may still grow), in small batches so a reply
        that starts meanwhile waits at most one batch. llama-cpp-python's completion then
        reuses the longest common prefix of what is cached."""
        prompt = prompt_through_words(self.render, messages)
        if prompt is None:
            return
        tokens = self.tokenize(prompt)
        if len(tokens) + self._settings.max_reply_tokens > self.n_ctx:
            return  # the reply will drop old turns (_fit): this prefix would not be reused
        if not self._lock.acquire(blocking=False):
            return  # a reply (this call's or another's) is being written: never delay it
        try:
            llm = self._llm
            cached = list(llm.input_ids[: len(persona.prefix_tokens)])
            if cached != persona.prefix_tokens and persona.state:
                self._restore_context_state(persona)
            common = 0
            for have, want in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
                if have != want:
                    break
                common += 1
            llm.n_tokens = common
            for start in range(common, len(tokens), READ_AHEAD_BATCH):
                if stop.is_set():
                    return
                llm.eval(tokens[start : start + READ_AHEAD_BATCH])
            self.read_ahead_tokens += len(tokens) - common
        finally:
            self._lock.release()

    def _fit(self, messages: Sequence[ChatMessage], max_tokens: int) -> list[int]:
        """Tokens of the prompt, dropping the oldest turns until the reply fits in n_ctx."""
        kept = list(messages)
        while True:
            tokens = self.tokenize(self.render(kept))
            if len(tokens) + max_tokens <= self.n_ctx or len(kept) <= 2:
                return tokens
            del kept[1:3]

    def _generate_sync(
        self,
        persona: LlamaPersona,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        emit: Callable[[object], None],
        stop: threading.Event,
        grammar: Any = None,
        temperature: float | None = None,
        hold: WritingHold | None = None,
    ) -> None:
        tokens = self._fit(messages, max_tokens)
        with self._lock:
            cached = list(self._llm.input_ids[: len(persona.prefix_tokens)])
            if cached != persona.prefix_tokens and persona.state:
                self._restore_context_state(persona)
            for piece in self._llm.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=self._settings.temperature if temperature is None else temperature,
                top_p=0.9,
                repeat_penalty=1.1,
                stream=True,
                stop=self._stop_strings,
                grammar=grammar,
            ):
                if stop.is_set():
                    break
                text = piece["choices"][0]["text"]  # type: ignore[index]
                if text:
                    emit(text)
                if hold is not None:
                    # The next token is computed when the loop asks for it: waiting here
                    # holds the model with nothing lost.
                    hold.wait_released(stop)

    def action_chooser(self) -> LlamaDialogueModel:
        """This model reads its own logits: it decides "act or talk" itself (see below)."""
        return self

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        """Greedy, under a grammar made from the schema. It shares the model (and its lock)
        with the calls; a persona evicted from the context is restored at the next turn."""
        return await asyncio.to_thread(self._json_sync, list(messages), schema, max_tokens)

    def _json_sync(
        self, messages: list[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        grammar = _json_grammar(json.dumps(schema, sort_keys=True))
        with self._lock:
            result = self._llm.create_completion(
                self._fit(messages, max_tokens),
                max_tokens=max_tokens,
                temperature=0.0,
                top_k=1,
                seed=0,
                grammar=grammar,
            )
        return str(result["choices"][0]["text"])  # type: ignore[index]

    async def call_probability(self, user_text: str, tools: Sequence[ToolSpec]) -> float:
        """How likely the caller's words ask for one of these actions, by this model. Decided
        apart from the conversation: a small model that sees its own earlier replies keeps
        talking instead of acting. The routing prompt (the tools) is evaluated once and cached
        like a persona; per turn only the caller's words are read."""
        persona = await self.prepare(routing_prompt(tools))
        return await asyncio.to_thread(self._probability_sync, persona, user_text)

    async def generate_call(self, user_text: str, tools: Sequence[ToolSpec]) -> ToolCall | None:
        """The call, its arguments generated under the tools' grammar (always well-formed)."""
        persona = await self.prepare(routing_prompt(tools))
        return await asyncio.to_thread(self._call_sync, persona, user_text, tools)

    def _routing_tokens(self, persona: LlamaPersona, user_text: str) -> list[int]:
        messages: list[ChatMessage] = [
            {"role": "system", "content": persona.system_prompt},
            {"role": "user", "content": user_text},
        ]
        tokens = self._fit(messages, 128)
        cached = list(self._llm.input_ids[: len(persona.prefix_tokens)])
        if cached != persona.prefix_tokens and persona.state:
            self._restore_context_state(persona)
        return tokens

    def _probability_sync(self, persona: LlamaPersona, user_text: str) -> float:
        with self._lock:
            return self._call_probability(self._routing_tokens(persona, user_text))

    def _call_sync(
        self, persona: LlamaPersona, user_text: str, tools: Sequence[ToolSpec]
    ) -> ToolCall | None:
        with self._lock:
            result = self._llm.create_completion(
                self._routing_tokens(persona, user_text),
                max_tokens=160,
                temperature=0.0,
                grammar=_grammar_for(tools, calls_only=True),
            )
        text = str(result["choices"][0]["text"])  # type: ignore[index]
        self._actions += 1
        return parse_call(text, tools, f"call_{self._actions}")

    def _call_probability(self, tokens: list[int]) -> float:
        """P(the reply starts with call markup), from the logits after the prompt."""
        import numpy as np

        llm = self._llm
        common = 0
        for cached, wanted in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
            if cached != wanted:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last token is evaluated for its logits
        llm.n_tokens = common
        llm.eval(tokens[common:])
        raw = llm._ctx.get_logits()  # type: ignore[no-untyped-call]
        logits = np.ctypeslib.as_array(raw, shape=(llm.n_vocab(),))
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        return float(probabilities[self._call_start_tokens].sum())

    @property
    def _call_start_tokens(self) -> list[int]:
        if self._call_tokens is None:
            # Every token whose text is a non-empty prefix of the call markup ("<", "<c", ...).
            vocabulary = self._llm.n_vocab()
            found = []
            for token in range(vocabulary):
                piece = self._llm.detokenize([token]).decode("utf-8", errors="ignore")
                if piece and CALL_OPEN.startswith(piece.lstrip()) and piece.strip():
                    found.append(token)
            self._call_tokens = found
        return self._call_tokens

    async def stream(
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
        if not isinstance(persona, LlamaPersona):
            raise TypeError("a persona prepared by another dialogue backend")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                if tools:
                    grammar = _grammar_for(tools)
                else:
                    grammar = _speech_grammar() if speech_only else None
                self._generate_sync(
                    persona, messages, max_tokens, emit, stop, grammar, temperature, hold
                )
            except BaseException as exc:  # handed to the consumer, re-raised there
                emit(exc)
            finally:
                emit(_DONE)

        worker = loop.run_in_executor(None, run)
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield str(item)
        finally:
            # Barge-in or a consumer that stopped early: the thread notices at the next token.
            stop.set()
            await asyncio.shield(worker)
