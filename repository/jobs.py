"""The DB-backed job queue shared by the CLI, the web and every ``heritage worker``.

Claiming is safe with many workers: PostgreSQL uses ``FOR UPDATE SKIP LOCKED``; SQLite takes
the database write lock (``BEGIN IMMEDIATE``) for the claim. A running job whose heartbeat is
older than ``stale_after`` seconds belongs to a dead worker and is claimed again (its handler
must be resumable: skip work already committed).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from config import InvalidInput, NotFound
from repository.db import Database
from repository.models import Item, ItemState, Job, JobState, utcnow

MAX_ATTEMPTS = 5


def enqueue(session: Session, kind: str, payload: dict[str, Any] | None = None, *,
            item_id: int | None = None, created_by: str = "cli") -> Job:
    """Add a job (committed with the caller's transaction)."""
    job = Job(kind=kind, payload=payload or {}, item_id=item_id, created_by=created_by,
              progress={"done": 0, "total": 0, "step": "queued", "errors": []})
    session.add(job)
    session.flush()
    return job


def claim(db: Database, worker: str, kinds: Iterable[str] | None = None, stale_after: int = 120,
          only_ids: Iterable[int] | None = None) -> Job | None:
    """Take the oldest runnable job for ``worker``, or None. The job comes back detached."""
    stale = utcnow() - timedelta(seconds=stale_after)
    runnable = or_(
        Job.state == JobState.QUEUED.value,
        (Job.state == JobState.RUNNING.value) & (Job.heartbeat_at < stale),
    )
    query = select(Job).where(runnable).order_by(Job.id).limit(1)
    if kinds is not None:
        query = query.where(Job.kind.in_(list(kinds)))
    if only_ids is not None:
        query = query.where(Job.id.in_(list(only_ids)))
    with db.session() as session:
        if db.is_sqlite:
            session.execute(text("BEGIN IMMEDIATE"))
        else:
            query = query.with_for_update(skip_locked=True)
        job = session.execute(query).scalar_one_or_none()
        if job is None:
            session.rollback()
            return None
        if job.attempts >= MAX_ATTEMPTS:
            job.state = JobState.FAILED.value
            job.error = job.error or f"gave up after {job.attempts} attempts (worker died each time)"
            job.finished_at = utcnow()
            session.commit()
            return claim(db, worker, kinds, stale_after, only_ids)
        now = utcnow()
        job.state = JobState.RUNNING.value
        job.worker = worker
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        session.commit()
        session.refresh(job)
        session.expunge(job)
        return job


def heartbeat(db: Database, job_id: int, progress: dict[str, Any] | None = None) -> bool:
    """Record liveness (and progress). Returns False when cancellation was requested."""
    with db.transaction() as session:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if progress is not None:
            values["progress"] = progress
        session.execute(update(Job).where(Job.id == job_id).values(**values))
        return not session.get(Job, job_id).cancel_requested


def finish(db: Database, job_id: int, state: JobState = JobState.DONE, error: str | None = None,
           progress: dict[str, Any] | None = None) -> None:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        job.state = state.value
        job.error = error
        job.finished_at = utcnow()
        if progress is not None:
            job.progress = progress


def request_cancel(session: Session, job_id: int, by: str = "") -> Job:
    """Cancel a queued job at once (its item is marked failed), or ask a running one to stop."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.state == JobState.QUEUED.value:
        job.state = JobState.CANCELLED.value
        job.finished_at = utcnow()
        item = session.get(Item, job.item_id) if job.item_id is not None else None
        if item is not None and item.state == ItemState.PROCESSING.value:
            item.state = ItemState.FAILED.value
            item.error = f"processing was cancelled{' by ' + by if by else ''}; retry the job to run it again"
    elif job.state == JobState.RUNNING.value:
        job.cancel_requested = True
    else:
        raise InvalidInput(f"job {job_id} is already {job.state}")
    return job


def retry(session: Session, job_id: int) -> Job:
    """Queue a failed or cancelled job again; its failed item goes back to 'processing'."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.state not in (JobState.FAILED.value, JobState.CANCELLED.value):
        raise InvalidInput(f"only failed or cancelled jobs can be retried; job {job_id} is {job.state}")
    job.state = JobState.QUEUED.value
    job.error = None
    job.cancel_requested = False
    job.attempts = 0
    job.finished_at = None
    if job.item_id is not None:
        item = session.get(Item, job.item_id)
        if item is not None and item.state == ItemState.FAILED.value:
            item.state = ItemState.PROCESSING.value
            item.error = None
    return job


def pending(session: Session, ids: Iterable[int]) -> list[Job]:
    """Jobs among ``ids`` that are not finished yet."""
    return list(session.scalars(select(Job).where(
        Job.id.in_(list(ids)), Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))))


def aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=timezone.utc) if dt is not None and dt.tzinfo is None else dt


_local_locks: dict[str, threading.Lock] = {}


@contextmanager
def exclusive(db: Database, name: str) -> Iterator[bool]:
    """A section that at most one process runs at a time, on every host sharing the database.

    Yields True when this process holds the lock, False at once (no waiting) when another one
    does. For work that must not run concurrently on several workers, e.g. draining the search
    outbox: two drains replacing the same item's documents at the same moment can delete each
    other's documents. PostgreSQL: a session advisory lock (released when the holder's
    connection ends, so a killed worker never leaves it held); SQLite (one host): ``flock`` on a
    lock file beside the database.
    """
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            got = bool(conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    database = db.engine.url.database
    if not database or database == ":memory:":  # one process only: a thread lock is enough
        lock = _local_locks.setdefault(name, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    path = Path(database).with_name(f".{Path(database).name}.lock-{safe}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except BlockingIOError:
            got = False
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
