"""Fixtures for the public-site tests: repository rows built directly (no ingest needed)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from repository.models import Collection, Exhibit, ExhibitSection, Institution, Item, Page, Segment

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """Compile web/translations/*.po to .mo when stale (scripts/setup.sh does the same).

    Written to a temporary name and renamed, so parallel test processes never see half a file.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parts[-3])
        tmp = mo.with_name(f".messages.{os.getpid()}.mo")
        with tmp.open("wb") as fh:
            write_mo(fh, catalog)
        os.replace(tmp, mo)


def words_for(text: str, x0: int = 40, y0: int = 60, size: int = 40) -> list[dict]:
    """One word box per character on a single horizontal line (like Tesseract's CJK output)."""
    return [{"text": c, "xywh": [x0 + i * size, y0, size, size], "conf": 90.0, "line": 0}
            for i, c in enumerate(text)]


@dataclass
class Site:
    """Ids of the rows the public-site tests look at."""

    collection: str = "gz-papers"
    institution: str = "lingnan-lib"
    published: int = 0
    draft: int = 0
    simplified: int = 0
    audio: int = 0
    xss: int = 0
    exhibit: str = "canton-press"
    hidden_exhibit: str = "secret-show"
    extra: dict = field(default_factory=dict)


XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'


@pytest.fixture
def site(repo) -> Site:
    """A small published world: an institution, a collection, items of each kind, exhibitions."""
    return build_site(repo)


def build_site(repo) -> Site:
    """Rows of :func:`site` written into ``repo`` (any database)."""
    out = Site()
    now = datetime.now(timezone.utc)
    with repo.unit_of_work("test") as uow:
        s = uow.session
        inst = Institution(slug=out.institution, name="嶺南圖書館",
                           labels={"zh-Hant": "嶺南圖書館", "zh-Hans": "岭南图书馆", "en": "Lingnan Library"})
        coll = Collection(slug=out.collection, title="廣州報刊", institution=inst,
                          labels={"zh-Hant": "廣州報刊", "en": "Canton newspapers"})
        s.add_all([inst, coll])
        text = "廣州嘅報紙記載咗當年嘅舊事"
        pub = Item(collection=coll, institution=inst, title="廣州報紙選輯", type="Text", state="published",
                   published_at=now, year_from=1925, year_to=1925,
                   metadata_={"title": [{"value": "廣州報紙選輯", "lang": "zh-Hant"}],
                              "creator": [{"value": "陳國華", "lang": "zh-Hant"}],
                              "date": [{"value": "1925", "lang": None}],
                              "subject": [{"value": "報業", "lang": "zh-Hant"}],
                              "rights": [{"value": "Public domain", "lang": "en"}]})
        pub.pages = [Page(n=1, width=800, height=400, text=text, words=words_for(text), ocr_status="done"),
                     Page(n=2, width=800, height=400, text="第二頁", words=words_for("第二頁"), ocr_status="done")]
        draft = Item(collection=coll, institution=inst, title="未公開手稿", type="Text", state="draft",
                     metadata_={"title": [{"value": "未公開手稿", "lang": "zh-Hant"}]})
        simp = Item(collection=coll, institution=inst, title="岭南风物志", type="Text", state="published",
                    published_at=now - timedelta(days=1), year_from=1956, year_to=1956,
                    metadata_={"title": [{"value": "岭南风物志", "lang": "zh-Hans"}],
                               "date": [{"value": "1956", "lang": None}],
                               "rights": [{"value": "版權所有，不得下載原件", "lang": "zh-Hant"}]})
        audio = Item(collection=coll, institution=inst, title="西關口述歷史", type="Sound", state="published",
                     published_at=now - timedelta(days=2), duration=95.0,
                     metadata_={"title": [{"value": "西關口述歷史", "lang": "zh-Hant"}]})
        audio.segments = [Segment(start=0.0, end=4.5, text="我細個喺西關長大", speaker="李婆婆"),
                          Segment(start=61.0, end=66.0, text="佢哋冇乜嘢食", speaker="李婆婆")]
        xss = Item(collection=coll, institution=inst, title=XSS, type="Text", state="published",
                   published_at=now - timedelta(days=3),
                   metadata_={"title": [{"value": XSS, "lang": "en"}],
                              "description": [{"value": XSS, "lang": "en"}]})
        s.add_all([pub, draft, simp, audio, xss])
        s.flush()
        ex = Exhibit(slug=out.exhibit, title="省港報業", labels={"zh-Hant": "省港報業", "en": "The Canton press"},
                     summary="**粵港**報業簡史" + XSS, institution_id=inst.id, published=True, featured=True,
                     cover_page_id=pub.pages[0].id)
        ex.sections = [
            ExhibitSection(n=1, heading="開篇", body="# 引言\n\n一段[說明](https://example.org)。\n\n" + XSS
                           + "\n\n[bad](javascript:alert(1))", item_id=None),
            ExhibitSection(n=2, heading="報紙", body="第一頁。", item_id=pub.id, page_n=1, caption="報紙首頁"),
            ExhibitSection(n=3, heading="口述", body="", item_id=audio.id, caption="西關回憶"),
            ExhibitSection(n=4, heading="未公開", body="", item_id=draft.id, caption="不應出現的說明"),
        ]
        hidden = Exhibit(slug=out.hidden_exhibit, title="秘密展覽", summary="hidden", published=False)
        s.add_all([ex, hidden])
        s.flush()
        out.published, out.draft, out.simplified, out.audio, out.xss = pub.id, draft.id, simp.id, audio.id, xss.id
    return out


@pytest.fixture
def indexed(repo, site) -> Site:
    """The site, indexed by the real search service (Whoosh in the test's data dir)."""
    from search.service import rebuild

    rebuild(repo)
    return site


@pytest.fixture
def scanned(repo, site, tmp_path) -> Site:
    """The site with page 1 of the newspaper item rendered as a real image (Noto CJK via
    ingest.samples) and stored as its page_image with true character boxes, then indexed."""
    from ingest.samples import page_text, render_text_page
    from repository.models import Item
    from search.service import rebuild

    image, boxes = render_text_page("廣州嘅報紙記載咗當年嘅舊事", width=800, font_size=40)
    path = tmp_path / "page1.png"
    image.save(path)
    with repo.unit_of_work("test") as uow:
        item = uow.session.get(Item, site.published)
        page = item.pages[0]
        page.width, page.height = image.size
        page.words = [{**b, "conf": 95.0} for b in boxes]
        page.text = page_text(boxes)
        uow.add_file(item, path, role="page_image", mime="image/png", page_id=page.id,
                     width=image.size[0], height=image.size[1])
        site.extra["boxes"] = boxes
        site.extra["size"] = image.size
    rebuild(repo)
    return site
