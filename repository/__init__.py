"""The domain: models, object store, fixity, audit trail, job queue, access rules.

:class:`Repository` bundles the database and the object store for one data directory;
:meth:`Repository.unit_of_work` is how every layer changes things: one database transaction
plus the files it stored, removed again if the transaction fails (no orphan files).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy.orm import Session

from config import ConfigError, Settings
from repository.db import Database
from repository.models import Blob, Event, File, IndexTask, Item
from repository.store import ObjectStore, StoredObject


@dataclass
class UnitOfWork:
    """One transaction: a session, the acting agent, and blobs first written during it."""

    session: Session
    store: ObjectStore
    agent: str
    new_objects: list[str] = field(default_factory=list)

    def store_file(self, src: Path | str, *, item: Item | None = None, event_type: str = "ingestion",
                   detail: dict[str, Any] | None = None, move: bool = False,
                   stored: StoredObject | None = None) -> Blob:
        """Store a file's bytes once; record its fixity (Blob) and an audit Event.

        ``move`` takes the file into the store (:meth:`ObjectStore.put_file`); ``stored`` is an
        object already put into the store for ``src`` (e.g. by a thread while other work ran):
        it is recorded here, and removed again if this unit of work fails like any other."""
        if stored is None:
            stored = self.store.put_file(src, move=move)
        return self._record(stored, item, event_type, detail)

    def store_bytes(self, data: bytes, *, item: Item | None = None, event_type: str = "creation",
                    detail: dict[str, Any] | None = None) -> Blob:
        return self._record(self.store.put_bytes(data), item, event_type, detail)

    def _record(self, obj: StoredObject, item: Item | None, event_type: str, detail: dict[str, Any] | None) -> Blob:
        if obj.created:
            self.new_objects.append(obj.sha256)
        blob = self.session.get(Blob, obj.sha256)
        if blob is None:
            blob = Blob(sha256=obj.sha256, size=obj.size)
            self.session.add(blob)
            self.session.flush()
            self.event("message digest calculation", item=item, sha256=obj.sha256,
                       detail={"algorithm": "SHA-256", "size": obj.size})
        self.event(event_type, item=item, sha256=obj.sha256, detail=detail or {})
        return blob

    def add_file(self, item: Item, src: Path | str, *, role: str, mime: str, filename: str = "",
                 page_id: int | None = None, event_type: str | None = None, move: bool = False,
                 stored: StoredObject | None = None, **extra: Any) -> File:
        """Store ``src`` and attach it to ``item`` as a File with ``role`` (``move``/``stored``: see
        :meth:`store_file`)."""
        event_type = event_type or ("ingestion" if role == "original" else "creation")
        blob = self.store_file(src, item=item, event_type=event_type, detail={"role": role, "filename": filename},
                               move=move, stored=stored)
        f = File(item=item, sha256=blob.sha256, role=role, mime=mime, filename=filename,
                 size=blob.size, page_id=page_id, **extra)
        self.session.add(f)
        return f

    def event(self, type: str, *, item: Item | int | None = None, sha256: str | None = None,
              outcome: str = "success", detail: dict[str, Any] | None = None) -> Event:
        item_id = item if isinstance(item, int) or item is None else item.id
        if item is not None and not isinstance(item, int) and item.id is None:
            self.session.flush()
            item_id = item.id
        ev = Event(type=type, agent=self.agent, item_id=item_id, sha256=sha256, outcome=outcome, detail=detail or {})
        self.session.add(ev)
        return ev

    def reindex(self, item: Item | int, action: str = "upsert") -> None:
        """Queue the item for (re)indexing or deletion in search (drained by ``search``)."""
        if not isinstance(item, int):
            self.session.flush()
            item = item.id
        self.session.add(IndexTask(item_id=item, action=action))


class Repository:
    """The database and object store of one data directory."""

    def __init__(self, settings: Settings, db: Database | None = None):
        self.settings = settings
        self.db = db or Database(settings.effective_database_url)
        self.store = ObjectStore(settings.objects_dir)

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> "Repository":
        """Open (and with ``create``, initialise) the repository; fails with a one-line reason."""
        data_dir = settings.data_dir
        if create:
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"HERITAGE_DATA_DIR: cannot create {data_dir}: {exc.strerror}") from None
        if not data_dir.is_dir():
            raise ConfigError(f"HERITAGE_DATA_DIR: {data_dir} does not exist; run `heritage init` first")
        if create and not os.access(data_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"HERITAGE_DATA_DIR: {data_dir} is not writable")
        repo = cls(settings)
        if create:
            repo.db.migrate()
        else:
            repo.db.ping()
            if not repo.db.is_initialised():
                raise ConfigError(f"the database at {settings.effective_database_url} is not initialised; run `heritage init`")
        return repo

    def session(self) -> Session:
        return self.db.session()

    @contextmanager
    def unit_of_work(self, agent: str) -> Iterator[UnitOfWork]:
        """Commit everything on success; on failure roll back and delete files first stored here."""
        session = self.db.session()
        uow = UnitOfWork(session, self.store, agent)
        try:
            yield uow
            session.commit()
        except BaseException:
            session.rollback()
            self.discard(uow.new_objects, session)
            raise
        finally:
            session.close()

    def discard(self, shas: list[str], session: Session | None = None) -> None:
        """Remove objects this process first stored when nothing committed refers to them (a
        concurrent upload may share the bytes): no orphan file after a failure."""
        own = session is None
        session = session or self.db.session()
        try:
            for sha in shas:
                if session.get(Blob, sha) is None:
                    self.store.remove(sha)
        finally:
            if own:
                session.close()
