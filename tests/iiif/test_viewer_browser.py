"""Mirador in the real Chromium: it draws the page image and highlights a search-within hit."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.iiif.conftest import text_page

pytestmark = pytest.mark.browser


def viewer_pixels(page) -> Image.Image:
    """A screenshot of Mirador's OpenSeadragon drawing area."""
    canvas = page.locator(".openseadragon-canvas").first
    canvas.wait_for(state="visible", timeout=20_000)
    return Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")


def count(img: Image.Image, test) -> int:
    small = img.resize((img.width // 2, img.height // 2))
    return sum(1 for px in small.getdata() if test(px))


def dark(px) -> bool:
    return max(px) < 110


def yellow(px) -> bool:
    r, g, b = px
    return r > 180 and g > 180 and r - b > 50  # Mirador's translucent yellow over white or text


def wait_for_pixels(page, test, minimum: int, timeout_s: float = 20.0) -> int:
    import time

    deadline = time.time() + timeout_s
    n = 0
    while time.time() < deadline:
        n = count(viewer_pixels(page), test)
        if n >= minimum:
            return n
        page.wait_for_timeout(300)
    return n


@pytest.fixture
def two_pages(builder):
    im1, w1 = text_page(["廣州街坊報", "第一頁"], font_size=64)
    im2, w2 = text_page(["佢哋喺西關", "飲茶食點心"], font_size=64)
    return builder.item([(im1, w1, "廣州街坊報第一頁"), (im2, w2, "佢哋喺西關飲茶食點心")])


@pytest.fixture
def item_url(app, live_server):
    """The public item page when it is there (it embeds our partial), else the full-window viewer."""
    has_item_page = any(r.rule == "/items/<int:item_id>" for r in app.url_map.iter_rules())

    def url(item_id: int, query: str = "") -> str:
        path = f"/items/{item_id}" if has_item_page else f"/iiif/viewer/{item_id}"
        return f"{live_server}{path}{query}"

    return url


def test_mirador_draws_and_search_within_highlights(two_pages, live_server, item_url, page):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(item_url(two_pages.item_id, "?lang=en"))
    assert page.locator(".iiif-viewer .iiif-dnd").get_attribute("href").endswith(
        f"/iiif/manifest/{two_pages.item_id}?manifest=" + f"{live_server}/iiif/manifest/{two_pages.item_id}")
    # the page image is drawn: black text pixels on the canvas, and no yellow yet
    assert wait_for_pixels(page, dark, 50) >= 50
    assert count(viewer_pixels(page), yellow) == 0
    # search within (simplified query, traditional text) through Mirador's own search panel
    page.get_by_role("button", name="Toggle sidebar").click()
    page.get_by_role("tab", name="Search").click(timeout=10_000)
    box = page.locator("input[id^='search-']").first
    box.fill("西关")
    box.press("Enter")
    hit = page.locator("li").filter(has_text="西關").first
    hit.wait_for(timeout=20_000)
    hit.click()
    # the hit is highlighted on the canvas (Mirador paints search hits yellow)
    assert wait_for_pixels(page, yellow, 30) >= 30
    assert not errors, errors


def test_mirador_opens_at_page_and_highlight_from_search_result(two_pages, item_url, page):
    page.goto(item_url(two_pages.item_id, "?page=2&q=飲茶"))
    assert wait_for_pixels(page, dark, 50) >= 50
    assert wait_for_pixels(page, yellow, 30) >= 30
    # the search panel shows the hit's context
    page.locator("li").filter(has_text="飲茶").first.wait_for(timeout=20_000)
