"""Conversational actions: a session's tools as functions the dialogue model can call.

A small local model cannot be trusted to write a well-formed call, so its output is constrained
by a grammar: a reply is either speech, or exactly one call `<call>{"name": ..., "arguments":
{...}}</call>` whose arguments follow the tool's JSON schema. Hosted (OpenAI-compatible) models
get the same tools through native tool calling. Whatever a model produces, arguments are checked
against the tool's parameters before anything is sent: repairable ones are repaired (a number
in a string, a missing optional field), the rest are reported back to the model, never
forwarded."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CALL_OPEN = "<call>"
CALL_CLOSE = "</call>"
SPEECH_GRAMMAR = "root ::= [^<{}\\x00]+"
"""Speech that cannot contain call markup or JSON (the reply after an action)."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    type: str
    """`client_event` (sent to the caller's app) or `backend_rpc` (the developer's backend)."""
    name: str
    description: str
    parameters: tuple[Mapping[str, Any], ...] = ()
    timeout_s: float = 4.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolSpec:
        return cls(
            type=str(data["type"]),
            name=str(data["name"]),
            description=str(data["description"]),
            parameters=tuple(data.get("parameters") or ()),
            timeout_s=float(data.get("timeoutSeconds", 4.0)),
        )

    def arguments_schema(self) -> dict[str, Any]:
        return _object_schema(self.parameters)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class ToolOutcome:
    result: Any = None
    error: str | None = None
    duration_ms: float | None = None

    @classmethod
    def since(cls, started: float, *, result: Any = None, error: str | None = None) -> ToolOutcome:
        """An outcome timed from `started` (a `time.perf_counter()` reading) to now."""
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return cls(result=result, error=error, duration_ms=elapsed)


@dataclass(slots=True)
class ToolRecord:
    """One call and its result, as the transcript stores them (runway-api.md §3.3)."""

    call: ToolCall
    outcome: ToolOutcome = field(default_factory=ToolOutcome)

    def call_json(self) -> dict[str, Any]:
        return {"id": self.call.id, "name": self.call.name, "arguments": self.call.arguments}

    def result_json(self) -> dict[str, Any]:
        return {
            "id": self.call.id,
            "name": self.call.name,
            "result": self.outcome.result,
            "error": self.outcome.error,
            "durationMs": self.outcome.duration_ms,
        }


def parse_tools(raw: Sequence[Mapping[str, Any]]) -> list[ToolSpec]:
    return [ToolSpec.from_json(tool) for tool in raw]


# ----- schemas ---------------------------------------------------------------------------------

_SCALARS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


def _parameter_schema(parameter: Mapping[str, Any]) -> dict[str, Any]:
    kind = parameter["type"]
    schema: dict[str, Any]
    if kind == "array":
        schema = {"type": "array", "items": {"type": _SCALARS[parameter["items"]["type"]]}}
    elif kind == "object":
        schema = _object_schema(parameter.get("properties") or ())
    else:
        schema = {"type": _SCALARS[kind]}
        if kind == "string" and parameter.get("enum"):
            schema["enum"] = list(parameter["enum"])
    if parameter.get("description"):
        schema["description"] = parameter["description"]
    return schema


def _object_schema(parameters: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p["name"]: _parameter_schema(p) for p in parameters},
        "required": [p["name"] for p in parameters if p.get("required", True)],
        "additionalProperties": False,
    }


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """The tools in OpenAI's chat-completions `tools` format."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.arguments_schema(),
            },
        }
        for tool in tools
    ]


# ----- prompting and constrained decoding -------------------------------------------------------


def tools_prompt(tools: Sequence[ToolSpec]) -> str:
    """What the model is told about its actions (goes into the cached system prompt)."""
    lines = [
        "You can also perform actions. When the caller asks for something one of these actions "
        "does, reply with only the action call, exactly in this form and nothing else: "
        f'{CALL_OPEN}{{"name": "ACTION", "arguments": {{...}}}}{CALL_CLOSE}. '
        "Otherwise just talk. Actions:"
    ]
    for tool in tools:
        arguments = ", ".join(
            f"{p['name']} ({p['type']}{', optional' if not p.get('required', True) else ''}"
            + (f", one of {', '.join(p['enum'])}" if p.get("enum") else "")
            + f"): {p['description']}"
            for p in tool.parameters
        )
        lines.append(
            f"- {tool.name}: {tool.description}"
            + (f" Arguments: {arguments}." if arguments else "")
        )
    return "\n".join(lines)


def routing_prompt(tools: Sequence[ToolSpec]) -> str:
    """The system prompt of the separate act-or-talk decision (see LlamaDialogueModel)."""
    return (
        "You decide whether a caller's words ask for one of the actions below. If they do, "
        "answer with only the action call, exactly: "
        f'{CALL_OPEN}{{"name": "ACTION", "arguments": {{...}}}}{CALL_CLOSE}. If they do not '
        "(small talk, questions the actions do not answer), answer: none.\n"
        + tools_prompt(tools).split("\n", 1)[1]
    )


def _calls_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "name": {"const": tool.name},
                    "arguments": tool.arguments_schema(),
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for tool in tools
        ]
    }


def call_grammar(tools: Sequence[ToolSpec], *, calls_only: bool = False) -> str:
    """GBNF for "speech, or one well-formed call" over these tools (llama-cpp-python's
    grammars); `calls_only`: a call, whichever tool fits best."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    rules = json_schema_to_gbnf(json.dumps(_calls_schema(tools)))
    # The converter names its entry rule `root`; ours wraps it.
    rules = rules.replace("root ::=", "call-json ::=", 1)
    speech = "speech ::= [^<{}\\x00]+"
    call = f'"{CALL_OPEN}" call-json "{CALL_CLOSE}"'
    root = f"root ::= {call}" if calls_only else f"root ::= {call} | speech"
    return "\n".join([root, speech, rules])


def call_grammar_lark(tools: Sequence[ToolSpec], *, calls_only: bool = False) -> str:
    """The same language as `call_grammar`, written for llguidance (the grammar engine of the
    prebuilt llama.cpp in xllamacpp, whose JSON-schema converter emits llguidance, not GBNF):
    the call's JSON is constrained by the schema itself (`%json`)."""
    call_json = json.dumps(_calls_schema(tools), sort_keys=True)
    start = "start: call" if calls_only else "start: call | speech"
    return "\n".join(
        [
            "%llguidance {}",
            start,
            f'call: "{CALL_OPEN}" call_json "{CALL_CLOSE}"',
            f"call_json: %json {call_json}",
            "speech: /[^<{}\\x00]+/",
        ]
    )


def parse_call(text: str, tools: Sequence[ToolSpec], call_id: str) -> ToolCall | None:
    """A `<call>{...}</call>` reply as a call (None when it is not one)."""
    stripped = text.strip()
    if not stripped.startswith(CALL_OPEN):
        return None
    body = stripped[len(CALL_OPEN) :]
    if CALL_CLOSE in body:
        body = body[: body.index(CALL_CLOSE)]
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    names = {tool.name for tool in tools}
    name = data.get("name")
    arguments = data.get("arguments", {})
    if name not in names or not isinstance(arguments, dict):
        return None
    return ToolCall(call_id, str(name), arguments)


# ----- argument checking -----------------------------------------------------------------------


class InvalidArguments(ValueError):
    pass


def check_arguments(tool: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments that match the tool's parameters, repaired where that is unambiguous; raises
    InvalidArguments (naming the argument) otherwise."""
    return _check_object(tool.parameters, arguments, "")


def _check_object(parameters: Sequence[Mapping[str, Any]], value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArguments(f"{path or 'arguments'}: expected an object")
    out: dict[str, Any] = {}
    for parameter in parameters:
        name = parameter["name"]
        where = f"{path}{name}"
        if name not in value or value[name] is None:
            if parameter.get("required", True):
                raise InvalidArguments(f"{where}: required")
            continue
        out[name] = _check_value(parameter, value[name], where)
    # Keys the tool does not declare are dropped: the developer's code never sees them.
    return out


def _check_value(parameter: Mapping[str, Any], value: Any, where: str) -> Any:
    kind = parameter["type"]
    if kind == "object":
        return _check_object(parameter.get("properties") or (), value, f"{where}.")
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        item_kind = {"type": parameter["items"]["type"]}
        return [_check_value(item_kind, item, f"{where}[{i}]") for i, item in enumerate(items)]
    if kind == "string":
        text = value if isinstance(value, str) else json.dumps(value)
        enum = parameter.get("enum")
        if enum and text not in enum:
            matches = [option for option in enum if option.lower() == text.strip().lower()]
            if len(matches) != 1:
                raise InvalidArguments(f"{where}: must be one of {', '.join(enum)}")
            text = matches[0]
        return text
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise InvalidArguments(f"{where}: expected true or false")
    if kind in ("integer", "number"):
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise InvalidArguments(f"{where}: expected a {kind}") from None
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InvalidArguments(f"{where}: expected a {kind}")
        if kind == "integer":
            if float(number) != int(number):
                raise InvalidArguments(f"{where}: expected a whole number")
            return int(number)
        return float(number) if isinstance(number, float) else number
    raise InvalidArguments(f"{where}: unsupported type {kind}")
