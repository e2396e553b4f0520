"""The sample app's own endpoints: a page of numbers, and notes whose words a task counts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from sqlalchemy import func, select

from .models import Note, db
from .services import Services
from .tasks import count_words, send, uses_broker

blueprint = Blueprint("notes", __name__)


@blueprint.get("/")
def index() -> dict[str, Any]:
    services = Services.of(current_app)
    return {
        "app": "flask_healthcheck sample",
        "health": current_app.config["HEALTHCHECK_PATH"],
        "notes": db.session.scalar(select(func.count()).select_from(Note)),
        "visits": services.count_visit(),
    }


@blueprint.get("/notes")
def list_notes() -> dict[str, Any]:
    notes = db.session.scalars(select(Note).order_by(Note.id.desc()).limit(50))
    return {"notes": [note.as_dict() for note in notes]}


@blueprint.post("/notes")
def add_note() -> tuple[dict[str, Any], int]:
    payload = request.get_json(silent=True) or {}
    body = payload.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > 500:
        return {"error": 'send JSON {"body": "..."} with a text of 1 to 500 characters'}, 400
    note = Note(body=body)
    db.session.add(note)
    db.session.commit()  # before the task is sent, so that a worker finds the note
    send(count_words, note.id)
    queued = uses_broker(current_app)
    if not queued:
        db.session.refresh(note)  # the task has run, in a session of its own
    return {"note": note.as_dict(), "queued": queued}, 201
