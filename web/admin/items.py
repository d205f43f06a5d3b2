"""Items: the dashboard, lists, the item's admin page (metadata, pages, events) and its actions."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from config import Conflict, InvalidInput
from repository import dublin_core
from repository import jobs as queue
from repository.access import visible_filter
from repository.models import Event, Item, ItemState, Job, JobState, Tombstone, utcnow
from web.admin import bp
from web.admin.common import load_item, put_error, repo, safe_filename, temp_root, viewer
from web.admin.forms import ActionForm, MetadataForm, ReplaceForm, metadata_from_form, metadata_to_form
from web.params import int_arg

PER_PAGE = 50
STATES = [s.value for s in ItemState]


@bp.get("/")
def dashboard():
    """Counts by state, the newest items and the jobs still running."""
    v = viewer()
    with repo().session() as s:
        counts = dict(s.execute(select(Item.state, func.count()).where(visible_filter(v), Item.deleted_at.is_(None))
                                .group_by(Item.state)).all())
        recent = list(s.scalars(select(Item).where(visible_filter(v), Item.deleted_at.is_(None))
                                .order_by(Item.id.desc()).limit(10)))
        from web.admin.jobs import _visible_jobs

        running = len(_visible_jobs(s, JobState.RUNNING.value, limit=1000)) + \
            len(_visible_jobs(s, JobState.QUEUED.value, limit=1000))
        return render_template("admin/dashboard.html", counts=counts, recent=recent, running=running, states=STATES)


@bp.get("/items")
def items():
    """Items the viewer may see, filtered by state and a title/metadata word."""
    v = viewer()
    state = request.args.get("state") or ""
    if state and state not in STATES:
        raise InvalidInput(_("Unknown state %(s)s; use one of %(all)s", s=state[:20], all=", ".join(STATES)))
    q = (request.args.get("q") or "").strip()[:200]
    page = int_arg("page", 1, high=100_000)
    with repo().session() as s:
        query = select(Item).where(visible_filter(v), Item.deleted_at.is_(None))
        if state:
            query = query.where(Item.state == state)
        if q:
            query = query.where(or_(Item.title.contains(q, autoescape=True), *([Item.id == int(q)] if q.isdigit() else [])))
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(s.scalars(query.order_by(Item.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
        return render_template("admin/items.html", items=rows, total=total, page=page, per_page=PER_PAGE,
                               state=state, q=q, states=STATES, trash=False)


@bp.get("/trash")
def trash():
    """Deleted items of the viewer's institution (admins: all), to restore."""
    v = viewer()
    with repo().session() as s:
        query = select(Item).where(Item.deleted_at.is_not(None))
        if not v.is_admin:
            query = query.where(Item.institution_id == v.institution_id)
        rows = list(s.scalars(query.order_by(Item.deleted_at.desc()).limit(500)))
        return render_template("admin/items.html", items=rows, total=len(rows), page=1, per_page=500,
                               state="", q="", states=STATES, trash=True, action=ActionForm())


def _render_item(s, item: Item, form: MetadataForm | None = None, status: int = 200, reorder_error: str | None = None,
                 replace: ReplaceForm | None = None):
    if form is None:
        form = MetadataForm(formdata=None)
        metadata_to_form(item.metadata_ or {}, form)
        form.item_type.data = item.type
    events = list(s.scalars(select(Event).where(Event.item_id == item.id).order_by(Event.at.desc(), Event.id.desc())
                            .limit(200)))
    item_jobs = list(s.scalars(select(Job).where(Job.item_id == item.id).order_by(Job.id.desc()).limit(20)))
    originals = [f for f in item.files if f.role == "original"]
    from repository.access import can_edit

    return render_template("admin/item.html", item=item, form=form, events=events, jobs=item_jobs,
                           originals=originals, action=ActionForm(), replace=replace or ReplaceForm(formdata=None),
                           can_edit=can_edit(item, viewer()), reorder_error=reorder_error), status


@bp.get("/items/<int:item_id>")
def item(item_id: int):
    with repo().session() as s:
        return _render_item(s, load_item(s, item_id))


@bp.post("/items/<int:item_id>")
def item_save(item_id: int):
    """Save the Dublin Core form; errors are shown beside their field (status 400)."""
    with repo().unit_of_work(viewer().agent) as uow:
        it = load_item(uow.session, item_id, edit=True)
        form = MetadataForm()
        if not form.validate():
            return _render_item(uow.session, it, form, 400)
        try:
            md = dublin_core.normalise(metadata_from_form(form))
            title = dublin_core.first(md, "title")
            if not title:
                raise InvalidInput(_("An item needs a title."), field="title")
            if len(title) > 1000:
                raise InvalidInput(_("The title is longer than 1000 characters."), field="title")
        except InvalidInput as exc:
            put_error(form, exc, "description")
            return _render_item(uow.session, it, form, 400)
        old = it.metadata_ or {}
        changed = sorted(k for k in set(old) | set(md) if old.get(k) != md.get(k))
        if it.type != form.item_type.data:
            changed.append("type")
        it.metadata_ = md
        it.title = title
        it.type = form.item_type.data
        it.year_from, it.year_to = dublin_core.year_range(dublin_core.values(md, "date"))
        it.updated_at = utcnow()
        uow.event("metadata modification", item=it, detail={"fields": changed})
        uow.reindex(it)
    flash(_("Saved."))
    return redirect(url_for("admin.item", item_id=item_id))


def _action_form_ok() -> None:
    form = ActionForm()
    if not form.validate():  # CSRF is checked app-wide; this catches a form without a token anyway
        abort(400)


@bp.post("/items/<int:item_id>/publish")
def publish(item_id: int):
    _action_form_ok()
    with repo().unit_of_work(viewer().agent) as uow:
        it = load_item(uow.session, item_id, edit=True, deleted_ok=False)
        if it.state == ItemState.PUBLISHED.value:
            raise Conflict(_("The item is already published."))
        if it.state != ItemState.DRAFT.value:
            raise Conflict(_("Only a finished draft can be published; this item is %(state)s.", state=_(it.state)))
        it.state = ItemState.PUBLISHED.value
        it.published_at = utcnow()
        tomb = uow.session.get(Tombstone, it.id)
        if tomb is not None:
            uow.session.delete(tomb)
        uow.event("publication", item=it)
        uow.reindex(it)
    flash(_("Published: visitors can see the item now."))
    return redirect(url_for("admin.item", item_id=item_id))


def _tombstone(uow, it: Item) -> None:
    """Remember for OAI-PMH that a public record went away."""
    tomb = uow.session.get(Tombstone, it.id) or Tombstone(item_id=it.id)
    tomb.deleted_at = utcnow()
    tomb.sets = ([f"collection:{it.collection.slug}"] if it.collection else []) + (
        [f"institution:{it.institution.slug}"] if it.institution else [])  # OAI setSpecs (web/oai.py)
    uow.session.add(tomb)


@bp.post("/items/<int:item_id>/unpublish")
def unpublish(item_id: int):
    _action_form_ok()
    with repo().unit_of_work(viewer().agent) as uow:
        it = load_item(uow.session, item_id, edit=True, deleted_ok=False)
        if it.state != ItemState.PUBLISHED.value:
            raise Conflict(_("The item is not published."))
        it.state = ItemState.DRAFT.value
        _tombstone(uow, it)
        uow.event("unpublication", item=it)
        uow.reindex(it)
    flash(_("Unpublished: only staff can see the item now."))
    return redirect(url_for("admin.item", item_id=item_id))


@bp.post("/items/<int:item_id>/delete")
def delete(item_id: int):
    """Move to the trash; a published item leaves a tombstone for OAI harvesters."""
    _action_form_ok()
    with repo().unit_of_work(viewer().agent) as uow:
        it = load_item(uow.session, item_id, edit=True)
        if it.deleted_at is not None:
            raise Conflict(_("The item is already in the trash."))
        was_public = it.state == ItemState.PUBLISHED.value
        if was_public:
            _tombstone(uow, it)
            it.state = ItemState.DRAFT.value
        it.deleted_at = utcnow()
        uow.event("deletion", item=it, detail={"was_published": was_public})
        uow.reindex(it, "delete")
    flash(_("Moved to the trash. You can restore it from there."))
    return redirect(url_for("admin.trash"))


@bp.post("/items/<int:item_id>/restore")
def restore(item_id: int):
    """Back from the trash as a draft (publish it again to show it)."""
    _action_form_ok()
    with repo().unit_of_work(viewer().agent) as uow:
        it = load_item(uow.session, item_id, edit=True)
        if it.deleted_at is None:
            raise Conflict(_("The item is not in the trash."))
        it.deleted_at = None
        uow.event("restoration", item=it)
        uow.reindex(it)
    flash(_("Restored as a draft."))
    return redirect(url_for("admin.item", item_id=item_id))


@bp.post("/items/<int:item_id>/reorder")
def reorder(item_id: int):
    """New page order from ``pos-<page id>`` fields: a permutation of 1..N, else a message."""
    _action_form_ok()
    with repo().unit_of_work(viewer().agent) as uow:
        it = load_item(uow.session, item_id, edit=True, deleted_ok=False)
        pages = list(it.pages)
        wanted: dict[int, int] = {}
        error = None
        for p in pages:
            raw = (request.form.get(f"pos-{p.id}") or "").strip()
            if not raw.isdigit() or not 1 <= int(raw) <= len(pages):
                error = _("Page positions must be whole numbers from 1 to %(n)s.", n=len(pages))
                break
            wanted[p.id] = int(raw)
        if error is None and sorted(wanted.values()) != list(range(1, len(pages) + 1)):
            error = _("Each position from 1 to %(n)s must be used exactly once.", n=len(pages))
        if error:
            uow.session.rollback()
            return _render_item(uow.session, load_item(uow.session, item_id), status=400, reorder_error=error)
        before = [p.n for p in pages]
        for p in pages:  # two steps: the (item, n) pair is unique
            p.n = p.n + 1_000_000
        uow.session.flush()
        for p in pages:
            p.n = wanted[p.id]
        uow.event("metadata modification", item=it,
                  detail={"pages_reordered": {str(b): wanted[p.id] for b, p in zip(before, pages)}})
        uow.reindex(it)
    flash(_("Page order saved."))
    return redirect(url_for("admin.item", item_id=item_id))


@bp.post("/items/<int:item_id>/replace")
def replace(item_id: int):
    """Replace the original file(s) and derive everything again through the pipeline."""
    from ingest import intake

    form = ReplaceForm()
    with repo().session() as s:
        it = load_item(s, item_id, edit=True, deleted_ok=False)
        if not form.validate():
            return _render_item(s, it, status=400, replace=form)
    tmp = Path(tempfile.mkdtemp(prefix="replace-", dir=temp_root()))
    try:
        upload = form.file.data
        path = tmp / safe_filename(upload.filename)
        upload.save(path)
        try:
            intake.check_path(path)
            kind = intake.sniff(path)
        except InvalidInput as exc:
            with repo().session() as s:
                form.file.errors = [str(exc)]
                return _render_item(s, load_item(s, item_id), status=400, replace=form)
        with repo().unit_of_work(viewer().agent) as uow:
            it = load_item(uow.session, item_id, edit=True, deleted_ok=False)
            if queue.pending(uow.session, [j.id for j in uow.session.scalars(select(Job).where(Job.item_id == it.id))]):
                raise Conflict(_("The item is still being processed; wait for its job or cancel it first."))
            old = [f.sha256 for f in it.files if f.role == "original"]
            for f in list(it.files):
                uow.session.delete(f)
            for p in list(it.pages):
                uow.session.delete(p)
            for seg in list(it.segments):
                uow.session.delete(seg)
            uow.session.flush()
            uow.session.expire(it, ["files", "pages", "segments"])
            was_public = it.state == ItemState.PUBLISHED.value
            it.state = ItemState.PROCESSING.value
            it.error = None
            it.publish_when_ready = was_public
            it.type = "Text"
            opts = intake.IngestOptions(collection=it.collection.slug, title=it.title, lang=it.ocr_languages,
                                        vertical=it.vertical, publish=was_public, agent=viewer().agent,
                                        settings=repo().settings)
            job = intake._pipeline(kind)(uow, it, [path], opts)
            uow.event("replacement", item=it, detail={"old": old, "file": path.name, "job": job.id})
            uow.reindex(it)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    flash(_("File replaced; the item is being processed again."))
    return redirect(url_for("admin.jobs"))

