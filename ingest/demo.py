"""The demo repository: real Cantonese material, built offline through the real pipelines.

Source text: the Hong Kong Cantonese Corpus (HKCanCor, K. K. Luke & May L. Y. Wong; CC BY 4.0) as
shipped inside the PyPI package ``pycantonese`` — nothing third-party is committed to this project.
The demo renders some of its utterances to page images with Debian's Noto CJK fonts (horizontal
traditional, horizontal simplified via OpenCC, and one vertical traditional 古籍-style page), speaks
some with espeak-ng's Cantonese voice into a short "oral history" recording with a WebVTT transcript
of exactly what was spoken, and ingests all of it through the real OCR / AV pipelines. Nothing is
faked: the OCR text comes from Tesseract, the transcript is the synthesised speech's own script.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

from sqlalchemy import select

from repository import Repository, catalog
from repository.models import Collection, Exhibit, ExhibitSection, Institution, Item

DEMO_COLLECTION = "hkcancor-demo"
DEMO_ORAL = "oral-history-demo"
DEMO_INSTITUTIONS = {
    "central-demo": ("中央圖書館（示範）", {"zh-Hant": "中央圖書館（示範）", "zh-Hans": "中央图书馆（示范）",
                                         "en": "Central Library (demo)"}),
    "branch-demo": ("區分館（示範）", {"zh-Hant": "區分館（示範）", "zh-Hans": "区分馆（示范）",
                                   "en": "District Branch Library (demo)"}),
}
CREDIT = ("Hong Kong Cantonese Corpus (HKCanCor), K. K. Luke & May L. Y. Wong, "
          "distributed in PyCantonese; CC BY 4.0")
RIGHTS = "CC BY 4.0 — https://creativecommons.org/licenses/by/4.0/"


DEMO_SENTENCES = 35


def _sentences(start: int, count: int) -> list[str]:
    """Sentences ``start``…``start+count`` of one fixed, distinct draw from HKCanCor."""
    from ingest.samples import cantonese_sentences

    return cantonese_sentences(DEMO_SENTENCES)[start:start + count]


def _metadata(title_hant: str, title_hans: str, title_en: str, *, subject: list[str], date: str) -> dict:
    return {
        "title": [{"value": title_hant, "lang": "zh-Hant"}, {"value": title_hans, "lang": "zh-Hans"},
                  {"value": title_en, "lang": "en"}],
        "creator": [{"value": "K. K. Luke; May L. Y. Wong", "lang": "en"}],
        "contributor": [{"value": "嶺南文獻庫示範", "lang": "zh-Hant"}],
        "description": [{"value": "香港粵語語料庫（HKCanCor）對話選段，由本系統以 Noto CJK 字型排印後經 Tesseract 辨識。",
                         "lang": "zh-Hant"},
                        {"value": "Conversation excerpts from HKCanCor, typeset with Noto CJK and read back by "
                                  "Tesseract OCR.", "lang": "en"}],
        "subject": [{"value": s, "lang": None} for s in subject],
        "place": [{"value": "香港", "lang": "zh-Hant"}, {"value": "Hong Kong", "lang": "en"}],
        "language": ["yue"],
        "date": [date],
        "source": [{"value": CREDIT, "lang": "en"}],
        "rights": [{"value": RIGHTS, "lang": "en"}],
        "type": ["Text"],
    }


def build_demo(repo: Repository, fresh: bool = False) -> Iterator[str]:
    """Build (once) the demo institutions, collections, items and exhibition; yields progress lines."""
    from ingest.intake import IngestOptions, failed_jobs, ingest_paths, wait_for

    with repo.session() as s:
        exists = s.scalar(select(Collection).where(Collection.slug == DEMO_COLLECTION))
    if exists and not fresh:
        yield f"demo: already built (collection {DEMO_COLLECTION}); use --fresh to rebuild"
        return
    if exists and fresh:
        yield from _remove_demo(repo)

    with repo.unit_of_work("demo") as uow:
        for slug, (name, labels) in DEMO_INSTITUTIONS.items():
            if not uow.session.scalar(select(Institution).where(Institution.slug == slug)):
                catalog.add_institution(uow.session, slug, name, labels)
        catalog.add_collection(uow.session, DEMO_COLLECTION, "香港粵語語料 · 排印示範", institution_slug="central-demo",
                               description="HKCanCor excerpts typeset and OCR'd (demo).",
                               labels={"zh-Hant": "香港粵語語料 · 排印示範", "zh-Hans": "香港粤语语料 · 排印示范",
                                       "en": "Hong Kong Cantonese corpus: typeset pages (demo)"})
        catalog.add_collection(uow.session, DEMO_ORAL, "口述歷史示範", institution_slug="branch-demo",
                               description="A synthesised Cantonese recording with its transcript (demo).",
                               labels={"zh-Hant": "口述歷史示範", "zh-Hans": "口述历史示范",
                                       "en": "Oral history (demo)"})
    yield "demo: institutions and collections created"

    work = Path(tempfile.mkdtemp(prefix="heritage-demo-"))
    jobs: list[int] = []
    items: dict[str, int] = {}

    def ingest(key: str, paths: list[Path], coll: str, md: dict, **kw) -> None:
        created = ingest_paths(repo, paths, IngestOptions(collection=coll, title=md["title"][0]["value"],
                                                          metadata={k: v for k, v in md.items() if k != "title"}
                                                          | {"title": md["title"]},
                                                          publish=True, agent="demo", **kw))
        items[key] = created[0][0]
        jobs.extend(job for _, job in created)

    for key, path, md, kw in _scan_material(work):
        ingest(key, path, DEMO_COLLECTION, md, **kw)
        yield f"demo: queued {key}"
    for key, path, md, kw in _oral_material(work):
        ingest(key, path, DEMO_ORAL, md, **kw)
        yield f"demo: queued {key}"

    yield f"demo: running {len(jobs)} jobs (OCR, transcodes, indexing) …"
    finished = wait_for(repo, jobs)
    for job in failed_jobs(finished):
        yield f"demo: job {job.id} for item {job.item_id} {job.state}: {job.error}"
    _exhibit(repo, items)
    yield f"demo: exhibition 'everyday-cantonese' created; items {sorted(items.values())}"
    import shutil

    shutil.rmtree(work, ignore_errors=True)


def _scan_material(work: Path):
    from ingest.samples import render_text_page

    trad = _sentences(0, 14)
    page1, _ = render_text_page("\n".join(trad[:7]), script="trad")
    page2, _ = render_text_page("\n".join(trad[7:14]), script="trad")
    d = work / "trad"
    d.mkdir()
    page1.save(d / "page-1.png")
    page2.save(d / "page-2.png")
    yield "trad", [d], _metadata("香港粵語對話選段（繁體排印）", "香港粤语对话选段（繁体排印）",
                                 "Hong Kong Cantonese conversation (traditional typesetting)",
                                 subject=["粵語", "口語", "Cantonese"], date="1997"), {}

    img, _ = render_text_page("\n".join(_sentences(14, 7)), script="simp")  # converted with OpenCC
    p = work / "simplified.png"
    img.save(p)
    yield "simp", [p], _metadata("香港粵語對話選段（簡體排印）", "香港粤语对话选段（简体排印）",
                                 "Hong Kong Cantonese conversation (simplified typesetting)",
                                 subject=["粤语", "Cantonese"], date="1997"), {}

    vert = _sentences(21, 8)
    img, _ = render_text_page("\n".join(vert), script="trad", vertical=True)
    p = work / "vertical.png"
    img.save(p)
    yield "vertical", [p], _metadata("粵語對話直排本", "粤语对话直排本", "Cantonese conversation, vertical setting",
                                     subject=["粵語", "直排", "古籍版式"], date="1990s"), {}


def _oral_material(work: Path):
    lines = _sentences(29, 6)
    media, vtt = _speak_with_transcript(lines, work)
    md = _metadata("口述歷史：街坊傾偈（合成語音示範）", "口述历史：街坊倾偈（合成语音示范）",
                   "Oral history: neighbours chatting (synthesised speech demo)",
                   subject=["口述歷史", "粵語"], date="1998")
    md["type"] = ["Sound"]
    md["description"] = [
        {"value": "香港粵語語料庫（HKCanCor）對話選段，由 espeak-ng 粵語語音朗讀；逐字稿即朗讀的原文，時間碼按每句語音長度計算。",
         "lang": "zh-Hant"},
        {"value": "Conversation excerpts from HKCanCor read aloud by espeak-ng's Cantonese voice; the transcript is "
                  "the text that was spoken, timed from each spoken line's length.", "lang": "en"}]
    yield "oral", [media], md, {"transcript": vtt}


def _speak_with_transcript(lines: list[str], work: Path) -> tuple[Path, Path]:
    """Speak each line with espeak-ng (Cantonese), join them with short pauses into one M4A, and
    write the WebVTT transcript from the measured length of each spoken line."""
    import ffmpeg
    import webvtt

    from ingest.av.speech import speak_cantonese

    pause = 0.6
    parts, captions, t = [], [], 0.0
    for n, line in enumerate(lines):
        wav = work / f"line-{n}.wav"
        seconds = speak_cantonese(line, wav)
        parts.append(ffmpeg.input(str(wav)))
        captions.append(webvtt.Caption(_ts(t), _ts(t + seconds), f"<v 講者甲>{line}" if n % 2 == 0 else f"<v 講者乙>{line}"))
        t += seconds + pause
        parts.append(ffmpeg.input(f"anullsrc=r=22050:cl=mono", f="lavfi", t=pause))
    media = work / "oral-history.m4a"
    (ffmpeg.concat(*parts, v=0, a=1).output(str(media), acodec="aac", ar=22050, ac=1, audio_bitrate="64k")
     .overwrite_output().run(quiet=True))
    vtt = work / "oral-history.vtt"
    doc = webvtt.WebVTT()
    doc.captions.extend(captions)
    doc.save(str(vtt))
    return media, vtt


def _ts(seconds: float) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def _exhibit(repo: Repository, items: dict[str, int]) -> None:
    with repo.unit_of_work("demo") as uow:
        s = uow.session
        if s.scalar(select(Exhibit).where(Exhibit.slug == "everyday-cantonese")):
            return
        inst = s.scalar(select(Institution).where(Institution.slug == "central-demo"))
        ex = Exhibit(slug="everyday-cantonese", title="粵語日常：由語料到紙本",
                     labels={"zh-Hant": "粵語日常：由語料到紙本", "zh-Hans": "粤语日常：由语料到纸本",
                             "en": "Everyday Cantonese: from corpus to page"},
                     summary="一個示範展覽：香港粵語語料庫的對話，經排印、辨識、朗讀，成為可檢索的文獻。",
                     institution_id=inst.id if inst else None, published=True, featured=True)
        texts = [
            ("對話變成紙本", "HKCanCor 收錄九十年代香港電台節目及日常對話。呢度將對話排印成頁面，再由 **Tesseract** 辨識返文字。", "trad"),
            ("簡體排印", "同一語料以簡體字排印：用繁體字搜尋亦搵得到。", "simp"),
            ("直排", "仿古籍直排版式，用直排模型辨識。", "vertical"),
            ("聽返段錄音", "以 espeak-ng 粵語合成的錄音，逐句時間碼逐字稿，撳一句就跳到嗰度。", "oral"),
        ]
        for n, (heading, body, key) in enumerate(texts, start=1):
            ex.sections.append(ExhibitSection(n=n, heading=heading, body=body, item_id=items.get(key),
                                              page_n=1 if key != "oral" else None, caption=heading))
        s.add(ex)
        s.flush()
        first = s.get(Item, items.get("trad")) if items.get("trad") else None
        if first is not None and first.pages:
            ex.cover_page_id = first.pages[0].id


def _remove_demo(repo: Repository) -> Iterator[str]:
    with repo.unit_of_work("demo") as uow:
        s = uow.session
        ex = s.scalar(select(Exhibit).where(Exhibit.slug == "everyday-cantonese"))
        if ex:
            s.delete(ex)
        for slug in (DEMO_COLLECTION, DEMO_ORAL):
            coll = s.scalar(select(Collection).where(Collection.slug == slug))
            if coll is None:
                continue
            for item in list(coll.items):
                uow.reindex(item.id, action="delete")
                s.delete(item)
            s.flush()
            s.delete(coll)
    yield "demo: previous demo removed"
