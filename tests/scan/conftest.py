"""Fixtures for the scan tests: pages rendered on the spot from HKCanCor sentences (Noto CJK),
made scan-like by :func:`ingest.samples.degrade`; nothing is read from disk fixtures."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from ingest.samples import cantonese_sentences, degrade, render_text_page
from repository import catalog
from repository.models import Item


@pytest.fixture
def collection(repo) -> str:
    with repo.unit_of_work("test") as uow:
        catalog.add_collection(uow.session, "scans", "Scans")
    return "scans"


def small_page(i: int = 0, *, script: str = "trad", vertical: bool = False) -> Image.Image:
    """A small scan-like page (2 sentences, ~600 px wide) for pipeline tests (fast OCR)."""
    text = "".join(cantonese_sentences(2, seed=100 + i))
    img, _ = render_text_page(text, script=script, vertical=vertical, width=600, font_size=36)
    return degrade(img, seed=i)


@pytest.fixture
def page_png(tmp_path: Path) -> Path:
    p = tmp_path / "page.png"
    small_page(0).save(p)
    return p


def item_count(repo) -> int:
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(Item))


def blobs(repo) -> list[str]:
    return list(repo.store.iter_objects())


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
