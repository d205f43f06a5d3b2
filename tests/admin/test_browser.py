"""Browser tests (Playwright + Debian Chromium, headless) against a live server and a real worker."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from repository.models import Item
from tests.admin.conftest import PASSWORD, render_scan

pytestmark = pytest.mark.browser

try:  # the scan pipeline (another engineer's) may not be there yet: then a recording is uploaded
    import ingest.scan  # noqa: F401

    HAVE_SCAN = True
except ImportError:
    HAVE_SCAN = False


@pytest.fixture
def worker(settings):
    """A real `heritage worker` process on the test data directory."""
    env = dict(os.environ, HERITAGE_DATA_DIR=str(settings.data_dir))
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "worker", "--name", "browser-test"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield proc
    proc.terminate()
    proc.wait(timeout=30)


def login(page, base: str, name: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def material(tmp_path: Path) -> Path:
    if HAVE_SCAN:
        return render_scan(tmp_path / "廣州城坊志.png")
    out = tmp_path / "西關口述.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=1",
                    str(out)], check=True)
    return out


def test_archivist_uploads_watches_publishes_and_visitors_see_it(browser, live_server, staff, worker, tmp_path):
    ctx = browser.new_context(locale="en")
    page = ctx.new_page()
    login(page, live_server, "ada")
    page.goto(f"{live_server}/admin/upload")
    page.select_option("#collection", "gz-docs")
    bad = tmp_path / "不是掃描.txt"
    bad.write_text("這只是文字，唔係掃描。", encoding="utf-8")
    page.set_input_files("#files", [str(material(tmp_path)), str(bad)])  # several files at once
    page.click("#start-upload")
    page.wait_for_selector("#upload-done:not([hidden])", timeout=60_000)
    assert page.locator("#upload-list li.ok").count() == 1
    assert page.locator("#upload-list li.ok progress").get_attribute("value") == "100"
    refused = page.locator("#upload-list li.failed")
    assert refused.count() == 1 and "不是掃描.txt" in refused.inner_text() and "not a supported file" in refused.inner_text()
    page.click("#watch-jobs")
    # the jobs page polls /admin/jobs.json and reloads when a job changes state
    page.wait_for_selector('#jobs-table tr[data-state="done"]', timeout=120_000)
    page.click('#jobs-table tr[data-state="done"] td a')
    page.wait_for_selector("#publish")
    item_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    if HAVE_SCAN:  # the real pipeline made an OCR'd page
        with staff.session() as db:
            scanned = db.get(Item, item_id)
            assert scanned.pages and scanned.pages[0].ocr_status == "done" and scanned.pages[0].text.strip()
    page.fill("textarea[name=title]", "西關風物 <b>test</b>")  # metadata edit in the browser
    page.click("#save-metadata")
    page.wait_for_selector("#publish")
    assert page.inner_text("#item-title").startswith("西關風物 <b>test</b>")
    page.click("#publish")
    page.wait_for_selector("#unpublish")
    assert page.inner_text("#item-state").strip() in ("published", "已發佈", "已发布")
    # a visitor (no login) finds the item; the markup in the title is shown as text
    visitor = browser.new_context(locale="zh-HK").new_page()
    resp = visitor.goto(f"{live_server}/items/{item_id}")
    assert resp.status == 200
    assert "西關風物 <b>test</b>" in visitor.inner_text("body")
    visitor.context.close()
    # an archivist of another institution cannot change it
    other_ctx = browser.new_context(locale="en")
    other = other_ctx.new_page()
    login(other, live_server, "bea")
    other.goto(f"{live_server}/admin/items/{item_id}")
    assert other.locator("#unpublish").count() == 0 and other.locator("#save-metadata").count() == 0
    token = other.get_attribute('meta[name="csrf-token"]', "content")
    r = other_ctx.request.post(f"{live_server}/admin/items/{item_id}/unpublish", form={"csrf_token": token},
                               max_redirects=0)
    assert r.status == 403
    with staff.session() as s:
        assert s.get(Item, item_id).state == "published"
    other_ctx.close()
    ctx.close()


def test_csv_dry_run_in_the_browser_reports_bad_rows_and_ingests_nothing(browser, live_server, staff, tmp_path):
    csv_path = tmp_path / "批次.csv"
    csv_path.write_bytes(("file,title,collection\n"
                          "a.png,廣州城坊志,gz-docs\n"
                          "missing.png,冇呢個檔,gz-docs\n"
                          "a.png,\"=HYPERLINK(\"\"http://evil\"\")\",gz-docs\n").encode("gb18030"))
    zpath = tmp_path / "files.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        render_scan(tmp_path / "a.png")
        zf.write(tmp_path / "a.png", "a.png")
    ctx = browser.new_context(locale="en")
    page = ctx.new_page()
    login(page, live_server, "ada")
    page.goto(f"{live_server}/admin/batch")
    page.set_input_files("#csv", str(csv_path))
    page.set_input_files("#archive", str(zpath))
    page.click("#dry-run")
    page.wait_for_selector("#batch-report")
    assert page.locator("#batch-report tr.bad").count() == 2
    assert page.locator("#batch-report tr.ok").count() == 1
    text = page.inner_text("#batch-report")
    assert "no such file" in text and "formula" in text
    assert "gb18030" in page.inner_text("#batch-summary").lower()
    with staff.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
    ctx.close()
