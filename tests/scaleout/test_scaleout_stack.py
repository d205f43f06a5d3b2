"""The whole product in scale-out mode: PostgreSQL + Elasticsearch + two `heritage worker`
processes + the web app, with real OCR and transcoding.

Batch-ingests rendered Cantonese pages and a recording through `heritage import-csv`, lets two
worker processes share the jobs, and checks that everything is processed once, published,
found through `/api/search` (Elasticsearch) in both scripts, and served by IIIF.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from repository.models import File, Item, Job
from tests.scaleout.conftest import settings_for
from tests.scaleout.pg import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.elasticsearch, pytest.mark.slow]


def heritage(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "web.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, f"heritage {' '.join(args)}: {r.stderr}"
    return r.stdout


def test_postgres_elasticsearch_and_two_workers(pg_url, data_dir, monkeypatch, tmp_path, record_figure):
    from tests.faults.services import elasticsearch_url

    es = elasticsearch_url()
    if es is None:
        pytest.skip("no Elasticsearch (scripts/elasticsearch.sh start, or HERITAGE_TEST_ELASTICSEARCH_URL)")
    index = f"scaleout-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("HERITAGE_SEARCH", "elasticsearch")
    monkeypatch.setenv("HERITAGE_ELASTICSEARCH_URL", es)
    settings = settings_for(data_dir, monkeypatch, pg_url)
    monkeypatch.setenv("HERITAGE_ELASTICSEARCH_INDEX", index)
    monkeypatch.setenv("HERITAGE_OCR_LANGUAGES", "chi_tra")
    monkeypatch.setenv("HERITAGE_WORKER_PROCESSES", "1")
    from config import load_settings
    from ingest.samples import cantonese_sentences, render_text_page
    from repository import Repository

    settings = load_settings()
    assert settings.search == "elasticsearch" and settings.effective_database_url.startswith("postgresql")
    heritage("init")
    heritage("collection", "add", "c", "--title", "粵語文獻")
    files = tmp_path / "files"
    files.mkdir()
    lines = cantonese_sentences(9)
    rows = ["file,title,publish"]
    for i in range(3):
        img, _ = render_text_page("\n".join(lines[i * 3:(i + 1) * 3]), width=900, font_size=40)
        img.save(files / f"p{i}.png")
        rows.append(f"p{i}.png,廣州報紙 第{i}頁,yes")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2", str(files / "r.wav")],
                   check=True, timeout=60)
    rows.append("r.wav,廣州口述歷史,yes")
    (tmp_path / "b.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    workers = [subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--name", f"host{i}"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(2)]
    repo = Repository.open(settings)
    t0 = time.monotonic()
    try:
        ids = [int(x) for x in heritage("import-csv", str(tmp_path / "b.csv"), "--files", str(files), "--collection", "c").split()]
        assert len(ids) == 4
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with repo.session() as s:
                states = [s.scalar(select(Job.state).where(Job.item_id == i)) for i in ids]
            if all(st in ("done", "failed") for st in states):
                break
            time.sleep(0.5)
        took = time.monotonic() - t0
        from search import drain_outbox

        deadline = time.monotonic() + 60
        while drain_outbox(repo) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
    with repo.session() as s:
        jobs = s.scalars(select(Job).where(Job.item_id.in_(ids))).all()
        assert all(j.state == "done" and j.attempts == 1 for j in jobs), [(j.state, j.error) for j in jobs]
        items = [s.get(Item, i) for i in ids]
        assert all(i.state == "published" for i in items), [(i.state, i.error) for i in items]
        used = {j.worker for j in jobs}
        image_ids = [p.image_id for i in items for p in i.pages]
        access = s.scalars(select(File).where(File.item_id == ids[-1], File.role == "access")).all()
        assert len(access) == 1
    from web.app import create_app

    client = create_app(settings, repo).test_client()
    for q in ("廣州", "广州", "gwong zau"):
        r = client.get(f"/api/search?q={q}")
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        found = {int(str(x["id"]).rsplit("/", 1)[-1]) for x in r.json["results"]}
        assert set(ids) <= found, (q, found, ids)
    assert client.get(f"/iiif/3/{image_ids[0]}/full/200,/0/default.jpg").status_code == 200
    assert client.get(f"/iiif/manifest/{ids[0]}").status_code == 200
    repo.db.dispose()
    requests.delete(f"{es}/{index}*", timeout=30)
    record_figure("scale-out stack: PostgreSQL + Elasticsearch + 2 workers",
                  f"4 items (3 OCR pages, 1 recording) published and searchable in {took:.0f}s; workers used: {len(used)}")
