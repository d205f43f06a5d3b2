"""The public site: home, collections, item pages, search page, exhibitions.

Every query goes through :mod:`repository.access` with ``flask.g.viewer``: visitors see only
published items (and published exhibitions); anything else is a 404 that does not reveal that
the hidden thing exists.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import bleach
import markdown as md
from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from config import InvalidInput, NotFound, Unavailable
from repository.access import can_view, require_view, visible_filter
from repository.models import Collection, Exhibit, File, Institution, Item, Page
from web import i18n
from web.app import repo_of
from web.params import clock, int_arg

bp = Blueprint("public", __name__)

#: Dublin Core elements in the order the item page shows them
DC_ORDER = ("title", "creator", "contributor", "date", "publisher", "place", "subject", "description",
            "type", "format", "language", "identifier", "source", "relation", "coverage", "rights")
#: Human labels for the Dublin Core elements (English source strings; translated at render time)
DC_LABELS = {
    "title": _l("Title"), "creator": _l("Creator"), "contributor": _l("Contributor"), "date": _l("Date"),
    "publisher": _l("Publisher"), "place": _l("Place"), "subject": _l("Subject"), "description": _l("Description"),
    "type": _l("Type"), "format": _l("Format"), "language": _l("Language"), "identifier": _l("Identifier"),
    "source": _l("Source"), "relation": _l("Relation"), "coverage": _l("Coverage"), "rights": _l("Rights"),
}
TYPE_LABELS = {"Text": _l("Text"), "StillImage": _l("Image"), "Sound": _l("Sound"), "MovingImage": _l("Moving image")}
#: Rights statements that forbid handing out the original file (rightsstatements.org "In Copyright"
#: family, and the usual wording in Chinese and English). Staff can always download.
RESTRICTIVE_RIGHTS = re.compile(
    r"rightsstatements\.org/vocab/(InC|UND)|all rights reserved|no download|版權所有|版权所有|不得下載|不得下载|禁止下載|禁止下载",
    re.IGNORECASE,
)
MAX_DB_INT = 2**63 - 1
PER_PAGE = 24
#: pages of OCR text shown at once on an item page (the rest: page links and the .txt download)
TEXT_WINDOW = 10
SEARCH_PER_PAGE = 20
BROWSE_SORTS = {"title", "date", "new"}
SEARCH_SORTS = ("relevance", "date", "title")
#: request parameters of /search that are not facet filters
SEARCH_RESERVED = {"q", "page", "sort", "lang"}

# Markdown → HTML → bleach: only these survive in exhibition text.
ALLOWED_TAGS = {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "del",
                "blockquote", "ul", "ol", "li", "a", "code", "pre", "table", "thead", "tbody", "tr", "th",
                "td", "img", "figure", "figcaption", "sup", "sub", "ruby", "rt", "rp"}
ALLOWED_ATTRS = {"a": ["href", "title"], "img": ["src", "alt", "title", "width", "height"],
                 "th": ["align"], "td": ["align"], "*": ["lang"]}
ALLOWED_PROTOCOLS = {"http", "https", "mailto"}


# ---------------------------------------------------------------- helpers -----------------------

def db() -> Session:
    """The request's database session (kept open while templates render; closed at teardown)."""
    if "public_session" not in g:
        g.public_session = repo_of().session()
    return g.public_session


@bp.teardown_app_request
def _close_session(_exc) -> None:
    s = g.pop("public_session", None)
    if s is not None:
        s.close()


def reader() -> str:
    """The BCP 47 tag of the script the reader reads (from the UI locale)."""
    return i18n.locale_tag(str(get_locale() or ""))


def visible_item(item_id: int) -> Item:
    """The item if ``g.viewer`` may see it on the public site, else :class:`NotFound`."""
    item = db().get(Item, item_id) if 0 < item_id <= MAX_DB_INT else None
    try:
        item = require_view(item, g.viewer)
    except NotFound:
        raise NotFound(_("There is no such item, or it is not public.")) from None
    if item.deleted_at is not None and not g.viewer.is_staff:
        raise NotFound(_("There is no such item, or it is not public."))
    return item


def listed_items():
    """SQL condition for items listed on public pages (visible to the viewer, not in the trash)."""
    return visible_filter(g.viewer) & Item.deleted_at.is_(None)


def thumbnails(session: Session, items: list[Item]) -> dict[int, str]:
    """Thumbnail URL per item id: a stored thumbnail/poster file, else page 1 through IIIF."""
    ids = [i.id for i in items]
    if not ids:
        return {}
    out: dict[int, str] = {}
    rows = session.execute(
        select(File.item_id, File.id, File.role, File.page_id)
        .where(File.item_id.in_(ids), File.role.in_(("thumbnail", "poster")))
        .order_by(File.item_id, File.page_id.is_not(None), File.id)
    ).all()
    for item_id, file_id, _role, _page in rows:
        out.setdefault(item_id, media_url(file_id))
    missing = [i for i in ids if i not in out]
    if missing:
        for item_id, image_id in session.execute(
            select(Page.item_id, Page.image_id).where(Page.item_id.in_(missing), Page.n == 1)
        ).all():
            out[item_id] = iiif_image(image_id, 200)
    return out


def iiif_image(image_id: str, width: int) -> str:
    """A IIIF Image API 3 URL of ``image_id`` scaled to ``width`` pixels wide."""
    return f"/iiif/3/{image_id}/full/{width},/0/default.jpg"


def media_url(file_id: int) -> str:
    """Where the AV engineer's web/media.py serves a stored file (checking access itself)."""
    return f"/media/{file_id}"


def sanitise_markdown(text: str) -> Markup:
    """Markdown rendered to HTML, then cleaned with bleach (no scripts, handlers or odd URLs)."""
    # toc's baselevel demotes "# Heading" to <h3>: the page's <h1>/<h2> stay the outline's top
    html = md.markdown(text or "", extensions=["extra", "sane_lists", "toc"],
                       extension_configs={"toc": {"baselevel": 3}}, output_format="html")
    cleaner = bleach.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS, protocols=ALLOWED_PROTOCOLS,
                             strip=True, strip_comments=True, filters=[_ImagesHaveAlt])
    return Markup(cleaner.clean(html))


class _ImagesHaveAlt(bleach.html5lib_shim.Filter):
    """An html5lib filter for bleach: every <img> gets an alt attribute (empty if the curator gave none)."""

    def __iter__(self):
        for token in super().__iter__():
            if token.get("type") in ("StartTag", "EmptyTag") and token.get("name") == "img":
                token["data"].setdefault((None, "alt"), "")
            yield token


def stable_url(item: Item) -> str:
    """The permanent address of an item page (HERITAGE_BASE_URL when set)."""
    base = current_app.config["HERITAGE"].base_url
    if base:
        return f"{base.rstrip('/')}/items/{item.id}"
    return url_for("public.item_page", item_id=item.id, _external=True)


def original_downloadable(item: Item) -> bool:
    """Whether the rights statement allows handing out the original file to this viewer."""
    if g.viewer.is_staff:
        return True
    rights = " ".join(v.get("value", "") for v in (item.metadata_ or {}).get("rights", []))
    return not RESTRICTIVE_RIGHTS.search(rights)


def citation(item: Item) -> str:
    """A citation line: creator. title. date. institution. stable URL (accessed date)."""
    r = reader()
    parts = []
    creators = [s.value for s in i18n.dc_values(item.metadata_, "creator", r)]
    if creators:
        parts.append("、".join(creators) if r != "en" else ", ".join(creators))
    title = i18n.dc_first(item.metadata_, "title", r)
    parts.append(title.value if title else item.title)
    date = i18n.dc_first(item.metadata_, "date", r)
    if date:
        parts.append(date.value)
    if item.institution:
        parts.append(i18n.label(item.institution.labels, item.institution.name, r).value)
    today = datetime.now(timezone.utc).date().isoformat()
    return ". ".join(p.rstrip(".") for p in parts) + f". {stable_url(item)} " + _("(accessed %(date)s)", date=today)


# ---------------------------------------------------------------- template globals --------------

@bp.app_template_global()
def dc(item_or_md: Any, element: str) -> list[i18n.Shown]:
    """Template: the values of a Dublin Core element in the reader's script (with their lang)."""
    metadata = item_or_md.metadata_ if isinstance(item_or_md, Item) else item_or_md
    return i18n.dc_values(metadata, element, reader())


@bp.app_template_global()
def title_of(item: Item) -> i18n.Shown:
    """Template: an item's title in the reader's script."""
    shown = i18n.dc_first(item.metadata_, "title", reader())
    return shown or i18n.text_for(item.title, None, reader())


@bp.app_template_global()
def name_of(thing: Any) -> i18n.Shown:
    """Template: the name of a collection, institution or exhibit in the reader's script."""
    if thing is None:
        return i18n.Shown("", None)
    fallback = getattr(thing, "title", None) or getattr(thing, "name", "") or ""
    return i18n.label(getattr(thing, "labels", None), fallback, reader())


@bp.app_template_global()
def in_script(text: str) -> i18n.Shown:
    """Template: a free text (caption, heading) in the reader's script, with its lang tag."""
    return i18n.text_for(text or "", None, reader())


@bp.app_template_global()
def text_lang(text: str) -> str | None:
    """Template: the guessed language tag of a transcribed text (shown as it was written)."""
    from repository.dublin_core import guess_lang

    return guess_lang((text or "")[:300])


@bp.app_template_global()
def reader_lang() -> str:
    """Template: the BCP 47 tag of the reader's script."""
    return reader()


bp.add_app_template_filter(clock, "timecode")


@bp.app_template_global()
def type_label(type_: str) -> str:
    return str(TYPE_LABELS.get(type_, type_))


@bp.app_template_global()
def url_with(**changes: Any) -> str:
    """Template: the current URL with some query parameters changed (None removes one)."""
    args = request.args.to_dict(flat=False)
    for k, v in changes.items():
        if v is None:
            args.pop(k, None)
        else:
            args[k] = v if isinstance(v, list) else [str(v)]
    from urllib.parse import urlencode

    query = urlencode([(k, x) for k, vs in args.items() for x in vs])
    return request.path + ("?" + query if query else "")


# ---------------------------------------------------------------- item page ---------------------

def highlight(text: str, q: str) -> Markup:
    """``text`` HTML-escaped with the matches of ``q`` in <mark> (traditional ⇄ simplified aware)."""
    from search.analysis import find_matches  # the search layer's matcher: same folding as the index

    spans = find_matches(text, q) if q else []
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(Markup.escape(text[last:start]))
        out.append(Markup("<mark>") + Markup.escape(text[start:end]) + Markup("</mark>"))
        last = end
    out.append(Markup.escape(text[last:]))
    return Markup("").join(out)


@bp.get("/items/<int:item_id>")
def item_page(item_id: int):
    """An item: metadata in the reader's script, viewer or player, text, downloads, citation."""
    item = visible_item(item_id)
    # Validate the parameters the viewer/player partials read, so they never see garbage.
    if request.args.get("t"):
        try:
            t = float(request.args["t"])
            if not 0 <= t < 10**7:
                raise ValueError
        except ValueError:
            raise InvalidInput(_("The parameter t must be a time in seconds, got “%(value)s”.",
                                 value=request.args["t"][:40]), field="t") from None
    page_n = int_arg("page", 0, high=100_000)
    q = (request.args.get("q") or "").strip()[:200]
    files = list(item.files)
    all_originals = [f for f in files if f.role == "original"]
    originals = all_originals if original_downloadable(item) else []
    originals_withheld = bool(all_originals) and not originals
    extras = [f for f in files if f.role in ("pdf", "webvtt", "alto", "hocr") and f.page_id is None]
    is_av = item.type in ("Sound", "MovingImage")
    text_pages = [p for p in item.pages if p.text] if not is_av else []
    pages, text_window = text_window_of(text_pages, page_n, q)
    segments = [s for s in item.segments if s.kind == "transcript"] if is_av else []
    chapters = [s for s in item.segments if s.kind == "chapter"] if is_av else []
    has_text = any(p.text for p in item.pages) or bool(item.segments)
    elements = i18n.display_elements(item.metadata_, DC_ORDER)
    if [v.get("value", "").lower() for v in item.metadata_.get("type", [])] == [item.type.lower()]:
        elements.remove("type")  # the same DCMI type is shown, translated, as the item's type
    from web.usage import record_view

    record_view(repo_of(), item.id, g.viewer)
    loader = current_app.jinja_env
    partials = {name: _template_exists(loader, f"item/_{name}.html") for name in ("viewer_image", "player_av")}
    return render_template(
        "item.html", item=item, q=q, pages=pages, segments=segments, chapters=chapters, is_av=is_av,
        originals=originals, originals_withheld=originals_withheld, extras=extras, has_text=has_text,
        elements=elements, dc_labels=DC_LABELS, text_window=text_window, citation=citation(item), stable_url=stable_url(item), highlight=highlight, partials=partials,
        thumb=thumbnails(db(), [item]).get(item.id),
    )


def text_window_of(pages: list[Page], page_n: int, q: str) -> tuple[list[Page], dict[str, Any]]:
    """The pages whose OCR text the item page shows: all of a short item; for a long one
    ``TEXT_WINDOW`` pages from ``?page=``, or from the first page matching ``q``.

    A 500-page newspaper volume would otherwise put megabytes of text on one page; the whole
    text stays one click away (``/items/<id>/text``).
    """
    if len(pages) <= TEXT_WINDOW:
        return pages, {"paged": False}
    start = 0
    if page_n:
        start = next((i for i, p in enumerate(pages) if p.n >= page_n), max(0, len(pages) - TEXT_WINDOW))
    elif q:
        from search.analysis import find_matches

        start = next((i for i, p in enumerate(pages) if find_matches(p.text, q)), 0)
    start = max(0, min(start, len(pages) - TEXT_WINDOW))
    shown = pages[start:start + TEXT_WINDOW]
    prev_n = pages[max(0, start - TEXT_WINDOW)].n if start else None
    next_n = pages[start + TEXT_WINDOW].n if start + TEXT_WINDOW < len(pages) else None
    return shown, {"paged": True, "first": shown[0].n, "last": shown[-1].n, "total": len(pages),
                   "prev": prev_n, "next": next_n}


def _template_exists(env, name: str) -> bool:
    from jinja2 import TemplateNotFound

    try:
        env.get_template(name)
        return True
    except TemplateNotFound:
        return False


@bp.get("/items/<int:item_id>/text")
def item_text(item_id: int):
    """The item's OCR text (by page) or transcript (with times) as a UTF-8 plain-text download."""
    item = visible_item(item_id)
    lines: list[str] = [item.title, ""]
    for p in item.pages:
        if p.text:
            lines += [f"--- {p.label or p.n} ---", p.text, ""]
    for s in item.segments:
        if s.kind == "transcript" and s.text:
            who = f"{s.speaker}: " if s.speaker else ""
            lines.append(f"[{clock(s.start)}–{clock(s.end)}] {who}{s.text}")
    body = "\n".join(lines).rstrip() + "\n"
    return Response(body, mimetype="text/plain", headers={
        "Content-Disposition": f"attachment; filename=item-{item.id}.txt",
        "X-Content-Type-Options": "nosniff",
    })


# ---------------------------------------------------------------- home --------------------------

@bp.get("/")
def home():
    """Search box, featured exhibitions, collections, recent items, contributing institutions."""
    s = db()
    listed = listed_items()
    exhibits = s.scalars(
        select(Exhibit).where(Exhibit.published.is_(True))
        .order_by(Exhibit.featured.desc(), Exhibit.updated_at.desc()).limit(6)
    ).all()
    counts = dict(s.execute(
        select(Item.collection_id, func.count()).where(listed).group_by(Item.collection_id)
    ).all())
    collections = s.scalars(select(Collection).order_by(Collection.title)).all()
    recent = s.scalars(
        select(Item).where(listed)
        .order_by(Item.published_at.desc().nulls_last(), Item.created_at.desc()).limit(12)
    ).all()
    inst_counts = dict(s.execute(
        select(Item.institution_id, func.count()).where(listed).group_by(Item.institution_id)
    ).all())
    institutions = [i for i in s.scalars(select(Institution).order_by(Institution.name)).all()
                    if inst_counts.get(i.id)]
    return render_template(
        "home.html", exhibits=exhibits, covers=exhibit_covers(s, exhibits), collections=collections,
        counts=counts, recent=recent, thumbs=thumbnails(s, recent), institutions=institutions,
        inst_counts=inst_counts,
    )


def exhibit_covers(session: Session, exhibits: list[Exhibit]) -> dict[int, str]:
    """Cover image URL per exhibit id, only when the cover page's item is visible to the viewer."""
    page_ids = [e.cover_page_id for e in exhibits if e.cover_page_id]
    if not page_ids:
        return {}
    rows = session.execute(
        select(Page.id, Page.image_id).join(Item, Page.item_id == Item.id)
        .where(Page.id.in_(page_ids), listed_items())
    ).all()
    by_page = {pid: iiif_image(image_id, 400) for pid, image_id in rows}
    return {e.id: by_page[e.cover_page_id] for e in exhibits if e.cover_page_id in by_page}


# ---------------------------------------------------------------- collection browse -------------

@bp.get("/collections/<slug>")
def collection_page(slug: str):
    """Browse a collection: facets (type, decade, institution) with counts, sort, pagination."""
    s = db()
    coll = s.scalar(select(Collection).where(Collection.slug == slug[:64]))
    if coll is None:
        raise NotFound(_("There is no collection “%(slug)s”.", slug=slug[:64]))
    types = request.args.getlist("type")
    bad = [t for t in types if t not in TYPE_LABELS]
    if bad:
        raise InvalidInput(_("Unknown type “%(value)s”; use one of %(choices)s.",
                             value=bad[0][:40], choices=", ".join(TYPE_LABELS)), field="type")
    decades: list[int] = []
    for raw in request.args.getlist("decade"):
        if not re.fullmatch(r"\d{3,4}", raw or "") or int(raw) % 10:
            raise InvalidInput(_("A decade is a year ending in 0, like 1930; got “%(value)s”.",
                                 value=raw[:40]), field="decade")
        decades.append(int(raw))
    inst_slugs = request.args.getlist("institution")
    sort = request.args.get("sort") or "title"
    if sort not in BROWSE_SORTS:
        raise InvalidInput(_("Unknown sort “%(value)s”; use title, date or new.", value=sort[:40]), field="sort")
    page = int_arg("page", 1)

    # integer division on both SQLite and PostgreSQL; literal (not bound) tens keep the SELECT and
    # GROUP BY expressions textually identical, as PostgreSQL requires
    ten = literal_column("10")
    decade_expr = Item.year_from.op("/")(ten).op("*")(ten)
    base = [Item.collection_id == coll.id, listed_items()]
    active: dict[str, Any] = {}
    if types:
        active["type"] = Item.type.in_(types)
    if decades:
        active["decade"] = decade_expr.in_(decades)
    if inst_slugs:
        active["institution"] = Item.institution_id.in_(
            select(Institution.id).where(Institution.slug.in_(inst_slugs)))
    conds = base + list(active.values())

    def facet(name: str, column) -> list[tuple[Any, int]]:
        """Counts per value, within every other active filter (the usual faceted-browse rule)."""
        where = base + [c for k, c in active.items() if k != name]
        return [(v, n) for v, n in s.execute(
            select(column, func.count()).where(*where).group_by(column).order_by(func.count().desc())
        ).all() if v is not None]

    inst_rows = facet("institution", Item.institution_id)
    insts = {i.id: i for i in s.scalars(select(Institution).where(
        Institution.id.in_([r[0] for r in inst_rows]))).all()}
    facets = {
        "type": facet("type", Item.type),
        "decade": sorted((int(d), n) for d, n in facet("decade", decade_expr)),
        "institution": [(insts[i], n) for i, n in inst_rows if i in insts],
    }

    total = s.scalar(select(func.count()).select_from(Item).where(*conds)) or 0
    order = {"title": (Item.title, Item.id), "date": (Item.year_from.is_(None), Item.year_from, Item.title),
             "new": (Item.published_at.desc().nulls_last(), Item.id.desc())}[sort]
    items = s.scalars(select(Item).where(*conds).order_by(*order)
                      .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    pages = max(1, -(-total // PER_PAGE))
    if page > pages and total:
        raise NotFound(_("There is no page %(n)s; the last page is %(last)s.", n=page, last=pages))
    selected = {"type": types, "decade": [str(d) for d in decades], "institution": inst_slugs}
    r = reader()
    groups = [
        facet_group("type", _("Type"), [(t, type_label(t), None, n) for t, n in facets["type"]], selected),
        facet_group("decade", _("Decade"), [(str(d), _("%(decade)ss", decade=d), None, n)
                                             for d, n in facets["decade"]], selected),
        facet_group("institution", _("Institution"),
                    [(i.slug, *_label_pair(i, r), n) for i, n in facets["institution"]], selected),
    ]
    return render_template(
        "collection.html", collection=coll, items=items, thumbs=thumbnails(s, items), total=total,
        page=page, pages=pages, sort=sort, facet_groups=[fg for fg in groups if fg["rows"]],
        active_filters=any(selected.values()),
    )


def _label_pair(thing: Any, r: str) -> tuple[str, str | None]:
    shown = i18n.label(getattr(thing, "labels", None), getattr(thing, "name", "") or getattr(thing, "title", ""), r)
    return shown.value, shown.lang


def facet_group(name: str, heading: str, rows: list[tuple[str, str, str | None, int]],
                selected: dict[str, list[str]]) -> dict[str, Any]:
    """A facet for templates: each value with its label, lang, count, whether on, and toggle link."""
    out = []
    chosen = selected.get(name, [])
    for key, label_text, lang, count in rows:
        on = key in chosen
        values = [v for v in chosen if v != key] if on else chosen + [key]
        out.append({"key": key, "label": label_text, "lang": lang, "count": count, "on": on,
                    "href": url_with(**{name: values, "page": None})})
    return {"name": name, "heading": heading, "rows": out}


# ---------------------------------------------------------------- search page -------------------

def safe_snippet(snippet: str) -> Markup:
    """A search snippet as HTML. The search layer escapes everything and adds only <mark>
    (search.analysis.highlight); bleach keeps it that way even if a backend slipped."""
    return Markup(bleach.clean(str(snippet), tags={"mark"}, attributes={}, strip=True))


def hit_pages(session: Session, results: list[dict]) -> dict[tuple[int, int], Page]:
    """The Page rows the OCR hits of ``results`` point at, keyed by (item id, page n)."""
    wanted = {(r["id"], h["page"]) for r in results for h in r.get("hits", []) if "page" in h}
    if not wanted:
        return {}
    rows = session.scalars(select(Page).where(
        Page.item_id.in_({i for i, _n in wanted}), Page.n.in_({n for _i, n in wanted}))).all()
    return {(p.item_id, p.n): p for p in rows if (p.item_id, p.n) in wanted}


def group_hits(result: dict, pages: dict[tuple[int, int], Page], limit: int = 3) -> dict[str, list]:
    """OCR hits grouped per page (boxes in % of the page, for CSS) and transcript hits (times);
    ``more_pages``/``more_times``: how many more matching pages/segments the item has (from the
    result's ``hits_total``; the search returns only the first few), linked to the item page."""
    by_page: dict[int, list[dict]] = {}
    times: list[dict] = []
    for h in result.get("hits", []):
        if "page" in h:
            page = pages.get((result["id"], h["page"]))
            if page is None or not page.width or not page.height:
                by_page.setdefault(h["page"], [])
                continue
            x, y, w, h_ = (h.get("xywh") or [0, 0, 0, 0])[:4]
            by_page.setdefault(h["page"], []).append({
                "left": 100 * x / page.width, "top": 100 * y / page.height,
                "width": 100 * w / page.width, "height": 100 * h_ / page.height,
            })
        elif "start" in h:
            times.append({"start": float(h["start"]), "end": float(h.get("end", h["start"]))})
    shown = []
    for n, boxes in list(by_page.items())[:limit]:
        page = pages.get((result["id"], n))
        shown.append({"n": n, "boxes": boxes, "image": iiif_image(page.image_id, 200) if page else None,
                      "ratio": (page.height / page.width) if page and page.width else None})
    shown_times = times[:5]
    more = max(0, int(result.get("hits_total") or 0) - len(shown) - len(shown_times),
               len(by_page) - len(shown) + len(times) - len(shown_times))
    return {"pages": shown, "more_pages": more if shown else 0, "times": shown_times,
            "more_times": more if not shown and shown_times else 0}


@bp.get("/search")
def search_page():
    """Full-text search with facets, highlighted snippets, hit boxes on page thumbnails, times."""
    q = (request.args.get("q") or "").strip()
    if len(q) > 500:
        raise InvalidInput(_("The search is too long (at most 500 characters)."), field="q")
    page = int_arg("page", 1, high=500)
    sort = request.args.get("sort") or "relevance"
    if sort not in SEARCH_SORTS:
        raise InvalidInput(_("Unknown sort “%(value)s”; use relevance, date or title.", value=sort[:40]),
                           field="sort")
    filters = {k: [v[:200] for v in request.args.getlist(k) if v.strip()]
               for k in request.args if k not in SEARCH_RESERVED}
    filters = {k: v for k, v in filters.items() if v}
    context: dict[str, Any] = {"q": q, "sort": sort, "filters": filters, "result": None, "error": None,
                               "suggestion": None, "suggestion_lang": None, "page": page, "per_page": SEARCH_PER_PAGE}
    if not q and not filters:
        return render_template("search.html", **context)
    try:
        from search import service
    except ImportError:
        raise Unavailable(_("Search is not available yet; please try again later.")) from None
    try:
        result = service.search(repo_of(), q, filters=filters or None, sort=sort, page=page,
                                per_page=SEARCH_PER_PAGE, viewer=g.viewer)
    except InvalidInput as exc:
        context["error"] = str(exc)
        return render_template("search.html", **context), 400
    from web.usage import record_search

    if page == 1:
        record_search(repo_of(), q, int(result.get("total", 0)), g.viewer)
    s = db()
    results = result.get("results", [])
    ids = [r["id"] for r in results]
    items = {i.id: i for i in s.scalars(select(Item).where(Item.id.in_(ids), listed_items())).all()} if ids else {}
    results = [r for r in results if r["id"] in items]  # belt and braces: never show a hidden item
    pages = hit_pages(s, results)
    if not result.get("total") and q:
        from search.analysis import other_script

        alt = other_script(q)
        if alt != q:
            from repository.dublin_core import guess_lang

            context["suggestion"], context["suggestion_lang"] = alt, guess_lang(alt)
    total = int(result.get("total", 0))
    context.update(
        result=result, results=results, items=items, thumbs=thumbnails(s, list(items.values())),
        hits={r["id"]: group_hits(r, pages) for r in results}, total=total,
        pages=max(1, -(-total // SEARCH_PER_PAGE)), facets=result.get("facets", {}),
        safe_snippet=safe_snippet, facet_groups=search_facets(result.get("facets", {}), filters),
    )
    return render_template("search.html", **context)


#: Headings of the facets the search service may return (English source strings)
FACET_HEADINGS = {"type": _l("Type"), "collection": _l("Collection"), "institution": _l("Institution"),
                  "decade": _l("Decade"), "year": _l("Year"), "language": _l("Language"), "creator": _l("Creator"),
                  "subject": _l("Subject"), "place": _l("Place"), "date": _l("Date"), "kind": _l("Kind"),
                  "media": _l("Media")}


def search_facets(facets: dict[str, list], filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The search service's facets ({name: [[value, count]]}) as toggle links for the template."""
    groups = []
    r = reader()
    named: dict[str, dict[str, Any]] = {}
    session = db()
    for name, model in (("collection", Collection), ("institution", Institution)):
        slugs = [str(row[0]) for row in (facets or {}).get(name, [])]
        if slugs:
            named[name] = {x.slug: x for x in session.scalars(select(model).where(model.slug.in_(slugs)))}
    for name, rows in (facets or {}).items():
        shaped = []
        for row in rows or []:
            value, count = str(row[0]), int(row[1])
            if name == "type":
                label_text, lang = type_label(value), None
            elif value in named.get(name, {}):
                label_text, lang = _label_pair(named[name][value], r)
            elif name == "decade" and re.fullmatch(r"\d{3,4}s", value):
                label_text, lang = _("%(decade)ss", decade=value[:-1]), None
            else:
                shown = i18n.text_for(value, None, r)
                label_text, lang = shown.value, shown.lang
            shaped.append((value, label_text, lang, count))
        group = facet_group(name, str(FACET_HEADINGS.get(name, name.capitalize())), shaped, filters)
        if group["rows"]:
            groups.append(group)
    return groups


# ---------------------------------------------------------------- exhibitions -------------------

def exhibit_visible(ex: Exhibit | None) -> bool:
    """Published exhibitions for everyone; unpublished ones for admins and their institution's staff."""
    if ex is None:
        return False
    if ex.published:
        return True
    v = g.viewer
    return v.is_admin or (v.is_staff and ex.institution_id is not None and ex.institution_id == v.institution_id)


@bp.get("/exhibits")
def exhibits_index():
    """The index of online exhibitions (線上展覽)."""
    s = db()
    exhibits = [e for e in s.scalars(select(Exhibit).order_by(Exhibit.featured.desc(), Exhibit.updated_at.desc()))
                if exhibit_visible(e)]
    return render_template("exhibits.html", exhibits=exhibits, covers=exhibit_covers(s, exhibits),
                           summaries={e.id: sanitise_markdown(exhibit_text(e.summary)) for e in exhibits})


def exhibit_text(text: str) -> str:
    """Curator-written Markdown in the reader's Chinese script (OpenCC) before rendering."""
    r = reader()
    return i18n.convert(text or "", r) if r in i18n.CHINESE else (text or "")


@bp.get("/exhibits/<slug>")
def exhibit_page(slug: str):
    """One exhibition: cover, summary, ordered sections of sanitised Markdown and embedded items."""
    s = db()
    ex = s.scalar(select(Exhibit).where(Exhibit.slug == slug[:64]))
    if not exhibit_visible(ex):
        raise NotFound(_("There is no exhibition “%(slug)s”.", slug=slug[:64]))
    sections = []
    for sec in ex.sections:
        embed = None
        item = s.get(Item, sec.item_id) if sec.item_id else None
        if item is not None and can_view(item, g.viewer) and item.deleted_at is None:
            page = next((p for p in item.pages if p.n == sec.page_n), None) if sec.page_n else None
            embed = {"item": item, "page": page,
                     "image": iiif_image(page.image_id, 800) if page else thumbnails(s, [item]).get(item.id),
                     "href": f"/items/{item.id}" + (f"?page={page.n}" if page else "")}
        if sec.item_id and embed is None and not (sec.body or "").strip():
            continue  # the section only shows an item this reader may not see: leave it out entirely
        sections.append({"n": sec.n, "heading": sec.heading, "body": sanitise_markdown(exhibit_text(sec.body)),
                         "caption": sec.caption, "embed": embed})
    return render_template("exhibit.html", exhibit=ex, sections=sections,
                           cover=exhibit_covers(s, [ex]).get(ex.id),
                           summary=sanitise_markdown(exhibit_text(ex.summary)))
