"""The Mirador partial and the full-window viewer page (HTML only; the browser test drives it)."""
from __future__ import annotations

import json
import re

from repository.access import Viewer
from web.iiif.sources import find_source

from tests.iiif.conftest import text_page


def mirador_config(html: str) -> dict:
    m = re.search(r"var config = (\{.*?\});\n", html, re.S)
    assert m, html[:500]
    return json.loads(m.group(1))


def test_viewer_page_config_follows_page_and_query(builder, client):
    im, words = text_page(["廣州"])
    im2, words2 = text_page(["西關"])
    built = builder.item([(im, words, "廣州"), (im2, words2, "西關")])
    r = client.get(f"/iiif/viewer/{built.item_id}?page=2&q=西關&lang=en")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    cfg = mirador_config(html)
    window = cfg["windows"][0]
    assert window["manifestId"] == f"http://localhost/iiif/manifest/{built.item_id}"
    assert window["canvasId"].endswith("/canvas/2") and window["defaultSearchQuery"] == "西關"
    assert cfg["language"] == "en" and cfg["window"]["defaultSideBarPanel"] == "search"
    assert "/static/viewer/mirador.min.js" in html
    manifest = f"http://localhost/iiif/manifest/{built.item_id}"
    assert f'href="{manifest}?manifest={manifest}"' in html  # IIIF drag-and-drop convention
    # nonsense page numbers fall back to the first page, never an error
    cfg = mirador_config(client.get(f"/iiif/viewer/{built.item_id}?page=abc").get_data(as_text=True))
    assert cfg["windows"][0]["canvasId"].endswith("/canvas/1") and "defaultSearchQuery" not in cfg["windows"][0]
    # the config is JSON inside a script: a hostile q cannot break out of it
    hostile = client.get(f"/iiif/viewer/{built.item_id}?q=</script><script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)" not in hostile


def test_viewer_page_hidden_for_drafts(builder, client):
    im, words = text_page(["草稿"])
    built = builder.item([(im, words, "草稿")], published=False)
    assert client.get(f"/iiif/viewer/{built.item_id}").status_code == 404


def test_staff_of_the_institution_see_draft_images(builder, repo):
    im, words = text_page(["草稿"])
    built = builder.item([(im, words, "草稿")], published=False)
    from repository.models import Item

    with repo.session() as s:
        inst = s.get(Item, built.item_id).institution_id
    admin = Viewer(user_id=1, role="admin", name="a")
    archivist = Viewer(user_id=2, role="archivist", institution_id=inst, name="b")
    other = Viewer(user_id=3, role="archivist", institution_id=inst + 100, name="c")
    assert find_source(repo, built.image_ids[0], admin).public is False
    assert find_source(repo, built.image_ids[0], archivist).width == 800
    import pytest

    from config import NotFound

    with pytest.raises(NotFound):
        find_source(repo, built.image_ids[0], other)
    with pytest.raises(NotFound):
        find_source(repo, built.image_ids[0], Viewer.anonymous())
