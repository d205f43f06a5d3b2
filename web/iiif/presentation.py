"""IIIF Presentation 3.0 manifests and collections, built with the iiif-prezi3 models.

``/iiif/manifest/<item-id>``: one canvas per page (with its Image API 3.0 service, hOCR/ALTO
``seeAlso``), or one time-based canvas for a recording (painting annotation with the access copy,
the WebVTT rendering and one text annotation per transcript segment as ``supplementing``
annotations, OHMS-style chapters as ranges); ``rendering`` links to the plain text and the PDF;
a Content Search service (1.0 and 2.0). ``/iiif/collection/<slug>`` and ``/iiif/collection/top``.
Unpublished items are "not found" here as on every surface (:mod:`repository.access`).
"""
from __future__ import annotations

from flask_babel import gettext as _

import hashlib
import re
from functools import lru_cache
from typing import Any, Iterable

from flask import Response, current_app, g, request
from iiif_prezi3 import (
    Annotation,
    AnnotationPage,
    Canvas,
    Collection as IIIFCollection,
    CollectionRef,
    KeyValueString,
    Manifest,
    ManifestRef,
    Range,
)
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from config import NotFound
from repository.access import require_view, visible_filter
from repository.models import Collection, File, Item, Page
from web.iiif.blueprint import base_url, bp, repo
from web.iiif.image import max_output

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
AV_TYPES = ("Sound", "MovingImage")
HOCR_PROFILE = "http://kba.cloud/hocr-spec/1.2/"
ALTO_PROFILE = "http://www.loc.gov/standards/alto/v4/alto.xsd"
#: rights values the Presentation API accepts in ``rights`` (others go to requiredStatement only)
RIGHTS_URI = re.compile(r"^https?://(creativecommons\.org/(licenses|publicdomain)/|rightsstatements\.org/vocab/)")

#: Metadata labels in the three interface languages (fixed vocabulary, not user text).
LABELS: dict[str, dict[str, list[str]]] = {
    "creator": {"zh-Hant": ["作者"], "zh-Hans": ["作者"], "en": ["Creator"]},
    "contributor": {"zh-Hant": ["貢獻者"], "zh-Hans": ["贡献者"], "en": ["Contributor"]},
    "date": {"zh-Hant": ["日期"], "zh-Hans": ["日期"], "en": ["Date"]},
    "description": {"zh-Hant": ["描述"], "zh-Hans": ["描述"], "en": ["Description"]},
    "subject": {"zh-Hant": ["主題"], "zh-Hans": ["主题"], "en": ["Subject"]},
    "place": {"zh-Hant": ["地點"], "zh-Hans": ["地点"], "en": ["Place"]},
    "publisher": {"zh-Hant": ["出版者"], "zh-Hans": ["出版者"], "en": ["Publisher"]},
    "language": {"zh-Hant": ["語言"], "zh-Hans": ["语言"], "en": ["Language"]},
    "type": {"zh-Hant": ["類型"], "zh-Hans": ["类型"], "en": ["Type"]},
    "format": {"zh-Hant": ["格式"], "zh-Hans": ["格式"], "en": ["Format"]},
    "identifier": {"zh-Hant": ["識別號"], "zh-Hans": ["识别号"], "en": ["Identifier"]},
    "source": {"zh-Hant": ["來源"], "zh-Hans": ["来源"], "en": ["Source"]},
    "coverage": {"zh-Hant": ["範圍"], "zh-Hans": ["范围"], "en": ["Coverage"]},
    "relation": {"zh-Hant": ["關聯"], "zh-Hans": ["关联"], "en": ["Relation"]},
    "collection": {"zh-Hant": ["專題"], "zh-Hans": ["专题"], "en": ["Collection"]},
    "institution": {"zh-Hant": ["提供機構"], "zh-Hans": ["提供机构"], "en": ["Contributing institution"]},
}
ATTRIBUTION = {"zh-Hant": ["版權及提供機構"], "zh-Hans": ["版权及提供机构"], "en": ["Rights and attribution"]}
PLAIN_TEXT = {"zh-Hant": ["全文（純文字）"], "zh-Hans": ["全文（纯文本）"], "en": ["Full text (plain text)"]}
PDF_LABEL = {"zh-Hant": ["PDF 原件"], "zh-Hans": ["PDF 原件"], "en": ["Original PDF"]}
TRANSCRIPT = {"zh-Hant": ["逐字稿 (WebVTT)"], "zh-Hans": ["逐字稿 (WebVTT)"], "en": ["Transcript (WebVTT)"]}
TOP_LABEL = {"zh-Hant": ["嶺南文獻庫"], "zh-Hans": ["岭南文献库"], "en": ["Lingnan Heritage Repository"]}


@lru_cache(maxsize=2)
def _opencc(config: str):
    from opencc import OpenCC

    return OpenCC(config)


#: The HTML a Presentation 3.0 client may render (spec §4.4), with safe attributes only.
IIIF_HTML_TAGS = {"a", "b", "br", "i", "img", "p", "small", "span", "sub", "sup"}
IIIF_HTML_ATTRIBUTES = {"a": ["href"], "img": ["src", "alt"]}


def safe_value(value: str) -> str:
    """A IIIF string value: clients render it as HTML only when it starts with < and ends with >
    (Presentation 3.0 §4.4); such values are cleaned with bleach to the tags the spec allows,
    with http(s)/mailto links only, so no viewer is handed active markup."""
    text = value.strip()
    if not (text.startswith("<") and text.endswith(">")):
        return value
    import bleach

    return bleach.clean(text, tags=IIIF_HTML_TAGS, attributes=IIIF_HTML_ATTRIBUTES,
                        protocols={"http", "https", "mailto"}, strip=True, strip_comments=True)


def lang_map(values: Iterable[dict[str, Any]] | str | None) -> dict[str, list[str]]:
    """A IIIF language map with zh-Hant, zh-Hans (the missing script made with OpenCC) and en.

    ``values`` are Dublin Core tagged values ``{"value", "lang"}`` or one plain string.
    """
    if values is None:
        return {}
    if isinstance(values, str):
        from repository.dublin_core import guess_lang

        values = [{"value": values, "lang": guess_lang(values)}]
    out: dict[str, list[str]] = {}
    for v in values:
        out.setdefault(v.get("lang") or "none", []).append(safe_value(v["value"]))
    if "zh-Hant" in out and "zh-Hans" not in out:
        out["zh-Hans"] = [_opencc("t2s").convert(s) for s in out["zh-Hant"]]
    elif "zh-Hans" in out and "zh-Hant" not in out:
        out["zh-Hant"] = [_opencc("s2t").convert(s) for s in out["zh-Hans"]]
    return out


def _labels_or_title(labels: dict | None, title: str) -> dict[str, list[str]]:
    if labels:
        return lang_map([{"value": v, "lang": k} for k, v in labels.items() if v])
    return lang_map(title)


def _media_url(f: File) -> str:
    return f"{base_url()}/media/{f.id}"


def manifest_url(item_id: int) -> str:
    return f"{base_url()}/iiif/manifest/{item_id}"


def _image_service(image_id: str) -> dict[str, str]:
    return {"id": f"{base_url()}/iiif/3/{image_id}", "type": "ImageService3", "profile": "level2"}


def _thumbnail(page: Page, box: int = 200) -> dict[str, Any]:
    tw, th = max_output(page.width, page.height)
    scale = min(1.0, box / max(tw, th))
    w, h = max(1, round(page.width * scale)), max(1, round(page.height * scale))
    return {"id": f"{base_url()}/iiif/3/{page.image_id}/full/{w},{h}/0/default.jpg", "type": "Image",
            "format": "image/jpeg", "width": w, "height": h, "service": [_image_service(page.image_id)]}


def _see_also(files: Iterable[File]) -> list[dict[str, Any]]:
    out = []
    for f in files:
        if f.role == "hocr":
            out.append({"id": _media_url(f), "type": "Dataset", "format": "text/vnd.hocr+html",
                        "profile": HOCR_PROFILE, "label": {"en": ["hOCR"]}})
        elif f.role == "alto":
            out.append({"id": _media_url(f), "type": "Dataset", "format": f.mime or "application/xml",
                        "profile": ALTO_PROFILE, "label": {"en": ["ALTO XML"]}})
    return out


def _search_services(item_id: int) -> list[dict[str, Any]]:
    url = f"{base_url()}/iiif/search/{item_id}"
    return [
        {"@id": url, "@type": "SearchService1", "profile": "http://iiif.io/api/search/1/search",
         "label": "Search within this item"},
        {"id": f"{url}/2", "type": "SearchService2"},
    ]


def build_manifest(item: Item) -> Manifest:
    """The Presentation 3.0 manifest of ``item`` (access must already have been checked)."""
    mid = manifest_url(item.id)
    md = item.metadata_ or {}
    title_values = md.get("title") or [{"value": item.title, "lang": None}]
    manifest = Manifest(id=mid, label=lang_map(title_values))
    if md.get("description"):
        manifest.summary = lang_map(md["description"])
    metadata = []
    for element, label in LABELS.items():
        if element in md and md[element]:
            metadata.append(KeyValueString(label=label, value=lang_map(md[element])))
    metadata.append(KeyValueString(label=LABELS["collection"],
                                   value=_labels_or_title(item.collection.labels, item.collection.title)))
    institution = item.institution or item.collection.institution
    if institution is not None:
        metadata.append(KeyValueString(label=LABELS["institution"],
                                       value=_labels_or_title(institution.labels, institution.name)))
    manifest.metadata = metadata
    rights = [v["value"] for v in md.get("rights", [])]
    inst_name = institution.name if institution else repo().settings.institution_name
    statement = "；".join(rights + [inst_name]) if rights else inst_name
    manifest.requiredStatement = KeyValueString(label=ATTRIBUTION, value=lang_map(statement))
    rights_uri = next((r for r in rights if RIGHTS_URI.match(r)), None)
    if rights_uri:
        manifest.rights = rights_uri.replace("https://", "http://", 1)
    manifest.homepage = [{"id": f"{base_url()}/items/{item.id}", "type": "Text", "format": "text/html",
                          "label": lang_map(title_values)}]
    files = list(item.files)
    if item.type in AV_TYPES:
        _add_av(manifest, item, files)
    else:
        _add_pages(manifest, item, files)
    rendering = []
    for f in files:
        if f.role == "text" and f.page_id is None:
            rendering.append({"id": _media_url(f), "type": "Text", "format": "text/plain", "label": PLAIN_TEXT})
        elif f.role == "pdf" or (f.role == "original" and f.mime == "application/pdf"):
            rendering.append({"id": _media_url(f), "type": "Text", "format": "application/pdf", "label": PDF_LABEL})
    if rendering:
        manifest.rendering = rendering
    see_also = _see_also(f for f in files if f.page_id is None)
    if see_also:
        manifest.seeAlso = see_also
    manifest.service = _search_services(item.id)
    manifest.partOf = [{"id": collection_url(item.collection.slug), "type": "Collection"}]
    return manifest


def _add_pages(manifest: Manifest, item: Item, files: list[File]) -> None:
    mid = manifest.id
    by_page: dict[int, list[File]] = {}
    for f in files:
        if f.page_id is not None:
            by_page.setdefault(f.page_id, []).append(f)
    canvases = []
    for page in item.pages:
        page_files = by_page.get(page.id, [])
        image = next((f for f in page_files if f.role == "page_image"), None)
        if image is None or not page.width or not page.height:
            continue
        cid = f"{mid}/canvas/{page.n}"
        label = lang_map(page.label) if page.label else {"none": [str(page.n)]}
        canvas = Canvas(id=cid, label=label, width=page.width, height=page.height)
        body = {"id": f"{base_url()}/iiif/3/{page.image_id}/full/max/0/default.jpg", "type": "Image",
                "format": "image/jpeg", "width": page.width, "height": page.height,
                "service": [_image_service(page.image_id)]}
        anno = Annotation(id=f"{cid}/annotation/painting", motivation="painting", body=body, target=cid)
        canvas.items = [AnnotationPage(id=f"{cid}/page/painting", items=[anno])]
        canvas.thumbnail = [_thumbnail(page, 150)]
        see_also = _see_also(page_files)
        if see_also:
            canvas.seeAlso = see_also
        texts = [f for f in page_files if f.role == "text"]
        if texts:
            canvas.rendering = [{"id": _media_url(f), "type": "Text", "format": "text/plain",
                                 "label": PLAIN_TEXT} for f in texts]
        canvases.append(canvas)
    manifest.items = canvases
    first = next((p for p in item.pages if p.width and p.height), None)
    if first is not None and canvases:
        manifest.thumbnail = [_thumbnail(first)]


def _add_av(manifest: Manifest, item: Item, files: list[File]) -> None:
    mid = manifest.id
    access = [f for f in files if f.role == "access"]
    video = next((f for f in access if f.mime.startswith("video/")), None)
    audio = next((f for f in access if f.mime.startswith("audio/")), None)
    media = video or audio
    duration = item.duration or (media.duration if media else None)
    if media is None or not duration:
        manifest.items = []
        return
    cid = f"{mid}/canvas/1"
    canvas = Canvas(id=cid, label=manifest.label, duration=float(duration))
    body: dict[str, Any] = {"id": _media_url(media), "type": "Video" if media is video else "Sound",
                            "format": media.mime, "duration": float(media.duration or duration)}
    if media is video and media.width and media.height:
        canvas.width, canvas.height = media.width, media.height
        body.update(width=media.width, height=media.height)
    anno = Annotation(id=f"{cid}/annotation/painting", motivation="painting", body=body, target=cid)
    canvas.items = [AnnotationPage(id=f"{cid}/page/painting", items=[anno])]
    poster = next((f for f in files if f.role == "poster"), None)
    if poster is not None:
        canvas.thumbnail = [{"id": _media_url(poster), "type": "Image", "format": poster.mime}]
        manifest.thumbnail = canvas.thumbnail
    supplementing = []
    for f in files:
        if f.role == "webvtt":
            supplementing.append(Annotation(
                id=f"{cid}/annotation/webvtt-{f.id}", motivation="supplementing", target=cid,
                body={"id": _media_url(f), "type": "Text", "format": "text/vtt", "label": TRANSCRIPT}))
    for k, seg in enumerate(s for s in item.segments if s.kind == "transcript"):
        from repository.dublin_core import guess_lang

        body = {"type": "TextualBody", "value": seg.text, "format": "text/plain",
                "language": guess_lang(seg.text) or "none"}
        supplementing.append(Annotation(id=f"{cid}/annotation/transcript-{seg.id}", motivation="supplementing",
                                        body=body, target=f"{cid}#t={seg.start:g},{seg.end:g}"))
    if supplementing:
        canvas.annotations = [AnnotationPage(id=f"{cid}/page/transcript", items=supplementing)]
    manifest.items = [canvas]
    ranges = []
    for seg in (s for s in item.segments if s.kind == "chapter"):
        label = lang_map(seg.title or seg.text or f"{seg.start:g}")
        rng = Range(id=f"{mid}/range/{seg.id}", label=label,
                    items=[{"type": "SpecificResource", "source": cid,
                            "selector": {"type": "FragmentSelector", "conformsTo": "http://www.w3.org/TR/media-frags/",
                                         "value": f"t={seg.start:g},{seg.end:g}"}}])
        if seg.synopsis:
            rng.summary = lang_map(seg.synopsis)
        ranges.append(rng)
    if ranges:
        manifest.structures = ranges


def collection_url(slug: str) -> str:
    return f"{base_url()}/iiif/collection/{slug}"


def build_collection(coll: Collection, items: list[Item]) -> IIIFCollection:
    """A IIIF collection listing the manifests of ``items``."""
    out = IIIFCollection(id=collection_url(coll.slug), label=_labels_or_title(coll.labels, coll.title))
    if coll.description:
        out.summary = lang_map(coll.description)
    inst = coll.institution
    out.requiredStatement = KeyValueString(
        label=ATTRIBUTION, value=lang_map(inst.name if inst else repo().settings.institution_name))
    out.items = [ManifestRef(id=manifest_url(i.id), type="Manifest",
                             label=lang_map((i.metadata_ or {}).get("title") or i.title)) for i in items]
    out.partOf = [{"id": collection_url("top"), "type": "Collection"}]
    return out


def build_top(colls: list[Collection]) -> IIIFCollection:
    """The top-level collection: every collection of the repository."""
    out = IIIFCollection(id=collection_url("top"), label=TOP_LABEL)
    out.requiredStatement = KeyValueString(label=ATTRIBUTION, value=lang_map(repo().settings.institution_name))
    out.items = [CollectionRef(id=collection_url(c.slug), type="Collection",
                               label=_labels_or_title(c.labels, c.title)) for c in colls]
    return out


def wants_jsonld() -> bool:
    """The client asked for JSON-LD (with or without a profile parameter) rather than plain JSON."""
    accept = request.headers.get("Accept", "")
    if "application/ld+json" not in accept:
        return False
    return request.accept_mimetypes.quality("application/ld+json") >= request.accept_mimetypes.quality(
        "application/json") or "application/json" not in accept


def json_response(doc: str, *, public: bool, context: str = PRESENTATION_CONTEXT) -> Response:
    """JSON(-LD) with an ETag, conditional GET and cache headers (private for drafts)."""
    resp = Response(doc, mimetype="application/json")
    if wants_jsonld():
        resp.headers["Content-Type"] = f'application/ld+json;profile="{context}"'
    resp.set_etag(hashlib.sha256(doc.encode()).hexdigest()[:32])
    resp.vary.add("Accept")
    if public:
        resp.cache_control.public = True
        resp.cache_control.max_age = 300
    else:
        resp.cache_control.private = True
        resp.cache_control.max_age = 0
    return resp.make_conditional(request)


#: Built manifests are kept per app by fingerprint (iiif-prezi3 validation makes building a
#: 300-page manifest take a second or more). The fingerprint changes whenever anything shown in
#: the manifest may have.
MANIFEST_CACHE_SIZE = 64


def _fingerprint(item: Item) -> tuple:
    coll, inst = item.collection, item.institution or item.collection.institution
    return (item.id, item.updated_at, item.state, item.title, item.type, item.duration,
            tuple((p.id, p.n, p.width, p.height, p.label, p.image_id) for p in item.pages),
            tuple((f.id, f.role, f.mime, f.page_id, f.duration, f.width, f.height) for f in item.files),
            tuple((x.id, x.kind, x.start, x.end, x.text, x.title, x.synopsis) for x in item.segments),
            coll.slug, coll.title, repr(coll.labels), coll.description,
            inst.name if inst else None, repr(inst.labels) if inst else None,
            repr(item.metadata_), base_url(), repo().settings.institution_name)


@bp.get("/manifest/<int:item_id>")
def manifest(item_id: int):
    """The Presentation 3.0 manifest of a visible item."""
    with repo().session() as s:
        # OCR words and text are not part of a manifest; loading them would dominate big items
        options = [selectinload(Item.pages).defer(Page.words).defer(Page.text),
                   selectinload(Item.files), selectinload(Item.segments)]
        item = require_view(s.get(Item, item_id, options=options), g.viewer)
        key = _fingerprint(item)
        cache = current_app.extensions.setdefault("iiif_manifests", {})
        doc = cache.get(key)
        if doc is None:
            doc = build_manifest(item).jsonld()
            cache[key] = doc
            while len(cache) > MANIFEST_CACHE_SIZE:
                try:
                    cache.pop(next(iter(cache)), None)
                except (RuntimeError, StopIteration):  # another request thread changed it meanwhile
                    break
        return json_response(doc, public=item.is_public)


@bp.get("/collection/<slug>")
def collection(slug: str):
    """A collection's manifests (only items the viewer may see); ``top`` lists every collection."""
    with repo().session() as s:
        if slug == "top":
            colls = list(s.scalars(select(Collection).order_by(Collection.slug)))
            return json_response(build_top(colls).jsonld(), public=True)
        coll = s.scalar(select(Collection).where(Collection.slug == slug))
        if coll is None:
            raise NotFound(_("no collection %(slug)s", slug=repr(slug)))
        items = list(s.scalars(
            select(Item).where(Item.collection_id == coll.id, visible_filter(g.viewer), Item.deleted_at.is_(None))
            .order_by(func.coalesce(Item.published_at, Item.created_at), Item.id)))
        public = all(i.is_public for i in items)
        return json_response(build_collection(coll, items).jsonld(), public=public)
