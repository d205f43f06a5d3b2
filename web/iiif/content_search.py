"""IIIF Content Search 1.0 (what Mirador 3 speaks) and 2.0 over one item.

``/iiif/search/<item-id>?q=`` answers 1.0 (an ``sc:AnnotationList`` with ``hits``), or 2.0 when
the client asks with ``Accept: application/ld+json;profile="http://iiif.io/api/search/2/context.json"``;
``/iiif/search/<item-id>/2?q=`` always answers 2.0 (the SearchService2 id in manifests).
OCR hits target ``canvas#xywh=`` (one box per line a match touches, from Page.words); transcript
hits target ``canvas#t=start,end`` (Segments). Matching is the main search's Chinese analysis
(:func:`search.analysis.find_matches`: traditional ⇄ simplified, width, case).
"""
from __future__ import annotations

from flask_babel import gettext as _

import re
from html import escape
from dataclasses import dataclass
from typing import Any

from flask import g, request
from flask import json as fjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import InvalidInput
from repository.access import require_view
from repository.models import Item, Page
from web.iiif.blueprint import base_url, bp, repo
from web.iiif.presentation import AV_TYPES, json_response, manifest_url

CONTEXT_1 = "http://iiif.io/api/search/1/context.json"
CONTEXT_2 = "http://iiif.io/api/search/2/context.json"
MAX_QUERY = 200
MAX_HITS = 1000
CONTEXT_CHARS = 20
#: whitespace between two non-ASCII characters (a line break inside Chinese text is no word break)
_HAN_GAP = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])")


def find_matches(text: str, query: str) -> list[tuple[int, int]]:
    """Spans of ``query`` in ``text`` using the shared search analysis."""
    try:
        from search.analysis import find_matches as shared
    except ImportError:  # pragma: no cover - only before the search package lands
        shared = _fallback_matches
    return shared(text, query)


def _fallback_matches(text: str, query: str) -> list[tuple[int, int]]:
    from opencc import OpenCC

    t2s = OpenCC("t2s")
    fold = lambda s: "".join(c if len(t2s.convert(c)) != 1 else t2s.convert(c) for c in s.lower())  # noqa: E731
    hay, out = fold(text), []
    for part in query.split():
        needle = fold(part)
        start = hay.find(needle)
        while needle and start >= 0:
            out.append((start, start + len(needle)))
            start = hay.find(needle, start + 1)
    return sorted(out)


def _is_latin(s: str) -> bool:
    return bool(s) and s[0].isascii() and s[0].isalnum()


@dataclass
class Hit:
    canvas: str
    match: str
    before: str
    after: str
    targets: list[str]  # fragment selectors: "xywh=x,y,w,h" or "t=s,e"


def page_hits(words: list[dict[str, Any]], query: str) -> list[tuple[str, str, str, list[list[int]]]]:
    """Matches of ``query`` in a page's words: (match, before, after, boxes, one per line touched)."""
    text = ""
    spans: list[tuple[int, int, int]] = []  # (start, end, word index)
    for i, w in enumerate(words):
        t = str(w.get("text", ""))
        if not t:
            continue
        if text and (_is_latin(t) or _is_latin(text[-1])) and not text.endswith(" "):
            text += " "
        spans.append((len(text), len(text) + len(t), i))
        text += t
    out = []
    for s, e in find_matches(text, query):
        touched = [words[i] for ws, we, i in spans if ws < e and we > s]
        lines: dict[Any, list[int]] = {}
        for w in touched:
            x, y, bw, bh = (int(v) for v in w["xywh"])
            key = w.get("line", 0)
            if key in lines:
                lx, ly, lx2, ly2 = lines[key]
                lines[key] = [min(lx, x), min(ly, y), max(lx2, x + bw), max(ly2, y + bh)]
            else:
                lines[key] = [x, y, x + bw, y + bh]
        boxes = [[x, y, x2 - x, y2 - y] for x, y, x2, y2 in lines.values()]
        out.append((text[s:e], text[max(0, s - CONTEXT_CHARS):s], text[e:e + CONTEXT_CHARS], boxes))
    return out


def item_hits(session: Session, item: Item, query: str) -> list[Hit]:
    """Every hit of ``query`` in ``item``'s OCR words and transcript, in reading order (at most
    :data:`MAX_HITS`). Word boxes are loaded only for pages whose text matches."""
    mid = manifest_url(item.id)
    hits: list[Hit] = []
    if item.type in AV_TYPES:
        for seg in item.segments:
            if seg.kind != "transcript" or not seg.text:
                continue
            for s, e in find_matches(seg.text, query):
                hits.append(Hit(f"{mid}/canvas/1", seg.text[s:e], seg.text[max(0, s - CONTEXT_CHARS):s],
                                seg.text[e:e + CONTEXT_CHARS], [f"t={seg.start:g},{seg.end:g}"]))
        return hits[:MAX_HITS]
    pages = session.execute(select(Page.id, Page.n, Page.text).where(Page.item_id == item.id)
                            .order_by(Page.n)).all()
    for page_id, n, text in pages:
        # a match in the words needs a match in the page text (the words joined); skip the rest
        if text and not find_matches(_HAN_GAP.sub("", text), query):
            continue
        words = session.scalar(select(Page.words).where(Page.id == page_id)) or []
        for match, before, after, boxes in page_hits(words, query):
            hits.append(Hit(f"{mid}/canvas/{n}", match, before, after,
                            [f"xywh={x},{y},{w},{h}" for x, y, w, h in boxes]))
        if len(hits) >= MAX_HITS:
            break
    return hits[:MAX_HITS]


def _query() -> str:
    q = (request.args.get("q") or "").strip()
    if not q:
        raise InvalidInput(_("add a search term: ?q=…"))
    if len(q) > MAX_QUERY:
        raise InvalidInput(_("the search term is longer than %(MAX_QUERY)s characters", MAX_QUERY=MAX_QUERY))
    return q


def _ignored() -> list[str]:
    return [p for p in ("motivation", "date", "user") if p in request.args]


def search_v1(session: Session, item: Item, q: str) -> dict[str, Any]:
    """A Content Search 1.0 AnnotationList with hits."""
    resources, hit_docs = [], []
    for n, hit in enumerate(item_hits(session, item, q)):
        ids = []
        for k, target in enumerate(hit.targets):
            aid = f"{base_url()}/iiif/search/{item.id}/anno/{n}-{k}"
            ids.append(aid)
            resources.append({"@id": aid, "@type": "oa:Annotation", "motivation": "sc:painting",
                              "resource": {"@type": "cnt:ContentAsText", "chars": escape(hit.match)},
                              "on": f"{hit.canvas}#{target}"})
        # Mirador shows these as HTML: OCR/transcript text is escaped so it stays text
        hit_docs.append({"@type": "search:Hit", "annotations": ids, "match": escape(hit.match),
                         "before": escape(hit.before), "after": escape(hit.after)})
    within = {"@type": "sc:Layer", "total": len(hit_docs)}
    if _ignored():
        within["ignored"] = _ignored()
    return {"@context": ["http://iiif.io/api/presentation/2/context.json", CONTEXT_1],
            "@id": request.url, "@type": "sc:AnnotationList", "within": within,
            "resources": resources, "hits": hit_docs}


def search_v2(session: Session, item: Item, q: str) -> dict[str, Any]:
    """A Content Search 2.0 AnnotationPage: highlighting annotations + contextualizing hits."""
    mid = manifest_url(item.id)
    items, context = [], []
    for n, hit in enumerate(item_hits(session, item, q)):
        for k, target in enumerate(hit.targets):
            aid = f"{base_url()}/iiif/search/{item.id}/2/anno/{n}-{k}"
            items.append({
                "id": aid, "type": "Annotation", "motivation": "highlighting",
                "body": {"type": "TextualBody", "value": hit.match, "format": "text/plain"},
                "target": {"type": "SpecificResource",
                           "source": {"id": hit.canvas, "type": "Canvas",
                                      "partOf": [{"id": mid, "type": "Manifest"}]},
                           "selector": {"type": "FragmentSelector",
                                        "conformsTo": "http://www.w3.org/TR/media-frags/", "value": target}},
            })
            context.append({
                "id": f"{aid}/context", "type": "Annotation", "motivation": "contextualizing",
                "target": {"type": "SpecificResource", "source": aid,
                           "selector": [{"type": "TextQuoteSelector", "prefix": hit.before,
                                         "exact": hit.match, "suffix": hit.after}]},
            })
    doc: dict[str, Any] = {"@context": CONTEXT_2, "id": request.url, "type": "AnnotationPage", "items": items}
    if context:
        doc["annotations"] = [{"type": "AnnotationPage", "items": context}]
    if _ignored():
        doc["ignored"] = _ignored()
    return doc


def _answer(item_id: int, version: int):
    q = _query()
    with repo().session() as s:
        item = require_view(s.get(Item, item_id), g.viewer)
        doc = search_v2(s, item, q) if version == 2 else search_v1(s, item, q)
        return json_response(fjson.dumps(doc, ensure_ascii=False), public=item.is_public,
                             context=CONTEXT_2 if version == 2 else CONTEXT_1)


@bp.get("/search/<int:item_id>")
def search(item_id: int):
    """Content Search 1.0, or 2.0 when the Accept header asks for the 2.0 profile."""
    version = 2 if CONTEXT_2 in request.headers.get("Accept", "") else 1
    return _answer(item_id, version)


@bp.get("/search/<int:item_id>/2")
def search2(item_id: int):
    """Content Search 2.0."""
    return _answer(item_id, 2)
