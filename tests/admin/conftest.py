"""Fixtures for the archivists' workspace tests: two institutions, a collection each, staff users,
a logged-in test client, and real generated scans (Noto CJK text rendered with Pillow)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from repository import catalog
from repository.models import User
from werkzeug.security import generate_password_hash

PASSWORD = "correct horse 嶺南"
NOTO = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")


@pytest.fixture
def staff(repo):
    """Institutions gz (廣州) and hk (香港), collections gz-docs / hk-docs, users:
    ada (archivist, gz), bea (archivist, hk), root (admin)."""
    with repo.unit_of_work("test") as uow:
        catalog.add_institution(uow.session, "gz", "廣州圖書館")
        catalog.add_institution(uow.session, "hk", "香港中央圖書館")
        catalog.add_collection(uow.session, "gz-docs", "廣州文獻", institution_slug="gz")
        catalog.add_collection(uow.session, "hk-docs", "香港文獻", institution_slug="hk")
        # real users; a cheap hash method keeps the suite fast (scrypt costs ~0.5 s per check here)
        fast = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        for name, role, inst in (("ada", "archivist", "gz"), ("bea", "archivist", "hk"), ("root", "admin", None)):
            uow.session.add(User(name=name, role=role, password_hash=fast,
                                 institution=catalog.institution(uow.session, inst) if inst else None))
    return repo


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf-token" content="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class Staff:
    """A test client that logs in through the real form (with its CSRF token)."""

    def __init__(self, client):
        self.client = client
        self.token = ""
        # assertions read the English source strings: ask for English whatever the catalogs say
        client.set_cookie("lang", "en")

    def login(self, name: str, password: str = PASSWORD):
        page = self.client.get("/admin/login")
        r = self.client.post("/admin/login", data={"name": name, "password": password,
                                                   "csrf_token": csrf_of(page.get_data(as_text=True))})
        if r.status_code == 302:
            self.refresh_token()
        return r

    def refresh_token(self, path: str = "/admin/") -> str:
        self.token = csrf_of(self.client.get(path).get_data(as_text=True))
        return self.token

    def post(self, path: str, data: dict | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kw)

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)


@pytest.fixture
def as_staff(app, staff):
    def make(name: str | None = None) -> Staff:
        s = Staff(app.test_client())
        if name:
            r = s.login(name)
            assert r.status_code == 302, r.get_data(as_text=True)[:500]
        return s

    return make


def render_scan(path: Path, text: str = "廣州城坊志 佢哋喺度食緊嘢", size=(900, 400)) -> Path:
    """A real scan-like PNG: Chinese text rendered with a Noto CJK font (the scan engineer's
    ingest.samples.render_text_page is used when it exists)."""
    try:
        from ingest.samples import render_text_page

        img, _boxes = render_text_page(text)
    except ImportError:
        from PIL import Image, ImageDraw, ImageFont

        img = Image.new("RGB", size, "white")
        font = ImageFont.truetype(str(NOTO), 56)
        ImageDraw.Draw(img).text((40, 150), text, font=font, fill="black")
    img.save(path)
    return path
