"""Search benchmark: indexing pages/s and query latency per backend, and the API's overhead over
Elasticsearch's own ``took``, for generated corpora of 10 k and 100 k pages.

    python bench/search.py                      # 10k and 100k pages, both backends
    python bench/search.py --pages 10000 --backends whoosh
    HERITAGE_TEST_ELASTICSEARCH_URL=http://127.0.0.1:9200 python bench/search.py

Page text is Cantonese from HKCanCor (PyCantonese's corpus, via ingest.samples), 10 pages per
item. Indexing is timed through ``search.service.rebuild`` (the same code as ``heritage reindex``).
Query latency is ``search.service.search`` (backend + snippets + hits); API overhead is the time of
``GET /api/search`` in the Flask test client minus the sum of Elasticsearch's ``took`` over every
search that request made (since schema 2 one: results, facets and the hit pages/segments of the
result items together; the table prints how many were made per request). Both are timed with the
default parameters a result list uses: 20 results per page, each with its first 3 hit
pages/segments (boxes, times) and ``hits_total``, the count of all its matching ones
(``hits_per_item``, since round 2 of issue 9; before, up to 50 hit pages per result were boxed).
Prints a table; takes minutes (not part of the tests).
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from config import load_settings  # noqa: E402
from repository import Repository  # noqa: E402
from repository.access import Viewer  # noqa: E402
from repository.models import Collection, Item, Page  # noqa: E402

PAGES_PER_ITEM = 10


def es_url() -> str:
    url = os.environ.get("HERITAGE_TEST_ELASTICSEARCH_URL")
    if url:
        return url
    script = ROOT / "scripts" / "elasticsearch.sh"
    subprocess.run(["bash", str(script), "start"], check=True)
    return subprocess.run(["bash", str(script), "url"], check=True, capture_output=True, text=True).stdout.strip()


def corpus_text(rng: random.Random) -> list[str]:
    from ingest.samples import cantonese_sentences

    return cantonese_sentences(3000, seed=7, min_chars=8)


def fill(repo: Repository, pages: int, sentences: list[str], rng: random.Random) -> None:
    """Insert ``pages`` pages (10 per item) with ~6 sentences each, in bulk."""
    years = list(range(1900, 2000))
    with repo.db.transaction() as s:
        coll = Collection(slug="bench", title="Bench")
        s.add(coll)
        s.flush()
        n_items = pages // PAGES_PER_ITEM
        item_rows = [dict(id=i + 1, collection_id=coll.id, title="".join(rng.sample(sentences, 1))[:40],
                          state="published", type="Text", year_from=(y := rng.choice(years)), year_to=y,
                          metadata={"subject": [{"value": rng.choice(["商業", "教育", "街坊", "戲曲"]), "lang": "zh-Hant"}]})
                     for i in range(n_items)]
        s.execute(insert(Item), item_rows)
        page_rows = [dict(item_id=i + 1, n=n + 1, image_id=uuid.uuid4().hex[:24], width=1000, height=1400,
                          text="\n".join(rng.sample(sentences, 6)), words=[], ocr_status="done")
                     for i in range(n_items) for n in range(PAGES_PER_ITEM)]
        for k in range(0, len(page_rows), 5000):
            s.execute(insert(Page), page_rows[k:k + 5000])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def queries(sentences: list[str], rng: random.Random, n: int = 200) -> list[str]:
    out = []
    for _ in range(n):
        s = [c for c in rng.choice(sentences) if "\u4e00" <= c <= "\u9fff"]
        if len(s) < 4:
            continue
        k = rng.randrange(len(s) - 3)
        out.append(rng.choice([s[k], "".join(s[k:k + 2]), "".join(s[k:k + 3]), f"{s[k]}{s[k+1]} {s[k+3]}"]))
    return out


def run(backend: str, pages: int, sentences: list[str], url: str | None) -> dict:
    from search.service import backend_for, rebuild, search
    from web.app import create_app

    rng = random.Random(pages)
    with tempfile.TemporaryDirectory() as tmp:
        extra = dict(elasticsearch_url=url, elasticsearch_index=f"bench{uuid.uuid4().hex[:8]}") if url else {}
        settings = load_settings(env={}, data_dir=Path(tmp), search=backend, **extra)
        repo = Repository.open(settings, create=True)
        fill(repo, pages, sentences, rng)
        t0 = time.perf_counter()
        n_items = rebuild(repo)
        index_s = time.perf_counter() - t0
        viewer = Viewer.anonymous()
        qs = queries(sentences, rng)
        for q in qs[:10]:
            search(repo, q, viewer=viewer)  # warm caches
        lat = []
        for q in qs:
            t = time.perf_counter()
            search(repo, q, viewer=viewer)
            lat.append((time.perf_counter() - t) * 1000)
        overhead: list[float] = []
        searches_per_request = None
        if backend == "elasticsearch":
            app = create_app(settings, repo)
            client = app.test_client()
            be = backend_for(repo)
            searches = 0
            for q in qs:
                be.took_total_ms = 0.0
                before = be.searches
                t = time.perf_counter()
                r = client.get("/api/search", query_string={"q": q})
                api_ms = (time.perf_counter() - t) * 1000
                assert r.status_code == 200
                searches += be.searches - before
                # Elasticsearch's own time for every search the request made
                overhead.append(api_ms - be.took_total_ms)
            searches_per_request = searches / len(qs)
            be.drop()
        backend_for(repo).close()
        repo.db.dispose()
    return dict(backend=backend, pages=pages, items=n_items, index_pages_s=pages / index_s, index_s=index_s,
                p50=pct(lat, 50), p95=pct(lat, 95),
                overhead_p50=pct(overhead, 50) if overhead else None,
                overhead_p95=pct(overhead, 95) if overhead else None, searches=searches_per_request)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default="10000,100000", help="comma-separated corpus sizes in pages")
    ap.add_argument("--backends", default="whoosh,elasticsearch")
    args = ap.parse_args()
    sentences = corpus_text(random.Random(0))
    backends = args.backends.split(",")
    url = es_url() if "elasticsearch" in backends else None
    rows = []
    for pages in map(int, args.pages.split(",")):
        for backend in backends:
            print(f"... {backend}: {pages} pages", file=sys.stderr, flush=True)
            rows.append(run(backend, pages, sentences, url if backend == "elasticsearch" else None))
    print(f"{'backend':<14}{'pages':>8}{'index pages/s':>15}{'index s':>9}{'query p50 ms':>14}{'query p95 ms':>14}"
          f"{'API-took p50':>14}{'API-took p95':>14}{'ES searches':>13}")
    for r in rows:
        o50 = f"{r['overhead_p50']:.1f}" if r["overhead_p50"] is not None else "-"
        o95 = f"{r['overhead_p95']:.1f}" if r["overhead_p95"] is not None else "-"
        n = f"{r['searches']:.1f}" if r["searches"] is not None else "-"
        print(f"{r['backend']:<14}{r['pages']:>8}{r['index_pages_s']:>15.0f}{r['index_s']:>9.1f}{r['p50']:>14.1f}"
              f"{r['p95']:>14.1f}{o50:>14}{o95:>14}{n:>13}")
    by = {(r["backend"], r["pages"]): r for r in rows}
    for pages in map(int, args.pages.split(",")):
        w, e = by.get(("whoosh", pages)), by.get(("elasticsearch", pages))
        if w and e:
            print(f"{pages} pages: Elasticsearch/Whoosh indexing speed ratio {e['index_pages_s'] / w['index_pages_s']:.2f}, "
                  f"query p95 ratio {e['p95'] / w['p95']:.2f}")
    print("API-took = GET /api/search time minus Elasticsearch's took for the searches it made "
          "(ES searches per request); target <= 15 ms p95")


if __name__ == "__main__":
    main()
