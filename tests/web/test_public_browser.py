"""The public site in the real Chromium (Playwright) against a live server."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_visitor_searches_simplified_finds_traditional_item_and_sees_the_hit(page, live_server, scanned):
    site = scanned
    page.goto(f"{live_server}/")
    page.fill("#home-q", "广州")
    page.press("#home-q", "Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    result = page.locator(f'li.result[data-item-id="{site.published}"]')
    result.wait_for()
    assert result.locator("mark").first.inner_text() == "廣州"
    # the page thumbnail is the real rendered page (served by IIIF) with the hit box drawn on it
    img = result.locator(".hit-thumb img")
    img.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=15000)
    box = result.locator(".hit-box").first
    assert box.is_visible()
    shown = img.bounding_box()
    b = box.bounding_box()
    width, height = site.extra["size"]
    # where 廣州 really is on the page image, scaled to the thumbnail as displayed
    chars = site.extra["boxes"][:2]
    x0 = min(c["xywh"][0] for c in chars)
    x1 = max(c["xywh"][0] + c["xywh"][2] for c in chars)
    y0 = min(c["xywh"][1] for c in chars)
    scale = shown["width"] / width
    assert b["x"] == pytest.approx(shown["x"] + x0 * scale, abs=2)
    assert b["width"] == pytest.approx((x1 - x0) * scale, abs=2)
    assert b["y"] == pytest.approx(shown["y"] + y0 * shown["height"] / height, abs=2)
    result.locator("h3 a").click()
    page.wait_for_url(re.compile(rf"/items/{site.published}\?q="))
    hit = page.locator(".ocr-text mark").first
    assert hit.inner_text() == "廣州" and hit.is_visible()
    assert page.locator("h1").first.inner_text() == "廣州報紙選輯"


def test_switching_the_ui_language_changes_text_and_html_lang(page, live_server, site):
    page.goto(f"{live_server}/")
    assert page.get_attribute("html", "lang") == "zh-Hant"  # the context's locale is zh-HK
    assert page.locator("#coll-heading").inner_text() == "館藏"
    page.click('nav.lang a[hreflang="en"]')
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("#coll-heading").inner_text() == "Collections"
    assert page.locator('nav.lang a[hreflang="en"]').get_attribute("aria-current") == "true"
    page.click('nav.lang a[hreflang="zh-Hans"]')
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.locator("#coll-heading").inner_text() == "馆藏"
    # the choice sticks on the next page, and metadata follows the reader's script
    page.goto(f"{live_server}/items/{site.published}")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.locator("h1").first.get_attribute("lang") == "zh-Hans"
    assert page.locator("h1").first.inner_text() == "广州报纸选辑"


def test_xss_in_metadata_and_exhibition_text_never_runs(page, live_server, site):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (f"/items/{site.xss}", f"/exhibits/{site.exhibit}", "/exhibits", "/",
                 f"/collections/{site.collection}"):
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss === undefined"), path
    assert not dialogs
    page.goto(f"{live_server}/items/{site.xss}")
    assert "<script>window.__xss=1</script>" in page.locator("h1").inner_text()  # shown as text


def test_unpublished_item_and_exhibit_are_404(page, live_server, site):
    r = page.goto(f"{live_server}/items/{site.draft}")
    assert r.status == 404
    assert "未公開手稿" not in page.content()
    assert page.goto(f"{live_server}/exhibits/{site.hidden_exhibit}").status == 404


def test_phone_layout_and_keyboard(browser, live_server, site):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB", has_touch=True)
    p = context.new_page()
    try:
        for path in ("/", f"/items/{site.published}", f"/collections/{site.collection}", f"/exhibits/{site.exhibit}"):
            p.goto(f"{live_server}{path}")
            overflow = p.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
            missing_alt = p.evaluate("[...document.images].filter(i => !i.hasAttribute('alt')).length")
            assert missing_alt == 0, path
        p.goto(f"{live_server}/")
        p.keyboard.press("Tab")
        assert p.evaluate("document.activeElement.className") == "skip"
        p.keyboard.press("Enter")
        assert p.evaluate("location.hash") == "#main"
    finally:
        context.close()
