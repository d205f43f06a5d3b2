"""/api/search over HTTP: the DESIGN JSON, 400 with a message for bad input, 503 when the backend is down."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from repository import Repository
from search import drain_outbox
from tests.conformance.corpus import build
from tests.conftest import free_port


@pytest.fixture
def corpus(repo):
    return build(repo)


def test_search_json_shape_and_hits(client, corpus):
    r = client.get("/api/search", query_string={"q": "广州"})
    assert r.status_code == 200
    data = r.get_json()
    assert data["total"] == 3
    assert {x["id"] for x in data["results"]} == {corpus.ids[k] for k in ("chamber", "labour", "fair")}
    chamber = next(x for x in data["results"] if x["id"] == corpus.ids["chamber"])
    assert {"page": 1, "xywh": [70, 20, 60, 30]} in chamber["hits"]
    assert set(data["facets"]) == {"collection", "institution", "type", "language", "decade", "place", "subject"}


def test_facet_sort_and_page_parameters(client, corpus):
    data = client.get("/api/search?q=&type=Text&type=Sound&sort=date&page=1&per_page=2").get_json()
    assert data["total"] == 4 and len(data["results"]) == 2
    assert data["results"][0]["id"] == corpus.ids["chamber"]
    page2 = client.get("/api/search?q=&type=Text&type=Sound&sort=date&page=2&per_page=2").get_json()
    assert {x["id"] for x in page2["results"]}.isdisjoint({x["id"] for x in data["results"]})


def test_transcript_hits_have_times(client, corpus):
    data = client.get("/api/search", query_string={"q": "冇錢"}).get_json()
    assert data["results"][0]["hits"] == [{"start": 4.5, "end": 9.25}]


def test_hits_per_item_hits_total_and_search_within(client, corpus):
    data = client.get("/api/search", query_string={"q": "廣州", "hits_per_item": 1}).get_json()
    chamber = next(x for x in data["results"] if x["id"] == corpus.ids["chamber"])
    assert chamber["hits"] == [{"page": 1, "xywh": [70, 20, 60, 30]}]  # the first matching page only
    assert chamber["hits_total"] == 2  # both pages match
    assert chamber["search_within"].endswith(f"/iiif/search/{corpus.ids['chamber']}?q=%E5%BB%A3%E5%B7%9E")
    link = urlsplit(chamber["search_within"])
    within = client.get(f"{link.path}?{link.query}")
    assert within.status_code == 200 and len(within.get_json()["resources"]) == 2  # every hit in the item
    default = client.get("/api/search", query_string={"q": "廣州"}).get_json()
    assert next(x for x in default["results"] if x["id"] == corpus.ids["chamber"])["hits_total"] == 2
    assert "search_within" not in client.get("/api/search?q=").get_json()["results"][0]


def test_unpublished_never_reaches_anonymous_visitors(client, corpus):
    for q in ("秘密", "已刪除", "未公開"):
        data = client.get("/api/search", query_string={"q": q}).get_json()
        assert data["total"] == 0 and data["results"] == []


@pytest.mark.parametrize("qs", ["q=%22%E5%BB%A3", "q=(a", "q=foo:bar", "q=1950-1920", "q=a&page=x",
                                "q=a&page=0", "q=a&per_page=500", "q=a&sort=colour",
                                "q=a&hits_per_item=51", "q=a&hits_per_item=-1", "q=a&hits_per_item=x"])
def test_malformed_requests_are_400_with_a_message(client, corpus, qs):
    r = client.get("/api/search?" + qs)
    assert r.status_code == 400
    assert r.get_json()["error"]


def test_backend_down_is_503_with_a_clear_message_and_site_keeps_serving(settings, tmp_path):
    from web.app import create_app

    down = settings.replace(search="elasticsearch", elasticsearch_url=f"http://127.0.0.1:{free_port()}",
                            elasticsearch_index="hts-down")
    repo = Repository.open(down, create=True)
    app = create_app(down, repo)
    c = app.test_client()
    r = c.get("/api/search?q=廣州")
    assert r.status_code == 503
    assert "temporarily unavailable" in r.get_json()["error"]
    assert c.get("/healthz").status_code == 200  # the rest of the site works
    assert drain_outbox(repo) == 0
    repo.db.dispose()
