"""Draining the search outbox (IndexTask rows) into the configured backend.

Tasks are written by other layers in the same transaction as their change
(``UnitOfWork.reindex``). Draining reads a batch, builds the items' documents from the database,
replaces them in the backend, and deletes exactly those task rows. When the backend is unreachable
the tasks stay, with ``attempts`` and ``last_error`` updated, and are retried on the next drain —
nothing is lost, and because documents are replaced per item, nothing is indexed twice. When the
backend refuses a batch, its items are indexed one by one: an item it will not take keeps its task
(with the reason) and the rest go on — one bad item never holds up the queue behind it.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import delete, func, select, update

from config import HeritageError, Unavailable
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


def _replace(repo: Repository, backend, tasks, docs) -> None:
    """Replace the tasks' items in the backend, then delete exactly those tasks."""
    item_ids = list(dict.fromkeys(t.item_id for t in tasks))
    last_action = {t.item_id: t.action for t in tasks}  # the newest task of an item wins
    backend.replace_items(item_ids, [d for i in item_ids if last_action[i] != "delete" for d in docs.get(i, [])])
    with repo.db.transaction() as s:
        s.execute(delete(IndexTask).where(IndexTask.id.in_([t.id for t in tasks])))


def _note_failure(repo: Repository, task_ids: list[int], reason: str) -> None:
    with repo.db.transaction() as s:
        s.execute(update(IndexTask).where(IndexTask.id.in_(task_ids))
                  .values(attempts=IndexTask.attempts + 1, last_error=reason[:2000]))


def _one_by_one(repo: Repository, backend, tasks, docs, first_error: Exception) -> set[int]:
    """Index a refused batch item by item; returns the ids of the tasks still refused (kept,
    with the reason in ``last_error``). Raises :class:`Unavailable` if the backend goes away."""
    refused: set[int] = set()
    by_item: dict[int, list] = {}
    for t in tasks:
        by_item.setdefault(t.item_id, []).append(t)
    for item_id, item_tasks in by_item.items():
        try:
            if len(by_item) == 1:  # the batch was this one item: it was just refused, do not send it again
                raise first_error
            _replace(repo, backend, item_tasks, docs)
        except Unavailable:
            raise
        except Exception as exc:
            reason = str(exc) if isinstance(exc, HeritageError) else f"{type(exc).__name__}: {exc}"
            _note_failure(repo, [t.id for t in item_tasks], reason)
            log.error("item %s cannot be indexed (its index task is kept): %s", item_id, reason)
            refused |= {t.id for t in item_tasks}
    return refused


def _drain(repo: Repository, batch: int, max_batches: int | None) -> int:
    from search.documents import load_documents
    from search.service import backend_for, rebuild_if_outdated

    backend = backend_for(repo)
    try:
        rebuild_if_outdated(repo)  # documents of this version cannot go into an older index
    except Unavailable:
        pass  # unreachable: the batch below fails the same way and notes it on the tasks
    done = 0
    refused: set[int] = set()  # tasks the backend refused in this drain: kept for the next drain
    while max_batches is None or done < max_batches:
        with repo.session() as s:
            query = select(IndexTask.id, IndexTask.item_id, IndexTask.action).order_by(IndexTask.id).limit(batch)
            if refused:
                query = query.where(IndexTask.id.notin_(refused))
            tasks = s.execute(query).all()
            if not tasks:
                break
            docs = load_documents(s, [t.item_id for t in tasks if t.action != "delete"])
        try:
            _replace(repo, backend, tasks, docs)
        except Unavailable as exc:  # unreachable: keep the tasks, say why, try again next drain
            _note_failure(repo, [t.id for t in tasks], str(exc))
            log.warning("search backend unavailable, %d index tasks kept: %s", len(tasks), exc)
            break
        except Exception as exc:
            # refused: find the item(s) at fault one by one, so that one item the backend will not
            # take (e.g. a document too big for it) does not hold up everything queued after it
            try:
                refused |= _one_by_one(repo, backend, tasks, docs, exc)
            except Unavailable as exc:
                log.warning("search backend unavailable: %s", exc)
                break
        done += 1
    return pending(repo)
