"""`kill -9` of a worker mid-OCR and mid-transcode: another worker takes the job over, every item
is complete exactly once, and `heritage fixity` is clean.

Real processes throughout: `heritage ingest` and `heritage worker` subprocesses, real Tesseract
and ffmpeg; the worker is killed with SIGKILL (no chance to clean up) while its job is half done.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from repository.models import File, Item, Job, Page
from tests.faults.conftest import build_env, isolated_env

ROOT = Path(__file__).resolve().parents[2]
STALE = 4  # seconds without heartbeat before a job counts as orphaned (default 120)


def heritage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    if check:
        assert r.returncode == 0, f"heritage {' '.join(args)}: {r.stderr}"
    return r


def start_worker(name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--name", name], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def descendants(pid: int) -> list[int]:
    """Child processes (ffmpeg, tesseract …) of ``pid``, recursively, from /proc."""
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out.append(int(child))
                out += descendants(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def job_of(repo, item_id: int) -> Job:
    with repo.session() as s:
        return s.scalar(select(Job).where(Job.item_id == item_id))


def wait_until(pred, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def make_scan_dir(tmp: Path, pages: int) -> Path:
    from ingest.samples import cantonese_sentences, render_text_page

    d = tmp / "粵語報紙"
    d.mkdir()
    lines = cantonese_sentences(pages * 3)
    for i in range(pages):
        img, _ = render_text_page("\n".join(lines[i * 3:(i + 1) * 3]), width=900, font_size=40)
        img.save(d / f"page{i + 1}.png")
    return d


def make_video(tmp: Path, seconds: int) -> Path:
    """MPEG-2 in MPEG-PS: not web-compatible, so the worker must really transcode it."""
    out = tmp / "訪問錄影.mpg"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", "-c:v", "mpeg2video", "-q:v", "4",
                    "-c:a", "mp2", "-shortest", str(out)], check=True, timeout=120)
    return out


def midway(kind: str, job: Job | None) -> bool:
    """Is the job half done (so a kill lands in the middle of the work)?"""
    if job is None or job.state != "running":
        return False
    p = job.progress or {}
    done, total = p.get("done") or 0, p.get("total") or 0
    if kind == "ocr":
        return 1 <= done < total
    return total > 0 and 0.1 * total <= done < 0.7 * total


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ocr", "transcode"])
def test_kill_9_worker_mid_job_resumes_and_completes_exactly_once(kind, tmp_path, monkeypatch, record_figure,
                                                                  count_case):
    count_case("worker kill -9")
    from ingest.worker import load_handlers

    need = {"ocr": "scan", "transcode": "av"}[kind]
    if need not in load_handlers():
        pytest.skip(f"the {need} pipeline has not landed")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    isolated_env(monkeypatch, data_dir, HERITAGE_JOB_STALE_SECONDS=str(STALE), HERITAGE_WORKER_PROCESSES="1",
                 HERITAGE_OCR_LANGUAGES="chi_tra")
    env = build_env(data_dir)
    repo = env.repo
    if kind == "ocr":
        src = make_scan_dir(tmp_path, 3)
        (tmp_path / "b").mkdir()
        second = make_scan_dir(tmp_path / "b", 1)
    else:
        # long enough that the 10–70 % window spans several of ffmpeg's 0.5 s progress reports
        # even on an idle machine (16 s of video transcoded in ~1 s and the poll missed it)
        src = make_video(tmp_path, 90)
        second = tmp_path / "short.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", str(second)],
                       check=True, timeout=60)
    ids = [int(x) for x in heritage("ingest", str(src), str(second), "--collection", "c", "--publish")
           .stdout.split()]
    assert len(ids) == 2
    target = ids[0]

    first = start_worker("doomed")
    children: list[int] = []
    try:
        job = wait_until(lambda: (j := job_of(repo, target)) is not None and midway(kind, j) and j, 180,
                         f"the {kind} job to be half done")
        children = descendants(first.pid)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = dict(job.progress)
    finally:
        for pid in children:  # a real crash would leave them orphaned; do not leak them from a test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if first.poll() is None:
            first.kill()
    orphan = job_of(repo, target)
    assert orphan.state == "running" and orphan.worker == "doomed", "the job should look orphaned"

    heir = start_worker("heir")
    try:
        wait_until(lambda: all(job_of(repo, i).state in ("done", "failed") for i in ids), 300,
                   "the jobs to finish after the takeover", step=0.5)
    finally:
        heir.send_signal(signal.SIGTERM)
        try:
            heir.wait(timeout=60)
        except subprocess.TimeoutExpired:
            heir.kill()
    with repo.session() as s:
        jobs = {i: s.scalar(select(Job).where(Job.item_id == i)) for i in ids}
        assert all(j.state == "done" for j in jobs.values()), {i: (j.state, j.error) for i, j in jobs.items()}
        assert jobs[target].attempts == 2 and jobs[target].worker == "heir"
        for i in ids:
            item = s.get(Item, i)
            assert item.state == "published", (item.state, item.error)
            roles = collections.Counter((f.role, f.page_id) for f in s.scalars(select(File).where(File.item_id == i)))
            dupes = {k: v for k, v in roles.items() if v > 1 and k[0] != "original"}
            assert not dupes, f"item {i}: derivatives made twice: {dupes}"
            if kind == "ocr":
                pages = s.scalars(select(Page).where(Page.item_id == i).order_by(Page.n)).all()
                expected = 3 if i == target else 1
                assert [p.n for p in pages] == list(range(1, expected + 1))
                assert all(p.ocr_status == "done" and p.text.strip() for p in pages), \
                    [(p.n, p.ocr_status, p.error) for p in pages]
                assert all(roles[("page_image", p.id)] == 1 for p in pages)
            else:
                assert roles[("access", None)] == 1
    fixity = heritage("fixity", check=False)
    if "No such command" in fixity.stderr:
        pytest.fail("`heritage fixity` is not available in this tree")
    assert fixity.returncode == 0, f"fixity not clean after the kill: {fixity.stdout[-500:]} {fixity.stderr}"
    assert list(repo.store.root.glob(".tmp-*")) == [], "half-written objects of the killed worker remain"
    record_figure(f"worker kill -9 mid-{kind}",
                  f"killed at {killed_at.get('done')}/{killed_at.get('total')} ({killed_at.get('step')}); "
                  f"taken over, {len(ids)} items complete once, fixity clean")
    repo.db.dispose()
