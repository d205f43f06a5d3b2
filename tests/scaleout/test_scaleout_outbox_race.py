"""Several workers drain the search outbox at the same time (every `heritage worker` drains it
after each job and when idle): no item may drop out of the index.

Runs two real worker-style drains concurrently (two processes, as on two hosts) over the same
reindex tasks against the real Elasticsearch, a few rounds, and checks every item is still found.
"""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests

from tests.scaleout.conftest import settings_for
from tests.scaleout.pg import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.elasticsearch]

DRAIN = """
import sys, time
sys.path.insert(0, {root!r})
from config import load_settings
from repository import Repository
from search import drain_outbox
repo = Repository.open(load_settings())
while time.time() < {start}:
    time.sleep(0.005)
if {guarded}:  # the fix: one drain at a time across all workers (repository.jobs.exclusive)
    from repository.jobs import exclusive
    with exclusive(repo.db, "search-outbox") as mine:
        print(drain_outbox(repo) if mine else "skipped")
else:  # what every `heritage worker` does today (search.drain_outbox unguarded)
    print(drain_outbox(repo))
"""


@pytest.mark.parametrize("guarded", [False, True], ids=["as-workers-drain-today", "serialised-with-exclusive"])
def test_concurrent_outbox_drains_lose_no_item(guarded, pg_url, data_dir, monkeypatch, record_figure):
    import time

    from tests.faults.services import elasticsearch_url

    es = elasticsearch_url()
    if es is None:
        pytest.skip("no Elasticsearch (scripts/elasticsearch.sh start, or HERITAGE_TEST_ELASTICSEARCH_URL)")
    index = f"race-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("HERITAGE_SEARCH", "elasticsearch")
    monkeypatch.setenv("HERITAGE_ELASTICSEARCH_URL", es)
    settings_for(data_dir, monkeypatch, pg_url)
    monkeypatch.setenv("HERITAGE_ELASTICSEARCH_INDEX", index)
    from config import load_settings
    from repository import Repository, catalog
    from repository.access import Viewer
    from repository.models import Item
    from search import drain_outbox
    from search.service import search

    repo = Repository.open(load_settings())
    n = 30
    with repo.unit_of_work("test") as uow:
        coll = catalog.add_collection(uow.session, "c", "C")
        items = [Item(collection=coll, title=f"廣州 racetest 第{i}號", state="published") for i in range(n)]
        uow.session.add_all(items)
        for it in items:
            uow.reindex(it)
    ids = [it.id for it in items]
    assert drain_outbox(repo) == 0
    admin = Viewer(0, "admin", None, "test")
    assert search(repo, "racetest", viewer=admin, per_page=100)["total"] == n
    lost_rounds = []
    try:
        for round_ in range(2):
            with repo.unit_of_work("test") as uow:
                for i in ids:
                    uow.reindex(i)
            start = time.time() + 3
            procs = [subprocess.Popen([sys.executable, "-c", DRAIN.format(root=str(ROOT), start=start, guarded=guarded)], cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
            for p in procs:
                out, err = p.communicate(timeout=120)
                assert p.returncode == 0, err
            assert drain_outbox(repo) == 0
            found = search(repo, "racetest", viewer=admin, per_page=100)
            got = {int(str(r["id"]).rsplit("/", 1)[-1]) for r in found["results"]}
            if got != set(ids):
                lost_rounds.append((round_, sorted(set(ids) - got)))
    finally:
        repo.db.dispose()
        requests.delete(f"{es}/{index}*", timeout=30)
    record_figure(f"search outbox: 2 concurrent drains x 2 rounds ({'serialised' if guarded else 'as today'})",
                  "no item lost" if not lost_rounds else f"items LOST from the index: {lost_rounds}")
    assert not lost_rounds, f"items dropped out of the index after concurrent drains: {lost_rounds}"
