"""The scale-out backend: a real Elasticsearch 8.x cluster through the official client.

* An **index template** (``<alias>-template`` for ``<alias>.v*``) holds settings and mappings; the
  product reads and writes through the **alias** (``settings.elasticsearch_index``), so
  :meth:`rebuild` fills a new index and swaps the alias with no downtime.
* One Elasticsearch document per item, its pages and transcript segments **nested** in it
  (``parts``): the result search returns the matching pages/segments of each result item with
  ``inner_hits``, so a search is one round trip. ``SCHEMA_VERSION`` (in the mapping's ``_meta``)
  says which layout an index has; an older index is rebuilt (:meth:`outdated`).
* Analysis: Elasticsearch gets the terms :mod:`search.analysis` produced (Han bigrams/unigrams,
  folded words, Jyutping) space-separated, indexed with the built-in ``whitespace`` analyzer. The
  integ-test-zip distribution has no analysis-common module (no ``cjk_width``/``cjk_bigram``), and
  sharing the Python analysis is what makes both backends return the same result sets.
* Every call retries connection failures and 429/5xx with exponential back-off, then raises
  :class:`config.Unavailable` (the outbox keeps its tasks; search answers 503).
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable, Iterable, Iterator

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from config import TooLarge, Unavailable
from search.backend import FACETS, BackendResult, SearchBackend, SearchRequest, SubHit
from search.documents import TEXT_FIELDS, Document
from search.query import And, MatchAll, Node, Not, Or, Text, YearRange

log = logging.getLogger("heritage.search")
TERM_FIELDS = [f for name in TEXT_FIELDS for f in (name, name + "_u")] + ["jp"]
#: term fields of the nested page/segment documents (``parts``)
PART_FIELDS = ["all", "all_u", "jp"]
FACET_SIZE = 100
RETRY_STATUSES = (429, 502, 503, 504)
#: Version of the mappings and of what the term fields hold; an index with another one (in the
#: mapping's ``_meta``) was built by an older product and is rebuilt (``outdated``). 2: pages and
#: segments are nested ``parts`` of their item (one search returns items and hit pages); the
#: Jyutping field has breaks between runs of Han characters.
SCHEMA_VERSION = 2
#: an item may have this many pages + segments (Elasticsearch's default limit is 10 000)
MAX_PARTS = 200_000


def mappings() -> dict[str, Any]:
    props: dict[str, Any] = {f: {"type": "text", "analyzer": "whitespace"} for f in TERM_FIELDS}
    props.update({
        "id": {"type": "keyword"}, "kind": {"type": "keyword"},
        "item_id": {"type": "integer"},
        "public": {"type": "boolean"}, "institution_id": {"type": "integer"},
        "year_from": {"type": "integer"}, "year_to": {"type": "integer"}, "date_sort": {"type": "integer"},
        "title_sort": {"type": "keyword"},
        # an item's pages and transcript segments, as nested documents: the result search finds
        # the matching ones of each result item with inner_hits, in the same request
        "parts": {"type": "nested", "properties": {
            "kind": {"type": "keyword"}, "ref": {"type": "integer"},
            **{f: {"type": "text", "analyzer": "whitespace"} for f in PART_FIELDS},
        }},
    })
    props.update({"f_" + name: {"type": "keyword"} for name in FACETS})
    return {"dynamic": "strict", "_meta": {"heritage_schema": SCHEMA_VERSION},
            "_source": {"excludes": TERM_FIELDS + [f"parts.{f}" for f in PART_FIELDS]}, "properties": props}


def compile_query(node: Node, prefix: str = "") -> dict[str, Any]:
    """A :mod:`search.query` tree as Elasticsearch query DSL (``prefix``: the nested path's, e.g. ``parts.``)."""
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Text):
        alts = [{"term": {prefix + f: t[0]}} if len(t) == 1 else {"match_phrase": {prefix + f: {"query": " ".join(t)}}}
                for f, t in node.alternatives]
        return alts[0] if len(alts) == 1 else {"bool": {"should": alts, "minimum_should_match": 1}}
    if isinstance(node, YearRange):
        return {"bool": {"filter": [{"range": {"year_from": {"lte": node.end}}},
                                    {"range": {"year_to": {"gte": node.start}}}]}}
    if isinstance(node, And):
        must = [compile_query(c, prefix) for c in node.children if not isinstance(c, Not)]
        must_not = [compile_query(c.child, prefix) for c in node.children if isinstance(c, Not)]
        return {"bool": {"must": must, "must_not": must_not}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_query(c, prefix) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.child, prefix)]}}
    raise TypeError(node)


#: bulk requests are cut at this many bytes (several small items go together, a big one alone)
MAX_BULK_BYTES = 16 * 1024 * 1024
_PRESSURE = re.compile(r"coordinating_and_primary_bytes=(\d+).*?coordinating_operation_bytes=(\d+), "
                       r"max_coordinating_bytes=(\d+)")


def _raise_if_too_big(exc: ApiError) -> None:
    """A 429 is "try again later" — except when the request alone is over the node's indexing
    memory limit (``indexing_pressure.memory.limit``, 10 % of the heap) with nothing else in
    flight: it will never fit, so say so instead of retrying for ever."""
    m = _PRESSURE.search(str(exc.body))
    if m and int(m.group(1)) == 0 and int(m.group(2)) > int(m.group(3)):
        size, limit = int(m.group(2)), int(m.group(3))
        raise TooLarge(f"the item's search document ({size / 2**20:.1f} MB) is larger than Elasticsearch "
                       f"takes in one request ({limit / 2**20:.1f} MB = indexing_pressure.memory.limit, "
                       f"10 % of the node's heap); give the nodes more heap")


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(self, url: str, alias: str, *, retries: int = 3, backoff: float = 0.2, timeout: float = 30.0):
        self.url = url
        self.alias = alias.lower()
        self.retries = retries
        self.backoff = backoff
        self.client = Elasticsearch(url, request_timeout=timeout, max_retries=0, retry_on_timeout=False)
        self._ready = False
        self._current = False  # the alias's index is known to have SCHEMA_VERSION
        self.last_took_ms = 0.0  # Elasticsearch's own time for the last result search (benchmarks)
        self.took_total_ms = 0.0  # sum of ``took`` over every search request made (benchmarks)
        self.searches = 0  # number of search requests made (benchmarks)

    # ---- plumbing --------------------------------------------------------------------------
    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` with retries and back-off; an unreachable cluster becomes :class:`Unavailable`."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except (TransportConnectionError, ConnectionTimeout) as exc:
                reason = f"cannot be reached ({type(exc).__name__})"
            except ApiError as exc:
                if exc.meta.status not in RETRY_STATUSES:
                    raise
                _raise_if_too_big(exc)
                reason = f"is overloaded or starting (HTTP {exc.meta.status})"
            except helpers.BulkIndexError:
                raise
            except TransportError as exc:
                reason = f"failed ({type(exc).__name__})"
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        log.warning("Elasticsearch at %s %s", self.url, reason)
        raise Unavailable(f"Search is temporarily unavailable: Elasticsearch at {self.url} {reason}. "
                          "Try again in a minute.")

    @property
    def template_name(self) -> str:
        return f"{self.alias}-template"

    def _put_template(self) -> None:
        self.client.indices.put_index_template(
            name=self.template_name, index_patterns=[f"{self.alias}.v*"], priority=200,
            template={"settings": {"number_of_shards": 1, "number_of_replicas": 0,
                                   "index": {"max_result_window": 10_000,
                                             "mapping": {"nested_objects": {"limit": MAX_PARTS}}}},
                      "mappings": mappings()},
        )

    def ensure_index(self) -> None:
        """Create the template and a first index behind the alias if there is none yet."""
        if self._ready:
            return

        def go():
            self._put_template()
            if not self.client.indices.exists_alias(name=self.alias):
                try:
                    self.client.indices.create(index=f"{self.alias}.v000001", aliases={self.alias: {}})
                except ApiError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise
        self._call(go)
        self._ready = True

    def outdated(self) -> bool:
        """True when the index behind the alias has other mappings than :data:`SCHEMA_VERSION`."""
        if self._current:
            return False

        def version():
            try:
                found = self.client.indices.get_mapping(index=self.alias)
            except NotFoundError:
                return None  # no index yet: ensure_index creates a current one
            return [(m.get("mappings", {}).get("_meta") or {}).get("heritage_schema") for m in found.values()]
        versions = self._call(version)
        if versions is not None and any(v != SCHEMA_VERSION for v in versions):
            return True
        self._current = True
        return False

    # ---- writes ----------------------------------------------------------------------------
    @staticmethod
    def _sources(docs: Iterable[Document]) -> Iterator[dict[str, Any]]:
        """One Elasticsearch document per item: the item document with its page and segment
        documents as nested ``parts`` (``docs`` lists each item document before its parts, as
        :func:`search.documents.documents_for` makes them)."""
        src: dict[str, Any] | None = None
        for doc in docs:
            if doc.kind == "item":
                if src is not None:
                    yield src
                src = {"id": doc.id, "kind": doc.kind, "item_id": doc.item_id, "public": doc.public,
                       "institution_id": doc.institution_id, "title_sort": doc.title_sort or "\uffff",
                       "date_sort": doc.date_sort, "year_from": doc.year_from, "year_to": doc.year_to,
                       "parts": []}
                for name, terms in doc.term_fields().items():
                    src[name] = " ".join(terms)
                for name, values in doc.facets.items():
                    src["f_" + name] = values
            else:
                if src is None or src["item_id"] != doc.item_id:
                    raise ValueError(f"{doc.id} does not follow its item document")
                part: dict[str, Any] = {"kind": doc.kind, "ref": doc.ref}
                for name, terms in doc.term_fields().items():
                    if name in PART_FIELDS:
                        part[name] = " ".join(terms)
                src["parts"].append(part)
        if src is not None:
            yield src

    def _actions(self, docs: Iterable[Document], index: str):
        for src in self._sources(docs):
            yield {"_op_type": "index", "_index": index, "_id": src["id"], "_source": src}

    def index(self, docs: Iterable[Document]) -> None:
        self.ensure_index()
        docs = list(docs)
        self._call(lambda: helpers.bulk(self.client, self._actions(docs, self.alias), chunk_size=200,
                                        max_chunk_bytes=MAX_BULK_BYTES, refresh=True))

    def replace_items(self, item_ids: Iterable[int], docs: Iterable[Document]) -> None:
        """Index the items' new documents (each item is one document with its pages and segments
        nested: replacing it replaces them all) and delete the items that have none any more."""
        self.ensure_index()
        ids = list(item_ids)
        docs = list(docs)
        gone = [f"item-{i}" for i in dict.fromkeys(ids) if i not in {d.item_id for d in docs}]

        def go():
            if docs:
                helpers.bulk(self.client, self._actions(docs, self.alias), chunk_size=200,
                             max_chunk_bytes=MAX_BULK_BYTES)
            if gone:  # an already missing document is fine (not_found): ignore those errors
                helpers.bulk(self.client, ({"_op_type": "delete", "_index": self.alias, "_id": d} for d in gone),
                             chunk_size=1000, raise_on_error=False)
            self.client.indices.refresh(index=self.alias)
        self._call(go)

    def delete_items(self, item_ids: Iterable[int]) -> None:
        self.replace_items(item_ids, [])

    # ---- queries ---------------------------------------------------------------------------
    @staticmethod
    def _visibility(request: SearchRequest) -> dict[str, Any] | None:
        v = request.visibility
        if v.everything:
            return None
        if v.institution_id is not None:
            return {"bool": {"should": [{"term": {"public": True}}, {"term": {"institution_id": v.institution_id}}],
                             "minimum_should_match": 1}}
        return {"term": {"public": True}}

    def search(self, request: SearchRequest) -> BackendResult:
        """One request: the result items (ids from ``_id``, no ``_source``), facet counts, and —
        through a nested query's ``inner_hits``, computed only for the returned items — which of
        their pages and segments match ``request.hits_for``."""
        self.ensure_index()
        filters: list[dict[str, Any]] = [{"term": {"kind": "item"}}]
        vis = self._visibility(request)
        if vis is not None:
            filters.append(vis)
        for name, values in request.filters.items():
            if values:
                filters.append({"terms": {"f_" + name: values}})
        query: dict[str, Any] = {"must": [compile_query(request.root)], "filter": filters}
        texts = [t for t in request.hits_for if t.field is None]
        if texts and request.limit > 0:  # also with hits_per_item 0: the totals are wanted
            # optional (must is there) and scoreless (score_mode none): it changes neither which
            # items match nor their order; it only names the matching parts of each returned item
            query["should"] = [{"nested": {
                "path": "parts", "score_mode": "none", "ignore_unmapped": True,
                "query": {"constant_score": {"filter": compile_query(Or(tuple(texts)), "parts.")}},
                "inner_hits": {"name": "parts", "size": max(0, request.hits_per_item), "_source": False,
                               "docvalue_fields": ["parts.kind", "parts.ref"],
                               "sort": [{"parts.kind": "asc"}, {"parts.ref": "asc"}]},
            }}]
        body: dict[str, Any] = {
            "query": {"bool": query},
            "from": request.offset, "size": request.limit, "track_total_hits": True, "_source": False,
        }
        if request.facets:
            body["aggs"] = {name: {"terms": {"field": "f_" + name, "size": FACET_SIZE}} for name in FACETS}
        if request.sort == "date":
            body["sort"] = [{"date_sort": "asc"}, {"item_id": "asc"}]
        elif request.sort == "title":
            body["sort"] = [{"title_sort": "asc"}, {"item_id": "asc"}]
        # only what is read below: Elasticsearch serialises, and the client parses, far less JSON
        body["filter_path"] = ["took", "hits.total.value", "hits.hits._id", "hits.hits._score",
                               "hits.hits.inner_hits.parts.hits.hits.fields",
                               "hits.hits.inner_hits.parts.hits.total.value", "aggregations.*.buckets.key",
                               "aggregations.*.buckets.doc_count"]
        resp = self._call(lambda: self.client.search(index=self.alias, **body))
        items: list[tuple[int, float]] = []
        subhits: list[SubHit] = []
        totals: dict[int, int] = {}
        for h in resp["hits"].get("hits", []):  # absent (filtered out) when there are none
            item_id = int(h["_id"].removeprefix("item-"))
            items.append((item_id, float(h["_score"] or 0.0)))
            parts = h.get("inner_hits", {}).get("parts", {}).get("hits", {})
            if parts.get("total"):
                totals[item_id] = int(parts["total"]["value"])  # inner hits count every match exactly
            for part in parts.get("hits", []):
                f = part["fields"]
                subhits.append(SubHit(item_id, f["parts.kind"][0], int(f["parts.ref"][0])))
        facets = {name: [(b["key"], int(b["doc_count"])) for b in resp.get("aggregations", {}).get(name, {})
                         .get("buckets", [])] for name in FACETS} if request.facets else {}
        self.last_took_ms = float(resp["took"])
        self.took_total_ms += self.last_took_ms
        self.searches += 1
        return BackendResult(int(resp["hits"]["total"]["value"]), items, facets, took_ms=self.last_took_ms,
                             subhits=subhits, subhit_totals=totals)

    def count(self) -> int:
        self.ensure_index()
        return int(self._call(lambda: self.client.count(index=self.alias, query={"term": {"kind": "item"}}))["count"])

    def health(self) -> dict:
        try:
            h = self.client.options(request_timeout=5).cluster.health()
            return {"ok": h["status"] in ("green", "yellow"), "backend": self.name, "status": h["status"],
                    "url": self.url, "alias": self.alias}
        except Exception as exc:  # health never raises
            return {"ok": False, "backend": self.name, "url": self.url, "error": type(exc).__name__}

    # ---- rebuild with an alias swap --------------------------------------------------------
    def rebuild(self, docs: Iterable[list[Document]], progress: Callable[[int], None] | None = None) -> int:
        """Fill a new index from ``docs``, then move the alias to it atomically and drop the old ones."""
        self._call(self._put_template)
        new = f"{self.alias}.v{int(time.time() * 1000)}"
        self._call(lambda: self.client.indices.create(index=new, settings={"index": {"refresh_interval": "-1"}}))
        count = 0

        def actions():
            nonlocal count
            for batch in docs:
                yield from self._actions(batch, new)
                count += 1
                if progress:
                    progress(1)
        try:
            for ok, info in helpers.streaming_bulk(self.client, actions(), chunk_size=100, raise_on_error=True,
                                                   max_chunk_bytes=MAX_BULK_BYTES, max_retries=self.retries,
                                                   initial_backoff=self.backoff):
                pass
        except ApiError as exc:
            if exc.meta.status in RETRY_STATUSES:
                _raise_if_too_big(exc)  # one item too big for the nodes: say which limit
            raise
        except (TransportConnectionError, ConnectionTimeout):
            raise Unavailable(f"Search is temporarily unavailable: Elasticsearch at {self.url} cannot be reached. "
                              "The old index is still in use; run the reindex again later.") from None

        def swap():
            self.client.indices.put_settings(index=new, settings={"index": {"refresh_interval": "1s"}})
            self.client.indices.refresh(index=new)
            try:
                old = list(self.client.indices.get_alias(name=self.alias).keys())
            except NotFoundError:
                old = []
            acts: list[dict[str, Any]] = [{"remove": {"index": o, "alias": self.alias}} for o in old]
            acts.append({"add": {"index": new, "alias": self.alias}})
            self.client.indices.update_aliases(actions=acts)
            for o in old:
                self.client.indices.delete(index=o, ignore_unavailable=True)
        self._call(swap)
        self._ready = True
        self._current = True
        return count

    def drop(self) -> None:
        """Delete this alias's indices and template (tests, benchmarks)."""
        self.client.options(ignore_status=404).indices.delete(index=f"{self.alias}.v*")
        self.client.options(ignore_status=404).indices.delete_index_template(name=self.template_name)
        self._ready = False
        self._current = False

    def close(self) -> None:
        self.client.close()
