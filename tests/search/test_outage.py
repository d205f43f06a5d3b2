"""Outage: stop Elasticsearch mid-ingest, change items, start it again — every item ends up
searchable exactly once. Uses its own Elasticsearch node (scripts/elasticsearch.sh with PORT=…)
so the node the other tests share is never stopped."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from repository.models import Collection, IndexTask, Item
from search import drain_outbox
from search.service import backend_for, search
from tests.conformance.corpus import ANON, SCRIPT, close_repo, open_repo
from tests.conftest import free_port_pair

pytestmark = [pytest.mark.elasticsearch, pytest.mark.slow]


def _script(cmd: str, port: int) -> None:
    subprocess.run(["bash", str(SCRIPT), cmd], check=True, timeout=600, env={**os.environ, "PORT": str(port)})


@pytest.fixture
def own_node(es_url):  # es_url: the distribution is fetched and unpacked once, by the shared start
    port = free_port_pair()
    _script("start", port)
    yield port
    _script("stop", port)
    cache = Path("/var/cache/heritage/elasticsearch" if os.geteuid() == 0 else
                 Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "heritage/elasticsearch")
    shutil.rmtree(Path(os.environ.get("HERITAGE_ES_CACHE", cache)) / f"node-{port}", ignore_errors=True)


def test_items_changed_during_an_outage_are_indexed_exactly_once(own_node, tmp_path):
    repo = open_repo(tmp_path / "d", "elasticsearch", f"http://127.0.0.1:{own_node}")
    try:
        ids = []
        with repo.unit_of_work("test") as uow:
            coll = Collection(slug="c", title="C")
            for n in range(6):
                item = Item(collection=coll, title=f"第{n}號 廣州 item{n}", state="published")
                uow.session.add(item)
                uow.reindex(item)
                ids.append(item)
        ids = [i.id for i in ids]
        assert drain_outbox(repo) == 0
        assert search(repo, "廣州", viewer=ANON)["total"] == 6

        _script("stop", own_node)  # the cluster goes away mid-ingest
        with repo.unit_of_work("test") as uow:
            for item_id in ids[:3]:
                item = uow.session.get(Item, item_id)
                item.title = item.title.replace("廣州", "香港")
                uow.reindex(item)
            new = Item(collection=uow.session.scalar(select(Collection)), title="新 香港 itemnew", state="published")
            uow.session.add(new)
            uow.reindex(new)
        assert drain_outbox(repo) == 4  # nothing lost
        with repo.session() as s:
            assert all(t.attempts == 1 and t.last_error for t in s.scalars(select(IndexTask)))

        _script("start", own_node)
        assert drain_outbox(repo) == 0
        assert search(repo, "廣州", viewer=ANON)["total"] == 3
        assert search(repo, "香港", viewer=ANON)["total"] == 4
        everything = search(repo, "", viewer=ANON, per_page=100)
        found = [x["id"] for x in everything["results"]]
        assert sorted(found) == sorted(ids + [new.id]) and everything["total"] == 7  # each exactly once
        assert backend_for(repo).count() == 7
        for n in range(6):
            assert [x["id"] for x in search(repo, f"item{n}", viewer=ANON)["results"]] == [ids[n]]
    finally:
        close_repo(repo)
