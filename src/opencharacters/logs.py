"""Process logging: text for a terminal, or one JSON object a line for a log pipeline, each
record carrying the id of the realtime session it concerns (OPENCHARACTERS_LOG_FORMAT)."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

session_id_var: ContextVar[str | None] = ContextVar("opencharacters_session_id", default=None)
"""Set where a call's work starts (its task and the tasks it starts inherit it)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(session_tag)s: %(message)s"


class SessionContext(logging.Filter):
    """Adds `session_id` (None outside a call) and `session_tag` (text form) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        session_id = session_id_var.get()
        record.session_id = session_id
        record.session_tag = f" [session {session_id}]" if session_id else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        session_id = getattr(record, "session_id", None)
        if session_id:
            line["session_id"] = session_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: LogFormat) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(SessionContext())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
