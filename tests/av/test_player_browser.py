"""The item page's player in the real Chromium: play, click a transcript line, seek, find, ?t= deep link."""
from __future__ import annotations

import threading

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_url(av_site):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", free_port(), av_site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _ready(page):
    page.wait_for_selector(".av-player video.av-element")
    page.wait_for_function("document.querySelector('video.av-element').readyState >= 1", timeout=20000)


def test_play_then_click_a_transcript_line_seeks_there(page, site_url, av_site):
    page.goto(f"{site_url}/items/{av_site.video_id}")
    _ready(page)
    lines = page.locator(".av-line")
    assert lines.count() == 3
    assert "陳伯" in lines.nth(0).inner_text()
    # play from the start for a moment: time moves and the first line is current
    page.evaluate("document.querySelector('video.av-element').muted = true")
    page.evaluate("document.querySelector('video.av-element').play()")
    page.wait_for_function("document.querySelector('video.av-element').currentTime > 0.3", timeout=20000)
    page.wait_for_selector(".av-line.is-current")
    assert lines.nth(0).get_attribute("aria-current") == "true"
    # click the third line: the player jumps to its start and that line becomes current
    target = av_site.starts[2]
    lines.nth(2).click()
    page.wait_for_function(f"Math.abs(document.querySelector('video.av-element').currentTime - {target}) < 0.6",
                           timeout=20000)
    page.wait_for_function("document.querySelectorAll('.av-line')[2].getAttribute('aria-current') === 'true'")
    assert lines.nth(0).get_attribute("aria-current") is None
    # the range requests made seeking possible: the media is served with 206
    assert page.evaluate("document.querySelector('video.av-element').seekable.length") >= 1


def test_keyboard_seek_and_transcript_search_with_script_folding(page, site_url, av_site):
    page.goto(f"{site_url}/items/{av_site.video_id}")
    _ready(page)
    # keyboard only: focus the second line and press Enter
    page.focus("#" + page.locator(".av-line").nth(1).get_attribute("id"))
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"Math.abs(document.querySelector('video.av-element').currentTime - {av_site.starts[1]}) < 0.6")
    # search in simplified characters finds the traditional text and jumps to it
    page.fill(".av-find input[name=q]", "西关")
    page.press(".av-find input[name=q]", "Enter")
    page.wait_for_selector(".av-line.is-match mark")
    assert page.locator(".av-line.is-match mark").first.inner_text() == "西關"
    page.wait_for_function(
        f"Math.abs(document.querySelector('video.av-element').currentTime - {av_site.starts[0]}) < 0.6")
    assert page.evaluate("document.activeElement.classList.contains('av-line')")
    assert "1" in page.inner_text(".av-find-status")


def test_deep_link_starts_at_t(page, site_url, av_site):
    t = av_site.starts[1] + 0.5
    page.goto(f"{site_url}/items/{av_site.video_id}?t={t}")
    _ready(page)
    page.wait_for_function(f"Math.abs(document.querySelector('video.av-element').currentTime - {t}) < 0.3",
                           timeout=20000)
    page.wait_for_function("document.querySelectorAll('.av-line')[1].getAttribute('aria-current') === 'true'")
