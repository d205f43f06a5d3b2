"""Draining the search outbox (IndexTask rows) into the configured backend.

Owned by the search capability; until its backends land this only reports how many are waiting.
"""
from __future__ import annotations

from sqlalchemy import func, select

from repository import Repository
from repository.models import IndexTask


def drain_outbox(repo: Repository) -> int:
    """Push waiting index tasks to the backend; returns how many remain."""
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(IndexTask)) or 0
