"""Unexpected failures become a JSON answer on a connection that stays usable.

Starlette's outermost error middleware re-raises after answering, so the server logs the error
a second time and drops the connection without `Connection: close`; a pooled client then fails
its next request on a dead socket. This middleware sits inside it: it answers (500, or 507 when
the disk is full or read-only), logs once, and does not re-raise."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencharacters.api.bodies import send_error
from opencharacters.store.availability import database_unreachable, storage_problem

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal server error; the failure was logged."
DATABASE_UNAVAILABLE = (
    "database unavailable: the server cannot reach its database right now (restarting or "
    "unreachable); nothing was changed. Retry in a few seconds."
)


class FailureAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if database_unreachable(exc):
                log.error("%s %s: database unavailable: %s", scope["method"], scope["path"], exc)
                if started:
                    raise
                await send_error(send, 503, DATABASE_UNAVAILABLE, {"Retry-After": "2"}, close=False)
                return
            problem = storage_problem(exc)
            if problem:
                log.error("%s %s: storage failure: %r", scope["method"], scope["path"], exc)
            else:
                log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise  # too late for an answer of our own: the server closes the connection
            if problem:
                await send_error(send, 507, problem, {}, close=False)
            else:
                await send_error(send, 500, INTERNAL_ERROR, {}, close=False)
