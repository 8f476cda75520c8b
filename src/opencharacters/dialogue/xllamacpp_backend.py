"""Embedded dialogue: a GGUF chat model run by llama.cpp's own server, in-process (xllamacpp).

xllamacpp ships llama.cpp prebuilt (a wheel that installs in seconds, where llama-cpp-python
compiles for ~14 minutes here). Its server keeps what the real-time path needs:
- persona caching: each persona's prefix is read once in `prepare`; the server's prompt cache
  keeps evaluated prompts in memory and, when a turn of another session comes, stores the
  slot's state and restores the cached prompt that shares the longest prefix with the new one,
  so a turn reads only what follows the persona (and what the last turn of this session left);
- grammars: llguidance (the server's JSON-schema engine) constrains calls and speech;
- the act-or-talk probability from the top log-probabilities of the first reply token;
- streaming by callback (run in a worker thread), cancelled when the callback says stop.

Tokenizing and rendering the chat template go through the same server's loopback HTTP
endpoints (`/tokenize`, `/apply-template`), guarded by a random API key: xllamacpp exposes only
completions in Python, and the server's template engine is the one the model was published
with. Both are answered on the HTTP thread, never queued behind a reply being written."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
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
    call_grammar_lark,
    parse_call,
    routing_prompt,
)
from opencharacters.engine_settings import DialogueSettings

_DONE = object()
CALL_PROBABILITY_TOP = 50
"""Top log-probabilities read for the act-or-talk decision. The call's first token ("<", "<c",
" <" ...) is among them whenever it matters; what is left out is below 1/50 each and summed
by the old backend's full softmax to the same decision (bench/dialogue_bench.py agreement)."""
READ_AHEAD_STEP = 32
"""Tokens read per step ahead of a reply: a reply that starts meanwhile waits for one step."""


@dataclass(slots=True)
class XLlamaPersona:
    system_prompt: str
    prefix_tokens: list[int]
    prepare_s: float = 0.0


class XLlamaDialogueModel:
    def __init__(self, model_path: Path, settings: DialogueSettings) -> None:
        import xllamacpp

        self._settings = settings
        self.model_path = model_path
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_ctx = settings.n_ctx
        params.n_parallel = 1  # one slot: every session's turns queue, as they share the CPU
        params.cpuparams.n_threads = settings.threads
        params.cpuparams_batch.n_threads = settings.batch_threads
        params.no_extra_bufts = not settings.cpu_extra_buffers
        # Evaluated prompts kept in memory (personas and their last turns). An upper bound, not
        # an allocation: ~12 KB per token for the 0.5B, ~28 KB for the 1.5B.
        params.cache_ram_mib = max(64, settings.persona_cache_size * 128)
        params.warmup = False
        params.verbosity = -1
        params.port = 0  # loopback, a free port: only for /tokenize and /apply-template
        params.hostnames = ["127.0.0.1"]
        params.ui = False  # no web UI on that port
        params.endpoint_slots = False
        params.endpoint_metrics = False
        self._key = secrets.token_urlsafe(24)
        params.api_keys = [self._key]
        self._server = xllamacpp.Server(params)
        self._address = self._server.listening_address
        # The server answers before its task loop has started; a server dropped in that window
        # (`models check` loads and drops each model) never sees the stop and its destructor
        # waits forever. One tiny request returns only once the loop runs.
        self._server.handle_completions({"prompt": "a", "max_tokens": 0, "cache_prompt": False})
        self._stop_strings = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "</s>", "\n\n", "```"]
        self._prepared_lock = threading.Lock()
        self._prepared: dict[str, XLlamaPersona] = {}
        self._busy = 0
        """Replies and persona reads being done or waiting (read-ahead and a persona read in
        the background never delay one)."""
        self._busy_lock = threading.Lock()
        self._actions = 0
        self.read_ahead_tokens = 0
        """Prompt tokens read ahead of replies (for tests and bench/)."""
        self._slot: tuple[list[int], int] = ([], 0)
        """What the server's one slot holds: the last request's prompt and how many tokens
        were generated after it (their ids are not returned, only their count)."""
        self.last_timings: dict[str, Any] = {}
        """The server's figures for the last request: prompt_n (tokens read), cache_n (tokens
        reused from the cache), predicted_n ... (for tests and bench/)."""
        self.n_ctx = settings.n_ctx

    # -- the server's loopback endpoints ------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self._address + path,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text of these messages by the model's chat template, ending with the
        assistant's header (the reply comes next)."""
        return str(self._post("/apply-template", {"messages": list(messages)})["prompt"])

    def tokenize(self, text: str) -> list[int]:
        body = {"content": text, "add_special": False, "parse_special": True}
        return [int(t) for t in self._post("/tokenize", body)["tokens"]]

    # -- completions ----------------------------------------------------------------------------

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._server.handle_completions({**request, "cache_prompt": True})
        if "choices" not in result:
            raise RuntimeError(f"llama.cpp refused the request: {result}")
        self.last_timings = dict(result.get("timings") or {})
        self._slot_holds(request["prompt"])
        return result

    def _slot_holds(self, prompt: list[int]) -> None:
        self._slot = (prompt, int(self.last_timings.get("predicted_n", 0)))

    def _cached_for(self, tokens: list[int]) -> int:
        """How many leading tokens of `tokens` the slot may hold already: their common prefix
        with the last prompt and, when that prompt was all of it, the tokens generated after it
        (a reply re-rendered in the history). An upper bound: the server itself keeps only what
        matches, and reads the rest."""
        prompt, generated = self._slot
        common = 0
        for had, wanted in zip(prompt, tokens, strict=False):
            if had != wanted:
                break
            common += 1
        if common == len(prompt):
            common += generated
        return min(common, len(tokens))

    def _prepare_sync(self, system_prompt: str) -> XLlamaPersona:
        started = time.perf_counter()
        known = self._known(system_prompt, started)
        if known is not None:
            return known
        tokens = self._persona_tokens(system_prompt)
        self._enter()  # a persona read in the background gives way
        try:
            self._complete({"prompt": tokens, "max_tokens": 0})
        finally:
            self._leave()
        return self._remember(XLlamaPersona(system_prompt, tokens, time.perf_counter() - started))

    async def prepare(self, system_prompt: str) -> XLlamaPersona:
        return await asyncio.to_thread(self._prepare_sync, system_prompt)

    async def read_persona(self, system_prompt: str) -> bool:
        """Reads a persona before any call needs it (an avatar just saved), in steps of
        READ_AHEAD_STEP tokens that give way to every other request: a reply, a read-ahead
        or a call's own `prepare` that comes meanwhile waits for one step at most. True when
        the persona is read (a later `prepare` returns at once); False when it gave way."""
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        reading = loop.run_in_executor(None, self._read_persona_sync, system_prompt, stop)
        try:
            return await asyncio.shield(reading)
        finally:
            stop.set()  # cancelled: the thread stops after the step it is reading

    def _read_persona_sync(self, system_prompt: str, stop: threading.Event) -> bool:
        started = time.perf_counter()
        if self._known(system_prompt, started) is not None:
            return True
        tokens = self._persona_tokens(system_prompt)
        done = self._cached_for(tokens)
        while done < len(tokens):
            if stop.is_set() or self._busy:
                return False
            done = min(done + READ_AHEAD_STEP, len(tokens))
            self._complete({"prompt": tokens[:done], "max_tokens": 0})
        self._remember(XLlamaPersona(system_prompt, tokens, time.perf_counter() - started))
        return True

    def _known(self, system_prompt: str, started: float) -> XLlamaPersona | None:
        """A persona read before (by another session of the same avatar, or in the background):
        its evaluated prefix is in the server's prompt cache."""
        with self._prepared_lock:
            known = self._prepared.get(system_prompt)
        if known is None:
            return None
        return XLlamaPersona(system_prompt, known.prefix_tokens, time.perf_counter() - started)

    def _persona_tokens(self, system_prompt: str) -> list[int]:
        tokens = self.tokenize(persona_prefix(self.render, system_prompt))
        room = self.n_ctx - self._settings.max_reply_tokens - 256
        if len(tokens) > room:
            raise ValueError(
                f"the personality needs {len(tokens)} tokens but n_ctx={self.n_ctx} leaves room "
                f"for {room}; raise OPENCHARACTERS_ENGINES__DIALOGUE__N_CTX"
            )
        return tokens

    def _remember(self, persona: XLlamaPersona) -> XLlamaPersona:
        with self._prepared_lock:
            self._prepared[persona.system_prompt] = persona
            while len(self._prepared) > max(self._settings.persona_cache_size, 1):
                self._prepared.pop(next(iter(self._prepared)))
        return persona

    def _fit(self, messages: Sequence[ChatMessage], max_tokens: int) -> list[int]:
        """Tokens of the prompt, dropping the oldest turns until the reply fits in n_ctx."""
        kept = list(messages)
        while True:
            tokens = self.tokenize(self.render(kept))
            if len(tokens) + max_tokens <= self.n_ctx or len(kept) <= 2:
                return tokens
            del kept[1:3]

    def _sampling(self, temperature: float | None) -> dict[str, Any]:
        return {
            "temperature": self._settings.temperature if temperature is None else temperature,
            "top_p": 0.9,
            "repeat_penalty": 1.1,
        }

    def _generate_sync(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        emit: Callable[[object], None],
        stop: threading.Event,
        grammar: str | None,
        temperature: float | None,
        hold: WritingHold | None = None,
    ) -> None:
        prompt = self._fit(messages, max_tokens)
        request: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "stream": True,
            "stop": self._stop_strings,
            "cache_prompt": True,
            **self._sampling(temperature),
        }
        if grammar is not None:
            request["grammar"] = grammar
        # The server writes on while its callback waits, so a hold ends the request; the
        # next one continues from the prompt and the words so far, which its cache holds
        # (one token is read again). A call grammar could not be resumed mid-way: no hold.
        held_by = hold if grammar in (None, SPEECH_GRAMMAR) else None
        written: list[str] = []
        failure: list[str] = []
        paused = False

        def on_chunk(chunk: dict[str, Any]) -> bool:
            """Called by the server for each piece; True stops it (the task is cancelled)."""
            nonlocal paused
            if stop.is_set():
                return True
            choices = chunk.get("choices")
            if not choices:
                failure.append(json.dumps(chunk))
                return True
            text = choices[0].get("text") or ""
            if text:
                written.append(text)
                emit(text)
            if chunk.get("timings"):
                self.last_timings = dict(chunk["timings"])
            if held_by is not None and held_by.held and not choices[0].get("finish_reason"):
                paused = True
                return True
            return False

        self.last_timings = {}
        while True:
            paused = False
            try:
                self._server.handle_completions(request, on_chunk)
            finally:
                self._slot_holds(request["prompt"])
            if failure:
                raise RuntimeError(f"llama.cpp stopped the reply: {failure[0]}")
            left = max_tokens - len(written)
            if held_by is None or not paused or stop.is_set() or left <= 0:
                return
            held_by.wait_released(stop)
            if stop.is_set():
                return
            request = {
                **request,
                "prompt": prompt + self.tokenize("".join(written)),
                "max_tokens": left,
            }

    def _enter(self) -> None:
        with self._busy_lock:
            self._busy += 1

    def _leave(self) -> None:
        with self._busy_lock:
            self._busy -= 1

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
        if not isinstance(persona, XLlamaPersona):
            raise TypeError("a persona prepared by another dialogue backend")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()
        if tools:
            grammar: str | None = call_grammar_lark(tools)
        else:
            grammar = SPEECH_GRAMMAR if speech_only else None

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                self._generate_sync(messages, max_tokens, emit, stop, grammar, temperature, hold)
            except BaseException as exc:  # handed to the consumer, re-raised there
                emit(exc)
            finally:
                self._leave()
                emit(_DONE)

        self._enter()
        worker = loop.run_in_executor(None, run)
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield str(item)
        finally:
            # Barge-in or a consumer that stopped early: the server stops at the next token.
            stop.set()
            await asyncio.shield(worker)

    async def read_ahead(self, persona: PreparedPersona, messages: Sequence[ChatMessage]) -> None:
        """A head start while the caller still speaks: the prompt up to the end of the caller's
        words so far (not the end-of-turn and assistant header: the words may still grow) is
        read into the server's cache in steps of READ_AHEAD_STEP tokens, so a reply that
        starts meanwhile waits for one step at most; skipped while a reply is being written."""
        if not isinstance(persona, XLlamaPersona):
            raise TypeError("a persona prepared by another dialogue backend")
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        reading = loop.run_in_executor(None, self._read_ahead_sync, persona, list(messages), stop)
        try:
            await asyncio.shield(reading)
        finally:
            stop.set()  # cancelled: the thread stops after the step it is reading

    def _read_ahead_sync(
        self, persona: XLlamaPersona, messages: list[ChatMessage], stop: threading.Event
    ) -> None:
        prompt = prompt_through_words(self.render, messages)
        if prompt is None:
            return
        tokens = self.tokenize(prompt)
        if len(tokens) + self._settings.max_reply_tokens > self.n_ctx:
            return  # the reply will drop old turns (_fit): this prefix would not be reused
        # Each step's prompt ends where reading stops, and the server drops whatever it held
        # past a prompt: stepping must start at what the slot already holds (the last reply
        # and its generated words included), or the history would be dropped and read again.
        done = max(self._cached_for(tokens), len(persona.prefix_tokens))
        while done < len(tokens) and not stop.is_set():
            if self._busy:
                return  # a reply is being written or waits: never delay it
            done = min(done + READ_AHEAD_STEP, len(tokens))
            before = self.read_ahead_tokens
            self._complete({"prompt": tokens[:done], "max_tokens": 0})
            self.read_ahead_tokens = before + int(self.last_timings.get("prompt_n", 0))

    # -- deciding act or talk ---------------------------------------------------------------

    def action_chooser(self) -> XLlamaDialogueModel:
        """This model reads its own log-probabilities: it decides "act or talk" itself."""
        return self

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        """Greedy, constrained by the schema (the server's llguidance)."""
        return await asyncio.to_thread(self._json_sync, list(messages), schema, max_tokens)

    def _json_sync(
        self, messages: list[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        self._enter()
        try:
            result = self._complete(
                {
                    "prompt": self._fit(messages, max_tokens),
                    "max_tokens": max_tokens,
                    "temperature": 0.0,
                    "top_k": 1,
                    "seed": 0,
                    "json_schema": schema,
                }
            )
        finally:
            self._leave()
        return str(result["choices"][0]["text"])

    def _routing_tokens(self, persona: XLlamaPersona, user_text: str) -> list[int]:
        messages: list[ChatMessage] = [
            {"role": "system", "content": persona.system_prompt},
            {"role": "user", "content": user_text},
        ]
        return self._fit(messages, 128)

    async def call_probability(self, user_text: str, tools: Sequence[ToolSpec]) -> float:
        """How likely the caller's words ask for one of these actions, by this model. Decided
        apart from the conversation (a small model that sees its own earlier replies keeps
        talking instead of acting); the routing prompt (the tools) is cached like a persona."""
        persona = await self.prepare(routing_prompt(tools))
        return await asyncio.to_thread(self._probability_sync, persona, user_text)

    def _probability_sync(self, persona: XLlamaPersona, user_text: str) -> float:
        """P(the reply starts with call markup): the probabilities, before sampling, of the
        first token's top candidates whose text begins the markup ("<", "<c", " <" ...)."""
        self._enter()
        try:
            result = self._complete(
                {
                    "prompt": self._routing_tokens(persona, user_text),
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "n_probs": CALL_PROBABILITY_TOP,
                }
            )
        finally:
            self._leave()
        first = result["choices"][0]["logprobs"]["content"][0]
        total = 0.0
        for candidate in first["top_logprobs"]:
            piece = bytes(candidate["bytes"]).decode("utf-8", errors="ignore")
            if piece.strip() and CALL_OPEN.startswith(piece.lstrip()):
                total += math.exp(candidate["logprob"])
        return min(total, 1.0)

    async def generate_call(self, user_text: str, tools: Sequence[ToolSpec]) -> ToolCall | None:
        """The call, its arguments generated under the tools' grammar (always well-formed)."""
        persona = await self.prepare(routing_prompt(tools))
        return await asyncio.to_thread(self._call_sync, persona, user_text, tuple(tools))

    def _call_sync(
        self, persona: XLlamaPersona, user_text: str, tools: tuple[ToolSpec, ...]
    ) -> ToolCall | None:
        self._enter()
        try:
            result = self._complete(
                {
                    "prompt": self._routing_tokens(persona, user_text),
                    "max_tokens": 160,
                    "temperature": 0.0,
                    "grammar": call_grammar_lark(tools, calls_only=True),
                }
            )
        finally:
            self._leave()
        self._actions += 1
        return parse_call(str(result["choices"][0]["text"]), tools, f"call_{self._actions}")
