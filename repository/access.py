"""Who may see and edit what. Every surface (HTML, JSON, search, IIIF, OAI, media) asks here.

Anonymous visitors see only published items that are not in the trash. Staff see everything of
their institution (admins: everything); archivists edit only their institution's items.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, true
from sqlalchemy.sql import ColumnElement

from config import Forbidden, NotFound
from repository.models import Item, ItemState, Role, User


@dataclass(frozen=True)
class Viewer:
    """The person asking: anonymous, an archivist of an institution, or an admin."""

    user_id: int | None = None
    role: str | None = None
    institution_id: int | None = None
    name: str = "anonymous"

    @classmethod
    def anonymous(cls) -> "Viewer":
        return cls()

    @classmethod
    def of(cls, user: User | None) -> "Viewer":
        if user is None or not user.active:
            return cls()
        return cls(user.id, user.role, user.institution_id, user.name)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ADMIN.value, Role.ARCHIVIST.value)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def agent(self) -> str:
        return f"user:{self.name}" if self.user_id else "anonymous"


def public_filter() -> ColumnElement[bool]:
    return and_(Item.state == ItemState.PUBLISHED.value, Item.deleted_at.is_(None))


def visible_filter(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition: items ``viewer`` may see (trash is staff-only, shown only in the trash view)."""
    if viewer.is_admin:
        return true()
    if viewer.is_staff:
        return or_(public_filter(), Item.institution_id == viewer.institution_id)
    return public_filter()


def is_public_state(state: str | None, deleted_at: object) -> bool:
    """What :attr:`Item.is_public` says, from the two column values (for Core queries)."""
    return state == ItemState.PUBLISHED.value and deleted_at is None


def may_view(state: str | None, deleted_at: object, institution_id: int | None, viewer: Viewer) -> bool:
    """:func:`can_view` from an item's column values, for hot paths (IIIF tiles) that fetch them
    with one Core query instead of loading an ORM object. The one access rule lives here."""
    if is_public_state(state, deleted_at):
        return True
    return viewer.is_admin or (viewer.is_staff and institution_id == viewer.institution_id)


def can_view(item: Item | None, viewer: Viewer) -> bool:
    if item is None:
        return False
    return may_view(item.state, item.deleted_at, item.institution_id, viewer)


def can_edit(item: Item, viewer: Viewer) -> bool:
    return viewer.is_admin or (viewer.role == Role.ARCHIVIST.value and item.institution_id == viewer.institution_id)


def require_view(item: Item | None, viewer: Viewer) -> Item:
    """The item, or :class:`NotFound` — never revealing that a hidden item exists."""
    if not can_view(item, viewer):
        raise NotFound("no such item")
    return item  # type: ignore[return-value]


def require_edit(item: Item | None, viewer: Viewer) -> Item:
    item = require_view(item, viewer)
    if not can_edit(item, viewer):
        raise Forbidden("you may only edit items of your own institution")
    return item
