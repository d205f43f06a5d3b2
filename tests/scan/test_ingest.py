"""Scans through the real pipeline: intake → scan job (real Tesseract) → pages, files, search outbox."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image
from sqlalchemy import select

from ingest.intake import IngestOptions, ingest_paths, wait_for
from ingest.samples import cantonese_sentences, cer, degrade, page_text, render_text_page
from repository.models import Event, File, IndexTask, Item, Job, Page

from tests.scan.conftest import small_page


def run(repo, paths, collection, **kw):
    created = ingest_paths(repo, [Path(p) for p in paths], IngestOptions(collection=collection, **kw))
    jobs = wait_for(repo, [j for _, j in created])
    return [i for i, _ in created], jobs


def pages_of(repo, item_id):
    with repo.session() as s:
        item = s.get(Item, item_id)
        return item.state, item.error, [(p.n, p.width, p.height, p.ocr_status, p.ocr_model, p.text, p.words)
                                        for p in item.pages]


def test_png_becomes_a_page_with_text_boxes_and_all_derivatives(repo, collection, page_png):
    (item_id,), (job,) = run(repo, [page_png], collection)
    assert job.state == "done", job.error
    state, error, pages = pages_of(repo, item_id)
    assert state == "draft" and error is None
    (n, w, h, status, model, text, words), = pages
    assert (n, status, model) == (1, "done", "chi_tra")
    assert (w, h) == Image.open(page_png).size
    truth = "".join(cantonese_sentences(2, seed=100))
    assert cer(truth, text) < 0.35
    assert words and all(0 <= wd["xywh"][0] < w and 0 <= wd["xywh"][1] < h for wd in words)
    with repo.session() as s:
        files = {f.role: f for f in s.scalars(select(File).where(File.item_id == item_id))}
        assert set(files) == {"original", "page_image", "thumbnail", "hocr", "alto", "text"}
        img = Image.open(repo.store.path(files["page_image"].sha256))
        assert img.mode in ("L", "RGB") and img.size == (w, h)
        assert (files["page_image"].width, files["page_image"].height) == (w, h)
        assert max(Image.open(repo.store.path(files["thumbnail"].sha256)).size) <= 400
        assert b"ocrx_word" in repo.store.path(files["hocr"].sha256).read_bytes()
        assert b"alto" in repo.store.path(files["alto"].sha256).read_bytes()
        assert repo.store.path(files["text"].sha256).read_text("utf-8") == text
        assert s.scalars(select(Event).where(Event.item_id == item_id, Event.type == "creation")).first()
        job_row = s.get(Job, job.id)
        assert job_row.progress["done"] == job_row.progress["total"] == 1
    # the outbox was drained by wait_for: nothing left queued for this item
    with repo.session() as s:
        assert not list(s.scalars(select(IndexTask).where(IndexTask.item_id == item_id)))


def test_publish_when_ready_publishes_with_event(repo, collection, page_png):
    (item_id,), (job,) = run(repo, [page_png], collection, publish=True)
    with repo.session() as s:
        item = s.get(Item, item_id)
        assert item.state == "published" and item.published_at is not None
        assert s.scalars(select(Event).where(Event.item_id == item_id, Event.type == "publication")).first()


def test_multipage_tiff_16bit_cmyk_and_rgb(repo, collection, tmp_path):
    """One TIFF, three pages: 16-bit gray, CMYK, RGB (LZW). Each becomes an 8-bit page, OCR'd."""
    base = [small_page(i) for i in range(3)]
    g16 = Image.fromarray((np.asarray(base[0], dtype=np.uint16) * 257).astype(np.uint16))  # full 16-bit range
    assert g16.mode.startswith("I;16")
    cmyk = base[1].convert("RGB").convert("CMYK")
    rgb = base[2].convert("RGB")
    path = tmp_path / "scan.tif"
    g16.save(path, save_all=True, append_images=[cmyk, rgb], compression="tiff_lzw")
    with Image.open(path) as check:
        assert check.n_frames == 3
    (item_id,), (job,) = run(repo, [path], collection, lang="chi_tra")
    assert job.state == "done", job.error
    state, _, pages = pages_of(repo, item_id)
    assert state == "draft" and [p[0] for p in pages] == [1, 2, 3]
    for i, (n, w, h, status, model, text, words) in enumerate(pages):
        truth = "".join(cantonese_sentences(2, seed=100 + i))
        assert status == "done" and model == "chi_tra"
        assert cer(truth, text) < 0.35, (n, text)
    with repo.session() as s:
        imgs = [Image.open(repo.store.path(f.sha256)) for f in
                s.scalars(select(File).where(File.item_id == item_id, File.role == "page_image"))]
        assert all(im.mode in ("L", "RGB") for im in imgs)
        # 16-bit page scaled, not clipped: paper stays light, ink dark
        arr = np.asarray(imgs[0].convert("L"))
        assert arr.max() > 200 and arr.min() < 60


def test_directory_of_webp_and_jpeg2000_in_natural_order(repo, collection, tmp_path):
    d = tmp_path / "book"
    d.mkdir()
    small_page(0).save(d / "page-10.webp", "WEBP", lossless=True)
    small_page(1).convert("RGB").save(d / "page-2.jp2", "JPEG2000")
    (item_id,), (job,) = run(repo, [d], collection, lang="chi_tra")
    assert job.state == "done", job.error
    _, _, pages = pages_of(repo, item_id)
    # page-2 before page-10
    assert cer("".join(cantonese_sentences(2, seed=101)), pages[0][5]) < 0.35
    assert cer("".join(cantonese_sentences(2, seed=100)), pages[1][5]) < 0.35


def _text_pdf(path: Path, lines: list[str]) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=300)
    y = 60
    for line in lines:
        page.insert_text((40, y), line, fontname="china-t", fontsize=18)
        y += 30
    doc.save(path)
    doc.close()


def test_pdf_with_text_layer_keeps_its_text_and_scales_boxes(repo, collection, tmp_path):
    lines = cantonese_sentences(3, seed=7)
    path = tmp_path / "born-digital.pdf"
    _text_pdf(path, lines)
    (item_id,), (job,) = run(repo, [path], collection)
    assert job.state == "done", job.error
    _, _, pages = pages_of(repo, item_id)
    (n, w, h, status, model, text, words), = pages
    assert status == "skipped" and model is None  # no OCR: the text layer is kept
    assert text.split("\n") == lines
    assert (w, h) == (round(420 * 300 / 72), round(300 * 300 / 72))
    with repo.session() as s:
        f = s.scalars(select(File).where(File.item_id == item_id, File.role == "page_image")).one()
        img = np.asarray(Image.open(repo.store.path(f.sha256)).convert("L"))
    # every character's box (scaled from points to pixels) has ink in it on the rendered page
    for wd in words:
        x, y, bw, bh = wd["xywh"]
        assert img[y:y + bh, x:x + bw].min() < 128, wd
        assert len(wd["text"]) == 1
    first = words[0]["xywh"]
    assert abs(first[0] - 40 * 300 / 72) < 15


def test_scanned_pdf_is_rasterised_and_ocrd(repo, collection, tmp_path):
    png = tmp_path / "p.png"
    small_page(3).save(png)
    doc = pymupdf.open()
    page = doc.new_page(width=600 * 72 / 300, height=Image.open(png).height * 72 / 300)
    page.insert_image(page.rect, filename=str(png))
    path = tmp_path / "scanned.pdf"
    doc.save(path)
    doc.close()
    (item_id,), (job,) = run(repo, [path], collection)
    assert job.state == "done", job.error
    _, _, pages = pages_of(repo, item_id)
    (n, w, h, status, model, text, words), = pages
    assert status == "done" and model == "chi_tra"
    assert cer("".join(cantonese_sentences(2, seed=103)), text) < 0.35


def test_vertical_flag_and_lang_override(repo, collection, tmp_path):
    text = "".join(cantonese_sentences(2, seed=100))
    img, boxes = render_text_page(text, vertical=True, width=500, height=700, font_size=36)
    p = tmp_path / "vert.png"
    degrade(img, seed=5).save(p)
    (item_id,), (job,) = run(repo, [p], collection, lang="chi_tra", vertical=True)
    _, _, pages = pages_of(repo, item_id)
    assert pages[0][4] == "chi_tra_vert"
    assert cer(page_text(boxes), pages[0][5]) < 0.4


def test_cli_ingest_wait_prints_the_item_id(cli, repo, collection, page_png):
    res = cli("ingest", page_png, "--collection", collection, "--wait")
    assert res.code == 0, res
    item_id = int(res.out.strip().splitlines()[-1])
    with repo.session() as s:
        assert s.get(Item, item_id).state == "draft"
        assert len(s.get(Item, item_id).pages) == 1


def test_uncompressed_tiff_16bit_and_cmyk_frames_decode_to_8bit(tmp_path):
    """Uncompressed (raw) multi-page TIFF: each frame decodes to an 8-bit derivative; 16-bit gray
    is scaled over its full range (not clipped at 255), CMYK becomes RGB."""
    from ingest import images

    base = small_page(0)
    g16 = Image.fromarray((np.asarray(base, dtype=np.uint16) * 257).astype(np.uint16))
    cmyk = base.convert("RGB").convert("CMYK")
    path = tmp_path / "raw.tif"
    g16.save(path, save_all=True, append_images=[cmyk], compression="raw")
    assert images.frame_count(path, 10**8) == 2
    gray, rgb = images.load_frame(path, 0, 10**8), images.load_frame(path, 1, 10**8)
    assert gray.mode == "L" and rgb.mode == "RGB"
    diff = np.abs(np.asarray(gray, dtype=int) - np.asarray(base, dtype=int))
    assert diff.max() <= 1  # x257 then /257: the same 8-bit page back
    assert abs(np.asarray(rgb.convert("L"), dtype=float).mean() - np.asarray(base, dtype=float).mean()) < 8
