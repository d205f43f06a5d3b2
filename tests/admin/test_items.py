"""Metadata editing, publish / unpublish, trash / restore, page order, audit events, access rules, XSS."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from repository.models import Event, IndexTask, Item, Page, Tombstone


@pytest.fixture
def draft(staff):
    """A draft item of institution gz with three pages (made directly: no pipeline needed here)."""
    from repository import catalog

    with staff.unit_of_work("test") as uow:
        coll = catalog.collection(uow.session, "gz-docs")
        item = Item(collection=coll, institution=coll.institution, title="廣州城坊志", state="draft",
                    metadata_={"title": [{"value": "廣州城坊志", "lang": "zh-Hant"}]})
        uow.session.add(item)
        uow.session.flush()
        for n in (1, 2, 3):
            uow.session.add(Page(item=item, n=n, width=100, height=100, label=f"p{n}", text=f"第{n}頁"))
        uow.session.flush()
        return item.id


def _events(repo, item_id):
    with repo.session() as s:
        return [e.type for e in s.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id))]


def test_edit_metadata_with_language_tags(as_staff, staff, draft):
    s = as_staff("ada")
    r = s.post(f"/admin/items/{draft}", {
        "item_type": "Text", "title": "廣州城坊志\nGuangzhou city gazetteer @en", "creator": "黃佛頤",
        "date": "民國十四年", "subject": "广州 @zh-Hans\n佢哋嘅街坊"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with staff.session() as db:
        item = db.get(Item, draft)
        assert item.title == "廣州城坊志"
        assert {"value": "Guangzhou city gazetteer", "lang": "en"} in item.metadata_["title"]
        assert {"value": "广州", "lang": "zh-Hans"} in item.metadata_["subject"]
        assert item.year_from == 1925
        assert db.scalar(select(IndexTask).where(IndexTask.item_id == draft)) is not None
    assert "metadata modification" in _events(staff, draft)
    page = s.get(f"/admin/items/{draft}").get_data(as_text=True)
    assert "metadata modification" in page and "user:ada" in page


def test_bad_metadata_message_beside_the_field(as_staff, staff, draft):
    s = as_staff("ada")
    r = s.post(f"/admin/items/{draft}", {"item_type": "Text", "title": "", "creator": "x"})
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert 'id="title-err"' in body and "needs a title" in body
    r = s.post(f"/admin/items/{draft}", {"item_type": "Text", "title": "ok", "creator": "bad\x01char"})
    assert r.status_code == 400 and 'id="creator-err"' in r.get_data(as_text=True)
    r = s.post(f"/admin/items/{draft}", {"item_type": "NotAType", "title": "ok"})
    assert r.status_code == 400 and 'id="item_type-err"' in r.get_data(as_text=True)
    with staff.session() as db:
        assert db.get(Item, draft).title == "廣州城坊志"  # unchanged


def test_xss_in_metadata_is_escaped(as_staff, staff, draft):
    s = as_staff("ada")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = s.post(f"/admin/items/{draft}", {"item_type": "Text", "title": evil, "description": evil})
    assert r.status_code == 302
    body = s.get(f"/admin/items/{draft}").get_data(as_text=True)
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;" in body
    assert "<script>alert" not in s.get("/admin/items").get_data(as_text=True)


def test_publish_unpublish_delete_restore(as_staff, staff, draft, client):
    s = as_staff("ada")
    assert s.post(f"/admin/items/{draft}/publish").status_code == 302
    with staff.session() as db:
        item = db.get(Item, draft)
        assert item.state == "published" and item.published_at is not None
    assert s.post(f"/admin/items/{draft}/publish").status_code == 409  # twice: a message, not a 500
    assert s.post(f"/admin/items/{draft}/unpublish").status_code == 302
    with staff.session() as db:
        assert db.get(Item, draft).state == "draft"
        assert db.get(Tombstone, draft) is not None
    s.post(f"/admin/items/{draft}/publish")
    with staff.session() as db:
        assert db.get(Tombstone, draft) is None
    assert s.post(f"/admin/items/{draft}/delete").status_code == 302
    with staff.session() as db:
        item = db.get(Item, draft)
        assert item.deleted_at is not None and not item.is_public
        tomb = db.get(Tombstone, draft)  # was published → OAI must say deleted
        assert tomb is not None and tomb.sets == ["collection:gz-docs", "institution:gz"]
    assert f'data-item="{draft}"' in s.get("/admin/trash").get_data(as_text=True)
    assert s.post(f"/admin/items/{draft}/restore").status_code == 302
    with staff.session() as db:
        item = db.get(Item, draft)
        assert item.deleted_at is None and item.state == "draft"
    types = _events(staff, draft)
    for t in ("publication", "unpublication", "deletion", "restoration"):
        assert t in types


def test_other_institution_cannot_edit(as_staff, staff, draft):
    bea = as_staff("bea")
    assert bea.get(f"/admin/items/{draft}").status_code == 404  # a draft: not even its existence
    as_staff("ada").post(f"/admin/items/{draft}/publish")
    assert bea.get(f"/admin/items/{draft}").status_code == 200  # public now: visible …
    for path, data in ((f"/admin/items/{draft}", {"item_type": "Text", "title": "hijack"}),
                       (f"/admin/items/{draft}/unpublish", {}), (f"/admin/items/{draft}/delete", {}),
                       (f"/admin/items/{draft}/reorder", {})):
        assert bea.post(path, data).status_code == 403, path  # … but not editable
    with staff.session() as db:
        item = db.get(Item, draft)
        assert item.title == "廣州城坊志" and item.state == "published" and item.deleted_at is None
    assert as_staff("root").post(f"/admin/items/{draft}/unpublish").status_code == 302  # admins may


def test_reorder_pages(as_staff, staff, draft):
    s = as_staff("ada")
    with staff.session() as db:
        ids = {p.n: p.id for p in db.get(Item, draft).pages}
    r = s.post(f"/admin/items/{draft}/reorder", {f"pos-{ids[1]}": "3", f"pos-{ids[2]}": "1", f"pos-{ids[3]}": "2"})
    assert r.status_code == 302
    with staff.session() as db:
        assert [p.label for p in db.get(Item, draft).pages] == ["p2", "p3", "p1"]
    r = s.post(f"/admin/items/{draft}/reorder", {f"pos-{ids[1]}": "1", f"pos-{ids[2]}": "1", f"pos-{ids[3]}": "x"})
    assert r.status_code == 400 and 'id="reorder-error"' in r.get_data(as_text=True)
    with staff.session() as db:
        assert [p.label for p in db.get(Item, draft).pages] == ["p2", "p3", "p1"]


def test_missing_or_wrong_csrf_on_admin_forms_is_400(as_staff, staff, draft):
    s = as_staff("ada")
    assert s.client.post(f"/admin/items/{draft}/publish").status_code == 400
    assert s.client.post(f"/admin/items/{draft}/publish", data={"csrf_token": "nope"}).status_code == 400
    assert s.client.post(f"/admin/items/{draft}/publish", headers={"X-CSRFToken": "nope"}).status_code == 400
    with staff.session() as db:
        assert db.get(Item, draft).state == "draft"


def test_bad_url_parameters_are_4xx(as_staff, staff, draft):
    s = as_staff("ada")
    assert s.get("/admin/items?page=abc").status_code == 400
    assert s.get("/admin/items?state=nonsense").status_code == 400
    assert s.get("/admin/items/999999").status_code == 404
    assert s.get("/admin/jobs.json?ids=1,x").status_code == 400
    assert s.get("/admin/stats?days=0").status_code == 400
    assert s.get("/admin/items?q=廣州").status_code == 200


def test_dashboard_and_lists_render_for_every_role(as_staff, staff, draft):
    for name in ("ada", "bea", "root"):
        s = as_staff(name)
        for path in ("/admin/", "/admin/items", "/admin/trash", "/admin/jobs", "/admin/exhibits", "/admin/stats",
                     "/admin/upload", "/admin/batch", "/admin/items?q=100%25"):
            assert s.get(path).status_code == 200, (name, path)
    body = as_staff("bea").get("/admin/items").get_data(as_text=True)
    assert "廣州城坊志" not in body  # another institution's draft is not listed


GARBAGE = [{}, {"title": "x" * 300_000, "item_type": "Text"}, {"slug": "../..", "title": "\x00", "cover_item": "-1",
           "cover_page": "abc", "item_id": "9" * 30, "page_n": "0", "position": "x", "name": "a b", "password": "1",
           "role": "god", "institution": "nowhere", "ocr_languages": "klingon", "only_good": "maybe"}]


@pytest.mark.parametrize("payload", GARBAGE, ids=["empty", "huge", "nonsense"])
def test_garbage_to_every_form_is_never_a_500(as_staff, staff, draft, payload):
    s = as_staff("root")
    s.post("/admin/exhibits/new", {"slug": "ex", "title": "展覽"})
    paths = [f"/admin/items/{draft}", f"/admin/items/{draft}/reorder", f"/admin/items/{draft}/replace",
             "/admin/exhibits/new", "/admin/exhibits/1", "/admin/exhibits/1/sections", "/admin/exhibits/1/sections/99",
             "/admin/exhibits/1/sections/99/up", "/admin/users", "/admin/institutions", "/admin/collections",
             "/admin/users/999/unlock", "/admin/jobs/999/retry", "/admin/jobs/999/cancel", "/admin/batch",
             "/admin/batch/" + "0" * 32 + "/run", "/admin/upload/file"]
    for path in paths:
        r = s.post(path, payload)
        assert r.status_code < 500, (path, r.status_code)
        assert "Traceback" not in r.get_data(as_text=True)
    with staff.session() as db:
        assert db.get(Item, draft).title == "廣州城坊志"
