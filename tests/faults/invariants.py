"""What must stay true after refused input: no partial item, no orphan file, one clear message."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from repository import Repository
from repository.models import Blob, File, Item, Job, Page, Segment


@dataclass(frozen=True)
class Snapshot:
    objects: frozenset[str]
    counts: tuple[tuple[str, int], ...]
    temp: frozenset[str]


def snapshot(repo: Repository) -> Snapshot:
    """Stored objects, row counts of everything an ingest creates, and leftover temp files."""
    with repo.session() as s:
        counts = tuple((m.__name__, s.scalar(select(func.count()).select_from(m)) or 0)
                       for m in (Item, File, Blob, Page, Segment, Job))
    tmp = repo.settings.data_dir / "tmp"
    temp = frozenset(str(p) for p in tmp.rglob("*")) if tmp.is_dir() else frozenset()
    temp |= frozenset(p.name for p in repo.store.root.glob(".tmp-*")) if repo.store.root.is_dir() else frozenset()
    return Snapshot(frozenset(repo.store.iter_objects()), counts, temp)


def assert_nothing_left(repo: Repository, before: Snapshot) -> None:
    """No new item/file/blob/page/job rows, no new stored object, no temp file left behind."""
    after = snapshot(repo)
    assert after.counts == before.counts, f"rows changed: {dict(before.counts)} -> {dict(after.counts)}"
    assert after.objects == before.objects, f"orphan objects: {sorted(after.objects - before.objects)}"
    assert after.temp <= before.temp, f"temp files left: {sorted(after.temp - before.temp)}"


def assert_clear_message(message: str, *, names: tuple[str, ...] = ()) -> None:
    """One line (or a short list of lines) a person can act on: no traceback, no exception class
    names, no server paths; names the offending file/field when given."""
    text = message.strip()
    assert text, "no message at all"
    assert "Traceback" not in text and 'File "/' not in text, text
    for leak in ("Error(", "Exception:", "sqlalchemy", "psycopg", "/work/", "/tmp/", "site-packages"):
        assert leak not in text, f"internal detail {leak!r} in message: {text}"
    if names:
        assert any(n in text for n in names), f"message does not name {names}: {text}"
