"""Whoosh and Elasticsearch give the same result sets, totals, facets and hits for the same corpus."""
from __future__ import annotations

import pytest

from search.service import search
from tests.conformance.corpus import ADMIN, ANON, staff_of
from tests.conformance.test_search_conformance import CHINESE, OPERATORS, VISIBILITY

pytestmark = pytest.mark.elasticsearch


def _summary(corpus, q, viewer, **kw):
    r = search(corpus.repo, q, viewer=viewer, per_page=100, **kw)
    names = {corpus.names({x["id"]}).pop(): (tuple(x["snippets"]), tuple(map(str, x["hits"])), x["hits_total"])
             for x in r["results"]}
    return r["total"], names, r["facets"]


def test_every_conformance_query_gives_identical_answers(both_corpora):
    whoosh, es = both_corpora
    for q, _ in CHINESE + OPERATORS:
        assert _summary(whoosh, q, ANON) == _summary(es, q, ANON), q
        for n in (0, 1, 50):  # the first hit pages/segments and the count of all of them
            assert _summary(whoosh, q, ANON, hits_per_item=n) == _summary(es, q, ANON, hits_per_item=n), (q, n)
    for q, _, _ in VISIBILITY:
        for viewer in (ADMIN, staff_of(whoosh.institutions["gz"]), staff_of(whoosh.institutions["hk"])):
            assert _summary(whoosh, q, viewer) == _summary(es, q, viewer), q


@pytest.mark.parametrize("sort", ["date", "title"])
def test_sorted_orders_are_identical(both_corpora, sort):
    whoosh, es = both_corpora
    order = [[c.names({x["id"]}).pop() for x in search(c.repo, "", sort=sort, viewer=ADMIN)["results"]]
             for c in (whoosh, es)]
    assert order[0] == order[1]
