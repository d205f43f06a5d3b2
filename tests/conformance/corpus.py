"""A small, hand-made corpus of repository rows (no OCR needed) and helpers to index it.

Material: traditional and simplified Chinese, Cantonese characters, a CJK Extension B character,
English, OCR word boxes, time-coded segments, published / draft / trashed items of two institutions.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from config import load_settings
from repository import Repository
from repository.access import Viewer
from repository.models import Collection, Institution, Item, Page, Segment
from search import drain_outbox
from search.service import backend_for, search

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "elasticsearch.sh"

ANON = Viewer.anonymous()
ADMIN = Viewer(user_id=1, role="admin", name="admin")


def staff_of(institution_id: int) -> Viewer:
    return Viewer(user_id=2, role="archivist", institution_id=institution_id, name="archivist")


def elasticsearch_url() -> str:
    """The test Elasticsearch: $HERITAGE_TEST_ELASTICSEARCH_URL (scripts/test.sh), else one the
    project script starts (left running for the other test process)."""
    url = os.environ.get("HERITAGE_TEST_ELASTICSEARCH_URL")
    if url:
        return url
    subprocess.run(["bash", str(SCRIPT), "start"], check=True, timeout=600)
    return subprocess.run(["bash", str(SCRIPT), "url"], check=True, capture_output=True, text=True).stdout.strip()


def open_repo(data_dir: Path, backend: str, es_url: str | None = None) -> Repository:
    """A fresh repository using ``backend``; Elasticsearch gets a unique alias."""
    data_dir.mkdir(parents=True, exist_ok=True)
    extra = {}
    if backend == "elasticsearch":
        extra = dict(elasticsearch_url=es_url, elasticsearch_index=f"hts{uuid.uuid4().hex[:12]}")
    settings = load_settings(env={}, data_dir=data_dir, search=backend, **extra)
    return Repository.open(settings, create=True)


def close_repo(repo: Repository) -> None:
    backend = backend_for(repo)
    if backend.name == "elasticsearch":
        backend.drop()
    backend.close()
    repo.db.dispose()


def line_words(text: str, *, x: int = 10, y: int = 20, size: int = 30, line: int = 0) -> list[dict]:
    """OCR-like words: one per Han character, one per Latin word, laid out left to right."""
    words = []
    for token in _split(text):
        w = size * len(token) if token.isascii() else size
        words.append({"text": token, "xywh": [x, y, w, size], "conf": 95.0, "line": line})
        x += w + (size // 3 if token.isascii() else 0)
    return words


def _split(text: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            buf += ch
            continue
        if buf:
            out.append(buf)
            buf = ""
        if not ch.isspace():
            out.append(ch)
    if buf:
        out.append(buf)
    return out


@dataclass
class Corpus:
    repo: Repository
    ids: dict[str, int]
    institutions: dict[str, int]

    def find(self, q: str, viewer: Viewer = ANON, **kw) -> set[int]:
        """Ids of all results of ``q`` (every page)."""
        out: set[int] = set()
        page = 1
        while True:
            r = search(self.repo, q, viewer=viewer, page=page, per_page=100, **kw)
            out |= {x["id"] for x in r["results"]}
            if page * 100 >= r["total"]:
                return out
            page += 1

    def names(self, ids: set[int]) -> set[str]:
        back = {v: k for k, v in self.ids.items()}
        return {back[i] for i in ids}


def dc(**values: str | list[str]) -> dict:
    return {k: [{"value": v, "lang": None} for v in ([values[k]] if isinstance(values[k], str) else values[k])]
            for k in values}


def build(repo: Repository) -> Corpus:
    """Create the corpus rows, queue them for indexing and drain the outbox."""
    ids: dict[str, int] = {}
    with repo.unit_of_work("test") as uow:
        s = uow.session
        gz = Institution(slug="gz-lib", name="廣州圖書館")
        hk = Institution(slug="hk-lib", name="香港中央圖書館")
        s.add_all([gz, hk])
        news = Collection(slug="news", title="報刊", institution=gz)
        oral = Collection(slug="oral", title="口述歷史", institution=hk)
        s.add_all([news, oral])
        s.flush()

        def item(key: str, coll: Collection, inst: Institution, title: str, **kw) -> Item:
            it = Item(collection=coll, institution=inst, title=title, state=kw.pop("state", "published"), **kw)
            s.add(it)
            s.flush()
            ids[key] = it.id
            return it

        chamber = item("chamber", news, gz, "廣州商會報告", year_from=1925, year_to=1931, type="Text",
                       metadata_=dc(subject="商業", place="廣州", language="zh-Hant", creator="陳大文"))
        chamber.pages.append(Page(n=1, width=400, height=200, text="佢喺廣州市開會",
                                  words=line_words("佢喺廣州市開會")))
        chamber.pages.append(Page(n=2, width=400, height=200, text="香港總商會同廣州商會",
                                  words=line_words("香港總商會") + line_words("同廣州商會", y=80, line=1)))
        labour = item("labour", news, gz, "广州工人运动史", year_from=1950, year_to=1950, type="Text",
                      metadata_=dc(subject="工运", place="广州", language="zh-Hans"))
        labour.pages.append(Page(n=1, width=400, height=200, text="广州工人在一九五零年", words=line_words("广州工人在一九五零年")))
        # OCR output with spaces between characters and a line break inside a word
        labour.pages.append(Page(n=2, width=400, height=200, text="工 人 運\n動 會", words=line_words("工人運動會")))
        oral_item = item("oral", oral, hk, "深水埗街坊口述", year_from=1970, year_to=1979, type="Sound", duration=60.0,
                         metadata_=dc(place="深水埗", language="yue", creator="Lee Wai-man", subject="街坊"))
        oral_item.segments.append(Segment(start=0.0, end=4.5, text="我哋細個喺深水埗住", speaker="李"))
        oral_item.segments.append(Segment(start=4.5, end=9.25, text="嗰陣冇錢買餸，佢哋都好慳", speaker="李"))
        oral_item.segments.append(Segment(start=9.25, end=12.0, text="啲街坊冚唪唥都識", speaker="李"))
        item("draft", news, gz, "秘密檔案：廣州碼頭", state="draft", year_from=1938, year_to=1938,
             metadata_=dc(subject="碼頭"))
        item("trashed", news, gz, "已刪除嘅廣州相片", deleted_at=datetime.now(timezone.utc), type="StillImage",
             metadata_=dc(subject="相片"))
        fair = item("fair", news, gz, "Canton Trade Fair catalogue", year_from=1957, year_to=1957,
                    type="StillImage", metadata_=dc(language="en", subject=["Trade", "商業"], place="廣州"))
        fair.pages.append(Page(n=1, width=600, height=300, text="The <b>Canton</b> Fair opened in 1957",
                               words=line_words("The <b>Canton</b> Fair opened in 1957")))
        extb = item("extb", oral, hk, "𠮶間舖頭", year_from=1985, year_to=1985, type="Text",
                    metadata_=dc(language="yue", place="旺角"))
        extb.pages.append(Page(n=1, width=300, height=100, text="𠮶間舖頭賣涼茶", words=line_words("𠮶間舖頭賣涼茶")))
        # 光 gwong1 and 酒 zau2 read like 廣州 without tones, but never side by side (a Latin word
        # between them on page 3): a Jyutping phrase query must not find this item
        extb.pages.append(Page(n=2, width=300, height=100, text="月光光，照地堂", words=line_words("月光光，照地堂")))
        extb.pages.append(Page(n=3, width=300, height=100, text="陽光 Bar 酒吧", words=line_words("陽光 Bar 酒吧")))
        hk_draft = item("hk_draft", oral, hk, "香港未公開訪問", state="draft", type="Sound")
        hk_draft.segments.append(Segment(start=1.0, end=2.0, text="未公開嘅廣州故事"))
        for key in ids:
            uow.reindex(ids[key])
        institutions = {"gz": gz.id, "hk": hk.id}
    remaining = drain_outbox(repo)
    assert remaining == 0
    return Corpus(repo, ids, institutions)
