"""What a task's end sets off, in the same transaction: its webhook event and its metering."""

from __future__ import annotations

from sqlalchemy.orm import Session

from opencharacters.store.tables import Task
from opencharacters.store.usage import Model, meter
from opencharacters.store.webhook_events import EventType, task_event_data
from opencharacters.store.webhooks import emit


def video_model(task: Task) -> Model:
    speech = task.spec.get("speech", {})
    return Model.VIDEO_FROM_AUDIO if speech.get("type") == "audio" else Model.VIDEO_FROM_TEXT


def task_changed(db: Session, task: Task, video_seconds: float | None) -> None:
    if task.status == "SUCCEEDED":
        if task.kind == "avatar_video":
            meter(
                db,
                task.organization_id,
                video_model(task),
                task.id,
                round(video_seconds or 0.0, 3),
                task.updated_at,
            )
        emit(
            db,
            task.organization_id,
            EventType.TASK_SUCCEEDED,
            task_event_data(task),
            ordering_key=task.id,
        )
    elif task.status == "FAILED":
        emit(
            db,
            task.organization_id,
            EventType.TASK_FAILED,
            task_event_data(task),
            ordering_key=task.id,
        )
