"""Content Search 1.0 and 2.0 answers, checked against the shapes the specs define."""
from __future__ import annotations

import pytest

from tests.iiif.conftest import text_page

V1_CONTEXT = "http://iiif.io/api/search/1/context.json"
V2_CONTEXT = "http://iiif.io/api/search/2/context.json"


@pytest.fixture
def paper(builder):
    # page 1: traditional; page 2: simplified — each must be found by a query in the other script
    im1, w1 = text_page(["廣州街坊報", "佢哋喺廣州"])
    im2, w2 = text_page(["广州日报", "hello world"])
    return builder.item([(im1, w1, "廣州街坊報佢哋喺廣州"), (im2, w2, "广州日报 hello world")])


def check_v1(doc: dict) -> None:
    assert V1_CONTEXT in doc["@context"] and doc["@type"] == "sc:AnnotationList"
    ids = {r["@id"] for r in doc["resources"]}
    for r in doc["resources"]:
        assert r["@type"] == "oa:Annotation" and r["motivation"] == "sc:painting"
        assert r["resource"]["@type"] == "cnt:ContentAsText" and r["resource"]["chars"]
        canvas, _, frag = r["on"].partition("#")
        assert canvas.startswith("http") and (frag.startswith("xywh=") or frag.startswith("t="))
    for h in doc["hits"]:
        assert h["@type"] == "search:Hit" and set(h["annotations"]) <= ids
        assert {"match", "before", "after"} <= set(h)
    assert doc["within"]["total"] == len(doc["hits"])


def check_v2(doc: dict) -> None:
    assert doc["@context"] == V2_CONTEXT and doc["type"] == "AnnotationPage"
    ids = {a["id"] for a in doc["items"]}
    for a in doc["items"]:
        assert a["type"] == "Annotation" and a["motivation"] == "highlighting"
        assert a["target"]["source"]["type"] == "Canvas"
        assert a["target"]["source"]["partOf"][0]["type"] == "Manifest"
    for page in doc.get("annotations", []):
        for c in page["items"]:
            assert c["motivation"] == "contextualizing" and c["target"]["source"] in ids
            sel = c["target"]["selector"][0]
            assert sel["type"] == "TextQuoteSelector" and {"prefix", "exact", "suffix"} <= set(sel)


def test_v1_boxes_and_script_folding(paper, client):
    r = client.get(f"/iiif/search/{paper.item_id}?q=廣州")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    doc = r.get_json()
    check_v1(doc)
    # 2 on the traditional page, 1 on the simplified page (traditional query finds simplified text)
    canvases = [res["on"].split("#")[0].rsplit("/", 1)[1] for res in doc["resources"]]
    assert canvases == ["1", "1", "2"]
    first = doc["resources"][0]["on"].split("#xywh=")[1].split(",")
    x, y, w, h = map(int, first)
    assert x == 60 - 0 or abs(x - 60) < 10  # first character drawn at x=60
    assert w > 80 and h > 30  # two 48 px characters
    assert doc["hits"][1]["before"].endswith("佢哋喺") and doc["hits"][1]["match"] == "廣州"
    # simplified query finds traditional text too
    simp = client.get(f"/iiif/search/{paper.item_id}?q=广州").get_json()
    assert len(simp["hits"]) == 3
    latin = client.get(f"/iiif/search/{paper.item_id}?q=WORLD").get_json()
    assert [h["match"] for h in latin["hits"]] == ["world"]


def test_v2_by_path_and_by_profile(paper, client):
    doc = client.get(f"/iiif/search/{paper.item_id}/2?q=佢哋").get_json()
    check_v2(doc)
    assert len(doc["items"]) == 1
    assert doc["items"][0]["target"]["selector"]["value"].startswith("xywh=")
    accept = f'application/ld+json;profile="{V2_CONTEXT}"'
    by_profile = client.get(f"/iiif/search/{paper.item_id}?q=佢哋", headers={"Accept": accept})
    assert by_profile.headers["Content-Type"].startswith("application/ld+json")
    check_v2(by_profile.get_json())


def test_transcript_hits_target_time(builder, client):
    built = builder.item([], item_type="Sound", title="口述歷史",
                         segments=[{"kind": "transcript", "start": 1.5, "end": 3.0, "text": "我哋喺西關飲茶"},
                                   {"kind": "transcript", "start": 3.0, "end": 6.0, "text": "冇問題"}])
    v1 = client.get(f"/iiif/search/{built.item_id}?q=西关").get_json()
    check_v1(v1)
    assert [r["on"].split("#")[1] for r in v1["resources"]] == ["t=1.5,3"]
    v2 = client.get(f"/iiif/search/{built.item_id}/2?q=冇").get_json()
    check_v2(v2)
    assert v2["items"][0]["target"]["selector"]["value"] == "t=3,6"


def test_bad_queries_are_400(paper, client):
    for url in (f"/iiif/search/{paper.item_id}", f"/iiif/search/{paper.item_id}?q=%20",
                f"/iiif/search/{paper.item_id}?q=" + "字" * 201):
        r = client.get(url)
        assert r.status_code == 400, url
        assert r.get_json()["error"]
    none = client.get(f"/iiif/search/{paper.item_id}?q=不存在的詞").get_json()
    assert none["hits"] == [] and none["resources"] == []


def test_phrase_across_a_line_break(builder, client):
    im, words = text_page(["我哋去廣", "州飲茶"])
    built = builder.item([(im, words, "我哋去廣\n州飲茶")])
    doc = client.get(f"/iiif/search/{built.item_id}?q=广州").get_json()
    check_v1(doc)
    assert len(doc["hits"]) == 1 and len(doc["resources"]) == 2  # one hit, one box on each line


def test_v1_hit_text_is_escaped_for_mirador(builder, client):
    built = builder.item([], item_type="Sound", title="錄音",
                         segments=[{"kind": "transcript", "start": 0, "end": 2, "text": "<script>x</script> 西關 a<b"}])
    doc = client.get(f"/iiif/search/{built.item_id}?q=西關").get_json()
    hit = doc["hits"][0]
    assert hit["before"] == "&lt;script&gt;x&lt;/script&gt; " and hit["after"] == " a&lt;b"
    v2 = client.get(f"/iiif/search/{built.item_id}/2?q=西關").get_json()
    assert v2["annotations"][0]["items"][0]["target"]["selector"][0]["prefix"] == "<script>x</script> "
