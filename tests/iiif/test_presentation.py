"""Presentation 3.0: manifests and collections round-trip through iiif-prezi3; access rules."""
from __future__ import annotations

import json

from iiif_prezi3 import Collection, Manifest
from PIL import Image

from tests.iiif.conftest import text_page


def roundtrip(cls, doc: dict) -> dict:
    """Parse with the iiif-prezi3 model and serialise again: the same document comes back."""
    model = cls(**doc)
    again = json.loads(model.jsonld())
    assert again == doc
    return again


def test_page_manifest(builder, client, tmp_path):
    im, words = text_page(["廣州街坊報", "佢哋喺度食緊飯"])
    im2, words2 = text_page(["第二頁"])
    hocr = tmp_path / "p.hocr"
    hocr.write_text("<html><body class='ocr_page'></body></html>")
    text = tmp_path / "all.txt"
    text.write_text("廣州街坊報")
    pdf = tmp_path / "orig.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    built = builder.item([(im, words, "廣州街坊報"), (im2, words2, "第二頁")],
                         extra_files=[(hocr, "hocr", "text/vnd.hocr+html"), (text, "text", "text/plain"),
                                      (pdf, "original", "application/pdf")])
    r = client.get(f"/iiif/manifest/{built.item_id}")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    doc = roundtrip(Manifest, r.get_json())
    assert doc["@context"] == "http://iiif.io/api/presentation/3/context.json"
    assert doc["id"] == f"http://localhost/iiif/manifest/{built.item_id}"
    # language maps: the title exists in traditional only; simplified is made with OpenCC
    assert doc["label"]["zh-Hant"] == ["廣州街坊報"] and doc["label"]["zh-Hans"] == ["广州街坊报"]
    assert "en" in doc["requiredStatement"]["label"]
    assert "廣州圖書館" in doc["requiredStatement"]["value"]["zh-Hant"][0]
    assert doc["rights"] == "http://rightsstatements.org/vocab/InC/1.0/"
    assert len(doc["items"]) == 2
    canvas = doc["items"][0]
    assert (canvas["width"], canvas["height"]) == (800, 1000)
    body = canvas["items"][0]["items"][0]["body"]
    assert body["service"][0]["type"] == "ImageService3"
    assert body["service"][0]["id"] == f"http://localhost/iiif/3/{built.image_ids[0]}"
    assert doc["thumbnail"][0]["id"].endswith("/full/160,200/0/default.jpg")
    assert {s.get("type") or s.get("@type") for s in doc["service"]} == {"SearchService1", "SearchService2"}
    formats = {r["format"] for r in doc["rendering"]}
    assert formats == {"text/plain", "application/pdf"}
    assert doc["seeAlso"][0]["format"] == "text/vnd.hocr+html"
    # the thumbnail and the painting image are real, servable Image API URLs
    thumb = client.get(doc["thumbnail"][0]["id"].replace("http://localhost", ""))
    assert thumb.status_code == 200 and Image.open(__import__("io").BytesIO(thumb.data)).size == (160, 200)
    # conditional GET
    again = client.get(f"/iiif/manifest/{built.item_id}", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_av_manifest(builder, client, repo, tmp_path):
    vtt = tmp_path / "t.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\n我哋去咗飲茶\n")
    mp4 = tmp_path / "a.m4a"
    mp4.write_bytes(b"\x00" * 64)
    built = builder.item([], title="口述歷史：西關", item_type="Sound",
                         segments=[{"kind": "transcript", "start": 0.0, "end": 2.0, "text": "我哋去咗飲茶"},
                                   {"kind": "transcript", "start": 2.0, "end": 4.5, "text": "佢喺西關住"},
                                   {"kind": "chapter", "start": 0.0, "end": 4.5, "text": "", "title": "童年"}],
                         extra_files=[(vtt, "webvtt", "text/vtt"), (mp4, "access", "audio/mp4")])
    from repository.models import File, Item

    with repo.unit_of_work("test") as uow:
        item = uow.session.get(Item, built.item_id)
        item.duration = 4.5
        for f in uow.session.query(File).filter_by(item_id=item.id, role="access"):
            f.duration = 4.5
    r = client.get(f"/iiif/manifest/{built.item_id}")
    assert r.status_code == 200
    doc = roundtrip(Manifest, r.get_json())
    canvas = doc["items"][0]
    assert canvas["duration"] == 4.5
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Sound" and body["format"] == "audio/mp4" and "/media/" in body["id"]
    supp = canvas["annotations"][0]["items"]
    assert all(a["motivation"] == "supplementing" for a in supp)
    assert supp[0]["body"]["format"] == "text/vtt"
    targets = [a["target"] for a in supp[1:]]
    assert targets == [f"{canvas['id']}#t=0,2", f"{canvas['id']}#t=2,4.5"]
    assert supp[1]["body"]["value"] == "我哋去咗飲茶"
    chapter = doc["structures"][0]
    assert chapter["label"]["zh-Hant"] == ["童年"]
    assert chapter["items"][0]["selector"]["value"] == "t=0,4.5"


def test_collections(builder, client):
    im, words = text_page(["一"])
    pub = builder.item([(im, words, "一")], title="公開")
    draft = builder.item([(im.copy(), words, "一")], title="草稿", published=False)
    r = client.get("/iiif/collection/lingnan-print")
    assert r.status_code == 200
    doc = roundtrip(Collection, r.get_json())
    ids = [m["id"] for m in doc["items"]]
    assert ids == [f"http://localhost/iiif/manifest/{pub.item_id}"]
    assert f"/iiif/manifest/{draft.item_id}" not in r.get_data(as_text=True)
    top = roundtrip(Collection, client.get("/iiif/collection/top").get_json())
    assert top["items"][0]["id"] == "http://localhost/iiif/collection/lingnan-print"
    assert top["items"][0]["type"] == "Collection"
    missing = client.get("/iiif/collection/no-such")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"


def test_unpublished_is_404_everywhere(builder, client):
    im, words = text_page(["秘密"])
    built = builder.item([(im, words, "秘密")], published=False)
    iid = built.image_ids[0]
    for url in (f"/iiif/manifest/{built.item_id}", f"/iiif/3/{iid}/info.json", f"/iiif/3/{iid}",
                f"/iiif/3/{iid}/full/max/0/default.jpg", f"/iiif/search/{built.item_id}?q=秘密",
                f"/iiif/search/{built.item_id}/2?q=秘密"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "秘密" not in r.get_data(as_text=True)
    assert client.get("/iiif/manifest/999999").status_code == 404
    assert client.get("/iiif/manifest/abc").status_code == 404


def test_manifest_cache_follows_changes(builder, client, repo):
    im, words = text_page(["一"])
    built = builder.item([(im, words, "一")], title="舊名")
    assert client.get(f"/iiif/manifest/{built.item_id}").get_json()["label"]["zh-Hant"] == ["舊名"]
    from repository.models import Item

    with repo.unit_of_work("test") as uow:
        item = uow.session.get(Item, built.item_id)
        item.metadata_ = {**item.metadata_, "title": [{"value": "新名", "lang": "zh-Hant"}]}
        item.title = "新名"
    assert client.get(f"/iiif/manifest/{built.item_id}").get_json()["label"]["zh-Hant"] == ["新名"]
    with repo.unit_of_work("test") as uow:
        uow.session.get(Item, built.item_id).state = "draft"
    assert client.get(f"/iiif/manifest/{built.item_id}").status_code == 404


def test_ids_use_the_configured_base_url(settings, repo, builder):
    from web.app import create_app

    app = create_app(settings.replace(base_url="https://heritage.example.org/"), repo)
    im, words = text_page(["一"])
    built = builder.item([(im, words, "一")])
    doc = app.test_client().get(f"/iiif/manifest/{built.item_id}").get_json()
    assert doc["id"] == f"https://heritage.example.org/iiif/manifest/{built.item_id}"
    service = doc["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"]
    assert service == f"https://heritage.example.org/iiif/3/{built.image_ids[0]}"
    info = app.test_client().get(f"/iiif/3/{built.image_ids[0]}/info.json").get_json()
    assert info["id"] == service


def test_html_values_are_cleaned_for_viewers(builder, client):
    """Viewers render values that start with < and end with > as HTML: only safe markup remains."""
    im, words = text_page(["一"])
    md = {"title": [{"value": "<b>西關</b><script>alert(1)</script>", "lang": "zh-Hant"}],
          "description": [{"value": '<a href="javascript:alert(7)">source</a>', "lang": "en"}],
          "creator": [{"value": "<img src=x onerror=alert(2)>", "lang": None}],
          "subject": [{"value": "a < b", "lang": "en"}]}
    built = builder.item([(im, words, "一")], metadata=md)
    doc = roundtrip(Manifest, client.get(f"/iiif/manifest/{built.item_id}").get_json())
    text = json.dumps(doc, ensure_ascii=False)
    assert "<script" not in text and "javascript:" not in text and "onerror" not in text
    assert doc["label"]["zh-Hant"] == ["<b>西關</b>alert(1)"]
    assert doc["summary"]["en"] == ["<a>source</a>"]
    subject = next(m for m in doc["metadata"] if m["label"]["en"] == ["Subject"])
    assert subject["value"]["en"] == ["a < b"]  # plain text stays as it is
