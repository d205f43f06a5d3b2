"""A test-only job kind for queue tests: records each run as an audit Event.

Imported by worker subprocesses (``python -c "import tests.scaleout.queue_probe; …"``) so the
real :class:`ingest.worker.Worker` runs it; never listed in ``HANDLER_MODULES``.
"""
from __future__ import annotations

import os
import time

from ingest.worker import JobContext, handler

KIND = "test-queue-probe"
EVENT = "test probe run"


@handler(KIND)
def probe(ctx: JobContext) -> None:
    """Sleep a little (to widen race windows), then record who ran which job."""
    time.sleep(float(ctx.payload.get("sleep", 0.01)))
    ctx.progress(1, 1, "probe")
    with ctx.repo.unit_of_work(f"worker:{ctx.worker}") as uow:
        uow.event(EVENT, detail={"job": ctx.job.id, "worker": ctx.worker, "pid": os.getpid()})


WORKER_CODE = """
import sys
sys.path.insert(0, {root!r})
import tests.scaleout.queue_probe
from config import load_settings
from repository import Repository
from ingest.worker import Worker
repo = Repository.open(load_settings())
w = Worker(repo, name=sys.argv[1], poll_seconds=0.05)
print("ready", flush=True)
w.run()
"""
