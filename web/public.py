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
from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from config import InvalidInput, NotFound, Unavailable
from repository.access import can_view, require_view, visible_filter
from repository.models import Collection, Exhibit, File, Institution, Item, Page, Segment
from web import i18n
from web.app import repo_of

bp = Blueprint("public", __name__)

#: Dublin Core elements in the order the item page shows them
DC_ORDER = ("title", "creator", "contributor", "date", "publisher", "place", "subject", "description",
            "type", "format", "language", "identifier", "source", "relation", "coverage", "rights")
#: Human labels for the Dublin Core elements (English source strings; translated at render time)
DC_LABELS = {
    "title": "Title", "creator": "Creator", "contributor": "Contributor", "date": "Date",
    "publisher": "Publisher", "place": "Place", "subject": "Subject", "description": "Description",
    "type": "Type", "format": "Format", "language": "Language", "identifier": "Identifier",
    "source": "Source", "relation": "Relation", "coverage": "Coverage", "rights": "Rights",
}
TYPE_LABELS = {"Text": "Text", "StillImage": "Image", "Sound": "Sound", "MovingImage": "Moving image"}
#: Rights statements that forbid handing out the original file (rightsstatements.org "In Copyright"
#: family, and the usual wording in Chinese and English). Staff can always download.
RESTRICTIVE_RIGHTS = re.compile(
    r"rightsstatements\.org/vocab/(InC|UND)|all rights reserved|no download|版權所有|版权所有|不得下載|不得下载|禁止下載|禁止下载",
    re.IGNORECASE,
)
MAX_DB_INT = 2**63 - 1
PER_PAGE = 24
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


def int_arg(name: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
    """A whole-number request parameter, or :class:`InvalidInput` saying what is wrong."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(_("The parameter %(name)s must be a whole number, got “%(value)s”.",
                             name=name, value=raw[:40]), field=name) from None
    if not low <= value <= high:
        raise InvalidInput(_("The parameter %(name)s must be between %(low)s and %(high)s.",
                             name=name, low=low, high=high), field=name)
    return value


def visible_item(item_id: int) -> Item:
    """The item if ``g.viewer`` may see it on the public site, else :class:`NotFound`."""
    item = db().get(Item, item_id) if 0 < item_id <= MAX_DB_INT else None
    item = require_view(item, g.viewer)
    if item.deleted_at is not None and not g.viewer.is_staff:
        raise NotFound("no such item")
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
    html = md.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    clean = bleach.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS, protocols=ALLOWED_PROTOCOLS,
                         strip=True, strip_comments=True)
    return Markup(clean)


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


@bp.app_template_filter("timecode")
def timecode(seconds: float | None) -> str:
    """Template: seconds as H:MM:SS or M:SS."""
    s = int(seconds or 0)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


@bp.app_template_global()
def type_label(type_: str) -> str:
    return _(TYPE_LABELS.get(type_, type_))


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


def find_matches(text: str, q: str) -> list[tuple[int, int]]:
    """Spans of ``q`` (or its words) in ``text``: the search engine's matcher when installed.

    Fallback while ``search.analysis`` is missing: per-character OpenCC folding to simplified
    (t2s is per character for almost all characters, so offsets stay valid) and plain find.
    """
    try:
        from search.analysis import find_matches as engine_find

        return list(engine_find(text, q))
    except ImportError:
        pass
    folded = "".join(i18n.convert(c, "zh-Hans")[:1] or c for c in text).lower()
    spans = []
    for word in q.split():
        w = "".join(i18n.convert(c, "zh-Hans")[:1] or c for c in word).lower()
        start = folded.find(w)
        while w and start >= 0:
            spans.append((start, start + len(w)))
            start = folded.find(w, start + len(w))
    return spans


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
    int_arg("page", 1, high=100_000)
    q = (request.args.get("q") or "").strip()[:200]
    files = list(item.files)
    originals = [f for f in files if f.role == "original"] if original_downloadable(item) else []
    extras = [f for f in files if f.role in ("pdf", "webvtt", "alto", "hocr") and f.page_id is None]
    is_av = item.type in ("Sound", "MovingImage")
    pages = [p for p in item.pages] if not is_av else []
    segments = [s for s in item.segments if s.kind == "transcript"] if is_av else []
    chapters = [s for s in item.segments if s.kind == "chapter"] if is_av else []
    has_text = any(p.text for p in item.pages) or bool(item.segments)
    elements = i18n.display_elements(item.metadata_, DC_ORDER)
    from web.usage import record_view

    record_view(repo_of(), item.id, g.viewer)
    loader = current_app.jinja_env
    partials = {name: _template_exists(loader, f"item/_{name}.html") for name in ("viewer_image", "player_av")}
    return render_template(
        "item.html", item=item, q=q, pages=pages, segments=segments, chapters=chapters, is_av=is_av,
        originals=originals, extras=extras, has_text=has_text, elements=elements, dc_labels=DC_LABELS,
        citation=citation(item), stable_url=stable_url(item), highlight=highlight, partials=partials,
        thumb=thumbnails(db(), [item]).get(item.id),
    )


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
            lines.append(f"[{timecode(s.start)}–{timecode(s.end)}] {who}{s.text}")
    body = "\n".join(lines).rstrip() + "\n"
    return Response(body, mimetype="text/plain", headers={
        "Content-Disposition": f"attachment; filename=item-{item.id}.txt",
        "X-Content-Type-Options": "nosniff",
    })
