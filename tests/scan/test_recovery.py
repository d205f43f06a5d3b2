"""Crash recovery and cancellation with real worker processes (``heritage worker``)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.intake import IngestOptions, ingest_paths
from repository import jobs as queue
from repository.models import Event, File, Item, Job, Page

from tests.scan.conftest import small_page

N_PAGES = 5


def _worker(env: dict[str, str], name: str) -> subprocess.Popen:
    """``heritage worker`` (the console script: the DESIGN's contract) as a real process; its
    stderr goes to a file in the data dir (a pipe nobody reads could fill up and block it)."""
    log = open(Path(env["HERITAGE_DATA_DIR"]) / f"{name}.log", "wb")
    proc = subprocess.Popen(["heritage", "worker", "--name", name], env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log_path = log.name  # type: ignore[attr-defined]
    log.close()
    return proc


def _pages_done(repo, item_id: int) -> int:
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(Page).where(Page.item_id == item_id,
                                                                     Page.ocr_status == "done"))


def _wait(cond, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            text = Path(proc.log_path).read_text(errors="replace")[-2000:]  # type: ignore[attr-defined]
            raise AssertionError(f"worker exited early ({proc.returncode}): {text}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def book(tmp_path) -> Path:
    d = tmp_path / "book"
    d.mkdir()
    for i in range(N_PAGES):
        small_page(10 + i).save(d / f"p{i + 1}.png")
    return d


def test_killed_worker_job_is_finished_by_another_exactly_once(repo, settings, collection, book):
    """kill -9 a worker after it committed some pages; a second worker takes the stale job over,
    skips the committed pages and finishes: every page exactly once, no duplicate files."""
    (item_id, job_id), = ingest_paths(repo, [book], IngestOptions(collection=collection, lang="chi_tra"))
    env = {**os.environ, "HERITAGE_DATA_DIR": str(settings.data_dir), "HERITAGE_JOB_STALE_SECONDS": "3",
           "HERITAGE_WORKER_PROCESSES": "1"}
    first = _worker(env, "victim")
    try:
        _wait(lambda: _pages_done(repo, item_id) >= 1, 240, "the first page", first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    done_before = _pages_done(repo, item_id)
    assert 1 <= done_before < N_PAGES, "kill came too late to test recovery"
    with repo.session() as s:
        assert s.get(Job, job_id).state == "running"  # orphaned: its worker is dead
    second = _worker(env, "rescuer")
    try:
        _wait(lambda: _job_state(repo, job_id) in ("done", "failed"), 300, "the job to finish", second)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()
    with repo.session() as s:
        job = s.get(Job, job_id)
        assert job.state == "done", job.error
        assert job.attempts == 2 and job.worker == "rescuer"
        pages = list(s.scalars(select(Page).where(Page.item_id == item_id).order_by(Page.n)))
        assert [p.n for p in pages] == list(range(1, N_PAGES + 1))
        assert all(p.ocr_status == "done" and p.text for p in pages)
        images = s.scalars(select(File).where(File.item_id == item_id, File.role == "page_image")).all()
        assert sorted(f.page_id for f in images) == sorted(p.id for p in pages)  # one image per page
        creations = s.scalars(select(Event).where(Event.item_id == item_id, Event.type == "creation",
                                                  Event.sha256.is_(None))).all()
        assert sorted(e.detail["page"] for e in creations) == list(range(1, N_PAGES + 1))
        assert s.get(Item, item_id).state == "draft"


def _job_state(repo, job_id: int) -> str:
    with repo.session() as s:
        return s.get(Job, job_id).state


def test_cancelled_job_stops_and_marks_the_item(repo, settings, collection, book):
    (item_id, job_id), = ingest_paths(repo, [book], IngestOptions(collection=collection, lang="chi_tra"))
    env = {**os.environ, "HERITAGE_DATA_DIR": str(settings.data_dir), "HERITAGE_WORKER_PROCESSES": "1"}
    w = _worker(env, "cancel-me")
    try:
        _wait(lambda: _pages_done(repo, item_id) >= 1, 240, "the first page", w)
        with repo.db.transaction() as s:
            queue.request_cancel(s, job_id)
        _wait(lambda: _job_state(repo, job_id) == "cancelled", 120, "the cancellation", w)
        assert w.poll() is None  # the worker itself keeps running
    finally:
        w.send_signal(signal.SIGTERM)
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
    assert _pages_done(repo, item_id) < N_PAGES
    with repo.session() as s:
        item = s.get(Item, item_id)
        assert item.state == "failed" and "cancelled" in item.error
