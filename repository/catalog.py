"""Creating and finding institutions, collections and users, with validation."""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from config import Conflict, InvalidInput, NotFound
from repository.models import Collection, Institution, Role, User

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MIN_PASSWORD = 10


def check_slug(slug: str, what: str = "slug") -> str:
    if not SLUG.match(slug or ""):
        raise InvalidInput(f"{what} {slug!r}: use 1-63 lower-case letters, digits and hyphens", field="slug")
    return slug


def check_text(value: str, field: str, max_len: int) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > max_len:
        raise InvalidInput(f"{field} is longer than {max_len} characters", field=field)
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise InvalidInput(f"{field} contains control characters", field=field)
    return value


def institution(session: Session, slug: str) -> Institution:
    inst = session.scalar(select(Institution).where(Institution.slug == slug))
    if inst is None:
        raise NotFound(f"no institution {slug!r}; create it with `heritage institution add {slug} --name NAME`")
    return inst


def collection(session: Session, slug: str) -> Collection:
    coll = session.scalar(select(Collection).where(Collection.slug == slug))
    if coll is None:
        raise NotFound(f"no collection {slug!r}; create it with `heritage collection add {slug} --title TITLE`")
    return coll


def add_institution(session: Session, slug: str, name: str, labels: dict | None = None) -> Institution:
    check_slug(slug, "institution")
    name = check_text(name, "name", 300)
    if session.scalar(select(Institution).where(Institution.slug == slug)):
        raise Conflict(f"institution {slug!r} already exists")
    inst = Institution(slug=slug, name=name, labels=labels or {})
    session.add(inst)
    session.flush()
    return inst


def add_collection(session: Session, slug: str, title: str, *, institution_slug: str | None = None,
                   description: str = "", labels: dict | None = None) -> Collection:
    check_slug(slug, "collection")
    title = check_text(title, "title", 500)
    if session.scalar(select(Collection).where(Collection.slug == slug)):
        raise Conflict(f"collection {slug!r} already exists")
    inst = institution(session, institution_slug) if institution_slug else None
    coll = Collection(slug=slug, title=title, institution=inst, description=description, labels=labels or {})
    session.add(coll)
    session.flush()
    return coll


def add_user(session: Session, name: str, password: str, role: str, institution_slug: str | None = None) -> User:
    name = check_text(name, "name", 100)
    if not re.match(r"^[\w.@-]+$", name):
        raise InvalidInput("user name: use letters, digits and . @ - _ only", field="name")
    if role not in (Role.ADMIN.value, Role.ARCHIVIST.value):
        raise InvalidInput(f"role must be admin or archivist, got {role!r}", field="role")
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters", field="password")
    if session.scalar(select(User).where(User.name == name)):
        raise Conflict(f"user {name!r} already exists")
    inst = institution(session, institution_slug) if institution_slug else None
    if role == Role.ARCHIVIST.value and inst is None:
        raise InvalidInput("an archivist belongs to an institution: give --institution SLUG", field="institution")
    user = User(name=name, password_hash=generate_password_hash(password), role=role, institution=inst)
    session.add(user)
    session.flush()
    return user


def check_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)
