"""Search documents built from repository rows, at two levels.

* the **item** document: metadata + all its text, facet values, visibility flags — for result lists;
* **page** and **segment** documents: one per OCR page / transcript segment — to say *where* in an
  item the words are (page + word boxes, or start/end seconds).

Documents carry raw text; the backends analyse it with :mod:`search.analysis` (the same terms).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from repository.models import Item, ItemState, Segment
from search import analysis

#: Text fields of an item document (``all`` is everything; the others back field prefixes).
TEXT_FIELDS = ("all", "title", "creator", "subject", "place")
#: Sort key for items without a date (after every real year).
NO_DATE = 99999


@dataclass
class Document:
    id: str
    kind: str  # item | page | segment
    item_id: int
    ref: int = 0  # Page.id or Segment.id (primary keys: hit pages are loaded by key)
    texts: dict[str, str] = field(default_factory=dict)
    facets: dict[str, list[str]] = field(default_factory=dict)
    public: bool = False
    institution_id: int = -1
    year_from: int | None = None
    year_to: int | None = None
    title_sort: str = ""
    date_sort: int = NO_DATE
    start: float | None = None
    end: float | None = None

    def term_fields(self) -> dict[str, list[str]]:
        """Every indexed field as its list of terms (bigram, unigram and Jyutping fields with breaks)."""
        out: dict[str, list[str]] = {}
        for name, text in self.texts.items():
            out[name] = analysis.terms(text, "bigram")
            out[name + "_u"] = analysis.terms(text, "unigram")
        out["jp"] = analysis.jyutping_terms(self.texts.get("all", ""))
        return out


def _values(item: Item, element: str) -> list[str]:
    return [v["value"] for v in (item.metadata_ or {}).get(element, []) if v.get("value")]


def decades(year_from: int | None, year_to: int | None) -> list[str]:
    """Decade facet values an item's date range touches ("1920s" …), at most 30."""
    if year_from is None and year_to is None:
        return []
    a = year_from if year_from is not None else year_to
    b = year_to if year_to is not None else year_from
    return [f"{d}s" for d in range(a // 10 * 10, b + 1, 10)][:30]


def _segment_text(seg: Segment) -> str:
    return "\n".join(p for p in (seg.title, seg.text, seg.synopsis, " ".join(map(str, seg.keywords or []))) if p)


def documents_for(item: Item) -> list[Document]:
    """The item document followed by its page and segment documents."""
    institution = item.institution or (item.collection.institution if item.collection else None)
    metadata_text = "\n".join(
        v["value"] for values in (item.metadata_ or {}).values() for v in values if v.get("value")
    )
    page_texts = [p.text or "" for p in item.pages]
    seg_texts = [_segment_text(s) for s in item.segments]
    common = dict(
        item_id=item.id,
        public=item.state == ItemState.PUBLISHED.value and item.deleted_at is None,
        institution_id=item.institution_id if item.institution_id is not None else -1,
    )
    item_doc = Document(
        id=f"item-{item.id}", kind="item", **common,
        texts={
            "all": "\n".join([item.title, metadata_text, *page_texts, *seg_texts]),
            "title": "\n".join([item.title, *_values(item, "title")]),
            "creator": "\n".join(_values(item, "creator") + _values(item, "contributor")),
            "subject": "\n".join(_values(item, "subject")),
            "place": "\n".join(_values(item, "place")),
        },
        facets={
            "collection": [item.collection.slug] if item.collection else [],
            "institution": [institution.slug] if institution else [],
            "type": [item.type],
            "language": sorted(set(_values(item, "language"))),
            "decade": decades(item.year_from, item.year_to),
            "place": sorted(set(_values(item, "place"))),
            "subject": sorted(set(_values(item, "subject"))),
        },
        year_from=item.year_from if item.year_from is not None else item.year_to,
        year_to=item.year_to if item.year_to is not None else item.year_from,
        title_sort=analysis.normalise(item.title)[:200],
        date_sort=item.year_from if item.year_from is not None else (item.year_to or NO_DATE),
    )
    docs = [item_doc]
    for page, text in zip(item.pages, page_texts):
        if text.strip():
            docs.append(Document(id=f"page-{item.id}-{page.n}", kind="page", ref=page.id, texts={"all": text}, **common))
    for seg, text in zip(item.segments, seg_texts):
        if text.strip():
            docs.append(Document(id=f"segment-{item.id}-{seg.id}", kind="segment", ref=seg.id, texts={"all": text},
                                 start=seg.start, end=seg.end, **common))
    return docs


def _load(session: Session, ids: Iterable[int]):
    return session.scalars(
        select(Item).where(Item.id.in_(list(ids))).options(
            selectinload(Item.pages), selectinload(Item.segments),
            selectinload(Item.collection), selectinload(Item.institution),
        )
    ).all()


def load_documents(session: Session, item_ids: Iterable[int]) -> dict[int, list[Document]]:
    """Documents of the given items that still exist (missing ids are absent: delete them)."""
    return {item.id: documents_for(item) for item in _load(session, item_ids)}


def iter_all(session: Session, batch: int = 200) -> Iterator[list[Document]]:
    """Documents of every item, one list per item, loading ``batch`` items at a time."""
    ids = session.scalars(select(Item.id).order_by(Item.id)).all()
    for k in range(0, len(ids), batch):
        for item in _load(session, ids[k:k + batch]):
            yield documents_for(item)
        session.expunge_all()


def count_items(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(Item)) or 0
