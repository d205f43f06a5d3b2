"""Fixtures for the IIIF tests: items with real page images, built at test time."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from repository import Repository
from repository.models import Collection, Institution, Item, Page, Segment

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
_counter = itertools.count(1)


def text_page(lines: list[str], size: tuple[int, int] = (800, 1000), font_size: int = 48
              ) -> tuple[Image.Image, list[dict[str, Any]]]:
    """Render horizontal Chinese lines with Noto CJK; returns the image and per-character boxes."""
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(FONT, font_size)
    words = []
    y = 60
    for line_no, line in enumerate(lines):
        x = 60
        # Han characters are one OCR "word" each (as Tesseract gives them); Latin runs are words
        for token in re.findall(r"[A-Za-z0-9]+|\S", line):
            box = draw.textbbox((x, y), token, font=font)
            draw.text((x, y), token, font=font, fill="black")
            words.append({"text": token, "xywh": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                          "conf": 95.0, "line": line_no})
            x = box[2] + (font_size // 2 if token.isascii() else 4)
        y += font_size * 2
    return im, words


def validator_image() -> Image.Image:
    """The 1000×1000 grid of coloured squares that iiif-validator checks, from its own colour table."""
    from iiif_validator.validator import ValidationInfo

    colours = ValidationInfo().colorInfo
    im = Image.new("RGB", (1000, 1000), "white")
    draw = ImageDraw.Draw(im)
    for x in range(10):
        for y in range(10):
            draw.rectangle([x * 100, y * 100, x * 100 + 99, y * 100 + 99], fill=colours[x][y])
    return im


@dataclass
class Built:
    item_id: int
    image_ids: list[str] = field(default_factory=list)
    page_ids: list[int] = field(default_factory=list)


@dataclass
class ItemBuilder:
    repo: Repository
    tmp: Path

    def collection(self, slug: str = "lingnan-print", title: str = "嶺南報刊") -> int:
        with self.repo.unit_of_work("test") as uow:
            s = uow.session
            coll = s.query(Collection).filter_by(slug=slug).one_or_none()
            if coll is None:
                inst = s.query(Institution).filter_by(slug="gz-lib").one_or_none()
                if inst is None:
                    inst = Institution(slug="gz-lib", name="廣州圖書館",
                                       labels={"zh-Hant": "廣州圖書館", "en": "Guangzhou Library"})
                    s.add(inst)
                    s.flush()
                coll = Collection(slug=slug, title=title, labels={"zh-Hant": title}, institution_id=inst.id,
                                  description="粵語報刊")
                s.add(coll)
                s.flush()
            return coll.id

    def item(self, pages: list[tuple[Image.Image, list[dict], str]], *, title: str = "廣州街坊報",
             published: bool = True, image_ids: list[str | None] | None = None, fmt: str = "PNG",
             metadata: dict | None = None, item_type: str = "Text", segments: list[dict] | None = None,
             collection_slug: str = "lingnan-print", extra_files: list[tuple[Path, str, str]] = ()) -> Built:
        """A Text item whose pages are the given (image, words, text), with page_image Files."""
        coll_id = self.collection(collection_slug)
        with self.repo.unit_of_work("test") as uow:
            s = uow.session
            coll = s.get(Collection, coll_id)
            item = Item(collection=coll, institution_id=coll.institution_id, title=title, type=item_type,
                        state="published" if published else "draft",
                        metadata_=metadata or {"title": [{"value": title, "lang": "zh-Hant"}],
                                               "rights": [{"value": "https://rightsstatements.org/vocab/InC/1.0/"}],
                                               "creator": [{"value": "陳大文", "lang": "zh-Hant"}]})
            if published:
                from repository.models import utcnow

                item.published_at = utcnow()
            s.add(item)
            s.flush()
            built = Built(item.id)
            for n, (im, words, text) in enumerate(pages, start=1):
                kwargs = {}
                if image_ids and image_ids[n - 1]:
                    kwargs["image_id"] = image_ids[n - 1]
                page = Page(item=item, n=n, width=im.width, height=im.height, words=words, text=text,
                            ocr_status="done", **kwargs)
                s.add(page)
                s.flush()
                path = self.tmp / f"page-{next(_counter)}.{fmt.lower()}"
                im.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
                uow.add_file(item, path, role="page_image", mime=f"image/{fmt.lower()}", page_id=page.id,
                             width=im.width, height=im.height)
                built.image_ids.append(page.image_id)
                built.page_ids.append(page.id)
            for seg in segments or []:
                s.add(Segment(item=item, **seg))
            for path, role, mime in extra_files:
                uow.add_file(item, path, role=role, mime=mime, filename=path.name)
            return built


@pytest.fixture
def builder(repo, tmp_path) -> ItemBuilder:
    d = tmp_path / "material"
    d.mkdir()
    return ItemBuilder(repo, d)


