"""Actions: schemas, the call grammar, argument checking, and the conversation's action turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from opencharacters.dialogue.backend import WritingHold
from opencharacters.dialogue.conversation import Conversation
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import (
    InvalidArguments,
    ToolCall,
    ToolOutcome,
    ToolSpec,
    call_grammar,
    check_arguments,
    openai_tools,
    parse_call,
)
from opencharacters.engine_settings import DialogueSettings

SHOW = ToolSpec.from_json(
    {
        "type": "client_event",
        "name": "show_product",
        "description": "Show a product",
        "parameters": [
            {"type": "string", "name": "product", "description": "which", "enum": ["hat", "shoes"]},
            {"type": "integer", "name": "count", "description": "how many", "required": False},
        ],
    }
)
ORDER = ToolSpec.from_json(
    {
        "type": "backend_rpc",
        "name": "check_order",
        "description": "Look up an order",
        "timeoutSeconds": 2,
        "parameters": [
            {"type": "string", "name": "order_id", "description": "id"},
            {
                "type": "object",
                "name": "options",
                "description": "extras",
                "required": False,
                "properties": [
                    {"type": "boolean", "name": "express", "description": "fast"},
                    {
                        "type": "array",
                        "name": "tags",
                        "description": "labels",
                        "items": {"type": "number"},
                        "required": False,
                    },
                ],
            },
        ],
    }
)

pytestmark = pytest.mark.unit


def test_parameters_become_json_schemas() -> None:
    schema = ORDER.arguments_schema()
    assert schema["required"] == ["order_id"]
    assert schema["additionalProperties"] is False
    options = schema["properties"]["options"]
    assert options["required"] == ["express"]
    assert options["properties"]["tags"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "labels",
    }
    assert SHOW.arguments_schema()["properties"]["product"]["enum"] == ["hat", "shoes"]
    assert ORDER.timeout_s == 2
    native = openai_tools([SHOW])
    assert native[0]["function"]["name"] == "show_product"
    assert native[0]["function"]["parameters"]["required"] == ["product"]


def test_the_call_grammar_compiles_for_llama_cpp() -> None:
    grammars = pytest.importorskip("llama_cpp.llama_grammar", reason="the optional runtime")

    grammar = call_grammar([SHOW, ORDER])
    assert grammar.startswith('root ::= "<call>" call-json "</call>" | speech')
    grammars.LlamaGrammar.from_string(grammar, verbose=False)


def test_arguments_are_checked_and_repaired() -> None:
    assert check_arguments(SHOW, {"product": "HAT", "count": "2", "junk": 1}) == {
        "product": "hat",
        "count": 2,
    }
    assert check_arguments(
        ORDER, {"order_id": 4417, "options": {"express": "true", "tags": ["1.5", 2]}}
    ) == {"order_id": "4417", "options": {"express": True, "tags": [1.5, 2]}}
    with pytest.raises(InvalidArguments, match="product: must be one of hat, shoes"):
        check_arguments(SHOW, {"product": "scarf"})
    with pytest.raises(InvalidArguments, match="order_id: required"):
        check_arguments(ORDER, {})
    with pytest.raises(InvalidArguments, match="count: expected a whole number"):
        check_arguments(SHOW, {"product": "hat", "count": 1.5})
    with pytest.raises(InvalidArguments, match=r"options\.express: expected true or false"):
        check_arguments(ORDER, {"order_id": "1", "options": {"express": "maybe"}})


def test_calls_are_parsed_only_for_known_tools() -> None:
    text = '<call>{"name": "show_product", "arguments": {"product": "hat"}}</call>'
    assert parse_call(text, [SHOW], "c1") == ToolCall("c1", "show_product", {"product": "hat"})
    assert parse_call(text.replace("show_product", "launch_missiles"), [SHOW], "c1") is None
    assert parse_call("Hello there", [SHOW], "c1") is None
    assert parse_call("<call>{not json</call>", [SHOW], "c1") is None


class ScriptedModel:
    """Answers each prompt with the next scripted text, in small deltas."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.prompts: list[list[ChatMessage]] = []
        self.tools_seen: list[tuple[str, ...]] = []

    async def prepare(self, system_prompt: str) -> Any:
        return type("Persona", (), {"system_prompt": system_prompt})()

    def action_chooser(self) -> None:
        return None  # actions come in the reply stream, as a server model's do

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        raise AssertionError("not used by conversations")

    async def stream(
        self,
        persona: Any,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        *,
        speech_only: bool = False,
        temperature: float | None = None,
        hold: WritingHold | None = None,
    ) -> AsyncIterator[str]:
        self.prompts.append(list(messages))
        self.tools_seen.append(tuple(t.name for t in tools))
        text = self.replies.pop(0)
        for i in range(0, len(text), 7):
            yield text[i : i + 7]


async def test_an_action_turn_runs_the_tool_and_speaks_the_outcome() -> None:
    call = {"name": "check_order", "arguments": {"order_id": "4417"}}
    model = ScriptedModel(f"<call>{json.dumps(call)}</call>", "Sure, anything else?")
    conversation = Conversation(model, "You are Sam.", DialogueSettings(), tools=[SHOW, ORDER])
    assert "check_order: Look up an order" in conversation.system_prompt
    ran: list[ToolCall] = []

    async def run(tool_call: ToolCall) -> ToolOutcome:
        ran.append(tool_call)
        return ToolOutcome(result={"status": "shipped", "eta": "Friday"}, duration_ms=3.0)

    spoken = [c async for c in conversation.reply("Where is order 4417?", run_tool=run)]
    assert ran == [ToolCall("call_1", "check_order", {"order_id": "4417"})]
    assert " ".join(spoken) == "Here's what I found: status: shipped; eta: Friday."
    assert conversation.history == [
        {"role": "user", "content": "Where is order 4417?"},
        {
            "role": "assistant",
            "content": f"<call>{json.dumps(call)}</call> Here's what I found: status: shipped; "
            "eta: Friday.",
        },
    ]
    # An ordinary turn: the model talks; nothing runs.
    spoken = [c async for c in conversation.reply("Thanks!", run_tool=run)]
    assert " ".join(spoken) == "Sure, anything else?" and len(ran) == 1
    assert model.tools_seen == [("show_product", "check_order"), ("show_product", "check_order")]


async def test_the_model_phrases_outcomes_when_configured() -> None:
    call = {"name": "show_product", "arguments": {"product": "hat"}}
    model = ScriptedModel(f"<call>{json.dumps(call)}</call>", "Here is the hat on your screen.")
    settings = DialogueSettings(tool_replies="model")
    conversation = Conversation(model, "You are Sam.", settings, tools=[SHOW])

    async def failing(tool_call: ToolCall) -> ToolOutcome:
        return ToolOutcome(error="timed out", duration_ms=2000.0)

    spoken = [c async for c in conversation.reply("Show me the hat", run_tool=failing)]
    assert " ".join(spoken) == "Here is the hat on your screen."
    follow_up = model.prompts[1][-1]["content"]
    assert "did not work" in follow_up and "Show me the hat" in follow_up
    assert model.tools_seen[1] == ()  # the answer after an action cannot call again


async def test_barge_in_after_an_action_keeps_the_call_in_the_history() -> None:
    call = {"name": "show_product", "arguments": {"product": "hat"}}
    model = ScriptedModel(f"<call>{json.dumps(call)}</call>")
    conversation = Conversation(model, "You are Sam.", DialogueSettings(), tools=[SHOW])

    async def run(tool_call: ToolCall) -> ToolOutcome:
        return ToolOutcome(result={"status": "event_sent"})

    _ = [c async for c in conversation.reply("Show me the hat", run_tool=run)]
    conversation.keep_heard("")
    assert conversation.history[-1]["content"] == f"<call>{json.dumps(call)}</call>"


EXHIBIT = ToolSpec.from_json(
    {
        "type": "client_event",
        "name": "show_exhibit",
        "description": "Show an exhibit on the caller's screen",
        "parameters": [
            {"type": "string", "name": "exhibit", "description": "which", "enum": ["meridian"]}
        ],
    }
)
HOURS = "The museum opens at ten on Sundays; a ticket costs twelve euros."
QUESTION = "What time does the museum open on Sundays, and how much is a ticket?"


def _exhibit_call() -> str:
    return (
        f"<call>{json.dumps({'name': 'show_exhibit', 'arguments': {'exhibit': 'meridian'}})}</call>"
    )


async def _sent(tool_call: ToolCall) -> ToolOutcome:
    return ToolOutcome(result={"status": "event_sent"}, duration_ms=1.0)


async def test_an_action_never_replaces_the_answer_to_a_question() -> None:
    model = ScriptedModel(
        _exhibit_call(), "We open at ten on Sundays, and a ticket is twelve euros."
    )
    conversation = Conversation(model, "You are Mia.", DialogueSettings(), tools=[EXHIBIT])
    ran: list[ToolCall] = []

    async def run(tool_call: ToolCall) -> ToolOutcome:
        ran.append(tool_call)
        return await _sent(tool_call)

    spoken = " ".join([c async for c in conversation.reply(QUESTION, [HOURS], run_tool=run)])
    assert [c.name for c in ran] == ["show_exhibit"]  # it may act...
    assert spoken == "We open at ten on Sundays, and a ticket is twelve euros."  # ...and answers
    assert "Done" not in spoken
    answer_prompt = model.prompts[1][-1]["content"]
    assert HOURS in answer_prompt and QUESTION in answer_prompt  # answered from the knowledge
    assert model.tools_seen[1] == ()  # the answer cannot call again
    assert conversation.history[-1] == {
        "role": "assistant",
        "content": f"{_exhibit_call()} We open at ten on Sundays, and a ticket is twelve euros.",
    }


async def test_a_request_is_acknowledged_and_a_failed_action_still_answers() -> None:
    model = ScriptedModel(_exhibit_call(), _exhibit_call(), "We open at ten on Sundays.")
    conversation = Conversation(model, "You are Mia.", DialogueSettings(), tools=[EXHIBIT])
    request = [c async for c in conversation.reply("Please show me the meridian.", run_tool=_sent)]
    assert request == ["Done, there you go."] and len(model.prompts) == 1

    async def failing(tool_call: ToolCall) -> ToolOutcome:
        return ToolOutcome(error="timed out")

    spoken = [c async for c in conversation.reply(QUESTION, [HOURS], run_tool=failing)]
    assert " ".join(spoken) == "Sorry, I couldn't do that right now. We open at ten on Sundays."


async def test_a_model_phrasing_outcomes_is_asked_to_answer_the_question() -> None:
    model = ScriptedModel(_exhibit_call(), "Here is the Meridian; we open at ten on Sundays.")
    settings = DialogueSettings(tool_replies="model")
    conversation = Conversation(model, "You are Mia.", settings, tools=[EXHIBIT])
    spoken = [c async for c in conversation.reply(QUESTION, [HOURS], run_tool=_sent)]
    assert " ".join(spoken) == "Here is the Meridian; we open at ten on Sundays."
    follow_up = model.prompts[1][-1]["content"]
    assert HOURS in follow_up and f"The caller said: {QUESTION}" in follow_up
    assert "Answer the caller's question" in follow_up


async def test_after_a_request_and_a_question_only_the_question_is_put_to_the_model() -> None:
    model = ScriptedModel(_exhibit_call(), "A ticket is twelve euros.")
    conversation = Conversation(model, "You are Mia.", DialogueSettings(), tools=[EXHIBIT])
    words = "Show me the meridian, and how much is a ticket?"
    spoken = [c async for c in conversation.reply(words, [HOURS], run_tool=_sent)]
    assert spoken == ["A ticket is twelve euros."]
    asked = model.prompts[1][-1]["content"]
    assert asked.endswith("Caller says: how much is a ticket?") and HOURS in asked
    assert conversation.history[0] == {"role": "user", "content": words}  # kept as said
