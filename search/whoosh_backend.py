"""The embedded default: a Whoosh index in the data directory (no service to run).

Text fields are analysed by :class:`HeritageTokenizer` / :class:`JyutpingTokenizer`, thin Whoosh
tokenizers over :mod:`search.analysis`, so Whoosh indexes exactly the terms Elasticsearch gets.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from whoosh import columns, fields, index, query as wq, sorting, writing
from whoosh.analysis import RegexTokenizer, Token, Tokenizer
from whoosh.index import LockError

from config import Unavailable
from search import analysis
from search.backend import FACETS, BackendResult, SearchBackend, SearchRequest, SubHit
from search.documents import TEXT_FIELDS, Document
from search.query import And, MatchAll, Node, Not, Or, Text, YearRange, positive_text  # noqa: F401

T = TypeVar("T")


class HeritageTokenizer(Tokenizer):
    """Han bigrams (or unigrams) and words, exactly as :func:`search.analysis.tokens` cuts them."""

    def __init__(self, mode: str = "bigram"):
        self.mode = mode

    def __eq__(self, other):
        return isinstance(other, HeritageTokenizer) and other.mode == self.mode

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for tok in analysis.tokens(value, self.mode):
            t.text = tok.text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[tok.start:tok.end]
            if positions:
                t.pos = start_pos + tok.pos
            if chars:
                t.startchar, t.endchar = start_char + tok.start, start_char + tok.end
            yield t


class JyutpingTokenizer(Tokenizer):
    """Toneless Jyutping syllables of the Han characters (廣州 → gwong, zau), with a gap in the
    positions between runs of Han characters (:func:`search.analysis.jyutping_terms`)."""

    def __eq__(self, other):
        return isinstance(other, JyutpingTokenizer)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for i, syl in enumerate(analysis.jyutping_terms(value)):
            if syl == analysis.JYUTPING_BREAK:
                continue  # a gap in the positions: a phrase cannot match across it
            t.text, t.boost, t.stopped = syl, 1.0, False
            if positions:
                t.pos = start_pos + i
            if chars:
                t.startchar = t.endchar = start_char
            yield t


class FacetListColumn(columns.VarBytesListColumn):
    """Whoosh 2.7.4's list columns lack the default value that a multi-segment reader asks for
    when one segment has no such column (e.g. a segment written by a concurrent commit holding
    only documents without that facet): searching then fails with an AttributeError. A document
    without the facet has no values: the empty list."""

    _default: list = []  # noqa: RUF012 - read-only shared default


class FacetField(fields.KEYWORD):
    """Multi-valued exact values (values may contain spaces and commas: joined by U+001F)."""

    def __init__(self):
        super().__init__(stored=False, lowercase=False, commas=False, scorable=False)
        self.analyzer = RegexTokenizer(r"[^\x1f]+")
        # a per-document list column: facet counting reads it for the matched documents only,
        # instead of Whoosh rebuilding a list for every document of the index on each search
        self.column_type = FacetListColumn()

    def to_column_value(self, value):
        return [v.encode("utf-8") for v in value.split(SEP) if v]


SEP = "\x1f"


def schema() -> fields.Schema:
    spec: dict[str, fields.FieldType] = dict(
        id=fields.ID(stored=True, unique=True),
        kind=fields.ID(stored=True),
        item_key=fields.ID(stored=True),
        ref=fields.STORED(),
        start=fields.STORED(),
        end=fields.STORED(),
        public=fields.ID(),
        institution=fields.ID(),
        year_from=fields.NUMERIC(int, bits=32, signed=True),
        year_to=fields.NUMERIC(int, bits=32, signed=True),
        date_sort=fields.NUMERIC(int, bits=32, signed=True, sortable=True),
        title_sort=fields.ID(sortable=True),
        item_num=fields.NUMERIC(int, bits=64, sortable=True, stored=True),
        jp=fields.TEXT(analyzer=JyutpingTokenizer(), phrase=True),
    )
    for name in TEXT_FIELDS:
        spec[name] = fields.TEXT(analyzer=HeritageTokenizer("bigram"), phrase=True)
        spec[name + "_u"] = fields.TEXT(analyzer=HeritageTokenizer("unigram"), phrase=False)
    for name in FACETS:
        spec["f_" + name] = FacetField()
    return fields.Schema(**spec)


def compile_query(node: Node) -> wq.Query:
    """A :mod:`search.query` tree as a Whoosh query."""
    if isinstance(node, MatchAll):
        return wq.Every()
    if isinstance(node, Text):
        alts = [wq.Term(f, t[0]) if len(t) == 1 else wq.Phrase(f, list(t), slop=1) for f, t in node.alternatives]
        return alts[0] if len(alts) == 1 else wq.Or(alts)
    if isinstance(node, YearRange):
        return wq.And([wq.NumericRange("year_from", None, node.end), wq.NumericRange("year_to", node.start, None)])
    if isinstance(node, And):
        return wq.And([compile_query(c) for c in node.children])
    if isinstance(node, Or):
        return wq.Or([compile_query(c) for c in node.children])
    if isinstance(node, Not):
        return wq.Not(compile_query(node.child))
    raise TypeError(node)


#: Version of the schema and of what its fields hold (2: Jyutping positions have gaps between runs
#: of Han characters), kept in a file next to the index; another one means an older product built
#: the index and it is rebuilt (:meth:`WhooshBackend.outdated`).
SCHEMA_VERSION = 2
VERSION_FILE = "heritage-schema"


class WhooshBackend(SearchBackend):
    name = "whoosh"

    def __init__(self, directory: Path, *, lock_timeout: float = 60.0):
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self._ix = None

    # ---- index management ------------------------------------------------------------------
    @property
    def ix(self):
        if self._ix is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            if index.exists_in(str(self.directory)):
                self._ix = index.open_dir(str(self.directory))
            else:
                try:
                    self._ix = index.create_in(str(self.directory), schema())
                    self._write_version()
                except LockError:  # another process is creating it
                    time.sleep(0.5)
                    self._ix = index.open_dir(str(self.directory))
        return self._ix

    def _write_version(self) -> None:
        (self.directory / VERSION_FILE).write_text(f"{SCHEMA_VERSION}\n")

    def outdated(self) -> bool:
        if not index.exists_in(str(self.directory)):
            return False  # created current on first use
        try:
            return (self.directory / VERSION_FILE).read_text().strip() != str(SCHEMA_VERSION)
        except FileNotFoundError:
            return True

    def _read(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(searcher)`` on the newest generation of the index.

        Whoosh has no reader snapshot across processes: between reading the newest table of
        contents and opening its files, another process's commit may replace that generation
        and delete its files (FileNotFoundError). The newer generation is then complete, so
        reading again sees it; a few attempts are plenty.
        """
        for attempt in range(5):
            try:
                with self.ix.searcher() as searcher:
                    return fn(searcher)
            except FileNotFoundError:
                if attempt == 4:
                    raise Unavailable("the search index is being rewritten; try again shortly") from None
                self.close()
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _writer(self, **kw):
        try:
            return self.ix.writer(timeout=self.lock_timeout, **kw)
        except LockError:
            raise Unavailable("the search index is busy (locked by another writer); try again shortly") from None

    @staticmethod
    def _fields(doc: Document) -> dict:
        out: dict = dict(
            id=doc.id, kind=doc.kind, item_key=str(doc.item_id), item_num=doc.item_id, ref=doc.ref,
            start=doc.start, end=doc.end, public="1" if doc.public else "0",
            institution=str(doc.institution_id),
        )
        for name, text in doc.texts.items():
            out[name] = text
            out[name + "_u"] = text
        if doc.kind == "item":
            out["jp"] = doc.texts.get("all", "")
            out["title_sort"] = doc.title_sort or "\uffff"
            out["date_sort"] = doc.date_sort
            if doc.year_from is not None:
                out["year_from"] = doc.year_from
                out["year_to"] = doc.year_to
            for name, values in doc.facets.items():
                if values:
                    out["f_" + name] = SEP.join(values)
        else:
            out["jp"] = doc.texts.get("all", "")
        return out

    def index(self, docs: Iterable[Document]) -> None:
        w = self._writer()
        try:
            for doc in docs:
                w.update_document(**self._fields(doc))
            w.commit()
        except BaseException:
            w.cancel()
            raise

    def replace_items(self, item_ids: Iterable[int], docs: Iterable[Document]) -> None:
        """Delete and re-add in one commit: readers see the old or the new documents, never none."""
        w = self._writer()
        try:
            for item_id in item_ids:
                w.delete_by_term("item_key", str(item_id))
            for doc in docs:
                w.add_document(**self._fields(doc))
            w.commit()
        except BaseException:
            w.cancel()
            raise

    def delete_items(self, item_ids: Iterable[int]) -> None:
        self.replace_items(item_ids, [])

    # ---- queries ---------------------------------------------------------------------------
    @staticmethod
    def _visibility(request: SearchRequest) -> wq.Query | None:
        v = request.visibility
        if v.everything:
            return None
        if v.institution_id is not None:
            return wq.Or([wq.Term("public", "1"), wq.Term("institution", str(v.institution_id))])
        return wq.Term("public", "1")

    def search(self, request: SearchRequest) -> BackendResult:
        t0 = time.perf_counter()
        filters: list[wq.Query] = [wq.Term("kind", "item")]
        vis = self._visibility(request)
        if vis is not None:
            filters.append(vis)
        for name, values in request.filters.items():
            if values:
                filters.append(wq.Or([wq.Term("f_" + name, v) for v in values]))
        q = compile_query(request.root)
        groupedby = {name: sorting.FieldFacet("f_" + name, allow_overlap=True, maptype=sorting.Count)
                     for name in FACETS} if request.facets else None
        sortedby = None
        if request.sort == "date":
            sortedby = [sorting.FieldFacet("date_sort"), sorting.FieldFacet("item_num")]
        elif request.sort == "title":
            sortedby = [sorting.FieldFacet("title_sort"), sorting.FieldFacet("item_num")]
        def run(s) -> tuple[int, list[tuple[int, float]], dict[str, list[tuple[str, int]]], list[SubHit],
                            dict[int, int]]:
            results = s.search(q, filter=wq.And(filters), limit=request.offset + request.limit,
                               sortedby=sortedby, groupedby=groupedby)
            items = [(int(hit["item_num"]), float(hit.score or 0.0) if sortedby is None else 0.0)
                     for hit in results[request.offset:request.offset + request.limit]]
            facets: dict[str, list[tuple[str, int]]] = {}
            if groupedby:
                for name in FACETS:
                    counts = results.groups(name)
                    facets[name] = sorted(((k.decode("utf-8") if isinstance(k, bytes) else str(k), int(c))
                                           for k, c in counts.items() if k is not None),
                                          key=lambda kv: (-kv[1], kv[0]))
            return len(results), items, facets, *self._locate(s, request, [i for i, _ in items])

        total, items, facets, subhits, totals = self._read(run)
        return BackendResult(total, items, facets, took_ms=(time.perf_counter() - t0) * 1000, subhits=subhits,
                             subhit_totals=totals)

    @staticmethod
    def _locate(s, request: SearchRequest, item_ids: list[int]) -> tuple[list[SubHit], dict[int, int]]:
        """The page and segment documents of ``item_ids`` matching ``request.hits_for``: per item
        the first ``hits_per_item`` by kind and id (as the Elasticsearch backend's inner hits), and
        how many match per item in all."""
        texts = [t for t in request.hits_for if t.field is None]
        if not texts or not item_ids:
            return [], {}
        q = wq.Or([compile_query(t) for t in texts])
        flt = wq.And([wq.Or([wq.Term("kind", "page"), wq.Term("kind", "segment")]),
                      wq.Or([wq.Term("item_key", str(i)) for i in item_ids])])
        per_item: dict[int, list[tuple[str, int]]] = {}
        for h in s.search(q, filter=flt, limit=None, scored=False):  # which parts, not how well
            per_item.setdefault(int(h["item_num"]), []).append((h["kind"], int(h["ref"])))
        subhits = [SubHit(i, kind, ref) for i in item_ids
                   for kind, ref in sorted(per_item.get(i, []))[:max(0, request.hits_per_item)]]
        return subhits, {i: len(parts) for i, parts in per_item.items()}

    def count(self) -> int:
        return self._read(lambda s: len(s.search(wq.Term("kind", "item"), limit=1)))

    def health(self) -> dict:
        try:
            return {"ok": True, "backend": self.name, "documents": self._read(lambda s: s.doc_count())}
        except Exception as exc:  # health never raises
            return {"ok": False, "backend": self.name, "error": str(exc)}

    def rebuild(self, docs: Iterable[list[Document]], progress: Callable[[int], None] | None = None) -> int:
        """Write every document into new segments and drop the old ones in the same commit
        (readers keep the old index until then: no downtime)."""
        w = self._writer(limitmb=256)
        n = 0
        try:
            for batch in docs:
                for doc in batch:
                    w.add_document(**self._fields(doc))
                n += 1
                if progress:
                    progress(1)
            w.commit(mergetype=writing.CLEAR)
        except BaseException:
            w.cancel()
            raise
        self._write_version()
        return n

    def close(self) -> None:
        if self._ix is not None:
            self._ix.close()
            self._ix = None
