"""`storage.models.built`: an object made without SQLAlchemy's attribute events is the
object the constructor makes, and is inserted alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import attributes

from storage.db import create_engine_for, make_sessionmaker
from storage.models import IntroRequest, OutboundMessage, built

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _message(**changes: Any) -> dict[str, Any]:
    return {
        "team_id": "T0TEAM",
        "request_id": 7,
        "dedupe_key": "request:7:notice:event-1",
        "kind": "notice",
        "recipient_id": "U0REQ",
        "data": {"event": "accept"},
        "due_at": NOW,
        "created_at": NOW,
        "attempts": 1,
        "status": "sending",
        "lease_owner": "here",
        "lease_expires_at": NOW + timedelta(seconds=30),
        **changes,
    }


def _request() -> dict[str, Any]:
    return {
        "id": 7,
        "team_id": "T0TEAM",
        "requester_id": "U0REQ",
        "connector_id": "U0CON",
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "We cut customs delays by half.",
        "blurb": "Hi Jane, would you be open to a call?",
        "status": "awaiting_connector",
        "created_at": NOW,
        "updated_at": NOW,
    }


def _columns(made: object, model: type[Any]) -> dict[str, Any]:
    return {column.key: getattr(made, column.key) for column in model.__table__.c}


def test_it_reads_as_the_constructed_object_without_attribute_events() -> None:
    made = built(OutboundMessage, id=3, **_message())
    assert _columns(made, OutboundMessage) == _columns(
        OutboundMessage(id=3, **_message()), OutboundMessage
    )
    state = attributes.instance_state(made)
    assert state.transient and not state.modified  # no event fired for what it was given
    made.status = "sent"  # set afterwards: an ordinary attribute
    assert made.status == "sent" and state.modified


async def test_it_is_inserted_as_the_constructed_object_would_be(database_url: str) -> None:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            session.add(built(IntroRequest, **_request()))
            session.add(built(OutboundMessage, **_message()))
            session.add(OutboundMessage(**_message(dedupe_key="request:7:notice:event-2")))
        async with sessions() as session:
            found = list(await session.scalars(select(OutboundMessage).order_by("id")))
            stored = await session.get(IntroRequest, 7)
        assert [m.dedupe_key for m in found] == [
            "request:7:notice:event-1",
            "request:7:notice:event-2",
        ]
        first, second = (_columns(m, OutboundMessage) for m in found)
        assert {**first, "id": 0, "dedupe_key": ""} == {**second, "id": 0, "dedupe_key": ""}
        assert stored is not None and stored.reason == "We cut customs delays by half."
    finally:
        await engine.dispose()
