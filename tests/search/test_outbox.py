"""The outbox keeps index tasks while the backend is unreachable and indexes each item once."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from config import Unavailable, load_settings
from repository import Repository
from repository.models import Collection, IndexTask, Item
from search import drain_outbox
from search.service import backend_for, search
from tests.conformance.corpus import ANON
from tests.conftest import free_port


def _add(repo, title: str, state: str = "published") -> int:
    with repo.unit_of_work("test") as uow:
        coll = uow.session.scalar(select(Collection)) or Collection(slug="c", title="C")
        item = Item(collection=coll, title=title, state=state)
        uow.session.add(item)
        uow.reindex(item)
    return item.id


def test_unreachable_elasticsearch_keeps_tasks_with_attempts_and_reason(tmp_path):
    settings = load_settings(env={}, data_dir=tmp_path / "d", search="elasticsearch",
                             elasticsearch_url=f"http://127.0.0.1:{free_port()}", elasticsearch_index="hts-unreachable")
    repo = Repository.open(settings, create=True)
    _add(repo, "廣州")
    assert drain_outbox(repo) == 1
    assert drain_outbox(repo) == 1
    with repo.session() as s:
        task = s.scalar(select(IndexTask))
    assert task.attempts == 2
    assert "temporarily unavailable" in task.last_error and "cannot be reached" in task.last_error
    with pytest.raises(Unavailable):
        search(repo, "廣州", viewer=ANON)
    repo.db.dispose()


def test_whoosh_drain_is_idempotent_and_follows_changes(repo):
    a = _add(repo, "廣州商會")
    assert drain_outbox(repo) == 0
    with repo.unit_of_work("test") as uow:
        item = uow.session.get(Item, a)
        item.title = "香港商會"
        uow.reindex(item)
        uow.reindex(item)  # two tasks for one item: one document
    assert drain_outbox(repo) == 0
    assert [x["id"] for x in search(repo, "商會", viewer=ANON)["results"]] == [a]
    assert search(repo, "廣州", viewer=ANON)["total"] == 0
    with repo.unit_of_work("test") as uow:
        uow.session.delete(uow.session.get(Item, a))
        uow.reindex(a, action="delete")
    assert drain_outbox(repo) == 0
    assert search(repo, "商會", viewer=ANON)["total"] == 0
    assert backend_for(repo).count() == 0


def test_whoosh_facets_work_across_segments_missing_a_facet(repo):
    """A concurrent commit can leave a segment whose documents have no value for some facet;
    faceted search over several segments must still answer (Whoosh 2.7.4 list columns had no
    default for that case and raised AttributeError, seen under load)."""
    from whoosh import writing

    from search.documents import load_documents

    with repo.unit_of_work("test") as uow:
        coll = Collection(slug="c", title="C")
        tagged = Item(collection=coll, title="廣州商會", state="published",
                      metadata_={"subject": [{"value": "商會", "lang": "zh-Hant"}]})
        plain = Item(collection=coll, title="廣州街坊", state="published")
        uow.session.add_all([tagged, plain])
    backend = backend_for(repo)
    with repo.session() as s:
        docs = load_documents(s, [tagged.id, plain.id])
    backend.replace_items([tagged.id], docs[tagged.id])
    w = backend.ix.writer()
    for doc in docs[plain.id]:
        w.add_document(**backend._fields(doc))
    w.commit(mergetype=writing.NO_MERGE)  # keep it a segment of its own, as a racing commit does
    backend.close()
    assert len(backend.ix._segments()) >= 2
    result = search(repo, "廣州", viewer=ANON)
    assert {r["id"] for r in result["results"]} == {tagged.id, plain.id}
    assert dict(result["facets"]["subject"]) == {"商會": 1}
