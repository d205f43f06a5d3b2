"""Every bad input of the issue: a clear error, no item row, no orphan blob, the worker keeps going."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pymupdf
import pytest
from PIL import Image
from sqlalchemy import select

from config import HeritageError, InvalidInput, TooLarge
from ingest.intake import IngestOptions, ingest_paths, wait_for
from ingest.worker import Worker
from repository.models import File, Item, Job, Page

from tests.scan.conftest import blobs, item_count, small_page


def _png_with_header(w: int, h: int) -> bytes:
    """A tiny real PNG whose IHDR claims w x h (CRC fixed): what a decompression bomb looks like."""
    buf = io.BytesIO()
    Image.new("L", (10, 10), 255).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", w, h) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def _pdf_bytes() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 80), "廣州西關舊街坊嘅故事，佢哋喺度住咗好耐。", fontname="china-t", fontsize=16)
    data = doc.tobytes()
    doc.close()
    return data


def _encrypted_pdf(path: Path, user_pw: str | None) -> None:
    doc = pymupdf.open("pdf", _pdf_bytes())
    kw = {"user_pw": user_pw} if user_pw else {"permissions": 0}
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", **kw)
    doc.close()


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    small_page(0).save(buf, "JPEG", quality=90)
    return buf.getvalue()


CASES = {
    # name: (file name, bytes or builder, error class, words the message must contain)
    "bomb": ("bomb.png", lambda p: p.write_bytes(_png_with_header(30000, 30000)), TooLarge, "pixels"),
    "absurd dimensions": ("wide.png", lambda p: p.write_bytes(_png_with_header(200_000, 1)), InvalidInput, "absurd"),
    "zero dimension": ("zero.png", lambda p: p.write_bytes(_png_with_header(0, 10)), InvalidInput, "not an image"),
    "truncated jpeg": ("cut.jpg", lambda p: p.write_bytes(_jpeg_bytes()[:3000]), InvalidInput, "truncated"),
    "corrupt png": ("bad.png", lambda p: p.write_bytes(_png_with_header(10, 10)[:40] + b"\x00" * 50), InvalidInput, "bad.png"),
    "truncated pdf": ("cut.pdf", lambda p: p.write_bytes(_pdf_bytes()[: len(_pdf_bytes()) * 9 // 10]), InvalidInput, "damaged"),
    "garbage pdf": ("junk.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8), InvalidInput, "not a readable PDF"),
    "encrypted pdf": ("locked.pdf", lambda p: _encrypted_pdf(p, "secret"), InvalidInput, "encrypted"),
    "owner-encrypted pdf": ("restricted.pdf", lambda p: _encrypted_pdf(p, None), InvalidInput, "encrypted"),
    "zero bytes": ("empty.png", lambda p: p.write_bytes(b""), InvalidInput, "empty"),
    "not an image": ("notes.png", lambda p: p.write_text("這不是圖片，只是文字。\n" * 20, "utf-8"), InvalidInput, "not a supported file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_refused_without_leaving_anything(repo, collection, tmp_path, case):
    name, build, error, words = CASES[case]
    path = tmp_path / name
    build(path)
    with pytest.raises(error) as exc:
        ingest_paths(repo, [path], IngestOptions(collection=collection))
    message = str(exc.value)
    assert words in message and "\n" not in message
    assert item_count(repo) == 0
    assert blobs(repo) == []


def test_bad_file_among_good_ones_makes_no_item(repo, collection, tmp_path, page_png):
    d = tmp_path / "book"
    d.mkdir()
    (d / "1.png").write_bytes(page_png.read_bytes())
    (d / "2.jpg").write_bytes(_jpeg_bytes()[:3000])
    with pytest.raises(InvalidInput, match="2.jpg"):
        ingest_paths(repo, [d], IngestOptions(collection=collection))
    assert item_count(repo) == 0 and blobs(repo) == []


@pytest.mark.parametrize("name", ["../escape.png", "bad\x07name.png", "line\nbreak.png"])
def test_dangerous_names_are_refused(repo, collection, tmp_path, page_png, name):
    if name.startswith(".."):
        (tmp_path / "sub").mkdir()
        target = tmp_path / "sub" / name
        (tmp_path / "escape.png").write_bytes(page_png.read_bytes())
    else:
        target = tmp_path / name
        target.write_bytes(page_png.read_bytes())
    with pytest.raises(InvalidInput) as exc:
        ingest_paths(repo, [target], IngestOptions(collection=collection))
    assert ".." in str(exc.value) or "control characters" in str(exc.value)
    assert item_count(repo) == 0 and blobs(repo) == []


def test_cli_reports_bad_input_in_one_line(cli, repo, collection, tmp_path):
    p = tmp_path / "locked.pdf"
    _encrypted_pdf(p, "secret")
    res = cli("ingest", p, "--collection", collection, "--wait")
    assert res.code != 0
    assert "encrypted" in res.err and len(res.err.strip().splitlines()) == 1
    assert item_count(repo) == 0 and blobs(repo) == []


def test_unknown_ocr_model_is_refused_synchronously(repo, collection, page_png):
    with pytest.raises(HeritageError):
        ingest_paths(repo, [page_png], IngestOptions(collection=collection, lang="klingon"))
    assert item_count(repo) == 0 and blobs(repo) == []


def test_page_failing_in_the_job_marks_the_item_and_the_worker_goes_on(repo, collection, tmp_path, page_png):
    """The original of item A is damaged in the store after intake (disk rot): its page fails,
    the item is 'failed' with an error naming the page, not published; the same worker then runs
    item B's job to completion."""
    a = tmp_path / "a.png"
    a.write_bytes(_png_of(small_page(1)))
    (a_id, a_job), = ingest_paths(repo, [a], IngestOptions(collection=collection, publish=True))
    with repo.session() as s:
        sha = s.scalars(select(File.sha256).where(File.item_id == a_id, File.role == "original")).one()
    stored = repo.store.path(sha)
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:200])
    (b_id, b_job), = ingest_paths(repo, [page_png], IngestOptions(collection=collection))
    ran = Worker(repo, name="test-worker", poll_seconds=0.1).run(once=True)
    assert ran == 2
    with repo.session() as s:
        item_a, item_b = s.get(Item, a_id), s.get(Item, b_id)
        assert item_a.state == "failed" and item_a.published_at is None
        assert "page 1" in item_a.error and "a.png" in item_a.error
        page = s.scalars(select(Page).where(Page.item_id == a_id)).one()
        assert page.ocr_status == "failed" and page.error
        assert s.get(Job, a_job).state == "failed" and "page 1" in s.get(Job, a_job).error
        assert s.get(Job, a_job).progress["errors"][0]["page"] == 1
        assert item_b.state == "draft" and s.get(Job, b_job).state == "done"


def _png_of(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_retry_after_repair_redoes_only_the_failed_page(repo, collection, tmp_path):
    """A two-page item whose second original is damaged: page 2 fails, page 1 is kept. After the
    original is repaired, retrying the job makes page 2 only; the item becomes a draft."""
    d = tmp_path / "book"
    d.mkdir()
    good = [_png_of(small_page(i)) for i in (4, 5)]
    (d / "1.png").write_bytes(good[0])
    (d / "2.png").write_bytes(good[1])
    (item_id, job_id), = ingest_paths(repo, [d], IngestOptions(collection=collection, lang="chi_tra"))
    with repo.session() as s:
        sha = s.scalars(select(File.sha256).where(File.item_id == item_id, File.filename == "2.png")).one()
    stored = repo.store.path(sha)
    stored.chmod(0o644)
    stored.write_bytes(good[1][:300])
    wait_for(repo, [job_id])
    with repo.session() as s:
        assert s.get(Item, item_id).state == "failed"
        page1 = s.scalars(select(Page).where(Page.item_id == item_id, Page.n == 1)).one()
        first_image = s.scalars(select(File.id).where(File.page_id == page1.id, File.role == "page_image")).one()
    stored.write_bytes(good[1])  # repaired (same bytes as the checksum says)
    with repo.db.transaction() as s:
        from repository import jobs as queue

        queue.retry(s, job_id)
    (job,) = wait_for(repo, [job_id])
    assert job.state == "done", job.error
    with repo.session() as s:
        item = s.get(Item, item_id)
        assert item.state == "draft" and item.error is None
        pages = list(s.scalars(select(Page).where(Page.item_id == item_id).order_by(Page.n)))
        assert [(p.n, p.ocr_status) for p in pages] == [(1, "done"), (2, "done")]
        # page 1 was not made again
        assert s.scalars(select(File.id).where(File.page_id == pages[0].id, File.role == "page_image")).one() == first_image
        assert len(s.scalars(select(File).where(File.page_id == pages[1].id, File.role == "page_image")).all()) == 1
