from __future__ import annotations

import pytest

from opencharacters.domain.errors import Conflict, DomainError, NotFound, TooManyRequests
from opencharacters.domain.session_states import IllegalTransition, SessionStatus
from opencharacters.http_errors import HTTP_STATUS, HttpError, http_status

pytestmark = pytest.mark.unit


def test_every_kind_has_its_status_and_subclasses_inherit_it() -> None:
    assert http_status(NotFound("x")) == 404
    assert http_status(TooManyRequests("x")) == 429
    assert http_status(IllegalTransition(SessionStatus.COMPLETED, SessionStatus.READY)) == 409
    assert HTTP_STATUS[Conflict] == 409
    assert all(400 <= status < 600 for status in HTTP_STATUS.values())


def test_a_status_decided_at_the_edge_is_kept_and_a_bare_domain_error_is_a_400() -> None:
    assert http_status(HttpError(411, "Content-Length is required")) == 411
    assert http_status(DomainError("x")) == 400
