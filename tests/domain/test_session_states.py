from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opencharacters.domain.errors import Conflict
from opencharacters.domain.session_states import (
    ACTIVE,
    TERMINAL,
    IllegalTransition,
    SessionStatus,
    can_transition,
    conversation_status,
    transition,
)

pytestmark = pytest.mark.unit

S = SessionStatus
# Runway's diagram, plus the one documented extension READY -> CANCELLED (DELETE before connect).
EXPECTED = {
    (S.NOT_READY, S.READY),
    (S.NOT_READY, S.FAILED),
    (S.NOT_READY, S.CANCELLED),
    (S.READY, S.RUNNING),
    (S.READY, S.FAILED),
    (S.READY, S.CANCELLED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.FAILED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_is_allowed_exactly_when_the_diagram_says(
    current: SessionStatus, target: SessionStatus
) -> None:
    allowed = (current, target) in EXPECTED
    assert can_transition(current, target) is allowed
    if allowed:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as raised:
            transition(current, target)
        assert isinstance(raised.value, Conflict), "the API answers it with 409"
        assert str(current) in raised.value.message and str(target) in raised.value.message


def test_transition_accepts_stored_strings() -> None:
    assert transition("NOT_READY", S.READY) is S.READY
    with pytest.raises(ValueError):
        transition("BOGUS", S.READY)


@given(st.lists(st.sampled_from(list(S)), max_size=12))
def test_random_walks_never_leave_a_terminal_state(targets: list[SessionStatus]) -> None:
    status = S.NOT_READY
    for target in targets:
        before = status
        try:
            status = transition(status, target)
        except IllegalTransition:
            assert status == before
            continue
        assert before not in TERMINAL
        assert (before, status) in EXPECTED
    assert status in ACTIVE | TERMINAL


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.NOT_READY, "in_progress"),
        (S.READY, "in_progress"),
        (S.RUNNING, "in_progress"),
        (S.COMPLETED, "ended"),
        (S.CANCELLED, "ended"),
        (S.FAILED, "failed"),
    ],
)
def test_conversation_status_follows_the_session(status: SessionStatus, expected: str) -> None:
    assert conversation_status(status) == expected
