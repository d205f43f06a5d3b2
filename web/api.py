"""The JSON API (``/api/…``): items, collections, exhibits, metadata export, OpenAPI document.

Only what the viewer (``flask.g.viewer``) may see is ever returned: every query goes through
:mod:`repository.access`; a hidden item or collection answers 404 exactly like a missing one.
``/api/search`` lives in ``web.search_api`` (search engineer) and is documented here too.
"""
from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from config import InvalidInput, NotFound
from repository.access import require_view, visible_filter
from repository.dublin_core import ELEMENTS
from repository.models import Collection, Exhibit, Item
from repository.preservation import dc_xml, records
from web.app import repo_of
from web.params import int_arg

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PER_PAGE = 100
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


@bp.after_request
def _cors(resp: Response) -> Response:
    # read-only public data: any web page may fetch it (no credentials are ever sent with "*")
    resp.headers.setdefault("Access-Control-Allow-Origin", "*")
    return resp


def base_url() -> str:
    """The public URL prefix: the ``base_url`` setting, else taken from the request."""
    configured = current_app.config["HERITAGE"].base_url
    return (configured or request.url_root).rstrip("/")


def _item_id(raw: str) -> int:
    # digits only, and within SQLite/PostgreSQL integer range: anything else is simply "no such item"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise NotFound("no such item")
    return int(raw)


@bp.get("/items/<item_id>")
def item(item_id: str):
    """One item in the DESIGN item JSON shape (404 when missing or hidden from the viewer)."""
    with repo_of().session() as s:
        it = s.scalar(select(Item).where(Item.id == _item_id(item_id)).options(
            selectinload(Item.pages), selectinload(Item.segments), selectinload(Item.files)))
        require_view(it, g.viewer)
        return jsonify(records.item_record(it, base_url()))


def _page_of_items(s, query, page: int, per_page: int) -> tuple[int, list[Item]]:
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(s.scalars(query.order_by(Item.id).offset((page - 1) * per_page).limit(per_page)))
    return total, rows


@bp.get("/items")
def items():
    """Items the viewer may see, paginated, optionally of one collection / type."""
    page = int_arg("page", 1, 1, 1_000_000)
    per_page = int_arg("per_page", 20, 1, MAX_PER_PAGE)
    query = select(Item).where(visible_filter(g.viewer), Item.deleted_at.is_(None))
    kind = request.args.get("type")
    if kind:
        from repository.models import ITEM_TYPES

        if kind not in ITEM_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(ITEM_TYPES)}, got {kind!r}", field="type")
        query = query.where(Item.type == kind)
    with repo_of().session() as s:
        slug = request.args.get("collection")
        if slug:
            coll = s.scalar(select(Collection).where(Collection.slug == slug))
            if coll is None:
                raise NotFound(f"no collection {slug!r}")
            query = query.where(Item.collection_id == coll.id)
        total, rows = _page_of_items(s, query, page, per_page)
        base = base_url()
        return jsonify({"total": total, "page": page, "per_page": per_page,
                        "items": [records.item_summary(i, base) for i in rows]})


def _visible_count(s, coll_id: int) -> int:
    return s.scalar(select(func.count()).select_from(Item).where(
        Item.collection_id == coll_id, visible_filter(g.viewer), Item.deleted_at.is_(None))) or 0


def _collection(s, slug: str) -> Collection:
    coll = s.scalar(select(Collection).where(Collection.slug == slug))
    if coll is None:
        raise NotFound(f"no collection {slug!r}")
    return coll


@bp.get("/collections")
def collections():
    """Every collection with the number of items the viewer may see in it."""
    with repo_of().session() as s:
        base = base_url()
        counts = dict(s.execute(select(Item.collection_id, func.count()).where(
            visible_filter(g.viewer), Item.deleted_at.is_(None)).group_by(Item.collection_id)).all())
        colls = s.scalars(select(Collection).order_by(Collection.slug))
        return jsonify({"collections": [records.collection_record(c, base, counts.get(c.id, 0)) for c in colls]})


@bp.get("/collections/<slug>")
def collection(slug: str):
    """One collection and a page of its visible items."""
    page = int_arg("page", 1, 1, 1_000_000)
    per_page = int_arg("per_page", 20, 1, MAX_PER_PAGE)
    with repo_of().session() as s:
        coll = _collection(s, slug)
        base = base_url()
        query = select(Item).where(Item.collection_id == coll.id, visible_filter(g.viewer), Item.deleted_at.is_(None))
        total, rows = _page_of_items(s, query, page, per_page)
        rec = records.collection_record(coll, base, total)
        rec.update({"page": page, "per_page": per_page, "results": [records.item_summary(i, base) for i in rows]})
        return jsonify(rec)


def _export_items(s, coll: Collection) -> list[Item]:
    return list(s.scalars(select(Item).where(
        Item.collection_id == coll.id, visible_filter(g.viewer), Item.deleted_at.is_(None)).order_by(Item.id)))


def _csv_cell(value: str) -> str:
    # spreadsheet formula injection: a cell starting with = + - @ would run as a formula in Excel
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@bp.get("/collections/<slug>/export.csv")
def export_csv(slug: str):
    """Dublin Core of the collection's visible items as CSV (UTF-8 with BOM, values joined by ' | ')."""
    with repo_of().session() as s:
        coll = _collection(s, slug)
        base = base_url()
        out = io.StringIO()
        out.write("\ufeff")  # Excel opens UTF-8 Chinese text correctly only with a BOM
        writer = csv.writer(out)
        writer.writerow(["id", "url", "type", "collection", "institution", *ELEMENTS])
        for it in _export_items(s, coll):
            md = it.metadata_ or {}
            row = [str(it.id), f"{base}/items/{it.id}", it.type, coll.slug,
                   it.institution.slug if it.institution else ""]
            row += [_csv_cell(" | ".join(v["value"] for v in md.get(el, []))) for el in ELEMENTS]
            writer.writerow(row)
        resp = Response(out.getvalue(), mimetype="text/csv")
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="{coll.slug}.csv"'
        return resp


@bp.get("/collections/<slug>/export.xml")
def export_xml(slug: str):
    """Dublin Core XML (one ``oai_dc:dc`` per visible item, values with ``xml:lang``)."""
    with repo_of().session() as s:
        coll = _collection(s, slug)
        base = base_url()
        body = dc_xml.collection_dc_xml(_export_items(s, coll), collection_slug=coll.slug,
                                        url_of=lambda i: f"{base}/items/{i.id}")
        resp = Response(body, mimetype="application/xml")
        resp.headers["Content-Type"] = "application/xml; charset=utf-8"
        resp.headers["Content-Disposition"] = f'attachment; filename="{coll.slug}.xml"'
        return resp


def _exhibit_query():
    query = select(Exhibit)
    if not g.viewer.is_staff:
        query = query.where(Exhibit.published.is_(True))
    return query


@bp.get("/exhibits")
def exhibits():
    """Published exhibits (staff also see unpublished ones)."""
    with repo_of().session() as s:
        base = base_url()
        rows = s.scalars(_exhibit_query().order_by(Exhibit.featured.desc(), Exhibit.slug))
        return jsonify({"exhibits": [records.exhibit_record(e, base) for e in rows]})


@bp.get("/exhibits/<slug>")
def exhibit(slug: str):
    """One exhibit with its sections; a section's item is null when the viewer may not see it."""
    with repo_of().session() as s:
        ex = s.scalar(_exhibit_query().where(Exhibit.slug == slug))
        if ex is None:
            raise NotFound(f"no exhibit {slug!r}")
        ids = {sec.item_id for sec in ex.sections if sec.item_id is not None}
        visible = set(s.scalars(select(Item.id).where(Item.id.in_(ids), visible_filter(g.viewer),
                                                      Item.deleted_at.is_(None)))) if ids else set()
        return jsonify(records.exhibit_record(ex, base_url(), visible))


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (``web/openapi.yaml``) as a dict."""
    import yaml

    return yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document of every ``/api/…`` route, with this server as its server URL."""
    doc = json.loads(json.dumps(openapi_document()))
    doc["servers"] = [{"url": base_url()}]
    return jsonify(doc)


__all__ = ["bp", "base_url"]
