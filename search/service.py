"""Search as the rest of the product sees it: ``search``, ``rebuild``, and the backend from settings.

Both backends answer the same :mod:`search.query` tree with item ids, scores and facet counts;
snippets (``<mark>``, everything else escaped) and hits (page + word boxes, or start/end seconds)
are then built here from repository rows, identically for both.
"""
from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Callable

import json

from sqlalchemy import Text, delete, func, select, type_coerce

from config import InvalidInput
from repository import Repository
from repository.access import Viewer, can_view
from repository.models import IndexTask, Item, Page, Segment
from search import analysis
from search.backend import FACETS, SORTS, SearchBackend, SearchRequest, Visibility
from search.query import parse, positive_text

MAX_PER_PAGE = 100
MAX_WINDOW = 10_000  # deepest result reachable by paging (Elasticsearch's max_result_window)
#: hit pages/segments per result item: a result list shows the first few (``hits_per_item``) and
#: every item's count of matching ones (``hits_total``); the rest are found by searching within the
#: item (IIIF Content Search, the item page). Rows are read, matched and boxed only for those returned.
DEFAULT_HITS_PER_ITEM = 3
MAX_HITS_PER_ITEM = 50
#: pages/segments looked at for hits per result page (in result order): bounds the work of a request
MAX_SUBHITS = 500

log = logging.getLogger("heritage.search")
#: what results (and can_view) read of an item, and page_hits and snippets of a page: plain rows
#: (ORM objects cost more than the rest of the work on them)
ITEM_COLUMNS = (Item.id, Item.title, Item.type, Item.metadata_, Item.state, Item.deleted_at, Item.institution_id)
#: ``words`` as the stored JSON text (decoded in page_hits only when not empty; a driver that
#: decodes JSON itself hands over the list, which page_hits takes as it is)
PAGE_COLUMNS = (Page.id, Page.item_id, Page.n, Page.text, type_coerce(Page.words, Text).label("words"),
                Page.width, Page.height)
_NO_WORDS = frozenset({"", "[]", "null"})
_backends: "weakref.WeakKeyDictionary[Repository, SearchBackend]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def backend_for(repo: Repository) -> SearchBackend:
    """The configured backend of this repository (one instance per repository object)."""
    with _lock:
        backend = _backends.get(repo)
        if backend is None:
            s = repo.settings
            if s.search == "elasticsearch":
                from search.elasticsearch_backend import ElasticsearchBackend

                backend = ElasticsearchBackend(s.elasticsearch_url, s.elasticsearch_index)
            else:
                from search.whoosh_backend import WhooshBackend

                backend = WhooshBackend(s.whoosh_dir)
            _backends[repo] = backend
        return backend


def _check_filters(filters: dict[str, list[str]] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, values in (filters or {}).items():
        if name not in FACETS:
            raise InvalidInput(f"unknown filter {name!r}; use one of {', '.join(FACETS)}", field=name)
        if isinstance(values, str):
            values = [values]
        clean = [str(v).strip() for v in values if str(v).strip()]
        if any(len(v) > 500 for v in clean):
            raise InvalidInput(f"{name}: a filter value is too long", field=name)
        if clean:
            out[name] = clean
    return out


def search(repo: Repository, q: str, *, filters: dict[str, list[str]] | None = None, sort: str = "relevance",
           page: int = 1, per_page: int = 20, hits_per_item: int = DEFAULT_HITS_PER_ITEM,
           viewer: Viewer) -> dict[str, Any]:
    """Search items visible to ``viewer``; returns the DESIGN search JSON shape.

    Raises :class:`InvalidInput` for a malformed query or parameter and :class:`Unavailable`
    when the backend cannot be reached.
    """
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}, got {sort!r}", field="sort")
    if not isinstance(page, int) or page < 1:
        raise InvalidInput("page must be a whole number from 1", field="page")
    if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}", field="per_page")
    if isinstance(hits_per_item, bool) or not isinstance(hits_per_item, int) \
            or not 0 <= hits_per_item <= MAX_HITS_PER_ITEM:
        raise InvalidInput(f"hits_per_item must be a whole number between 0 and {MAX_HITS_PER_ITEM}",
                           field="hits_per_item")
    if page * per_page > MAX_WINDOW:
        raise InvalidInput(f"results beyond the first {MAX_WINDOW} cannot be paged to; narrow the search",
                           field="page")
    parsed = parse(q)
    backend = backend_for(repo)
    # one backend search: the result items and, for those, which pages/segments hold the words
    result = backend.search(SearchRequest(parsed.root, Visibility.of(viewer), _check_filters(filters), sort,
                                          (page - 1) * per_page, per_page,
                                          hits_for=tuple(positive_text(parsed.root)) if parsed.positive else (),
                                          hits_per_item=hits_per_item))
    ids = [i for i, _ in result.items]
    subs = result.subhits[:MAX_SUBHITS]
    matcher = parsed.matcher
    out: list[dict[str, Any]] = []
    with repo.session() as s:
        items = {it.id: it for it in s.execute(select(*ITEM_COLUMNS).where(Item.id.in_(ids)))} if ids else {}
        # by primary key: exactly the matched rows, one cached statement; a row must still belong
        # to the item the index says (the index may be a moment behind the database)
        pages_wanted = {(h.item_id, h.ref) for h in subs if h.kind == "page"}
        segs_wanted = {(h.item_id, h.ref) for h in subs if h.kind == "segment"}
        pages: dict[int, list[Any]] = {}
        if pages_wanted:
            for p in s.execute(select(*PAGE_COLUMNS).where(Page.id.in_({r for _, r in pages_wanted}))
                               .order_by(Page.n)):
                if (p.item_id, p.id) in pages_wanted:
                    pages.setdefault(p.item_id, []).append(p)
        segs: dict[int, list[Segment]] = {}
        if segs_wanted:
            for sg in s.scalars(select(Segment).where(Segment.id.in_({r for _, r in segs_wanted}))
                                .order_by(Segment.start)):
                if (sg.item_id, sg.id) in segs_wanted:
                    segs.setdefault(sg.item_id, []).append(sg)
        for item_id, score in result.items:
            item = items.get(item_id)
            if item is None or not can_view(item, viewer):
                continue  # the index is a moment behind the database: never show what may not be seen
            out.append(_result(item, score, matcher, pages.get(item_id, []), segs.get(item_id, []),
                               result.subhit_totals.get(item_id, 0)))
    return {
        "total": result.total,
        "results": out,
        "facets": {name: [[v, c] for v, c in result.facets.get(name, [])] for name in FACETS},
        "page": page,
        "per_page": per_page,
        "sort": sort,
        "query": parsed.text,
        "backend": backend.name,
    }


def _result(item: Any, score: float, matcher: analysis.Matcher, pages: list[Any],
            segs: list[Segment], hits_total: int) -> dict[str, Any]:
    snippets: list[str] = []
    hits: list[dict[str, Any]] = []
    if matcher:
        title_spans = matcher.find(item.title)
        if title_spans:
            snippets += analysis.highlight(item.title, title_spans, max_snippets=1)
        for p in pages:
            boxes, spans = page_hits(p, matcher)
            hits += [{"page": p.n, "xywh": b} for b in boxes]
            if spans and len(snippets) < 3:
                snippets += analysis.highlight(p.text, spans, max_snippets=1)
        for sg in segs:
            spans = matcher.find(sg.text or "")
            if spans or matcher.find(sg.title or ""):
                hits.append({"start": sg.start, "end": sg.end})
                if spans and len(snippets) < 3:
                    snippets += analysis.highlight(sg.text, spans, max_snippets=1)
        if not snippets:
            for values in (item.metadata_ or {}).values():
                for v in values:
                    spans = matcher.find(v.get("value") or "")
                    if spans and len(snippets) < 2:
                        snippets += analysis.highlight(v["value"], spans, max_snippets=1)
    return {"id": item.id, "title": item.title, "score": round(float(score), 4), "snippets": snippets[:3],
            "hits": hits, "hits_total": hits_total, "type": item.type}


def _words_text(words: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The page text rebuilt from OCR words, and each word's span in it."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    prev = ""
    for w in words:
        t = str(w.get("text") or "")
        sep = "" if not prev or not t or (analysis.is_han(prev[-1]) and analysis.is_han(t[0])) else " "
        pos += len(sep)
        parts.append(sep + t)
        spans.append((pos, pos + len(t)))
        pos += len(t)
        prev = t or prev
    return "".join(parts), spans


def page_hits(page: Any, query: str | analysis.Matcher) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Boxes ([x, y, w, h] in page-image pixels, one per matched line) for ``query`` (a query
    string or a parsed query's matcher) on a page (a :class:`Page` or a row of PAGE_COLUMNS), and the matched spans in ``page.text`` (for snippets)."""
    matcher = analysis.matcher(query) if isinstance(query, str) else query
    text_spans = matcher.find(page.text or "")
    words = page.words or []
    if isinstance(words, str):  # a PAGE_COLUMNS row: the stored JSON text
        words = [] if words in _NO_WORDS else json.loads(words)
    boxes: list[list[int]] = []
    if words:
        text, word_spans = _words_text(words)
        for s, e in matcher.find(text):
            by_line: dict[Any, list[list[int]]] = {}
            for w, (ws, we) in zip(words, word_spans):
                if ws < e and we > s and w.get("xywh"):
                    by_line.setdefault(w.get("line", 0), []).append(w["xywh"])
            for rects in by_line.values():
                x0 = min(r[0] for r in rects)
                y0 = min(r[1] for r in rects)
                x1 = max(r[0] + r[2] for r in rects)
                y1 = max(r[1] + r[3] for r in rects)
                boxes.append([int(x0), int(y0), int(x1 - x0), int(y1 - y0)])
    elif text_spans:
        boxes.append([0, 0, int(page.width or 0), int(page.height or 0)])  # no word boxes: the whole page
    return boxes, text_spans


def rebuild(repo: Repository, progress: Callable[[int], None] | None = None) -> int:
    """Reindex every item into a fresh index and swap it in; returns the number of items.

    Outbox tasks older than the rebuild are covered by it and removed.
    """
    from search.documents import iter_all

    backend = backend_for(repo)
    with repo.session() as s:
        last_task = s.scalar(select(func.max(IndexTask.id))) or 0
    with repo.session() as s:
        n = backend.rebuild(iter_all(s), progress)
    with repo.db.transaction() as s:
        s.execute(delete(IndexTask).where(IndexTask.id <= last_task))
    return n


def rebuild_if_outdated(repo: Repository) -> bool:
    """Rebuild the index (with the usual swap: searches keep working meanwhile) when an older
    version of the product built it; True if it did. The outbox drain calls this first, so after an
    upgrade the worker brings the index up to date by itself (``heritage reindex`` also does)."""
    if not backend_for(repo).outdated():
        return False
    log.warning("the search index was built by an older version: rebuilding it")
    n = rebuild(repo)
    log.warning("search index rebuilt (%d items)", n)
    return True


def total_items(repo: Repository) -> int:
    with repo.session() as s:
        return s.scalar(select(func.count()).select_from(Item)) or 0


def health(repo: Repository) -> dict:
    """The backend's health (never raises)."""
    return backend_for(repo).health()
