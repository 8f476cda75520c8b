"""Dialogue through any OpenAI-compatible streaming chat server (Ollama, vLLM, llama.cpp server,
hosted APIs). Persona caching is the server's business (vLLM and Ollama reuse prefixes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from opencharacters.dialogue.backend import PreparedPersona, WritingHold
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import CALL_CLOSE, CALL_OPEN, ToolSpec, openai_tools
from opencharacters.engine_settings import DialogueSettings


class OpenAIChatError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class RemotePersona:
    system_prompt: str


class OpenAIChatModel:
    def __init__(self, settings: DialogueSettings) -> None:
        self._settings = settings

    async def prepare(self, system_prompt: str) -> RemotePersona:
        return RemotePersona(system_prompt)

    async def read_persona(self, system_prompt: str) -> bool:
        """Nothing to read here: the server caches prompts its own way."""
        return True

    def action_chooser(self) -> None:
        """Servers choose actions in the reply itself (native tool calls)."""
        return None

    async def read_ahead(self, persona: PreparedPersona, messages: Sequence[ChatMessage]) -> None:
        """Nothing: a chat-completions server has no call to read a prompt without answering
        (servers with prefix caching reuse the persona by themselves)."""

    def _headers(self) -> dict[str, str]:
        if self._settings.openai_api_key:
            return {"Authorization": f"Bearer {self._settings.openai_api_key}"}
        return {}

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        """Structured output (`response_format: json_schema`), which vLLM, Ollama, llama.cpp's
        server and hosted APIs accept."""
        url = self._settings.openai_base_url.rstrip("/") + "/chat/completions"
        body: dict[str, Any] = {
            "model": self._settings.openai_model,
            "messages": list(messages),
            "temperature": 0,
            "max_tokens": max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            },
        }
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, json=body, headers=self._headers()) as response,
        ):
            if response.status != 200:
                text = await response.text()
                raise OpenAIChatError(f"{url} answered {response.status}: {text[:300]}")
            answer = await response.json(content_type=None)
        try:
            return str(answer["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise OpenAIChatError(
                f"{url} answered without a message: {str(answer)[:300]}"
            ) from None

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
        # `hold` is not used: the model runs elsewhere, not on the synthesizer's cores.
        url = self._settings.openai_base_url.rstrip("/") + "/chat/completions"
        headers = {"Accept": "text/event-stream", **self._headers()}
        body: dict[str, Any] = {
            "model": self._settings.openai_model,
            "messages": list(messages),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": self._settings.temperature if temperature is None else temperature,
        }
        if tools:
            body["tools"] = openai_tools(tools)
        # A native tool call arrives in pieces; it is handed on in the common textual form.
        call_name = ""
        call_arguments = ""
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, json=body, headers=headers) as response,
        ):
            if response.status != 200:
                text = await response.text()
                raise OpenAIChatError(f"{url} answered {response.status}: {text[:300]}")
            async for raw in response.content:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue  # SSE comments, event names and keep-alive blank lines
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    raise OpenAIChatError(str(event["error"]))
                for choice in event.get("choices", []):
                    delta = choice.get("delta") or {}
                    for call in delta.get("tool_calls") or []:
                        function = call.get("function") or {}
                        call_name += function.get("name") or ""
                        call_arguments += function.get("arguments") or ""
                    content = delta.get("content")
                    if content and not call_name:
                        yield str(content)
        if call_name:
            try:
                arguments = json.loads(call_arguments or "{}")
            except ValueError:
                arguments = {"_unparsed": call_arguments}
            call = json.dumps({"name": call_name, "arguments": arguments})
            yield f"{CALL_OPEN}{call}{CALL_CLOSE}"
