"""``heritage worker``: takes jobs from the shared queue and runs their handlers.

Handlers register by job kind in :data:`HANDLERS` (see :func:`handler`). A handler receives a
:class:`JobContext`; it must be resumable (a job whose worker died is run again: skip work that
was already committed) and should call :meth:`JobContext.progress` often — that is the heartbeat
and the cancellation check.
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable

from config import HeritageError, Unavailable
from repository import Repository
from repository import jobs as queue
from repository.models import Item, ItemState, Job, JobState

log = logging.getLogger("heritage.worker")

#: job kind -> handler(ctx). Filled by the modules in HANDLER_MODULES when they are imported.
HANDLERS: dict[str, Callable[["JobContext"], None]] = {}
#: Modules whose import registers handlers. One line each.
HANDLER_MODULES: tuple[str, ...] = (
    "ingest.av",
    "ingest.scan",
)


class JobCancelled(Exception):
    """Raised inside a handler when the job was cancelled."""


def handler(kind: str):
    """Decorator: register a function as the handler of jobs of ``kind``."""

    def wrap(fn: Callable[["JobContext"], None]):
        HANDLERS[kind] = fn
        return fn

    return wrap


def load_handlers() -> dict[str, Callable[["JobContext"], None]]:
    for name in HANDLER_MODULES:
        importlib.import_module(name)
    return HANDLERS


@dataclass
class JobContext:
    repo: Repository
    job: Job
    worker: str

    @property
    def payload(self) -> dict[str, Any]:
        return self.job.payload

    def progress(self, done: int | float, total: int | float, step: str, errors: list | None = None) -> None:
        """Report progress; raises :class:`JobCancelled` when someone cancelled the job."""
        prog = {"done": done, "total": total, "step": step,
                "errors": errors if errors is not None else self.job.progress.get("errors", [])}
        self.job.progress = prog
        if not queue.heartbeat(self.repo.db, self.job.id, prog):
            raise JobCancelled(f"job {self.job.id} cancelled")


class Worker:
    def __init__(self, repo: Repository, name: str | None = None, poll_seconds: float = 1.0):
        self.repo = repo
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.poll_seconds = poll_seconds
        self.stopping = False

    def run(self, once: bool = False) -> int:
        """Run jobs until stopped (SIGTERM/SIGINT), or until the queue is empty with ``once``."""
        handlers = load_handlers()
        self.repo.store.sweep_temp()
        signal.signal(signal.SIGTERM, self._stop)
        ran = 0
        last_drain = 0.0
        backoff = 1.0
        while not self.stopping:
            try:
                job = queue.claim(self.repo.db, self.name, kinds=list(handlers),
                                  stale_after=self.repo.settings.job_stale_seconds)
                if job is not None:
                    self.run_job(job, handlers[job.kind])
                    ran += 1
                if job is not None or time.monotonic() - last_drain > 5:
                    self.drain_search()
                    last_drain = time.monotonic()
            except Unavailable as exc:
                # the database is restarting: wait and try again, never exit. A job cut off here
                # is taken over as stale (its handler resumes from what was committed).
                log.warning("%s; retrying in %.0f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if job is None:
                if once:
                    break
                time.sleep(self.poll_seconds)
        return ran

    def drain_search(self) -> None:
        """Push queued index changes to search; an unreachable backend keeps them queued."""
        from search import drain_outbox

        try:
            drain_outbox(self.repo)
        except HeritageError as exc:
            log.warning("search not updated yet: %s", exc)

    def run_job(self, job: Job, fn: Callable[[JobContext], None]) -> None:
        ctx = JobContext(self.repo, job, self.name)
        log.info("job %s (%s) started", job.id, job.kind)
        try:
            fn(ctx)
        except JobCancelled:
            self._end(job, JobState.CANCELLED, "processing was cancelled; retry the job to run it again", ctx)
        except HeritageError as exc:
            self._end(job, JobState.FAILED, str(exc), ctx)
        except Exception as exc:  # a bug or an OS error: record it, keep the worker alive
            log.exception("job %s failed", job.id)
            self._end(job, JobState.FAILED, f"{type(exc).__name__}: {exc}", ctx)
        else:
            queue.finish(self.repo.db, job.id, JobState.DONE, None, ctx.job.progress)

    def _end(self, job: Job, state: JobState, reason: str, ctx: JobContext) -> None:
        """Finish a job that did not succeed; its item never stays in 'processing'."""
        queue.finish(self.repo.db, job.id, state, reason, ctx.job.progress)
        if job.item_id is None:
            return
        with self.repo.db.transaction() as session:
            item = session.get(Item, job.item_id)
            if item is not None and item.state == ItemState.PROCESSING.value:
                item.state = ItemState.FAILED.value
                item.error = item.error or reason

    def _stop(self, *_: Any) -> None:
        self.stopping = True
