"""The scale-out backend: a real Elasticsearch 8.x cluster through the official client.

* An **index template** (``<alias>-template`` for ``<alias>.v*``) holds settings and mappings; the
  product reads and writes through the **alias** (``settings.elasticsearch_index``), so
  :meth:`rebuild` fills a new index and swaps the alias with no downtime.
* Analysis: Elasticsearch gets the terms :mod:`search.analysis` produced (Han bigrams/unigrams,
  folded words, Jyutping) space-separated, indexed with the built-in ``whitespace`` analyzer. The
  integ-test-zip distribution has no analysis-common module (no ``cjk_width``/``cjk_bigram``), and
  sharing the Python analysis is what makes both backends return the same result sets.
* Every call retries connection failures and 429/5xx with exponential back-off, then raises
  :class:`config.Unavailable` (the outbox keeps its tasks; search answers 503).
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable, Iterable

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from config import Unavailable
from search.backend import FACETS, BackendResult, SearchBackend, SearchRequest, SubHit
from search.documents import TEXT_FIELDS, Document
from search.query import And, MatchAll, Node, Not, Or, Text, YearRange
from search.whoosh_backend import positive_text

log = logging.getLogger("heritage.search")
TERM_FIELDS = [f for name in TEXT_FIELDS for f in (name, name + "_u")] + ["jp"]
FACET_SIZE = 100
RETRY_STATUSES = (429, 502, 503, 504)


def mappings() -> dict[str, Any]:
    props: dict[str, Any] = {f: {"type": "text", "analyzer": "whitespace"} for f in TERM_FIELDS}
    props.update({
        "id": {"type": "keyword"}, "kind": {"type": "keyword"}, "gen": {"type": "keyword"},
        "item_id": {"type": "integer"}, "ref": {"type": "integer"},
        "public": {"type": "boolean"}, "institution_id": {"type": "integer"},
        "year_from": {"type": "integer"}, "year_to": {"type": "integer"}, "date_sort": {"type": "integer"},
        "title_sort": {"type": "keyword"}, "start": {"type": "float"}, "end": {"type": "float"},
    })
    props.update({"f_" + name: {"type": "keyword"} for name in FACETS})
    return {"dynamic": "strict", "_source": {"excludes": TERM_FIELDS}, "properties": props}


def compile_query(node: Node) -> dict[str, Any]:
    """A :mod:`search.query` tree as Elasticsearch query DSL."""
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Text):
        alts = [{"term": {f: t[0]}} if len(t) == 1 else {"match_phrase": {f: {"query": " ".join(t)}}}
                for f, t in node.alternatives]
        return alts[0] if len(alts) == 1 else {"bool": {"should": alts, "minimum_should_match": 1}}
    if isinstance(node, YearRange):
        return {"bool": {"filter": [{"range": {"year_from": {"lte": node.end}}},
                                    {"range": {"year_to": {"gte": node.start}}}]}}
    if isinstance(node, And):
        must = [compile_query(c) for c in node.children if not isinstance(c, Not)]
        must_not = [compile_query(c.child) for c in node.children if isinstance(c, Not)]
        return {"bool": {"must": must, "must_not": must_not}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_query(c) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.child)]}}
    raise TypeError(node)


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(self, url: str, alias: str, *, retries: int = 3, backoff: float = 0.2, timeout: float = 30.0):
        self.url = url
        self.alias = alias.lower()
        self.retries = retries
        self.backoff = backoff
        self.client = Elasticsearch(url, request_timeout=timeout, max_retries=0, retry_on_timeout=False)
        self._ready = False
        self.last_took_ms = 0.0  # Elasticsearch's own time for the last result search (benchmarks)
        self.took_total_ms = 0.0  # sum of ``took`` over every search request made (benchmarks)

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
                                   "index": {"max_result_window": 10_000}},
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

    # ---- writes ----------------------------------------------------------------------------
    @staticmethod
    def _source(doc: Document, gen: str) -> dict[str, Any]:
        src: dict[str, Any] = {
            "id": doc.id, "kind": doc.kind, "gen": gen, "item_id": doc.item_id, "ref": doc.ref,
            "public": doc.public, "institution_id": doc.institution_id,
        }
        for name, terms in doc.term_fields().items():
            src[name] = " ".join(terms)
        if doc.kind == "item":
            src.update(title_sort=doc.title_sort or "\uffff", date_sort=doc.date_sort,
                       year_from=doc.year_from, year_to=doc.year_to)
            for name, values in doc.facets.items():
                src["f_" + name] = values
        else:
            src.update(start=doc.start, end=doc.end)
        return src

    def _actions(self, docs: Iterable[Document], gen: str, index: str):
        for doc in docs:
            yield {"_op_type": "index", "_index": index, "_id": doc.id, "_source": self._source(doc, gen)}

    def index(self, docs: Iterable[Document]) -> None:
        self.ensure_index()
        docs = list(docs)
        gen = uuid.uuid4().hex
        self._call(lambda: helpers.bulk(self.client, self._actions(docs, gen, self.alias), chunk_size=500,
                                        refresh=True))

    def replace_items(self, item_ids: Iterable[int], docs: Iterable[Document]) -> None:
        """Index the new documents, then delete the items' documents of older generations."""
        self.ensure_index()
        ids = list(item_ids)
        docs = list(docs)
        gen = uuid.uuid4().hex

        def go():
            if docs:
                helpers.bulk(self.client, self._actions(docs, gen, self.alias), chunk_size=500)
            self.client.indices.refresh(index=self.alias)
            if ids:
                self._delete_stale(ids, [d.id for d in docs])
        self._call(go)

    def _delete_stale(self, ids: list[int], keep: list[str]) -> None:
        """Delete the items' documents whose ids are not in ``keep`` (found by search, deleted in
        bulk: the integ-test-zip distribution has no delete-by-query, which lives in the reindex
        module). By id, not by write generation: two drains replacing the same item at once write
        the same ids, so neither deletes what the other wrote."""
        stale = {"bool": {"filter": [{"terms": {"item_id": ids}}], "must_not": [{"ids": {"values": keep}}]}}
        while True:
            resp = self.client.search(index=self.alias, query=stale, size=5000, _source=False)
            hits = resp["hits"]["hits"]
            if not hits:
                return
            helpers.bulk(self.client, ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits),
                         chunk_size=1000, raise_on_error=False)
            self.client.indices.refresh(index=self.alias)

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
        self.ensure_index()
        filters: list[dict[str, Any]] = [{"term": {"kind": "item"}}]
        vis = self._visibility(request)
        if vis is not None:
            filters.append(vis)
        for name, values in request.filters.items():
            if values:
                filters.append({"terms": {"f_" + name: values}})
        body: dict[str, Any] = {
            "query": {"bool": {"must": [compile_query(request.root)], "filter": filters}},
            "from": request.offset, "size": request.limit, "track_total_hits": True,
            "_source": ["item_id"],
        }
        if request.facets:
            body["aggs"] = {name: {"terms": {"field": "f_" + name, "size": FACET_SIZE}} for name in FACETS}
        if request.sort == "date":
            body["sort"] = [{"date_sort": "asc"}, {"item_id": "asc"}]
        elif request.sort == "title":
            body["sort"] = [{"title_sort": "asc"}, {"item_id": "asc"}]
        resp = self._call(lambda: self.client.search(index=self.alias, **body))
        items = [(int(h["_source"]["item_id"]), float(h["_score"] or 0.0)) for h in resp["hits"]["hits"]]
        facets = {name: [(b["key"], int(b["doc_count"])) for b in resp.get("aggregations", {}).get(name, {})
                         .get("buckets", [])] for name in FACETS} if request.facets else {}
        self.last_took_ms = float(resp["took"])
        self.took_total_ms += self.last_took_ms
        return BackendResult(int(resp["hits"]["total"]["value"]), items, facets, took_ms=self.last_took_ms)

    def locate(self, root: Node, item_ids: list[int], limit: int = 500) -> list[SubHit]:
        texts = [t for t in positive_text(root) if t.field is None]
        if not texts or not item_ids:
            return []
        self.ensure_index()
        # filter context: no scoring, cacheable — which pages match is all that is needed here
        query = {"bool": {"filter": [{"terms": {"item_id": item_ids}}, {"terms": {"kind": ["page", "segment"]}},
                                     compile_query(Or(tuple(texts)))]}}
        resp = self._call(lambda: self.client.search(index=self.alias, query=query, size=limit,
                                                     track_total_hits=False, _source=["item_id", "kind", "ref"]))
        self.took_total_ms += float(resp["took"])
        return [SubHit(int(h["_source"]["item_id"]), h["_source"]["kind"], int(h["_source"]["ref"]))
                for h in resp["hits"]["hits"]]

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
        gen = uuid.uuid4().hex
        count = 0

        def actions():
            nonlocal count
            for batch in docs:
                yield from self._actions(batch, gen, new)
                count += 1
                if progress:
                    progress(1)
        try:
            for ok, info in helpers.streaming_bulk(self.client, actions(), chunk_size=500, raise_on_error=True,
                                                   max_retries=self.retries, initial_backoff=self.backoff):
                pass
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
        return count

    def drop(self) -> None:
        """Delete this alias's indices and template (tests, benchmarks)."""
        self.client.options(ignore_status=404).indices.delete(index=f"{self.alias}.v*")
        self.client.options(ignore_status=404).indices.delete_index_template(name=self.template_name)
        self._ready = False

    def close(self) -> None:
        self.client.close()
