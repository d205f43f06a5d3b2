"""OAI-PMH 2.0 at /oai, harvested by the real harvester library sickle against a live server."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from lxml import etree
from sickle import Sickle
from sickle import oaiexceptions as oaierr

from repository.models import Item, Tombstone, utcnow

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PREFIX = "oai:lingnan.heritage:"


@pytest.fixture
def harvest_data(app, build, sample, repo):
    """The sample plus 5 more published items, an unpublished one and a deleted one (tombstone)."""
    app.config["OAI_PAGE_SIZE"] = 2  # small pages: resumption tokens are exercised
    more = [build.item(f"第{i}號 舊照片", collection="newspapers", type="StillImage") for i in range(5)]
    was_published = build.item("曾經公開", collection="oral")
    gone = build.item("已刪除", collection="oral")
    with repo.unit_of_work("test") as uow:
        uow.session.get(Item, was_published).state = "draft"  # unpublished: published_at stays set
        item = uow.session.get(Item, gone)
        # as the admin pages record it: the bare collection slug
        uow.session.add(Tombstone(item_id=gone, sets=["oral"]))
        uow.session.delete(item)
    published = {sample["pub1"], sample["pub2"], *more}
    return {"published": published, "deleted": {was_published, gone}, "hidden": {sample["draft"], sample["failed"]}}


def ids(headers) -> set[int]:
    return {int(h.identifier.removeprefix(PREFIX)) for h in headers}


def test_full_harvest_equals_published_items(live_server, harvest_data):
    sickle = Sickle(f"{live_server}/oai")
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    live = [r for r in records if not r.header.deleted]
    dead = [r for r in records if r.header.deleted]
    assert ids(r.header for r in live) == harvest_data["published"]
    assert ids(r.header for r in dead) == harvest_data["deleted"]
    assert len(records) == len(harvest_data["published"]) + 2  # no duplicates across pages
    assert not ids(r.header for r in records) & harvest_data["hidden"]
    titles = {t for r in live for t in r.metadata["title"]}
    assert "廣州嘅舊報紙" in titles and "第4號 舊照片" in titles
    headers = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=True))
    assert ids(headers) == harvest_data["published"]


def test_resumption_token_carries_complete_list_size(live_server, harvest_data):
    r = requests.get(f"{live_server}/oai", params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    root = etree.fromstring(r.content)
    tok = root.find(f".//{OAI}resumptionToken")
    assert tok is not None and tok.text and tok.get("completeListSize") == "9" and tok.get("cursor") == "0"
    r2 = requests.post(f"{live_server}/oai", data={"verb": "ListIdentifiers", "resumptionToken": tok.text})
    tok2 = etree.fromstring(r2.content).find(f".//{OAI}resumptionToken")
    assert tok2.get("cursor") == "2"


def test_sets_and_selective_harvest(live_server, harvest_data, sample):
    sickle = Sickle(f"{live_server}/oai")
    specs = {s.setSpec for s in sickle.ListSets()}
    assert {"collection:newspapers", "collection:oral", "institution:gz-lib", "institution:fs-lib"} <= specs
    oral = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="collection:oral", ignore_deleted=False))
    assert ids(h for h in oral if not h.deleted) == {sample["pub2"]}
    assert ids(h for h in oral if h.deleted) == harvest_data["deleted"]
    gz = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="institution:gz-lib"))
    assert ids(gz) == harvest_data["published"] - {sample["pub2"]}
    assert all("collection:newspapers" in h.setSpecs for h in gz)


def test_from_until_by_day_and_second(live_server, harvest_data, repo, sample):
    old = datetime(2020, 5, 1, 12, 30, 15, tzinfo=timezone.utc)
    with repo.session() as s:  # set a datestamp directly (onupdate would overwrite it through the ORM)
        s.execute(Item.__table__.update().where(Item.id == sample["pub1"]).values(updated_at=old))
        s.commit()
    sickle = Sickle(f"{live_server}/oai")
    in_2020 = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": "2020-05-01", "until": "2020-05-01"}))
    assert ids(in_2020) == {sample["pub1"]}
    assert in_2020[0].datestamp == "2020-05-01T12:30:15Z"
    exact = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", **{"from": "2020-05-01T12:30:15Z",
                                                                      "until": "2020-05-01T12:30:15Z"}))
    assert ids(exact) == {sample["pub1"]}
    today = utcnow().strftime("%Y-%m-%d")
    recent = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=True, **{"from": today}))
    assert ids(recent) == harvest_data["published"] - {sample["pub1"]}
    everything = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=True, until="9999-12-31"))
    assert ids(everything) == harvest_data["published"]
    with pytest.raises(oaierr.NoRecordsMatch):
        list(sickle.ListIdentifiers(metadataPrefix="oai_dc", until="2019-12-31T23:59:59Z"))


def test_get_record_has_language_tagged_dc(live_server, harvest_data, sample):
    sickle = Sickle(f"{live_server}/oai")
    rec = sickle.GetRecord(identifier=f"{PREFIX}{sample['pub1']}", metadataPrefix="oai_dc")
    assert rec.metadata["title"] == ["廣州嘅舊報紙"] and "佚名" in rec.metadata["creator"]
    langs = {(el.text, el.get(XML_LANG)) for el in rec.xml.iter(f"{DC}subject")}
    assert langs == {("報紙", "zh-Hant"), ("newspapers", "en")}
    assert rec.header.setSpecs == ["collection:newspapers", "institution:gz-lib"]
    gone = sickle.GetRecord(identifier=f"{PREFIX}{max(harvest_data['deleted'])}", metadataPrefix="oai_dc")
    assert gone.header.deleted and gone.xml.find(f".//{OAI}metadata") is None
    assert gone.header.setSpecs == ["collection:oral", "institution:fs-lib"]


def test_identify_and_metadata_formats(live_server, harvest_data, sample):
    sickle = Sickle(f"{live_server}/oai")
    ident = sickle.Identify()
    assert ident.protocolVersion == "2.0" and ident.deletedRecord == "persistent"
    assert ident.granularity == "YYYY-MM-DDThh:mm:ssZ" and ident.baseURL == f"{live_server}/oai"
    assert [f.metadataPrefix for f in sickle.ListMetadataFormats()] == ["oai_dc"]
    assert [f.metadataPrefix for f in sickle.ListMetadataFormats(identifier=f"{PREFIX}{sample['pub1']}")] == ["oai_dc"]


def error_code(base: str, **params) -> tuple[str, etree._Element]:
    r = requests.get(f"{base}/oai", params=params)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(r.content)
    return root.find(f"{OAI}error").get("code"), root


ERROR_CASES = [
    ({}, "badVerb"),
    ({"verb": "Explode"}, "badVerb"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "Identify", "extra": "1"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-01-01", "until": "2020-01-02T00:00:00Z"},
     "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-13-45"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2021-01-01", "until": "2020-01-01"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "collection:nope"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": f"{PREFIX}1", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "identifier": f"{PREFIX}999999", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ({"verb": "GetRecord", "identifier": "not-an-oai-id", "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
    ({"verb": "ListMetadataFormats", "identifier": f"{PREFIX}999999"}, "idDoesNotExist"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "until": "1990-01-01"}, "noRecordsMatch"),
    ({"verb": "ListIdentifiers", "resumptionToken": "forged.token"}, "badResumptionToken"),
    ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
]


def test_every_error_code(live_server, harvest_data):
    for params, code in ERROR_CASES:
        got, root = error_code(live_server, **params)
        assert got == code, params
        req = root.find(f"{OAI}request")
        if code in ("badVerb", "badArgument"):
            assert dict(req.attrib) == {}, params
        else:
            assert req.get("verb") == params["verb"]


def test_hidden_items_are_not_disseminated(live_server, harvest_data, sample):
    for key in ("draft", "failed"):
        got, _ = error_code(live_server, verb="GetRecord", identifier=f"{PREFIX}{sample[key]}", metadataPrefix="oai_dc")
        assert got == "idDoesNotExist"


def test_repeated_argument_and_sickle_errors(live_server, harvest_data):
    r = requests.get(f"{live_server}/oai?verb=Identify&verb=Identify")
    assert etree.fromstring(r.content).find(f"{OAI}error").get("code") == "badVerb"
    sickle = Sickle(f"{live_server}/oai")
    with pytest.raises(oaierr.CannotDisseminateFormat):
        next(iter(sickle.ListRecords(metadataPrefix="marc21")))
    with pytest.raises(oaierr.IdDoesNotExist):
        sickle.GetRecord(identifier=f"{PREFIX}424242", metadataPrefix="oai_dc")
    with pytest.raises(oaierr.BadResumptionToken):
        next(iter(sickle.ListIdentifiers(resumptionToken="tampered")))


def _login(app, repo, name: str):
    import re as _re

    from werkzeug.security import generate_password_hash

    from repository.models import User

    with repo.unit_of_work("test") as uow:
        uow.session.add(User(name=name, role="admin", password_hash=generate_password_hash(
            "correct horse 嶺南", method="pbkdf2:sha256:1000")))
    c = app.test_client()
    page = c.get("/admin/login").get_data(as_text=True)
    token = _re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert c.post("/admin/login", data={"name": name, "password": "correct horse 嶺南",
                                        "csrf_token": token}).status_code == 302
    return c, token


def test_unpublish_and_delete_in_admin_show_as_deleted_records(app, client, sample, repo):
    """The seam with the admin pages: their unpublish / delete actions become deleted headers."""
    import re as _re

    staff, _ = _login(app, repo, "root")
    for action, key in (("unpublish", "pub1"), ("delete", "pub2")):
        page = staff.get(f"/admin/items/{sample[key]}").get_data(as_text=True)
        token = _re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        r = staff.post(f"/admin/items/{sample[key]}/{action}", data={"csrf_token": token})
        assert r.status_code in (302, 303), (action, r.status_code)
    root = etree.fromstring(client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data)
    headers = {h.findtext(f"{OAI}identifier"): h.get("status") for h in root.iter(f"{OAI}header")}
    assert headers == {f"{PREFIX}{sample['pub1']}": "deleted", f"{PREFIX}{sample['pub2']}": "deleted"}
    r = client.get(f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={PREFIX}{sample['pub2']}")
    assert b'status="deleted"' in r.data and b"<metadata>" not in r.data
    assert client.get(f"/api/items/{sample['pub1']}").status_code == 404


def test_odd_argument_values_never_break_the_response(client, harvest_data):
    """Whatever a harvester sends, the answer is well-formed OAI-PMH XML with status 200."""
    odd = ["", "\x00", "\x1b[31m", "'; drop table item; --", "9" * 40, "２０２０-01-01", "collection:", "institution:",
           "oai:lingnan.heritage:", "oai:lingnan.heritage:-1", "oai:lingnan.heritage:１", "廣州", "a" * 5000]
    verbs = ["GetRecord", "ListRecords", "ListIdentifiers", "ListMetadataFormats", "ListSets", "Identify"]
    args = ["identifier", "metadataPrefix", "from", "until", "set", "resumptionToken"]
    seen = set()
    for verb in verbs:
        for arg in args:
            for value in odd:
                params = {"verb": verb, "metadataPrefix": "oai_dc", arg: value}
                r = client.get("/oai", query_string=params)
                assert r.status_code == 200, params
                root = etree.fromstring(r.data)
                err = root.find(f"{OAI}error")
                seen.add(err.get("code") if err is not None else "ok")
    assert {"badArgument", "idDoesNotExist", "noRecordsMatch", "ok"} <= seen


# ---- every response against the OAI-PMH 2.0 XML schema ------------------------------------------
@pytest.fixture(scope="module")
def oai_schema():
    from pathlib import Path

    return etree.XMLSchema(etree.parse(str(Path(__file__).parent / "schemas" / "OAI-PMH.xsd")))


def test_every_response_is_valid_against_the_oai_pmh_schema(live_server, harvest_data, sample, oai_schema):
    requests_made = [
        {"verb": "Identify"},
        {"verb": "ListMetadataFormats"},
        {"verb": "ListMetadataFormats", "identifier": f"{PREFIX}{sample['pub1']}"},
        {"verb": "ListSets"},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "collection:oral"},
        {"verb": "GetRecord", "identifier": f"{PREFIX}{sample['pub1']}", "metadataPrefix": "oai_dc"},
        *[dict(params) for params, _code in ERROR_CASES],
    ]
    checked = 0
    while requests_made:
        params = requests_made.pop(0)
        r = requests.get(f"{live_server}/oai", params=params)
        root = etree.fromstring(r.content)
        assert oai_schema.validate(root), (params, oai_schema.error_log.last_error)
        checked += 1
        tok = root.find(f".//{OAI}resumptionToken")
        if tok is not None and tok.text:  # follow every page of a list, deleted records included
            requests_made.append({"verb": params["verb"], "resumptionToken": tok.text})
    assert checked > len(ERROR_CASES) + 8  # the lists really had further pages
