"""The JSON API: DESIGN item shape, visibility rules, lists, exports."""
from __future__ import annotations

import csv
import io

from lxml import etree

from repository.preservation.dc_xml import DC_NS, XML_NS

ITEM_KEYS = {"id", "title", "collection", "institution", "type", "published", "metadata", "pages", "segments",
             "media", "manifest"}


def test_item_json_has_the_design_shape(client, sample):
    r = client.get(f"/api/items/{sample['pub1']}")
    assert r.status_code == 200
    j = r.json
    assert ITEM_KEYS <= set(j)
    assert j["id"] == sample["pub1"] and j["title"] == "廣州嘅舊報紙"
    assert j["collection"] == "newspapers" and j["institution"] == "gz-lib" and j["published"] is True
    assert j["metadata"]["creator"] == [{"value": "佚名", "lang": "zh-Hant"}]
    assert [p["n"] for p in j["pages"]] == [1, 2]
    page = j["pages"][0]
    assert set(page) >= {"n", "image_id", "width", "height", "text", "words"}
    assert page["text"] == "廣州城" and page["words"][0] == {"text": "廣", "xywh": [10, 30, 32, 40], "conf": 90.0}
    assert j["manifest"].endswith(f"/iiif/manifest/{sample['pub1']}")


def test_item_json_segments_and_media_for_sound(client, sample):
    j = client.get(f"/api/items/{sample['pub2']}").json
    assert j["type"] == "Sound"
    assert j["segments"][0] == {"start": 0.0, "end": 2.5, "text": "我哋以前喺西關住", "speaker": "陳伯"}
    assert j["pages"] == []


def test_hidden_items_are_404_like_missing_ones(client, sample):
    for key in ("draft", "failed"):
        r = client.get(f"/api/items/{sample[key]}")
        assert r.status_code == 404 and r.json["error"] == "no such item"
        assert "秘密" not in r.get_data(as_text=True)
    for bad in ("999999", "abc", "-1", "１２", "99999999999999999999999"):
        r = client.get(f"/api/items/{bad}")
        assert r.status_code == 404 and r.is_json


def test_item_list_only_public_and_paginated(client, sample):
    j = client.get("/api/items?per_page=1").json
    assert j["total"] == 2 and len(j["items"]) == 1
    j2 = client.get("/api/items?per_page=1&page=2").json
    ids = {j["items"][0]["id"], j2["items"][0]["id"]}
    assert ids == {sample["pub1"], sample["pub2"]}
    assert client.get("/api/items?collection=oral").json["total"] == 1
    assert client.get("/api/items?type=Sound").json["items"][0]["id"] == sample["pub2"]


def test_bad_parameters_are_400_with_a_message(client, sample):
    for q in ("page=0", "page=x", "per_page=1000", "type=Book"):
        r = client.get(f"/api/items?{q}")
        assert r.status_code == 400 and r.json["error"], q
    assert client.get("/api/items?collection=nope").status_code == 404


def test_collections_count_visible_items(client, sample):
    cols = {c["slug"]: c for c in client.get("/api/collections").json["collections"]}
    assert cols["newspapers"]["items"] == 1 and cols["oral"]["items"] == 1
    assert cols["newspapers"]["institution"] == "gz-lib"
    one = client.get("/api/collections/newspapers").json
    assert one["title"] == "民國報紙" and [i["id"] for i in one["results"]] == [sample["pub1"]]
    assert client.get("/api/collections/nope").status_code == 404


def test_export_csv_has_only_public_items_and_reads_back(client, sample):
    r = client.get("/api/collections/newspapers/export.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    text = r.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in rows] == [str(sample["pub1"])]
    assert rows[0]["title"] == "廣州嘅舊報紙" and rows[0]["subject"] == "報紙 | newspapers"
    assert "未公開" not in text


def test_export_dc_xml_has_language_tags(client, sample):
    r = client.get("/api/collections/newspapers/export.xml")
    assert r.status_code == 200
    root = etree.fromstring(r.data)
    titles = root.findall(f".//{{{DC_NS}}}title")
    assert [t.text for t in titles] == ["廣州嘅舊報紙"]
    assert titles[0].get(f"{{{XML_NS}}}lang") == "zh-Hant"
    subjects = {(s.text, s.get(f"{{{XML_NS}}}lang")) for s in root.findall(f".//{{{DC_NS}}}subject")}
    assert ("newspapers", "en") in subjects
    assert b"\xe7\xa7\x98\xe5\xaf\x86" not in r.data  # 秘密 (the draft) never leaks


def test_exhibits_only_published_and_hidden_items_nulled(client, sample, repo):
    from repository.models import Exhibit, ExhibitSection

    with repo.unit_of_work("test") as uow:
        ex = Exhibit(slug="canton", title="廣州今昔", published=True)
        ex.sections = [ExhibitSection(n=1, heading="一", item_id=sample["pub1"]),
                       ExhibitSection(n=2, heading="二", item_id=sample["draft"])]
        uow.session.add_all([ex, Exhibit(slug="secret", title="未發佈", published=False)])
    slugs = [e["slug"] for e in client.get("/api/exhibits").json["exhibits"]]
    assert slugs == ["canton"]
    j = client.get("/api/exhibits/canton").json
    assert [s["item"] for s in j["sections"]] == [sample["pub1"], None]
    assert client.get("/api/exhibits/secret").status_code == 404


def test_api_allows_cross_origin_reads(client, sample):
    r = client.get(f"/api/items/{sample['pub1']}", headers={"Origin": "https://example.org"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_staff_see_their_institutions_unpublished_items(app, sample, repo):
    import re

    from werkzeug.security import generate_password_hash

    from repository import catalog
    from repository.models import User

    with repo.unit_of_work("test") as uow:
        uow.session.add(User(name="ada", role="archivist", institution=catalog.institution(uow.session, "gz-lib"),
                             password_hash=generate_password_hash("correct horse 嶺南", method="pbkdf2:sha256:1000")))
    staff = app.test_client()
    page = staff.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    r = staff.post("/admin/login", data={"name": "ada", "password": "correct horse 嶺南", "csrf_token": token.group(1)})
    assert r.status_code == 302
    assert staff.get(f"/api/items/{sample['draft']}").json["published"] is False  # own institution's draft
    assert staff.get(f"/api/items/{sample['failed']}").status_code == 404  # another institution's
    assert staff.get("/api/collections/newspapers").json["items"] == 2
    assert app.test_client().get(f"/api/items/{sample['draft']}").status_code == 404  # anonymous again


def test_item_urls_resolve_on_the_site(client, build, sample, tmp_path):
    """manifest and media URLs of the item JSON point at routes that answer (IIIF, /media)."""
    from ingest.av.speech import make_test_media

    wav = make_test_media("wav", tmp_path / "voice.wav", 1.0)
    sound = build.item("錄音", collection="oral", type="Sound", audio=wav)
    j = client.get(f"/api/items/{sound}").json
    assert len(j["media"]) == 1 and j["media"][0]["mime"] == "audio/wav"
    media = client.get(j["media"][0]["url"].removeprefix("http://localhost"))
    assert media.status_code == 200 and media.data == wav.read_bytes()
    manifest = client.get(client.get(f"/api/items/{sample['pub1']}").json["manifest"].removeprefix("http://localhost"))
    assert manifest.status_code == 200 and manifest.json["type"] == "Manifest"
