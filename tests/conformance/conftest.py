"""The conformance suite runs once per backend: the same corpus, the same expectations."""
from __future__ import annotations

import pytest

from tests.conformance.corpus import build, close_repo, elasticsearch_url, open_repo

BACKENDS = ["whoosh", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]


@pytest.fixture(scope="session")
def es_url() -> str:
    return elasticsearch_url()


@pytest.fixture(scope="module", params=BACKENDS)
def corpus(request, tmp_path_factory):
    es = request.getfixturevalue("es_url") if request.param == "elasticsearch" else None
    repo = open_repo(tmp_path_factory.mktemp(f"conf-{request.param}"), request.param, es)
    try:
        yield build(repo)
    finally:
        close_repo(repo)
