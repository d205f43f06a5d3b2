"""`heritage search QUERY [--json]`, `heritage reindex`, and rebuilds that swap in a new index."""
from __future__ import annotations

import json
import uuid

import pytest

from config import load_settings
from repository import Repository
from search.service import backend_for, rebuild, search
from tests.conformance.corpus import ANON, build, close_repo

BACKENDS = ["whoosh", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]


@pytest.fixture(params=BACKENDS)
def cli_corpus(request, cli, monkeypatch):
    monkeypatch.setenv("HERITAGE_SEARCH", request.param)
    if request.param == "elasticsearch":
        monkeypatch.setenv("HERITAGE_ELASTICSEARCH_URL", request.getfixturevalue("es_url"))
        monkeypatch.setenv("HERITAGE_ELASTICSEARCH_INDEX", f"hts{uuid.uuid4().hex[:12]}")
    repo = Repository.open(load_settings(), create=True)
    corpus = build(repo)
    yield cli, corpus
    close_repo(repo)


def test_cli_search_json_reindex_and_errors(cli_corpus):
    cli, corpus = cli_corpus
    r = cli("search", "广州", "--json", "--public")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert {x["id"] for x in data["results"]} == {corpus.ids[k] for k in ("chamber", "labour", "fair")}
    staff = json.loads(cli("search", "广州", "--json").out)  # the operator sees drafts too
    assert staff["total"] == 6
    text = cli("search", "冇錢", "--filter", "type=Sound")
    assert text.code == 0 and "深水埗街坊口述" in text.out and "4.5s-9.2s" in text.out

    r = cli("reindex")
    assert r.code == 0, r
    assert "reindexed 8 item(s)" in r.out
    assert json.loads(cli("search", "广州", "--json", "--public").out)["total"] == 3

    bad = cli("search", '"廣州')
    assert bad.code == 1 and bad.err.count("\n") == 1 and "quotation mark" in bad.err
    assert cli("search", "廣州", "--filter", "colour").code == 2


def test_rebuild_swaps_in_a_new_index_with_the_same_answers(any_repo):
    corpus = build(any_repo)
    before = {q: corpus.find(q) for q in ("廣州", "gwong zau", "冇錢", "")}
    backend = backend_for(any_repo)
    if backend.name == "elasticsearch":
        old = set(backend.client.indices.get_alias(name=backend.alias))
    with any_repo.unit_of_work("test") as uow:
        uow.reindex(corpus.ids["chamber"])  # an outbox task older than the rebuild
    ticks: list[int] = []
    assert rebuild(any_repo, progress=ticks.append) == 8
    assert sum(ticks) == 8
    assert {q: corpus.find(q) for q in before} == before
    assert backend.count() == 8
    from search.outbox import pending

    assert pending(any_repo) == 0
    if backend.name == "elasticsearch":
        new = set(backend.client.indices.get_alias(name=backend.alias))
        assert len(new) == 1 and new.isdisjoint(old)
        assert not backend.client.indices.exists(index=",".join(old))
    assert search(any_repo, "广州", viewer=ANON)["total"] == 3


def test_an_index_of_an_older_version_is_rebuilt_by_the_next_drain(any_repo):
    """After an upgrade that changes the index layout, the worker's drain rebuilds the old index
    (with the alias swap) before it writes documents of the new layout."""
    from search import drain_outbox

    backend = backend_for(any_repo)
    if backend.name == "elasticsearch":
        # the version 1 layout: pages and segments were documents of their own, no nested parts
        backend._put_template()
        backend.client.indices.create(index=f"{backend.alias}.v000001", aliases={backend.alias: {}},
                                      mappings={"_meta": {"heritage_schema": 1}, "dynamic": "strict",
                                                "properties": {"kind": {"type": "keyword"},
                                                               "ref": {"type": "integer"}}})
        old = {f"{backend.alias}.v000001"}
    else:
        backend.ix  # an index without the version file: written by version 1
        (backend.directory / "heritage-schema").unlink()
    assert backend.outdated()
    corpus = build(any_repo)  # build drains the outbox: the rebuild comes first, then the new tasks
    assert not backend.outdated()
    assert corpus.names(corpus.find("gwong zau")) == {"chamber", "labour", "fair"}
    hit = next(x for x in search(any_repo, "廣州", viewer=ANON)["results"] if x["id"] == corpus.ids["chamber"])
    assert {"page": 1, "xywh": [70, 20, 60, 30]} in hit["hits"]
    assert drain_outbox(any_repo) == 0 and backend.count() == 8
    if backend.name == "elasticsearch":
        assert old.isdisjoint(backend.client.indices.get_alias(name=backend.alias))
