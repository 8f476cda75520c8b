"""The packaged Qwen2.5-0.5B on the optional llama-cpp-python runtime, for real (skipped
without the `llama-cpp` extra; the default runtime's tests are test_dialogue_xllamacpp.py)."""

from __future__ import annotations

import os

import pytest

from opencharacters.dialogue.conversation import Conversation
from opencharacters.dialogue.engines import load_dialogue_model
from opencharacters.dialogue.llama_backend import LlamaDialogueModel, LlamaPersona
from opencharacters.dialogue.spoken import has_markup
from opencharacters.dialogue.tools import ToolCall, ToolOutcome, ToolSpec
from opencharacters.engine_settings import DialogueSettings, EngineSettings

pytest.importorskip("llama_cpp", reason="the optional runtime: pip install '.[llama-cpp]'")

pytestmark = pytest.mark.integration

PERSONA = (
    "You are Mia, the receptionist of Sunrise Dental Clinic. The clinic is open Monday to "
    "Friday, 9am to 5pm. You help callers book, move or cancel appointments."
)


@pytest.fixture(scope="module")
def model() -> LlamaDialogueModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = EngineSettings(dialogue=_settings())
    loaded = load_dialogue_model(settings)
    assert isinstance(loaded, LlamaDialogueModel)
    return loaded


def _settings(**changes: object) -> DialogueSettings:
    return DialogueSettings.model_validate(
        {"max_reply_tokens": 40, "temperature": 0.0, "runtime": "llama-cpp-python", **changes}
    )


async def test_replies_stream_in_spoken_chunks_within_budget(model: LlamaDialogueModel) -> None:
    conversation = Conversation(model, PERSONA, _settings())
    await conversation.prepare()
    chunks = [c async for c in conversation.reply("Hi, when are you open?")]
    assert chunks
    reply = " ".join(chunks)
    assert len(model.tokenize(reply)) <= 40 + 2
    assert not has_markup(reply)
    assert conversation.history[-1] == {"role": "assistant", "content": reply}


async def test_persona_state_is_restored_after_another_session(model: LlamaDialogueModel) -> None:
    mia = Conversation(model, PERSONA, _settings())
    pirate = Conversation(model, "You are Captain Flint, a cheerful pirate.", _settings())
    await mia.prepare()
    await pirate.prepare()
    assert isinstance(mia._persona, LlamaPersona)
    assert mia._persona.state_bytes > 0
    _ = [c async for c in pirate.reply("Ahoy! Who are you?")]
    # Mia's turn must start from her own cached persona, not the pirate's context.
    _ = [c async for c in mia.reply("What is the name of your clinic?")]
    prefix = mia._persona.prefix_tokens
    assert list(model._llm.input_ids[: len(prefix)]) == prefix
    assert "sunrise" in mia.history[-1]["content"].lower()


async def test_closing_the_stream_stops_generation(model: LlamaDialogueModel) -> None:
    persona = await model.prepare("You are a storyteller.")
    messages = [
        {"role": "system", "content": persona.system_prompt},
        {"role": "user", "content": "Tell me a very long story about a dragon."},
    ]
    stream = model.stream(persona, messages, 200)  # type: ignore[arg-type]
    first = await anext(stream)  # type: ignore[arg-type]
    await stream.aclose()  # type: ignore[attr-defined]
    assert first
    # The model is free again: a new request completes.
    again = [d async for d in model.stream(persona, messages, 5)]  # type: ignore[arg-type]
    assert again


@pytest.mark.slow
async def test_a_10000_character_personality_fits(model: LlamaDialogueModel) -> None:
    facts = " ".join(
        f"Fact {i}: the clinic's room {i} has a {['blue', 'green', 'red'][i % 3]} chair."
        for i in range(200)
    )
    personality = (PERSONA + " " + facts)[:10_000]
    persona = await model.prepare(personality)
    assert len(persona.prefix_tokens) < model.n_ctx - 400


async def test_too_long_personality_is_a_clear_error() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    small = EngineSettings(dialogue=_settings(n_ctx=512))
    model = load_dialogue_model(small)
    with pytest.raises(ValueError, match="N_CTX"):
        await model.prepare("word " * 600)


async def test_reading_ahead_leaves_only_the_last_words_to_read(model: LlamaDialogueModel) -> None:
    conversation = Conversation(model, PERSONA, _settings())
    await conversation.prepare()
    conversation.add_assistant_line("Hello, Sunrise Dental, Mia speaking.")
    question = "Hi, when are you open on Fridays?"
    cold = [c async for c in conversation.reply(question, record=False)]
    other = Conversation(model, "You are Captain Flint, a cheerful pirate.", _settings())
    _ = [c async for c in other.reply("Ahoy!")]  # another call used the model since

    read_before = model.read_ahead_tokens
    await conversation.read_ahead("Hi, when are you open")
    assert model.read_ahead_tokens > read_before
    prompt = model.tokenize(model.render(conversation._messages(question, ())))
    cached = list(model._llm.input_ids[: model._llm.n_tokens])
    pairs = enumerate(zip(cached, prompt, strict=False))
    common = next((i for i, (a, b) in pairs if a != b), min(len(cached), len(prompt)))
    persona = conversation._persona
    assert isinstance(persona, LlamaPersona)
    assert common > len(persona.prefix_tokens) + 10, "the start script and the words were read"
    assert len(prompt) - common <= 15, "only the last words and the reply's header are left"
    # What was read ahead is the same context a cold reply builds: the same greedy answer.
    warm = [c async for c in conversation.reply(question, record=False)]
    assert warm == cold


async def test_deciding_at_the_pause_leaves_the_conversation_read(
    model: LlamaDialogueModel,
) -> None:
    show = ToolSpec(
        "client_event",
        "show_map",
        "Shows the caller a map of the clinic.",
        ({"name": "floor", "type": "string", "description": "Which floor"},),
    )
    conversation = Conversation(model, PERSONA, _settings(), tools=[show])
    await conversation.prepare()
    conversation.add_assistant_line("Hello, Sunrise Dental, Mia speaking.")
    question = "Hi, when are you open on Fridays?"
    await conversation.decide_ahead(question)  # reads the routing prompt (replaces the cache)
    await conversation.read_ahead(question)  # as the pipeline does next
    prompt = model.tokenize(model.render(conversation._messages(question, ())))
    cached = list(model._llm.input_ids[: model._llm.n_tokens])
    pairs = enumerate(zip(cached, prompt, strict=False))
    common = next((i for i, (a, b) in pairs if a != b), min(len(cached), len(prompt)))
    assert len(prompt) - common <= 15, "the conversation is back in the cache"

    async def run(call: ToolCall) -> ToolOutcome:
        raise AssertionError(f"a question about hours is talk, not {call.name}")

    spoken = [c async for c in conversation.reply(question, run_tool=run)]
    assert spoken and conversation.last_action_score is not None
