"""Draining the search outbox (IndexTask rows) into the configured backend.

Tasks are written by other layers in the same transaction as their change
(``UnitOfWork.reindex``). Draining reads a batch, builds the items' documents from the database,
replaces them in the backend, and deletes exactly those task rows. When the backend is unreachable
the tasks stay, with ``attempts`` and ``last_error`` updated, and are retried on the next drain —
nothing is lost, and because documents are replaced per item, nothing is indexed twice.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import delete, func, select, update

from config import Unavailable
from repository import Repository
from repository.models import IndexTask

log = logging.getLogger("heritage.search")
BATCH = 200


def pending(repo: Repository) -> int:
    """How many index tasks are waiting."""
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(IndexTask)) or 0


def drain_outbox(repo: Repository, *, batch: int = BATCH, max_batches: int | None = None,
                 wait: float = 30.0) -> int:
    """Push waiting index tasks to the backend; returns how many remain.

    One drain at a time across all processes and hosts (``repository.jobs.exclusive``): a drain
    reading the database before another one's newer read could otherwise write older documents
    last. Waits up to ``wait`` seconds for a running drain to finish. Never raises for an
    unreachable backend: the tasks stay and the count says so.
    """
    from repository.jobs import exclusive

    deadline = time.monotonic() + wait
    while True:
        with exclusive(repo.db, "search-outbox") as mine:
            if mine:
                return _drain(repo, batch, max_batches)
        if time.monotonic() >= deadline:
            return pending(repo)  # another process is draining; it will index these
        time.sleep(0.2)


def _drain(repo: Repository, batch: int, max_batches: int | None) -> int:
    from search.documents import load_documents
    from search.service import backend_for, rebuild_if_outdated

    backend = backend_for(repo)
    try:
        rebuild_if_outdated(repo)  # documents of this version cannot go into an older index
    except Unavailable:
        pass  # unreachable: the batch below fails the same way and notes it on the tasks
    done = 0
    while max_batches is None or done < max_batches:
        with repo.session() as s:
            tasks = s.execute(select(IndexTask.id, IndexTask.item_id, IndexTask.action)
                              .order_by(IndexTask.id).limit(batch)).all()
            if not tasks:
                break
            task_ids = [t.id for t in tasks]
            item_ids = list(dict.fromkeys(t.item_id for t in tasks))
            last_action = {t.item_id: t.action for t in tasks}  # the newest task of an item wins
            upsert_ids = [i for i in item_ids if last_action[i] != "delete"]
            docs = load_documents(s, upsert_ids)
        try:
            backend.replace_items(item_ids, [d for i in item_ids for d in docs.get(i, [])])
        except Exception as exc:  # unreachable (Unavailable) or refused: keep the tasks, say why
            reason = str(exc) if isinstance(exc, Unavailable) else f"{type(exc).__name__}: {exc}"
            with repo.db.transaction() as s:
                s.execute(update(IndexTask).where(IndexTask.id.in_(task_ids))
                          .values(attempts=IndexTask.attempts + 1, last_error=reason[:2000]))
            if isinstance(exc, Unavailable):
                log.warning("search backend unavailable, %d index tasks kept: %s", len(task_ids), exc)
            else:
                log.exception("indexing failed, %d index tasks kept", len(task_ids))
            break
        with repo.db.transaction() as s:
            s.execute(delete(IndexTask).where(IndexTask.id.in_(task_ids)))
        done += 1
    return pending(repo)
