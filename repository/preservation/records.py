"""Plain-data records of items, collections and exhibits (the DESIGN JSON shapes).

Shared by the JSON API (``web.api``) and BagIt bags so both describe an item the same way.
URLs are built from ``base`` (the site's public URL without a trailing slash).
"""
from __future__ import annotations

from typing import Any

from repository.models import Collection, Exhibit, Item, ItemState

AV_TYPES = ("Sound", "MovingImage")


def _words(words: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{"text": w.get("text", ""), "xywh": list(w.get("xywh", [0, 0, 0, 0])), "conf": w.get("conf")}
            for w in (words or [])]


def media_of(item: Item, base: str) -> list[dict[str, Any]]:
    """Playable media of an AV item: access copies, else AV originals."""
    files = [f for f in item.files if f.role == "access"]
    if not files and item.type in AV_TYPES:
        files = [f for f in item.files if f.role == "original" and f.mime.startswith(("audio/", "video/"))]
    return [{"url": f"{base}/media/{f.id}", "mime": f.mime, "duration": f.duration if f.duration is not None
             else item.duration} for f in sorted(files, key=lambda f: f.id)]


def item_record(item: Item, base: str) -> dict[str, Any]:
    """The DESIGN item JSON: id, title, collection, institution, type, published, metadata,
    pages, segments, media, manifest (+ ``url``, ``updated_at``, ``chapters`` as extensions)."""
    return {
        "id": item.id,
        "title": item.title,
        "collection": item.collection.slug if item.collection else None,
        "institution": item.institution.slug if item.institution else None,
        "type": item.type,
        "published": item.is_public,
        "metadata": item.metadata_ or {},
        "pages": [{"n": p.n, "image_id": p.image_id, "width": p.width, "height": p.height,
                   "text": p.text or "", "words": _words(p.words)} for p in item.pages],
        "segments": [{"start": s.start, "end": s.end, "text": s.text or "", "speaker": s.speaker}
                     for s in item.segments if s.kind == "transcript"],
        "chapters": [{"start": s.start, "end": s.end, "title": s.title, "synopsis": s.synopsis,
                      "keywords": list(s.keywords or [])} for s in item.segments if s.kind == "chapter"],
        "media": media_of(item, base),
        "manifest": f"{base}/iiif/manifest/{item.id}",
        "url": f"{base}/items/{item.id}",
        "updated_at": item.updated_at.isoformat() if item.updated_at else None,
    }


def item_summary(item: Item, base: str) -> dict[str, Any]:
    """A short item record for lists."""
    return {
        "id": item.id,
        "title": item.title,
        "collection": item.collection.slug if item.collection else None,
        "institution": item.institution.slug if item.institution else None,
        "type": item.type,
        "published": item.is_public,
        "url": f"{base}/items/{item.id}",
        "api": f"{base}/api/items/{item.id}",
    }


def collection_record(coll: Collection, base: str, item_count: int) -> dict[str, Any]:
    return {
        "slug": coll.slug,
        "title": coll.title,
        "labels": coll.labels or {},
        "description": coll.description or "",
        "institution": coll.institution.slug if coll.institution else None,
        "items": item_count,
        "url": f"{base}/collections/{coll.slug}",
        "api": f"{base}/api/collections/{coll.slug}",
    }


def exhibit_record(ex: Exhibit, base: str, visible_item_ids: set[int] | None = None) -> dict[str, Any]:
    """An exhibit; with ``visible_item_ids`` its sections too (hidden items become null)."""
    rec: dict[str, Any] = {
        "slug": ex.slug,
        "title": ex.title,
        "labels": ex.labels or {},
        "summary": ex.summary or "",
        "published": bool(ex.published),
        "featured": bool(ex.featured),
        "url": f"{base}/exhibits/{ex.slug}",
        "api": f"{base}/api/exhibits/{ex.slug}",
    }
    if visible_item_ids is not None:
        rec["sections"] = [{
            "n": s.n, "heading": s.heading or "", "body": s.body or "", "caption": s.caption or "",
            "item": s.item_id if s.item_id in visible_item_ids else None,
            "page": s.page_n if s.item_id in visible_item_ids else None,
        } for s in ex.sections]
    return rec


def is_published_state(state: str) -> bool:
    return state == ItemState.PUBLISHED.value
