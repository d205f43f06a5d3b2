"""XSS in every metadata field: stored as text, never run, on every surface that shows it.

An item is ingested through the real `heritage import-csv` with a different script payload in
each of the 16 Dublin Core columns (and in its title), processed by a real `heritage worker
--once` and published; then every HTML page that shows metadata must show the payloads escaped,
the IIIF manifest (whose metadata viewers such as Mirador render as HTML) must carry no active
markup, and OAI-PMH must stay well-formed XML.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from repository.dublin_core import ELEMENTS
from tests.faults.conftest import run_cli

PAYLOADS = [
    '<script>alert("x{n}")</script>',
    '"><img src=x onerror=alert({n})>',
    "<svg onload=alert({n})>",
    "javascript:alert({n})",
    "'><iframe src=javascript:alert({n})>",
    "<a href=\"javascript:alert({n})\">click{n}</a>",
]

#: fields whose whole value is a payload (a IIIF client treats a value that starts with "<" and
#: ends with ">" as HTML, so these are the ones a viewer would render as markup)
PURE = {"subject": '<script>alert("pure")</script>', "coverage": "<img src=x onerror=alert('pure')>",
        "source": '<a href="javascript:alert(7)">source</a>', "publisher": "<svg onload=alert(8)>"}

# the payloads as a browser would run them (escaped text such as &lt;script&gt; is harmless)
ACTIVE = [re.compile(p, re.I) for p in (r"<script>alert", r"<img src=x onerror", r"<svg onload", r"<iframe src=javascript",
                                        r"<a href=\"javascript:", r"href\s*=\s*[\"']?\s*javascript:")]
HTML_ACTIVE = re.compile(r"<script|\son\w+\s*=|javascript:|<iframe|<object|<embed", re.I)


def active_markup(text: str) -> list[str]:
    return [m.group(0) for p in ACTIVE for m in p.finditer(text)]


@pytest.fixture(scope="module")
def xss_item(fault_env, materials, tmp_path_factory):
    """(item id) of a published recording whose every DC field carries a payload."""
    import subprocess
    import sys

    from repository.models import Item

    tmp = tmp_path_factory.mktemp("xss")
    files = tmp / "files"
    files.mkdir()
    (files / "a.wav").write_bytes(materials.wav)
    header = ["file", "publish"] + list(ELEMENTS)
    values = ["a.wav", "yes"]
    for n, element in enumerate(ELEMENTS):
        payload = PAYLOADS[n % len(PAYLOADS)].format(n=n)
        if element == "date":
            payload = "1925 " + payload
        if element == "language":
            payload = "yue " + payload
        values.append(PURE.get(element) or f"XSS{element} {payload}")
    csv_text = ",".join(header) + "\n" + ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"
    (tmp / "rows.csv").write_text(csv_text, encoding="utf-8")
    import io
    import contextlib

    from web.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["import-csv", str(tmp / "rows.csv"), "--files", str(files), "--collection", "c"])
    assert code == 0, err.getvalue()
    item_id = int(out.getvalue().split()[-1])
    r = subprocess.run([sys.executable, "-m", "web.cli", "worker", "--once"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    with fault_env.repo.session() as s:
        item = s.get(Item, item_id)
        assert item.state == "published", (item.state, item.error)
        stored = item.metadata_
    # stored as the text that was given (nothing silently dropped), to be escaped on output
    assert any("<script>" in v["value"] for vals in stored.values() for v in vals)
    return item_id


@pytest.fixture(scope="module")
def xss_client(fault_env, xss_item):
    from web.app import create_app

    app = create_app(fault_env.settings, fault_env.repo)
    return app.test_client()


def _pages(item_id: int) -> list[str]:
    return [f"/items/{item_id}", f"/items/{item_id}?q=XSStitle", "/", "/collections/c", "/search?q=XSStitle",
            "/search?q=alert"]


@pytest.mark.parametrize("which", range(6))
def test_html_pages_show_payloads_escaped(which, xss_item, xss_client, count_case):
    count_case("XSS in metadata: surfaces")
    url = _pages(xss_item)[which]
    r = xss_client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    body = r.get_data(as_text=True)
    assert not active_markup(body), f"{url}: active markup {active_markup(body)[:3]}"
    if url == f"/items/{xss_item}":  # the payloads are shown, as text
        assert "XSScreator" in body and "&lt;script&gt;" in body or "&lt;img" in body
        assert r.headers.get("Content-Type", "").startswith("text/html")


def test_text_download_is_plain_text_not_html(xss_item, xss_client, count_case):
    count_case("XSS in metadata: surfaces")
    r = xss_client.get(f"/items/{xss_item}/text")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers.get("X-Content-Type-Options") == "nosniff"


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def test_iiif_manifest_metadata_carries_no_active_markup(xss_item, xss_client, count_case):
    count_case("XSS in metadata: surfaces")
    r = xss_client.get(f"/iiif/manifest/{xss_item}")
    if r.status_code == 404 and b"manifest" not in r.data:
        pytest.skip("IIIF Presentation has not landed")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    import json

    manifest = json.loads(text)
    shown = {k: manifest.get(k) for k in ("label", "summary", "metadata", "requiredStatement")}
    strings = list(_strings(shown))
    assert any("XSScreator" in x for x in strings), "control: the metadata is in the manifest"
    as_html = [x for x in strings if x.strip().startswith("<") and x.strip().endswith(">")]
    bad = [x for x in as_html if HTML_ACTIVE.search(x)]
    assert not bad, f"values a IIIF viewer renders as HTML carry active markup: {bad[:3]}"


def test_json_api_returns_payloads_as_json_strings(xss_item, xss_client, count_case):
    count_case("XSS in metadata: surfaces")
    r = xss_client.get(f"/api/items/{xss_item}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json["metadata"], "control: metadata present"
    assert "nosniff" in r.headers.get("X-Content-Type-Options", "nosniff")


def test_oai_pmh_stays_well_formed_xml(xss_item, xss_client, count_case):
    count_case("XSS in metadata: surfaces")
    from web.oai import ID_PREFIX

    for url in (f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={ID_PREFIX}{xss_item}",
                "/oai?verb=ListRecords&metadataPrefix=oai_dc"):
        r = xss_client.get(url)
        assert r.status_code == 200
        root = ET.fromstring(r.data)  # raises on broken XML
        tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
        assert not tags & {"script", "img", "svg", "iframe"}, tags
        assert "XSScreator" in r.get_data(as_text=True)


def test_staff_item_page_shows_payloads_escaped(fault_env, xss_item, count_case):
    count_case("XSS in metadata: surfaces")
    from tests.faults.conftest import LiveServer, login
    from web.app import create_app

    server = LiveServer(create_app(fault_env.settings, fault_env.repo))
    try:
        s = login(server.url, "mei")
        for url in (f"/admin/items/{xss_item}", "/admin/items", f"/admin/items/{xss_item}/edit"):
            r = s.get(server.url + url, timeout=60)
            if r.status_code == 404 and url.endswith("/edit"):
                continue
            assert r.status_code == 200, (url, r.status_code)
            assert not active_markup(r.text), f"{url}: {active_markup(r.text)[:3]}"
    finally:
        server.stop()
