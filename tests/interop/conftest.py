"""Fixtures for the interop/preservation tests: items built from real rows and real stored files.

No OCR is run: pages get a rendered PNG (Noto CJK) stored through the unit of work, and text /
word boxes written directly, as the scan pipeline would have.
"""
from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from repository import Repository, catalog, dublin_core
from repository.models import Item, Page, Segment, utcnow

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_counter = itertools.count(1)


def render_png(text: str, path: Path, size: tuple[int, int] = (360, 120)) -> Path:
    """A small PNG with ``text`` drawn in Noto CJK (unique bytes per text)."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONT), 32) if FONT.exists() else ImageFont.load_default()
    draw.text((10, 30), text, fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


@dataclass
class Builder:
    repo: Repository
    tmp: Path

    def institution(self, slug: str, name: str) -> None:
        with self.repo.unit_of_work("test") as uow:
            catalog.add_institution(uow.session, slug, name)

    def collection(self, slug: str, title: str, institution: str | None = None) -> None:
        with self.repo.unit_of_work("test") as uow:
            catalog.add_collection(uow.session, slug, title, institution_slug=institution)

    def item(self, title: str, *, collection: str, state: str = "published", pages: list[str] | None = None,
             segments: list[tuple[float, float, str, str | None]] | None = None, type: str = "Text",
             metadata: dict | None = None, audio: Path | None = None) -> int:
        """An item with rendered page images (original + page_image files) and/or transcript segments."""
        n = next(_counter)
        with self.repo.unit_of_work("test") as uow:
            coll = catalog.collection(uow.session, collection)
            md = dublin_core.normalise({"title": title, **(metadata or {})})
            item = Item(collection=coll, institution=coll.institution, title=title, metadata_=md,
                        type=type, state=state, published_at=utcnow() if state == "published" else None)
            uow.session.add(item)
            uow.session.flush()
            for i, text in enumerate(pages or [], start=1):
                png = render_png(f"{text} {n}-{i}", self.tmp / f"p{n}-{i}.png")
                uow.add_file(item, png, role="original", mime="image/png", filename=f"page{i}.png")
                page = Page(item=item, n=i, width=360, height=120, text=text, ocr_status="done",
                            words=[{"text": ch, "xywh": [10 + 32 * k, 30, 32, 40], "conf": 90.0, "line": 0}
                                   for k, ch in enumerate(text)])
                uow.session.add(page)
                uow.session.flush()
                uow.add_file(item, png, role="page_image", mime="image/png", page_id=page.id,
                             width=360, height=120)
                uow.add_file(item, _text_file(self.tmp / f"t{n}-{i}.txt", text), role="text",
                             mime="text/plain", page_id=page.id)
            if audio is not None:
                uow.add_file(item, audio, role="original", mime="audio/wav", filename=audio.name)
            for start, end, text, speaker in segments or []:
                uow.session.add(Segment(item=item, start=start, end=end, text=text, speaker=speaker))
            uow.reindex(item)
            return item.id


def _text_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def build(repo, tmp_path) -> Builder:
    d = tmp_path / "material"
    d.mkdir()
    return Builder(repo, d)


@pytest.fixture
def sample(build) -> dict:
    """Two institutions, two collections, published / draft / failed items (text and audio)."""
    build.institution("gz-lib", "廣州圖書館")
    build.institution("fs-lib", "佛山市圖書館")
    build.collection("newspapers", "民國報紙", "gz-lib")
    build.collection("oral", "口述歷史", "fs-lib")
    ids = {
        "pub1": build.item("廣州嘅舊報紙", collection="newspapers", pages=["廣州城", "珠江"],
                           metadata={"creator": [{"value": "佚名", "lang": "zh-Hant"}], "date": "1925",
                                     "subject": ["報紙", {"value": "newspapers", "lang": "en"}]}),
        "pub2": build.item("佛山口述：佢哋喺度講", collection="oral", type="Sound",
                           segments=[(0.0, 2.5, "我哋以前喺西關住", "陳伯"), (2.5, 5.0, "冇錯，嗰陣時好熱鬧", "李姨")]),
        "draft": build.item("未公開的草稿", collection="newspapers", state="draft", pages=["秘密"]),
        "failed": build.item("失敗的項目", collection="oral", state="failed"),
    }
    return ids
