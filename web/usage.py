"""Usage statistics: one UsageEvent row per public item view or search — no personal data.

Only what the staff statistics page needs is kept: the kind, the time, the item id, the query
text and the number of results. No IP address, user agent, cookie or user id is stored, and
staff activity is not counted. A failure to record never breaks the page being served.
"""
from __future__ import annotations

import logging

from repository import Repository
from repository.access import Viewer
from repository.models import UsageEvent

log = logging.getLogger("heritage.usage")
MAX_QUERY = 500


def _record(repo: Repository, event: UsageEvent) -> None:
    try:
        with repo.db.transaction() as s:
            s.add(event)
    except Exception:  # statistics are best effort; the visitor still gets the page
        log.warning("could not record a usage event", exc_info=True)


def record_view(repo: Repository, item_id: int, viewer: Viewer) -> None:
    """Count one public view of an item (staff views are not counted)."""
    if viewer.is_staff:
        return
    _record(repo, UsageEvent(kind="view", item_id=item_id))


def record_search(repo: Repository, query: str, results: int, viewer: Viewer) -> None:
    """Count one public search with its (trimmed) query text and number of results."""
    if viewer.is_staff:
        return
    query = " ".join((query or "").split())[:MAX_QUERY]
    if not query:
        return
    _record(repo, UsageEvent(kind="search", query=query, results=int(results)))
