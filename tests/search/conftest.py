"""Fixtures for the search tests: repositories on each backend, the test Elasticsearch."""
from __future__ import annotations

import pytest

from tests.conformance.corpus import build, close_repo, elasticsearch_url, open_repo


@pytest.fixture(scope="session")
def es_url() -> str:
    return elasticsearch_url()


@pytest.fixture(params=["whoosh", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def any_repo(request, tmp_path):
    """An empty repository on each backend in turn."""
    es = request.getfixturevalue("es_url") if request.param == "elasticsearch" else None
    repo = open_repo(tmp_path / "data", request.param, es)
    yield repo
    close_repo(repo)


@pytest.fixture(scope="module")
def both_corpora(tmp_path_factory, es_url):
    """The conformance corpus indexed in Whoosh and in Elasticsearch."""
    repos = [open_repo(tmp_path_factory.mktemp(name), name, es_url) for name in ("whoosh", "elasticsearch")]
    try:
        yield [build(r) for r in repos]
    finally:
        for r in repos:
            close_repo(r)
