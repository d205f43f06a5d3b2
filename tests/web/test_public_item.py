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
