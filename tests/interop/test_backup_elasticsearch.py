"""Backup → restore with the Elasticsearch backend: the rebuilt index answers the same."""
from __future__ import annotations

import uuid

import pytest

from config import load_settings
from repository.access import Viewer
from repository.preservation.backup import backup, restore
from tests.conformance.corpus import close_repo, elasticsearch_url, open_repo
from tests.interop.conftest import Builder
from tests.interop.test_preservation import snapshot

pytestmark = pytest.mark.elasticsearch


def test_restore_rebuilds_elasticsearch_with_the_same_results(tmp_path):
    from search import drain_outbox
    from search.service import rebuild, search

    es = elasticsearch_url()
    repo = open_repo(tmp_path / "src", "elasticsearch", es)
    restored = None
    try:
        build = Builder(repo, tmp_path)
        build.collection("news", "報紙")
        build.item("廣州嘅舊報紙", collection="news", pages=["廣州城西關"])
        build.item("佛山口述", collection="news", type="Sound", segments=[(0.0, 2.0, "我哋喺西關住", "陳伯")])
        build.item("草稿", collection="news", state="draft", pages=["廣州秘密"])
        assert drain_outbox(repo) == 0
        queries = ("廣州", "西关", "gwong zau")
        anon = Viewer.anonymous()
        before = {q: [(h["id"], h["hits"]) for h in search(repo, q, viewer=anon)["results"]] for q in queries}
        assert before["廣州"] and before["西关"]
        backup(repo, tmp_path / "bk")
        settings = load_settings(env={}, data_dir=tmp_path / "dest", search="elasticsearch", elasticsearch_url=es,
                                 elasticsearch_index=f"hts{uuid.uuid4().hex[:12]}")
        restored = restore(settings, tmp_path / "bk")
        assert snapshot(restored) == snapshot(repo)
        assert rebuild(restored) >= 2
        after = {q: [(h["id"], h["hits"]) for h in search(restored, q, viewer=anon)["results"]] for q in queries}
        assert after == before
    finally:
        close_repo(repo)
        if restored is not None:
            close_repo(restored)
