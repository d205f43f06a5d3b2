"""PostgreSQL restarted while the web serves: clean 503s during the gap, full recovery after.

Runs its own throwaway PostgreSQL (scripts/postgres.sh with a private directory and port), so
stopping it disturbs no other test.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.faults.conftest import LiveServer, build_env, isolated_env
from tests.faults.world import build_world

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"


class PrivatePostgres:
    """A PostgreSQL cluster of its own for one test, driven by scripts/postgres.sh."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="heritage-pg-fault-", dir="/tmp"))
        self.env = {**os.environ, "HERITAGE_PG_DIR": str(self.dir), "HERITAGE_PG_PORT": str(free_port())}

    def run(self, verb: str) -> str:
        r = subprocess.run(["bash", str(SCRIPT), verb], env=self.env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 or verb == "status", f"postgres.sh {verb}: {r.stderr}"
        return r.stdout.strip()

    def destroy(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "destroy"], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_pg():
    if not shutil.which("runuser") and os.geteuid() == 0:
        pytest.skip("runuser missing")
    pg = PrivatePostgres()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_restart_gives_clean_503s_and_recovers(private_pg, materials, tmp_path, monkeypatch,
                                                       record_figure, count_case):
    count_case("service faults")
    url = private_pg.run("start").splitlines()[-1]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    isolated_env(monkeypatch, data_dir, HERITAGE_DATABASE_URL=url)
    env = build_env(data_dir)
    world = build_world(env.repo, tmp_path / "w", materials.wav)
    from web.app import create_app

    server = LiveServer(create_app(env.settings, env.repo))
    pub = world.public.id
    paths = ["/healthz", f"/items/{pub}", f"/api/items/{pub}", "/api/items", f"/iiif/manifest/{pub}", "/"]
    try:
        before = {p: requests.get(server.url + p, timeout=30).status_code for p in paths}
        assert set(before.values()) == {200}, before

        private_pg.run("stop")
        gap: dict[str, list[int]] = {p: [] for p in paths}
        for _ in range(3):
            for p in paths:
                r = requests.get(server.url + p, timeout=30)
                gap[p].append(r.status_code)
                assert r.status_code == 503, f"{p} during the outage: {r.status_code} {r.text[:300]}"
                assert "Traceback" not in r.text and "psycopg" not in r.text and "sqlalchemy" not in r.text
                if p.startswith(("/api/", "/iiif/", "/healthz")):
                    assert r.headers["Content-Type"].startswith("application/"), r.headers["Content-Type"]

        t0 = time.monotonic()
        private_pg.run("start")
        recovered: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(recovered) < len(paths):
            for p in paths:
                if p not in recovered and requests.get(server.url + p, timeout=30).status_code == 200:
                    recovered[p] = 200
            time.sleep(0.2)
        took = time.monotonic() - t0
        assert set(recovered) == set(paths), f"not recovered: {set(paths) - set(recovered)}"
        # and it keeps working (no poisoned pooled connection)
        again = {p: requests.get(server.url + p, timeout=30).status_code for p in paths for _ in range(3)}
        assert set(again.values()) == {200}, again
    finally:
        server.stop()
        env.repo.db.dispose()
    n = sum(len(v) for v in gap.values())
    record_figure("PostgreSQL restart under the web",
                  f"{n}/{n} requests in the gap answered 503 cleanly; all {len(paths)} URLs back in {took:.1f}s")


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_outlives_a_postgres_restart_and_then_runs_jobs(private_pg, tmp_path, count_case):
    """A `heritage worker` whose database goes away waits with back-off instead of exiting, and
    runs queued jobs once the database is back."""
    import sys

    from config import load_settings
    from repository import Repository
    from repository import jobs as queue
    from repository.models import Event
    from sqlalchemy import select
    from tests.scaleout.queue_probe import EVENT, KIND, WORKER_CODE

    count_case("service faults")
    url = private_pg.run("start").splitlines()[-1]
    env = {**os.environ, "HERITAGE_DATA_DIR": str(tmp_path / "d"), "HERITAGE_DATABASE_URL": url}
    repo = Repository.open(load_settings(env), create=True)
    worker = subprocess.Popen([sys.executable, "-c", WORKER_CODE.format(root=str(ROOT)), "w-restart"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "ready"
        private_pg.run("stop")
        time.sleep(4)  # several claim attempts fail while the database is down
        assert worker.poll() is None, f"the worker exited during the outage: {worker.stderr.read()[-500:]}"
        private_pg.run("start")
        repo.db.engine.dispose()
        with repo.db.transaction() as s:
            job_id = queue.enqueue(s, KIND, {"sleep": 0}).id
        deadline = time.monotonic() + 60
        ran = []
        while time.monotonic() < deadline and not ran:
            with repo.session() as s:
                ran = [e for e in s.scalars(select(Event).where(Event.type == EVENT))
                       if e.detail.get("job") == job_id]
            time.sleep(0.3)
        assert ran and ran[0].detail["worker"] == "w-restart"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        repo.db.dispose()
