"""Helpers shared by the admin views: the repository, the viewer, loading items with access checks."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from flask import g
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import HeritageError
from repository import Repository
from repository.access import Viewer, require_edit, require_view
from repository.models import Collection, Institution, Item


def repo() -> Repository:
    from web.app import repo_of

    return repo_of()


def viewer() -> Viewer:
    return g.viewer


def load_item(session: Session, item_id: int, *, edit: bool = False, deleted_ok: bool = True) -> Item:
    """The item if the viewer may see (and with ``edit``, change) it: 404 / 403 otherwise."""
    item = session.get(Item, item_id)
    if item is not None and item.deleted_at is not None and not deleted_ok:
        item = None
    if item is not None and item.deleted_at is not None and not viewer().is_staff:
        item = None
    return require_edit(item, viewer()) if edit else require_view(item, viewer())


def editable_collections(session: Session) -> list[Collection]:
    """Collections the viewer may put items into: admins all; archivists their institution's
    and those without an institution."""
    q = select(Collection).order_by(Collection.title)
    v = viewer()
    if not v.is_admin:
        q = q.where((Collection.institution_id == v.institution_id) | Collection.institution_id.is_(None))
    return list(session.scalars(q))


def institution_slug(session: Session, institution_id: int | None) -> str | None:
    if institution_id is None:
        return None
    inst = session.get(Institution, institution_id)
    return inst.slug if inst else None


def put_error(form: FlaskForm, exc: HeritageError, default_field: str | None = None) -> None:
    """Show ``exc`` beside the form field it names (or ``default_field``, or on top of the form)."""
    name = exc.field if exc.field in form else default_field
    if name and name in form:
        field = form[name]
        if not isinstance(field.errors, list):
            field.errors = list(field.errors or [])
        field.errors.append(str(exc))
    else:
        form.form_errors.append(str(exc))


_UNSAFE = re.compile(r"[\\/:*?\"<>|]")


def safe_filename(name: str | None, fallback: str = "upload") -> str:
    """A file name safe to create in our own temp dir, keeping Chinese characters (werkzeug's
    ``secure_filename`` would drop them all)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name).strip().lstrip(".")
    if not name or name in (".", ".."):
        name = fallback
    if len(name.encode()) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem or name)[:60] + (dot + ext[:10] if dot else "")
    return name


def temp_root() -> Path:
    d = repo().settings.data_dir / "tmp"
    d.mkdir(parents=True, exist_ok=True)
    return d
