"""The audit trail: PREMIS-style events (what, to what, by whom, when, outcome).

Events are written by :meth:`repository.UnitOfWork.event` everywhere things change; this
module reads them back, e.g. for the staff item page.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from repository.models import Event, File

#: PREMIS event types this product records (see repository.models.Event)
EVENT_TYPES = ("ingestion", "message digest calculation", "creation", "fixity check", "metadata modification",
               "publication", "unpublication", "deletion", "restoration", "replacement", "transfer",
               "reindexing")


def events_for(session: Session, item_id: int, limit: int | None = None) -> list[Event]:
    """Events about an item, oldest first: its own events plus fixity checks of its files' blobs
    (a blob shared by several items is checked once, but the check concerns each of them)."""
    shas = select(File.sha256).where(File.item_id == item_id)
    query = select(Event).where(or_(Event.item_id == item_id,
                                    (Event.type == "fixity check") & Event.sha256.in_(shas))
                                ).order_by(Event.at, Event.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def as_dict(ev: Event) -> dict[str, Any]:
    """An event as plain data (for JSON or templates)."""
    return {"id": ev.id, "type": ev.type, "at": ev.at.isoformat() if ev.at else None, "agent": ev.agent,
            "outcome": ev.outcome, "item": ev.item_id, "sha256": ev.sha256, "detail": ev.detail or {}}
