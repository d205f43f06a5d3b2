"""The SearchBackend interface both engines implement, and the shapes they exchange.

Backends index :class:`search.documents.Document` objects (already analysed by
:mod:`search.analysis`) and answer compiled :mod:`search.query` trees. With the result items they
return which pages/segments of each hold the query's words (:class:`SubHit`); snippets and hit
boxes are then built from repository rows (:mod:`search.service`), identically for both engines.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterable

from repository.access import Viewer
from search.documents import Document
from search.query import Node, Text

#: Facet names, in display order, and the document field behind each.
FACETS = ("collection", "institution", "type", "language", "decade", "place", "subject")
SORTS = ("relevance", "date", "title")


@dataclass(frozen=True)
class Visibility:
    """Which items a viewer may find (mirrors :func:`repository.access.visible_filter`)."""

    everything: bool = False
    institution_id: int | None = None  # staff: published items plus all of this institution's

    @classmethod
    def of(cls, viewer: Viewer) -> "Visibility":
        if viewer.is_admin:
            return cls(everything=True)
        if viewer.is_staff:
            return cls(institution_id=viewer.institution_id if viewer.institution_id is not None else -1)
        return cls()


@dataclass
class SearchRequest:
    root: Node
    visibility: Visibility
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    offset: int = 0
    limit: int = 20
    facets: bool = True
    #: free-text words/phrases whose pages and segments are wanted with each result item
    hits_for: tuple[Text, ...] = ()
    #: at most this many pages/segments per result item (the first by kind and id); how many
    #: match in all is counted regardless (BackendResult.subhit_totals)
    hits_per_item: int = 3


@dataclass
class BackendResult:
    total: int
    items: list[tuple[int, float]]  # (item id, score) in result order
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    took_ms: float | None = None  # the engine's own time, when it reports one
    subhits: list["SubHit"] = field(default_factory=list)  # see SearchRequest.hits_for
    #: item id -> how many of its pages/segments match ``hits_for`` (all, not only those in subhits)
    subhit_totals: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SubHit:
    """A page or segment document that matched: where inside an item the words are."""

    item_id: int
    kind: str  # "page" | "segment"
    ref: int  # Page.id or Segment.id


class SearchBackend(ABC):
    """What every search engine offers the product."""

    name: str = "?"

    @abstractmethod
    def index(self, docs: Iterable[Document]) -> None:
        """Write documents (replacing any with the same id)."""

    def replace_items(self, item_ids: Iterable[int], docs: Iterable[Document]) -> None:
        """Make ``docs`` the only documents of ``item_ids`` (default: delete then index)."""
        ids = list(item_ids)
        self.delete_items(ids)
        self.index(docs)

    @abstractmethod
    def delete_items(self, item_ids: Iterable[int]) -> None:
        """Remove every document (item, pages, segments) of these items."""

    @abstractmethod
    def search(self, request: SearchRequest) -> BackendResult:
        """Item-level results with facet counts, visibility enforced inside the engine query, and
        the matching pages/segments of the result items (``request.hits_for``)."""

    @abstractmethod
    def count(self) -> int:
        """Number of item documents in the index."""

    @abstractmethod
    def health(self) -> dict:
        """{"ok": bool, "backend": name, ...}; never raises."""

    @abstractmethod
    def rebuild(self, docs: Iterable[list[Document]], progress: Callable[[int], None] | None = None) -> int:
        """Build a fresh index from batches of documents (one batch per item) and swap it in
        without downtime; returns the number of items indexed."""

    def outdated(self) -> bool:
        """True when the index was built by an older version of the product (different fields or
        analysis) and must be rebuilt (:func:`search.service.rebuild_if_outdated`)."""
        return False

    def close(self) -> None:
        """Release resources."""
