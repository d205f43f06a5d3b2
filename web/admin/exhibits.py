"""The exhibition editor: an exhibit (slug, title, Markdown introduction, cover page, published,
featured) and its ordered sections (heading, Markdown text, an item or one page of it, caption)."""
from __future__ import annotations

import bleach
import markdown
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, select

from config import Conflict, Forbidden, InvalidInput, NotFound
from repository.access import can_view
from repository.models import Exhibit, ExhibitSection, Item, Page, utcnow
from web.admin import bp
from web.admin.common import put_error, repo, viewer
from web.admin.forms import ActionForm, ExhibitForm, SectionForm

ALLOWED_TAGS = ["p", "br", "hr", "h2", "h3", "h4", "strong", "em", "b", "i", "u", "s", "blockquote", "code", "pre",
                "ul", "ol", "li", "a", "ruby", "rt", "rp", "sup", "sub", "table", "thead", "tbody", "tr", "th", "td"]
ALLOWED_ATTRS = {"a": ["href", "title"], "th": ["align"], "td": ["align"]}


@bp.app_template_filter("admin_markdown")
def render_markdown(text: str | None) -> Markup:
    """Markdown → HTML with only harmless tags and http(s)/mailto links (bleach), for previews."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"], output_format="html")
    clean = bleach.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS, protocols=["http", "https", "mailto"],
                         strip=True)
    return Markup(bleach.linkify(clean, callbacks=[bleach.callbacks.nofollow]))


def _visible_exhibits(s) -> list[Exhibit]:
    q = select(Exhibit).order_by(Exhibit.updated_at.desc())
    v = viewer()
    if not v.is_admin:
        q = q.where((Exhibit.institution_id == v.institution_id) | Exhibit.institution_id.is_(None))
    return list(s.scalars(q))


def _exhibit(s, exhibit_id: int) -> Exhibit:
    ex = s.get(Exhibit, exhibit_id)
    if ex is None:
        raise NotFound(_("No such exhibition."))
    v = viewer()
    if not v.is_admin and ex.institution_id not in (None, v.institution_id):
        raise Forbidden(_("You may only edit exhibitions of your own institution."))
    return ex


def _page_of(s, item_id: int | None, page_n: int | None, field_item: str, field_page: str) -> tuple[Item | None, Page | None]:
    """The item (and page) a section or cover points at; InvalidInput naming the field otherwise."""
    if item_id is None:
        if page_n is not None:
            raise InvalidInput(_("Give the item number too."), field=field_item)
        return None, None
    item = s.get(Item, item_id)
    if item is None or item.deleted_at is not None or not can_view(item, viewer()):
        raise InvalidInput(_("There is no item %(id)s.", id=item_id), field=field_item)
    if page_n is None:
        return item, None
    page = s.scalar(select(Page).where(Page.item_id == item.id, Page.n == page_n))
    if page is None:
        raise InvalidInput(_("Item %(id)s has no page %(n)s (it has %(count)s).", id=item_id, n=page_n,
                             count=len(item.pages)), field=field_page)
    return item, page


@bp.get("/exhibits")
def exhibits():
    with repo().session() as s:
        return render_template("admin/exhibits.html", exhibits=_visible_exhibits(s))


def _render_editor(s, ex: Exhibit | None, form: ExhibitForm, section_form: SectionForm | None = None,
                   status: int = 200, edit_section: int | None = None):
    items = {}
    if ex is not None:
        ids = [sec.item_id for sec in ex.sections if sec.item_id]
        items = {i.id: i for i in s.scalars(select(Item).where(Item.id.in_(ids)))}
    return render_template("admin/exhibit.html", ex=ex, form=form, section_form=section_form or SectionForm(formdata=None),
                           items=items, action=ActionForm(), edit_section=edit_section), status


def _apply_exhibit_form(s, ex: Exhibit, form: ExhibitForm) -> None:
    dupe = s.scalar(select(Exhibit).where(Exhibit.slug == form.slug.data, Exhibit.id != (ex.id or 0)))
    if dupe is not None:
        raise InvalidInput(_("Another exhibition already uses this address."), field="slug")
    _item, page = _page_of(s, form.cover_item.data, form.cover_page.data or (1 if form.cover_item.data else None),
                           "cover_item", "cover_page")
    ex.slug = form.slug.data
    ex.title = form.title.data.strip()
    ex.summary = form.summary.data or ""
    ex.cover_page_id = page.id if page is not None else None
    ex.published = bool(form.published.data)
    ex.featured = bool(form.featured.data)
    ex.updated_at = utcnow()


@bp.route("/exhibits/new", methods=["GET", "POST"])
def exhibit_new():
    form = ExhibitForm()
    with repo().unit_of_work(viewer().agent) as uow:
        if form.is_submitted():
            if form.validate():
                ex = Exhibit(institution_id=viewer().institution_id)
                try:
                    _apply_exhibit_form(uow.session, ex, form)
                    uow.session.add(ex)
                    uow.session.flush()
                    uow.event("exhibit creation", detail={"exhibit": ex.slug, "id": ex.id})
                    new_id = ex.id
                except InvalidInput as exc:
                    put_error(form, exc, "title")
                    uow.session.rollback()
                    return _render_editor(uow.session, None, form, status=400)
            else:
                return _render_editor(uow.session, None, form, status=400)
        else:
            return _render_editor(uow.session, None, form)
    flash(_("Exhibition created. Add its sections below."))
    return redirect(url_for("admin.exhibit", exhibit_id=new_id))


def _fill(form: ExhibitForm, s, ex: Exhibit) -> None:
    form.slug.data, form.title.data, form.summary.data = ex.slug, ex.title, ex.summary
    form.published.data, form.featured.data = ex.published, ex.featured
    if ex.cover_page_id:
        page = s.get(Page, ex.cover_page_id)
        if page is not None:
            form.cover_item.data, form.cover_page.data = page.item_id, page.n


@bp.route("/exhibits/<int:exhibit_id>", methods=["GET", "POST"])
def exhibit(exhibit_id: int):
    with repo().unit_of_work(viewer().agent) as uow:
        ex = _exhibit(uow.session, exhibit_id)
        if request.method == "GET":
            form = ExhibitForm(formdata=None)
            _fill(form, uow.session, ex)
            return _render_editor(uow.session, ex, form)
        form = ExhibitForm()
        if not form.validate():
            return _render_editor(uow.session, ex, form, status=400)
        try:
            _apply_exhibit_form(uow.session, ex, form)
        except InvalidInput as exc:
            uow.session.rollback()
            put_error(form, exc, "title")
            return _render_editor(uow.session, _exhibit(uow.session, exhibit_id), form, status=400)
        if ex.published:
            hidden = [sec.item_id for sec in ex.sections if sec.item_id and not _public(uow.session, sec.item_id)]
            if hidden:
                flash(_("Visitors will not see items %(ids)s until they are published.",
                        ids=", ".join(map(str, hidden))), "warning")
        uow.event("exhibit modification", detail={"exhibit": ex.slug, "id": ex.id})
    flash(_("Saved."))
    return redirect(url_for("admin.exhibit", exhibit_id=exhibit_id))


def _public(s, item_id: int) -> bool:
    item = s.get(Item, item_id)
    return bool(item and item.is_public)


def _apply_section(s, sec: ExhibitSection, form: SectionForm) -> None:
    _page_of(s, form.item_id.data, form.page_n.data, "item_id", "page_n")
    if not (form.heading.data or "").strip() and not (form.body.data or "").strip() and not form.item_id.data:
        raise InvalidInput(_("A section needs a heading, some text or an item."), field="heading")
    sec.heading = (form.heading.data or "").strip()
    sec.body = form.body.data or ""
    sec.item_id = form.item_id.data
    sec.page_n = form.page_n.data
    sec.caption = form.caption.data or ""


def _renumber(s, ex: Exhibit, ordered: list[ExhibitSection]) -> None:
    for i, sec in enumerate(ordered):  # two steps: (exhibit, n) is unique
        sec.n = 1_000_000 + i
    s.flush()
    for i, sec in enumerate(ordered, start=1):
        sec.n = i


@bp.post("/exhibits/<int:exhibit_id>/sections")
@bp.post("/exhibits/<int:exhibit_id>/sections/<int:section_id>")
def section_save(exhibit_id: int, section_id: int | None = None):
    """Add a section (at ``position``, default: the end) or change one."""
    with repo().unit_of_work(viewer().agent) as uow:
        ex = _exhibit(uow.session, exhibit_id)
        form = SectionForm()
        if section_id is None:
            sec = ExhibitSection(n=(uow.session.scalar(select(func.max(ExhibitSection.n))
                                                       .where(ExhibitSection.exhibit_id == ex.id)) or 0) + 1)
        else:
            sec = uow.session.get(ExhibitSection, section_id)
            if sec is None or sec.exhibit_id != ex.id:
                raise NotFound(_("No such section."))
        try:
            if not form.validate():
                raise InvalidInput("")
            _apply_section(uow.session, sec, form)
        except InvalidInput as exc:
            uow.session.rollback()
            if exc.message:
                put_error(form, exc, "heading")
            ex = _exhibit(uow.session, exhibit_id)
            return _render_editor(uow.session, ex, _filled(uow.session, ex), form, 400, section_id)
        if section_id is None:
            sec.exhibit = ex
        uow.session.add(sec)
        uow.session.flush()
        if form.position.data:
            ordered = [x for x in ex.sections if x.id != sec.id]
            ordered.insert(min(form.position.data, len(ordered) + 1) - 1, sec)
            _renumber(uow.session, ex, ordered)
        ex.updated_at = utcnow()
        uow.event("exhibit modification", detail={"exhibit": ex.slug, "section": sec.id})
    flash(_("Section saved."))
    return redirect(url_for("admin.exhibit", exhibit_id=exhibit_id) + f"#section-{sec.id}")


def _filled(s, ex: Exhibit) -> ExhibitForm:
    form = ExhibitForm(formdata=None)
    _fill(form, s, ex)
    return form


@bp.post("/exhibits/<int:exhibit_id>/sections/<int:section_id>/<any(up, down, delete):what>")
def section_action(exhibit_id: int, section_id: int, what: str):
    if not ActionForm().validate():
        raise InvalidInput(_("The form expired; reload the page."))
    with repo().unit_of_work(viewer().agent) as uow:
        ex = _exhibit(uow.session, exhibit_id)
        ordered = list(ex.sections)
        sec = next((x for x in ordered if x.id == section_id), None)
        if sec is None:
            raise NotFound(_("No such section."))
        i = ordered.index(sec)
        if what == "delete":
            ordered.remove(sec)
            ex.sections.remove(sec)
            uow.session.delete(sec)
            uow.session.flush()
        elif what == "up" and i > 0:
            ordered[i - 1], ordered[i] = ordered[i], ordered[i - 1]
        elif what == "down" and i < len(ordered) - 1:
            ordered[i + 1], ordered[i] = ordered[i], ordered[i + 1]
        _renumber(uow.session, ex, ordered)
        ex.updated_at = utcnow()
        uow.event("exhibit modification", detail={"exhibit": ex.slug, "section": section_id, "action": what})
    return redirect(url_for("admin.exhibit", exhibit_id=exhibit_id))


@bp.post("/exhibits/<int:exhibit_id>/delete")
def exhibit_delete(exhibit_id: int):
    if not ActionForm().validate():
        raise InvalidInput(_("The form expired; reload the page."))
    with repo().unit_of_work(viewer().agent) as uow:
        ex = _exhibit(uow.session, exhibit_id)
        if ex.published:
            raise Conflict(_("Unpublish the exhibition before deleting it."))
        uow.event("exhibit deletion", detail={"exhibit": ex.slug, "id": ex.id})
        uow.session.delete(ex)
    flash(_("Exhibition deleted."))
    return redirect(url_for("admin.exhibits"))
