"""The item page: metadata in the reader's script, text, downloads, citation, access rules."""
from __future__ import annotations


def test_published_item_page_shows_metadata_text_and_downloads(client, site):
    r = client.get(f"/items/{site.published}", headers={"Accept-Language": "zh-HK"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "廣州報紙選輯" in html and "陳國華" in html
    assert "廣州嘅報紙記載咗當年嘅舊事" in html  # OCR text, Cantonese characters intact
    assert f"/iiif/manifest/{site.published}" in html
    assert f"/items/{site.published}/text" in html
    assert f"/items/{site.published}" in html and "stable-url" in html


def test_unpublished_item_is_404_for_visitors(client, site):
    assert client.get(f"/items/{site.draft}").status_code == 404
    assert client.get(f"/items/{site.draft}/text").status_code == 404
    assert client.get("/items/999999").status_code == 404
    assert client.get("/items/99999999999999999999999").status_code == 404


def _login(client, repo, name: str, role: str, institution: str | None) -> None:
    """Log in through the real staff login form (Flask-Login + CSRF)."""
    import re

    from werkzeug.security import generate_password_hash

    from repository import catalog
    from repository.models import User

    with repo.unit_of_work("test") as uow:
        inst = catalog.institution(uow.session, institution) if institution else None
        uow.session.add(User(name=name, role=role, institution=inst,
                             password_hash=generate_password_hash("correct horse 嶺南", method="pbkdf2:sha256:1000")))
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = client.post("/admin/login", data={"name": name, "password": "correct horse 嶺南", "csrf_token": token})
    assert r.status_code in (302, 303), r.status_code


def test_staff_of_the_institution_preview_a_draft_with_a_notice(client, site, repo):
    from repository.models import Institution

    with repo.unit_of_work("test") as uow:
        uow.session.add(Institution(slug="elsewhere", name="別處圖書館"))
    _login(client, repo, "ada", "archivist", site.institution)
    r = client.get(f"/items/{site.draft}?lang=en")
    assert r.status_code == 200 and "Not published: only staff can see this item." in r.get_data(as_text=True)
    client.post("/admin/logout")
    _login(client, repo, "bea", "archivist", "elsewhere")
    assert client.get(f"/items/{site.draft}").status_code == 404


def test_long_items_show_a_window_of_ocr_text(client, site, repo):
    from repository.models import Item, Page

    with repo.unit_of_work("test") as uow:
        item = uow.session.get(Item, site.published)
        for n in range(3, 31):
            item.pages.append(Page(n=n, width=800, height=400, text=f"第{n}頁 內容" + ("西關" if n == 23 else ""),
                                   ocr_status="done"))
    html = client.get(f"/items/{site.published}?lang=en").get_data(as_text=True)
    assert 'id="text-p1"' in html and 'id="text-p10"' in html and 'id="text-p11"' not in html
    assert "Text of pages 1–10 (30 pages with text)" in html
    assert f'href="/items/{site.published}?lang=en&amp;page=11#text-heading"' in html
    deep = client.get(f"/items/{site.published}?page=25&lang=en").get_data(as_text=True)
    assert 'id="text-p25"' in deep and 'id="text-p21"' in deep and 'id="text-p1"' not in deep  # clamped to the end
    found = client.get(f"/items/{site.published}?q=西关&lang=en").get_data(as_text=True)
    assert 'id="text-p23"' in found and "<mark>西關</mark>" in found
