"""Many `heritage worker` processes share the DB-backed queue: no job runs twice, none starves.

Real worker processes (``ingest.worker.Worker``) on SQLite and on the project-started
PostgreSQL; a test-only job kind (tests/scaleout/queue_probe.py) records each run.
"""
from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from repository import Repository
from repository import jobs as queue
from repository.models import Event, Job, JobState, utcnow
from tests.scaleout import queue_probe
from tests.scaleout.pg import ROOT

WORKERS = 4
JOBS = 80


def start_workers(n: int, tag: str) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen(
            [sys.executable, "-c", queue_probe.WORKER_CODE.format(root=str(ROOT)), f"{tag}-w{i}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT))
    for p in procs:  # every worker is polling before the first job exists
        line = p.stdout.readline()
        assert line.strip() == "ready", p.stderr.read()
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> list[str]:
    errors = []
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        errors.append(p.stderr.read())
    return errors


def wait_all_done(repo: Repository, ids: list[int], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with repo.session() as s:
            if not queue.pending(s, ids):
                return
        time.sleep(0.2)
    raise AssertionError("jobs still pending after %ss" % timeout)


@pytest.mark.postgres
def test_many_workers_run_each_job_exactly_once(any_db_settings, record_figure):
    repo = Repository.open(any_db_settings, create=True)
    backend = repo.db.engine.dialect.name
    procs = start_workers(WORKERS, backend)
    try:
        t0 = time.monotonic()
        with repo.session() as s:
            ids = [queue.enqueue(s, queue_probe.KIND, {"sleep": 0.01}).id for _ in range(JOBS)]
            s.commit()
        wait_all_done(repo, ids)
        elapsed = time.monotonic() - t0
    finally:
        stderr = stop_workers(procs)
    assert all(p.returncode == 0 for p in procs), stderr
    with repo.session() as s:
        jobs = s.scalars(select(Job).where(Job.id.in_(ids))).all()
        runs = [e.detail for e in s.scalars(select(Event).where(Event.type == queue_probe.EVENT))]
    per_job = collections.Counter(r["job"] for r in runs)
    assert sorted(per_job) == sorted(ids), "some job never ran (starved)"
    assert set(per_job.values()) == {1}, f"jobs run more than once: {[j for j, c in per_job.items() if c > 1]}"
    assert all(j.state == JobState.DONE.value and j.attempts == 1 for j in jobs)
    per_worker = collections.Counter(j.worker for j in jobs)
    assert len(per_worker) == WORKERS, f"a worker got no job: {per_worker}"
    # the runner of each job (Job.worker) is the process that recorded its run
    assert {r["job"]: r["worker"] for r in runs} == {j.id: j.worker for j in jobs}
    record_figure(f"queue {backend}: {WORKERS} workers x {JOBS} jobs",
                  f"each once, {JOBS / elapsed:.0f} jobs/s, per worker {sorted(per_worker.values())}")
    repo.db.dispose()


@pytest.mark.postgres
def test_skip_locked_claims_past_a_locked_job(pg_url, data_dir, monkeypatch):
    """A job row locked by another worker's claim is skipped at once, not waited for."""
    from tests.scaleout.conftest import settings_for

    repo = Repository.open(settings_for(data_dir, monkeypatch, pg_url), create=True)
    with repo.session() as s:
        first, second = (queue.enqueue(s, queue_probe.KIND).id for _ in range(2))
        s.commit()
    with repo.db.engine.connect() as holder:
        holder.execute(text("set lock_timeout = '5s'"))
        locked = holder.execute(text("select id from job where id = :i for update"), {"i": first}).scalar()
        assert locked == first
        t0 = time.monotonic()
        job = queue.claim(repo.db, "other")
        waited = time.monotonic() - t0
        holder.rollback()
    assert job is not None and job.id == second
    assert waited < 2, f"claim blocked on a locked row for {waited:.1f}s"
    # once released, the first job is claimable again
    assert queue.claim(repo.db, "other").id == first
    repo.db.dispose()


def test_a_job_of_a_dead_worker_is_taken_over_and_a_live_one_is_not(any_db_settings):
    repo = Repository.open(any_db_settings, create=True)
    with repo.session() as s:
        dead, alive = (queue.enqueue(s, queue_probe.KIND).id for _ in range(2))
        s.commit()
    a = queue.claim(repo.db, "w-dead")
    b = queue.claim(repo.db, "w-alive")
    assert (a.id, b.id) == (dead, alive)
    with repo.db.transaction() as s:  # w-dead stopped sending heartbeats 10 minutes ago
        s.get(Job, dead).heartbeat_at = utcnow() - timedelta(minutes=10)
    again = queue.claim(repo.db, "w-new", stale_after=120)
    assert again is not None and again.id == dead and again.attempts == 2 and again.worker == "w-new"
    assert queue.claim(repo.db, "w-new", stale_after=120) is None  # w-alive's job is left alone
    repo.db.dispose()


HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from config import load_settings
from repository import Repository
from repository.jobs import exclusive
repo = Repository.open(load_settings())
with exclusive(repo.db, "test-section") as got:
    print("held" if got else "busy", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def test_exclusive_section_is_held_by_one_process_at_a_time(any_db_settings):
    """repository.jobs.exclusive: what several workers use for work that must not overlap."""
    repo = Repository.open(any_db_settings, create=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT)), "30"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with queue.exclusive(repo.db, "test-section") as got:
            assert got is False, "two processes inside the section at once"
        with queue.exclusive(repo.db, "another-section") as got:
            assert got is True
        holder.kill()  # even a killed holder releases it (connection / file closed)
        holder.wait(timeout=30)
        deadline = time.monotonic() + 10
        while True:
            with queue.exclusive(repo.db, "test-section") as got:
                if got or time.monotonic() > deadline:
                    break
            time.sleep(0.2)
        assert got is True
    finally:
        if holder.poll() is None:
            holder.kill()
        repo.db.dispose()
