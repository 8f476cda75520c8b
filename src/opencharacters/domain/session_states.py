"""The realtime-session state machine: every status change goes through `transition`.

The diagram is Runway's (DESIGN.md) plus one documented edge: READY -> CANCELLED, for a
DELETE that arrives after credentials were minted but before the caller connected. A user who
cancels expects CANCELLED there, exactly as before READY or after RUNNING."""

from __future__ import annotations

from enum import StrEnum

from opencharacters.domain.errors import Conflict


class SessionStatus(StrEnum):
    NOT_READY = "NOT_READY"
    READY = "READY"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


S = SessionStatus

ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    S.NOT_READY: frozenset({S.READY, S.FAILED, S.CANCELLED}),
    S.READY: frozenset({S.RUNNING, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.COMPLETED, S.CANCELLED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

ACTIVE: frozenset[SessionStatus] = frozenset({S.NOT_READY, S.READY, S.RUNNING})
TERMINAL: frozenset[SessionStatus] = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})


class IllegalTransition(Conflict):
    def __init__(self, current: SessionStatus, target: SessionStatus) -> None:
        super().__init__(f"A session cannot go from {current} to {target}.")
        self.current = current
        self.target = target


def can_transition(current: SessionStatus, target: SessionStatus) -> bool:
    return target in ALLOWED[current]


def transition(current: SessionStatus | str, target: SessionStatus) -> SessionStatus:
    """Returns the new status, or raises IllegalTransition."""
    current = SessionStatus(current)
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return target


def conversation_status(status: SessionStatus | str) -> str:
    """The conversation's lowercase status for a session status."""
    status = SessionStatus(status)
    if status in ACTIVE:
        return "in_progress"
    if status is S.FAILED:
        return "failed"
    return "ended"
