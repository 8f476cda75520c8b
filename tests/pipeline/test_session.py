"""The call session's turn taking with a fake per port (tests/support/pipeline.py).

The media path runs for real (speaker, audio pacing); the models are fakes that answer at once,
so what is checked is who hears what, what is remembered and what is written, and when. The
calls run on virtual time (tests/support/virtual_time.py): exact, and a 5 minute call takes
milliseconds."""

from __future__ import annotations

import asyncio

import pytest

from opencharacters.dialogue.tools import ToolSpec
from opencharacters.pipeline import session as session_module
from opencharacters.pipeline.frames import Interruption, InterruptionCause
from opencharacters.speech.listener import PartialTranscript, SpeechStarted, UserTurn
from tests.support.pipeline import (
    Pause,
    SlowPiecesSynthesizer,
    Wait,
    make_call,
    run_frames,
    tool_call_markup,
)
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit


def turn(text: str) -> UserTurn:
    return UserTurn(text, 0.0, 0.5, 0.6, 0.0)


@virtual_time
async def test_an_answer_is_heard_whole_and_remembered() -> None:
    call = await make_call({"Hi": "Hello there. How are you?"}).start()
    await call.session.caller_turn(turn("Hi"))
    await call.until_listening()
    assert call.transcript.said() == [
        ("user", "Hi", False),
        ("assistant", "Hello there. How are you?", False),
    ]
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there. How are you?"},
    ]
    assert call.transport.captions() == "Hello there. How are you?"
    await call.stop()


@virtual_time
async def test_the_avatars_words_are_on_record_while_they_are_heard() -> None:
    """A process killed mid-answer keeps the words heard so far (issue 12, item 4)."""
    answer = "One two three four five six seven eight nine ten eleven twelve."
    call = await make_call({"Count": answer}).start()
    await call.session.caller_turn(turn("Count"))
    await call.until_state("speaking")
    await asyncio.sleep(0.5)
    role, content, interrupted = call.transcript.said()[-1]
    assert role == "assistant" and interrupted, "marked cut until the answer is settled"
    assert content and answer.startswith(content) and len(content.split()) < 12
    await call.until_listening()
    assert call.transcript.said()[-1] == ("assistant", answer, False)
    assert len(call.transcript.entries) == 2, "one entry per turn, revised in place"
    assert call.transcript.entries[-1].revisions >= 2
    await call.stop()


@virtual_time
async def test_barge_in_keeps_only_the_words_heard() -> None:
    answer = "One two three four five. Six seven eight nine ten. Eleven twelve thirteen."
    call = await make_call({"Count": answer}).start()
    await call.session.caller_turn(turn("Count"))
    await call.until_state("speaking")
    await asyncio.sleep(0.45)  # about four words
    call.session.caller_started_speaking(call.clock.now())
    await asyncio.sleep(0.3)
    role, heard, interrupted = call.transcript.said()[-1]
    assert role == "assistant" and interrupted
    assert heard and answer.startswith(heard) and len(heard.split()) < 8
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history[-1] == {"role": "assistant", "content": heard}
    assert not call.speaker.speaking()
    assert call.face.interrupts == 1
    (event,) = call.transport.of_type("opencharacters.interrupted")
    assert event["heard"] == heard
    assert call.session.metrics.barge_ins[0]["silencedS"] == event["silencedS"]
    # The rest of the answer is never sent: captions stop at the cut.
    await asyncio.sleep(0.5)
    assert call.transport.captions() == heard
    await call.stop()


COUNT = "One two three four five. Six seven eight nine ten. Eleven twelve thirteen."


@virtual_time
async def test_an_answer_cut_by_a_sound_without_words_goes_on_from_its_sentence() -> None:
    """A cough loud and long enough to stop the avatar: when the caller's turn turns out to
    hold no words, the answer goes on from the start of the sentence it was cut in."""
    call = await make_call({"Count": COUNT}).start()
    await call.session.caller_turn(turn("Count"))
    await call.until_state("speaking")
    await asyncio.sleep(0.75)  # into the second sentence
    call.session.caller_started_speaking(call.clock.now())
    await asyncio.sleep(0.3)
    _, heard, _ = call.transcript.said()[-1]
    assert heard.startswith("One two three four five. Six") and not heard.endswith("ten.")
    asked = len(call.model.calls)
    await call.session.caller_turn(turn(""))
    await call.until_state("speaking")
    await call.until_listening()
    assert call.transcript.said() == [
        ("user", "Count", False),
        ("assistant", heard, True),
        ("assistant", "Six seven eight nine ten. Eleven twelve thirteen.", False),
    ]
    assert len(call.model.calls) == asked, "said again from what was written, not regenerated"
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "user", "content": "Count"},
        {"role": "assistant", "content": COUNT},
    ], "the answer once, whole: it was heard whole in the end"
    # Another wordless turn, with nothing cut, says nothing more.
    await call.session.caller_turn(turn(""))
    await asyncio.sleep(0.5)
    assert len(call.transcript.said()) == 3
    await call.stop()


@virtual_time
async def test_a_sound_before_the_answer_goes_on_leaves_it_to_go_on_after() -> None:
    """A second sound while the answer is about to go on (nothing heard of it yet) drops it
    silently; when that sound holds no words either, the answer still goes on."""
    call = await make_call({"Count": COUNT}).start()
    await call.session.caller_turn(turn("Count"))
    await call.until_state("speaking")
    await asyncio.sleep(0.75)
    call.session.caller_started_speaking(call.clock.now())
    await asyncio.sleep(0.3)
    await call.session.caller_turn(turn(""))
    call.session.caller_started_speaking(call.clock.now())  # before its first audio
    await asyncio.sleep(0.3)
    assert call.session.state == "listening"
    await call.session.caller_turn(turn(""))
    await call.until_state("speaking")
    await call.until_listening()
    assert call.transcript.said()[-1] == (
        "assistant",
        "Six seven eight nine ten. Eleven twelve thirteen.",
        False,
    )
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "user", "content": "Count"},
        {"role": "assistant", "content": COUNT},
    ]
    await call.stop()


@virtual_time
async def test_an_answer_going_on_can_be_cut_again() -> None:
    call = await make_call({"Count": COUNT, "Stop": "Sure."}).start()
    await call.session.caller_turn(turn("Count"))
    await call.until_state("speaking")
    await asyncio.sleep(0.75)
    call.session.caller_started_speaking(call.clock.now())
    await asyncio.sleep(0.3)
    await call.session.caller_turn(turn("Hmm."))  # only a sound: the answer goes on at "Six"
    await call.until_state("speaking")
    await asyncio.sleep(0.65)  # into "Eleven ..."
    call.session.caller_started_speaking(call.clock.now())
    await asyncio.sleep(0.3)
    _, heard_again, interrupted = call.transcript.said()[-1]
    assert interrupted and heard_again.startswith("Six seven eight nine ten. Eleven")
    conversation = call.session.thinking.conversation
    assert conversation is not None
    assert conversation.history[-1] == {
        "role": "assistant",
        "content": f"One two three four five. {heard_again}",
    }, "the first sentence heard before, then what was heard of the rest"
    await call.session.caller_turn(turn("Stop"))  # words this time: they are answered
    await call.until_listening()
    assert [content for _, content, _ in call.transcript.said()][-2:] == ["Stop", "Sure."]
    assert conversation.history[-3:] == [
        {"role": "assistant", "content": f"One two three four five. {heard_again}"},
        {"role": "user", "content": "Stop"},
        {"role": "assistant", "content": "Sure."},
    ]
    await call.stop()


@virtual_time
async def test_a_start_script_cut_by_a_sound_without_words_goes_on() -> None:
    script = "Welcome to the museum. The first hall shows old ships. The second is about lights."
    call = await make_call({}, start_script=script).start()
    await call.until_state("speaking")
    await asyncio.sleep(0.6)  # into the second sentence
    call.session.caller_started_speaking(call.clock.now())
    await asyncio.sleep(0.3)
    _, heard, _ = call.transcript.said()[0]
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "assistant", "content": heard}
    ], "once, as heard (a cut script was entered whole and then again as heard)"
    await call.session.caller_turn(turn(""))
    await call.until_state("speaking")
    await call.until_listening()
    said = call.transcript.said()
    assert said[0][0] == "assistant" and said[0][2], "cut"
    assert said[1:] == [
        ("assistant", "The first hall shows old ships. The second is about lights.", False)
    ]
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [{"role": "assistant", "content": script}]
    await call.stop()


@virtual_time
async def test_caller_speech_while_thinking_drops_the_unheard_answer() -> None:
    call = await make_call({"Hm": "A long answer that nobody hears."}).start()
    await call.session.caller_turn(turn("Hm"))
    call.session.caller_started_speaking(call.clock.now())  # before any audio was scheduled
    await asyncio.sleep(0.3)
    assert call.transcript.said() == [("user", "Hm", False)]
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [{"role": "user", "content": "Hm"}]
    assert call.transport.of_type("opencharacters.interrupted") == [], "nothing was heard"
    assert call.face.interrupts == 0
    await call.stop()


@virtual_time
async def test_a_retracted_turn_is_answered_when_what_followed_had_no_words() -> None:
    """A noise after the caller's turn (a cough, a glitch of the line) drops the answer being
    thought of; when it turns out to hold no words, the question is answered after all rather
    than left to silence (seen in CI: a LiveKit call that never answered)."""
    call = await make_call({"What is your name?": "I'm Ada."}).start()
    await call.session.caller_turn(turn("What is your name?"))
    call.session.caller_started_speaking(call.clock.now())  # before any audio was scheduled
    await asyncio.sleep(0.1)
    assert call.session.state == "listening"
    await call.session.caller_turn(turn(""))
    await call.until_listening()
    assert call.transcript.said() == [
        ("user", "What is your name?", False),
        ("assistant", "I'm Ada.", False),
    ]
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "user", "content": "What is your name?"},
        {"role": "assistant", "content": "I'm Ada."},
    ], "the question once, with its answer"
    # An empty turn with nothing retracted before it stays unanswered.
    asked = len(call.model.calls)
    await call.session.caller_turn(turn(""))
    await asyncio.sleep(0.5)
    assert len(call.transcript.said()) == 2
    assert len(call.model.calls) == asked
    await call.stop()


@virtual_time
async def test_a_retracted_turn_followed_by_an_um_is_answered() -> None:
    call = await make_call({"What is your name?": "I'm Ada.", "Um.": "Yes?"}).start()
    await call.session.caller_turn(turn("What is your name?"))
    call.session.caller_started_speaking(call.clock.now())
    await call.session.caller_turn(turn("Um."))
    await call.until_listening()
    assert "Um." not in call.model.calls
    assert [content for _, content, _ in call.transcript.said()] == [
        "What is your name?",
        "I'm Ada.",
    ]
    # "Um." with no answer cut before it is the caller's turn like any other.
    await call.session.caller_turn(turn("Um."))
    await call.until_listening()
    assert call.model.calls[-1] == "Um."
    await call.stop()


@virtual_time
async def test_a_retracted_turn_followed_by_words_answers_the_words() -> None:
    call = await make_call({"Book a table": "For when?", "for two": "Two it is."}).start()
    await call.session.caller_turn(turn("Book a table"))
    call.session.caller_started_speaking(call.clock.now())
    await call.session.caller_turn(turn("for two"))
    await call.until_listening()
    assert [content for _, content, _ in call.transcript.said()] == [
        "Book a table",
        "for two",
        "Two it is.",
    ]
    await call.session.caller_turn(turn(""))  # the retraction was answered: nothing owed
    await asyncio.sleep(0.5)
    assert call.model.calls[-1] == "for two"
    await call.stop()


@virtual_time
async def test_a_matching_speculation_is_kept_and_a_stale_one_dropped() -> None:
    replies = {"Book a table": "Sure, for how many?", "Book a table for two": "Done, for two."}
    call = await make_call(replies).start()
    call.session.thinking.speculate("Book a table")
    await asyncio.sleep(0.1)
    await call.session.caller_turn(turn("Book a table"))
    await call.until_listening()
    assert call.model.calls == ["Book a table"], "the speculative reply was used, not regenerated"
    assert call.session.metrics.turns[-1].speculated
    call.session.thinking.speculate("Book a table")
    await asyncio.sleep(0.1)
    await call.session.caller_turn(turn("Book a table for two"))
    await call.until_listening()
    assert call.model.calls[-1] == "Book a table for two"
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "user", "content": "Book a table"},
        {"role": "assistant", "content": "Sure, for how many?"},
        {"role": "user", "content": "Book a table for two"},
        {"role": "assistant", "content": "Done, for two."},
    ]
    assert [content for _, content, _ in call.transcript.said()] == [
        "Book a table",
        "Sure, for how many?",
        "Book a table for two",
        "Done, for two.",
    ]
    await call.stop()


@virtual_time
async def test_the_start_script_is_said_and_remembered() -> None:
    call = await make_call({}, start_script="Welcome in.").start()
    await call.until_listening()
    assert call.transcript.said() == [("assistant", "Welcome in.", False)]
    assert call.session.thinking.conversation is not None
    assert call.session.thinking.conversation.history == [
        {"role": "assistant", "content": "Welcome in."}
    ]
    assert call.transport.states()[:3] == ["thinking", "speaking", "listening"]
    await call.stop()


@virtual_time
async def test_invalid_action_arguments_are_never_sent() -> None:
    show = ToolSpec.from_json(
        {
            "type": "client_event",
            "name": "show_product",
            "description": "Show a product",
            "parameters": [
                {"type": "string", "name": "product", "description": "which", "enum": ["hat"]}
            ],
        }
    )
    markup = tool_call_markup("show_product", {"product": "scarf"})
    call = await make_call({"Show me a scarf": markup}, tools=(show,)).start()
    await call.session.caller_turn(turn("Show me a scarf"))
    await call.until_listening()
    assert call.transport.of_type("client_event") == [], "an argument outside the enum is kept"
    (record,) = call.transcript.tools
    assert record.call.arguments == {"product": "scarf"}
    assert record.outcome.error == "invalid arguments: product: must be one of hat"
    assert call.transcript.said()[-1] == (
        "assistant",
        "Sorry, I couldn't do that right now.",
        False,
    )
    await call.stop()


@virtual_time
async def test_a_caller_whose_media_stops_ends_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "CALLER_SILENT_TIMEOUT_S", 0.5)
    call = await make_call({}).start()
    call.transport.last_audio_s = call.clock.now()  # a packet, then nothing
    await asyncio.wait_for(call.tasks[0], 5)
    ending = call.session.ending
    assert ending is not None and ending.reason == "the caller's media stopped"
    call.tasks[1].cancel()
    await call.session.shutdown()
    assert call.transport.stopped


@virtual_time
async def test_every_listed_stage_receives_an_interruption() -> None:
    """A stage added to the list gets barge-in without touching the others."""
    seen: list[Interruption] = []

    class Watcher:
        name = "watcher"

        def interrupt(self, frame: Interruption) -> None:
            seen.append(frame)

    answer = "One two three four five six seven eight nine ten."
    call = make_call({"Count": answer})
    call.session.stages = (*call.session.stages, Watcher())
    await call.start()
    await call.session.caller_turn(turn("Count"))
    await call.until_state("speaking")
    await asyncio.sleep(0.3)
    call.session.caller_started_speaking(call.clock.now() - 0.2)
    (frame,) = seen
    assert frame.cause is InterruptionCause.BARGE_IN
    assert frame.heard and answer.startswith(frame.heard)
    await call.stop()


@virtual_time
async def test_max_duration_cuts_the_answer_for_the_goodbye(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = " ".join(["word"] * 100) + "."  # 10 s of speech
    call = await make_call({"Talk": answer}, max_duration_s=300).start()
    await asyncio.sleep(290)
    await call.session.caller_turn(turn("Talk"))
    await asyncio.wait_for(call.tasks[0], 20)
    assert call.clock.now() <= 300, "the call ends within maxDuration"
    ending = call.session.ending
    assert ending is not None and ending.reason == "maxDuration reached"
    call.tasks[1].cancel()
    await call.session.shutdown()
    said = call.transcript.said()
    cut = [entry for entry in said if entry[0] == "assistant" and entry[2]]
    assert cut and answer.startswith(cut[0][1]), "the answer in progress keeps what was heard"
    assert said[-1][1].startswith("I'm sorry, we're out of time")
    assert call.transport.of_type("opencharacters.interrupted") == [], "not the caller's doing"


@virtual_time
async def test_frames_in_frames_out_a_paused_caller_is_answered_from_the_speculation() -> None:
    call = await run_frames(
        [Pause("What time is it"), Wait(0.2), turn("What time is it")],
        {"What time is it": "It is noon."},
    )
    assert call.model.calls == ["What time is it"]
    assert call.transport.captions("user") == "What time is it"
    assert call.transport.captions() == "It is noon."
    (timings,) = call.transport.of_type("opencharacters.turn")
    assert timings["speculated"] is True and timings["turn"] == 2
    # Where the time went: thinking began at the pause, before the turn ended (negative: the
    # fake turn ends at 0.5 s on the session clock), then the first token, then the clause.
    assert timings["thinkingS"] <= timings["firstTokenS"] <= timings["firstClauseS"]
    assert timings["speechGapS"] == 0, "each piece was there before the one before it ended"
    assert call.transport.states() == ["listening", "thinking", "speaking", "listening"]


@virtual_time
async def test_a_piece_synthesized_late_is_counted_as_a_gap_in_the_sentence() -> None:
    """A sentence's second half arrives 1 s after its first (0.2 s long) was scheduled: the
    turn's timings report the silence the caller heard inside the sentence."""
    call = await make_call(
        {"Hello": "Four words said here."}, synthesizer=SlowPiecesSynthesizer(1.0)
    ).start()
    await call.session.caller_turn(turn("Hello"))
    await call.until_listening()
    (timings,) = call.transport.of_type("opencharacters.turn")
    assert 0.7 <= timings["speechGapS"] <= 1.0
    assert call.transport.captions() == "Four words said here."
    await call.stop()


@virtual_time
async def test_the_model_is_held_while_the_first_words_are_synthesized() -> None:
    """The reply was started at the caller's pause (and is written on as it is spoken); its
    first piece ("Sure,") takes 0.3 s to synthesize. The model writes nothing meanwhile and
    goes on once that piece's first audio is scheduled, not when the whole piece is (its
    second half comes 1 s later)."""
    reply = "Sure, the clinic opens at nine and closes at five."
    call = await run_frames(
        [Pause("When do you open"), turn("When do you open")],
        {"When do you open": reply},
        synthesizer=SlowPiecesSynthesizer(late_s=1.0, first_s=0.3),
    )
    ((word, waited),) = call.model.held
    assert word == "the"
    assert 0.25 <= waited <= 0.35
    assert call.transport.captions() == reply
    await call.stop()


@virtual_time
async def test_the_callers_words_are_read_ahead_while_they_speak() -> None:
    call = await run_frames(
        [
            turn("Hi"),
            Wait(2.0),
            SpeechStarted(3.0),
            PartialTranscript("What time", 3.6),
            Wait(0.1),
            PartialTranscript("What time is it", 4.2),
            Wait(0.1),
            Pause("What time is it"),
            Wait(0.2),
            turn("What time is it"),
        ],
        {"Hi": "Hello.", "What time is it": "It is noon."},
    )
    read = call.model.read_aheads
    assert [messages[-1]["content"] for messages in read] == ["What time", "What time is it"]
    # What was read is the reply's prompt but for the words still to come: the history
    # (the earlier turn, as remembered) and the persona are the same, so the reply reads little.
    prompt = call.model.prompts[-1]
    assert read[-1] == prompt
    assert read[0][:-1] == prompt[:-1] and len(prompt) == 4


@virtual_time
async def test_nothing_is_read_ahead_while_the_avatar_answers() -> None:
    call = await make_call({"Hi": "Hello there. How are you today? I am fine."}).start()
    await call.session.caller_turn(turn("Hi"))
    await call.until_state("speaking")
    # A partial during the answer belongs to a barge-in (handled by SpeechStarted), not a turn.
    await call.session.hear(PartialTranscript("Wait", call.clock.now()), False)
    await asyncio.sleep(0.1)
    assert call.model.read_aheads == []
    await call.until_listening()
    await call.stop()
