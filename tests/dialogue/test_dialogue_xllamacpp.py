"""The default embedded runtime (xllamacpp: llama.cpp's server in-process) with the packaged
Qwen2.5-0.5B, for real: persona caching, grammar-constrained calls, the act-or-talk
probability, cancellation, read-ahead, and an event loop that keeps running."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time

import pytest

from opencharacters.dialogue.backend import WritingHold
from opencharacters.dialogue.conversation import Conversation, conversation_prompt
from opencharacters.dialogue.engines import (
    dialogue_model_path,
    load_dialogue_model,
    shared_dialogue_model,
)
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.spoken import has_markup
from opencharacters.dialogue.tools import CALL_OPEN, ToolSpec, parse_call
from opencharacters.dialogue.xllamacpp_backend import XLlamaDialogueModel, XLlamaPersona
from opencharacters.engine_settings import DialogueSettings, EngineSettings
from opencharacters.model_cache import ModelCache

pytestmark = pytest.mark.integration

PERSONA = (
    "You are Mia, the receptionist of Sunrise Dental Clinic. The clinic is open Monday to "
    "Friday, 9am to 5pm. You help callers book, move or cancel appointments."
)
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


def _settings(**changes: object) -> DialogueSettings:
    return DialogueSettings.model_validate(
        {"max_reply_tokens": 40, "temperature": 0.0, "n_ctx": 2048, **changes}
    )


@pytest.fixture(scope="module")
def model() -> XLlamaDialogueModel:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    loaded = load_dialogue_model(EngineSettings(dialogue=_settings()))
    assert isinstance(loaded, XLlamaDialogueModel)  # the default runtime
    return loaded


def _messages(persona: XLlamaPersona, user_text: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": persona.system_prompt},
        {"role": "user", "content": user_text},
    ]


async def test_replies_stream_in_spoken_chunks_within_budget(model: XLlamaDialogueModel) -> None:
    conversation = Conversation(model, PERSONA, _settings())
    await conversation.prepare()
    chunks = [c async for c in conversation.reply("Hi, when are you open?")]
    assert chunks
    reply = " ".join(chunks)
    assert len(model.tokenize(reply)) <= 40 + 2
    assert not has_markup(reply)
    assert conversation.history[-1] == {"role": "assistant", "content": reply}


async def test_a_turn_reads_only_what_follows_its_cached_persona(
    model: XLlamaDialogueModel,
) -> None:
    mia = Conversation(model, PERSONA, _settings())
    pirate = Conversation(model, "You are Captain Flint, a cheerful pirate.", _settings())
    await mia.prepare()
    await pirate.prepare()
    assert isinstance(mia._persona, XLlamaPersona)
    prefix = len(mia._persona.prefix_tokens)
    assert prefix > 40
    _ = [c async for c in pirate.reply("Ahoy! Who are you?")]
    # Mia's turn starts from her cached persona (restored from the server's prompt cache after
    # the pirate used the slot), reading only her caller's words and the reply header.
    _ = [c async for c in mia.reply("What is the name of your clinic?")]
    assert model.last_timings["cache_n"] >= prefix
    assert model.last_timings["prompt_n"] < 30
    assert "sunrise" in mia.history[-1]["content"].lower()
    # A second session of the same avatar does not read the persona again either.
    again = await model.prepare(mia.system_prompt)
    assert again.prefix_tokens == mia._persona.prefix_tokens
    assert again.prepare_s < 0.5


async def test_calls_are_generated_under_the_tools_grammar(model: XLlamaDialogueModel) -> None:
    call = await model.generate_call("Please show me the tent.", [SHOW])
    assert call is not None
    assert call.name == "show_product"
    assert call.arguments["product"] in ("rain jacket", "hiking boots", "tent")
    # In the reply stream the grammar allows speech or one well-formed call, nothing else.
    persona = await model.prepare("You are Sam of Trail Outfitters.")
    messages = _messages(persona, "Show me the hiking boots, please.")
    text = "".join([d async for d in model.stream(persona, messages, 60, [SHOW])])
    if text.lstrip().startswith(CALL_OPEN):
        parsed = parse_call(text, [SHOW], "call_x")
        assert parsed is not None and parsed.name == "show_product"
    else:
        assert "<" not in text and "{" not in text


async def test_the_call_probability_separates_a_request_from_chat(
    model: XLlamaDialogueModel,
) -> None:
    request = await model.call_probability("Please show me the rain jacket.", [SHOW])
    chat = await model.call_probability("What is the biggest planet?", [SHOW])
    assert 0.0 <= chat < request <= 1.0


async def test_json_answers_follow_the_schema(model: XLlamaDialogueModel) -> None:
    schema = {
        "type": "object",
        "properties": {"mood": {"enum": ["calm", "cheerful", "serious"]}},
        "required": ["mood"],
        "additionalProperties": False,
    }
    messages: list[ChatMessage] = [
        {"role": "system", "content": "Describe the voice as JSON."},
        {"role": "user", "content": "A bright, happy voice."},
    ]
    answer = json.loads(await model.complete_json(messages, schema, 30))
    assert answer["mood"] in ("calm", "cheerful", "serious")


async def test_closing_the_stream_stops_generation_at_once(model: XLlamaDialogueModel) -> None:
    persona = await model.prepare("You are a storyteller.")
    messages = _messages(persona, "Tell me a very long story about a dragon.")
    stream = model.stream(persona, messages, 400)
    first = await anext(stream)  # type: ignore[call-overload]
    closing = time.perf_counter()
    await stream.aclose()  # type: ignore[attr-defined]
    closed_in = time.perf_counter() - closing
    assert first
    # 400 tokens would take ~30 s at this CPU's speed; barge-in must not wait for them.
    assert closed_in < 2.0, closed_in
    again = [d async for d in model.stream(persona, messages, 5)]
    assert again
    assert model.last_timings["predicted_n"] <= 5


async def test_a_held_reply_writes_nothing_and_resumes_where_it_stopped(
    model: XLlamaDialogueModel,
) -> None:
    persona = await model.prepare(PERSONA)
    messages = _messages(persona, "Tell me about the clinic and when it is open.")
    whole = "".join([d async for d in model.stream(persona, messages, 30)])
    hold = WritingHold()
    arrived: list[tuple[float, str]] = []
    stream = model.stream(persona, messages, 30, hold=hold)
    arrived.append((time.perf_counter(), await anext(stream)))  # type: ignore[call-overload]
    hold.hold()
    held_at = time.perf_counter()

    async def release_later() -> None:
        await asyncio.sleep(1.0)
        hold.release()

    releasing = asyncio.create_task(release_later())
    async for delta in stream:
        arrived.append((time.perf_counter(), delta))
    await releasing
    # At temperature 0 the resumed reply is the reply: nothing lost, nothing repeated.
    assert "".join(d for _, d in arrived) == whole
    # The request ends at the next token (one more may be under way at the server); after
    # that nothing arrives until the release.
    during = [d for t, d in arrived if held_at < t < held_at + 0.95]
    assert len(during) <= 2, during
    assert len(arrived) > 3  # and it went on after the release
    assert model.last_timings["prompt_n"] <= 3  # only the last written token is read again


async def test_the_event_loop_keeps_running_while_the_model_thinks(
    model: XLlamaDialogueModel,
) -> None:
    persona = await model.prepare(PERSONA)
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    _ = [d async for d in model.stream(persona, _messages(persona, "Hello there!"), 20)]
    done.set()
    await ticker
    assert len(gaps) > 10
    assert max(gaps) < 0.25  # loop stalls would show as gaps of the model's whole read


async def test_reading_ahead_leaves_only_the_last_words_to_read(
    model: XLlamaDialogueModel,
) -> None:
    conversation = Conversation(model, PERSONA, _settings())
    await conversation.prepare()
    conversation.add_assistant_line("Hello, Sunrise Dental, Mia speaking.")
    question = "Hi, I would like to move my appointment from Tuesday to Thursday afternoon."
    cold = [c async for c in conversation.reply(question, record=False)]
    other = Conversation(model, "You are Captain Flint, a cheerful pirate.", _settings())
    _ = [c async for c in other.reply("Ahoy!")]  # another call used the model since

    read_before = model.read_ahead_tokens
    await conversation.read_ahead("Hi, I would like to move my appointment from Tuesday")
    await conversation.read_ahead("Hi, I would like to move my appointment from Tuesday to")
    assert model.read_ahead_tokens > read_before
    warm = [c async for c in conversation.reply(question, record=False)]
    # Only the last words, the end of the turn and the reply's header were left to read...
    assert model.last_timings["prompt_n"] <= 10, model.last_timings
    # ...and what was read ahead is the context a cold reply builds: the same greedy opening
    # (later words may part: the cache read in other steps differs in the last bits, and a
    # greedy near-tie then goes the other way).
    assert warm[0] == cold[0], (warm, cold)


async def test_reading_ahead_on_a_later_turn_keeps_the_history_it_holds(
    model: XLlamaDialogueModel,
) -> None:
    """The slot holds the last reply's prompt and its generated words: reading the next
    question's words ahead must start after them, not drop them and read them again."""
    conversation = Conversation(model, PERSONA, _settings())
    await conversation.prepare()
    await conversation.read_ahead("How much does")
    _ = [c async for c in conversation.reply("How much does a check-up cost?")]
    held = int(model.last_timings["cache_n"]) + int(model.last_timings["prompt_n"])

    read_before = model.read_ahead_tokens
    await conversation.read_ahead("Can I bring")
    await conversation.read_ahead("Can I bring my daughter")
    prompt_length = int(model.last_timings["cache_n"]) + int(model.last_timings["prompt_n"])
    # Everything read ahead lies past the last reply's prompt.
    assert model.read_ahead_tokens - read_before <= prompt_length - held
    _ = [c async for c in conversation.reply("Can I bring my daughter too?")]
    assert model.last_timings["prompt_n"] <= 10, model.last_timings


async def test_a_persona_read_in_the_background_is_ready_for_the_call(
    model: XLlamaDialogueModel,
) -> None:
    """An idle worker reads a saved avatar's persona in steps: the call then finds it read,
    and its first turn reads only the caller's words."""
    mia = Conversation(model, PERSONA + " Desk 7.", _settings())
    other = Conversation(model, "You are Captain Flint, a cheerful pirate.", _settings())
    await other.prepare()
    assert await model.read_persona(mia.system_prompt)
    persona = await model.prepare(mia.system_prompt)
    assert persona.prepare_s < 0.5, "read already"
    assert persona.prefix_tokens == model._persona_tokens(mia.system_prompt)
    _ = [c async for c in other.reply("Ahoy!")]  # another call used the model since
    await mia.prepare()
    _ = [c async for c in mia.reply("What is the name of your clinic?")]
    assert model.last_timings["cache_n"] >= len(persona.prefix_tokens)
    assert model.last_timings["prompt_n"] < 30, model.last_timings


async def test_a_persona_read_in_the_background_gives_way_to_a_reply(
    model: XLlamaDialogueModel,
) -> None:
    talker = Conversation(model, PERSONA, _settings(max_reply_tokens=60))
    await talker.prepare()
    rooms = " ".join(f"Room {i} of the clinic has a blue chair." for i in range(60))
    long_persona = conversation_prompt(rooms)
    reply = talker.reply("Tell me about the clinic, please.")
    first = await anext(reply)  # a reply is being written
    assert first
    assert not await model.read_persona(long_persona), "gave way"
    _ = [c async for c in reply]
    with model._prepared_lock:
        assert long_persona not in model._prepared
    # Once nothing else is asked of the model, it reads to the end.
    assert await model.read_persona(long_persona)
    assert (await model.prepare(long_persona)).prepare_s < 0.5


def test_the_model_is_loaded_once_per_process() -> None:
    settings = EngineSettings(dialogue=_settings(n_ctx=1024))
    cache = ModelCache(settings)
    first = shared_dialogue_model(settings, cache)
    assert shared_dialogue_model(settings, cache) is first
    assert cache.loads == {"dialogue": 1}


def test_a_model_dropped_right_after_loading_shuts_down() -> None:
    """`models check` loads each model and drops it at once: the server must stop cleanly."""
    path = dialogue_model_path(EngineSettings())
    stopped = threading.Event()

    def load_and_drop() -> None:
        model = XLlamaDialogueModel(path, _settings(n_ctx=512))
        del model
        gc.collect()
        stopped.set()

    threading.Thread(target=load_and_drop, daemon=True).start()
    assert stopped.wait(60), "the server's destructor hung"


async def test_too_long_personality_is_a_clear_error() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = load_dialogue_model(EngineSettings(dialogue=_settings(n_ctx=512)))
    with pytest.raises(ValueError, match="N_CTX"):
        await model.prepare("word " * 600)
