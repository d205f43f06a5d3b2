"""Jobs: live progress (``/admin/jobs.json`` polled by admin.js), errors per file/page, retry, cancel."""
from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from config import Forbidden, InvalidInput, NotFound
from repository import jobs as queue
from repository.access import can_edit, visible_filter
from repository.models import Item, Job, JobState
from web.admin import bp
from web.admin.common import repo, viewer
from web.admin.forms import ActionForm

JOB_STATES = [s.value for s in JobState]


def _visible_jobs(s, state: str | None = None, ids: list[int] | None = None, limit: int = 200) -> list[Job]:
    v = viewer()
    q = select(Job).outerjoin(Item, Job.item_id == Item.id)
    if not v.is_admin:  # archivists: jobs of their institution's items only
        q = q.where(Job.item_id.is_not(None), visible_filter(v), Item.institution_id == v.institution_id)
    if state:
        q = q.where(Job.state == state)
    if ids is not None:
        q = q.where(Job.id.in_(ids))
    return list(s.scalars(q.order_by(Job.id.desc()).limit(limit)))


def job_json(job: Job) -> dict:
    prog = job.progress or {}
    item = job.item_id
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "item": item,
        "title": (job.payload or {}).get("title"),
        "done": prog.get("done", 0), "total": prog.get("total", 0), "step": prog.get("step", ""),
        "errors": prog.get("errors", []), "error": job.error, "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _args() -> tuple[str | None, list[int] | None]:
    state = request.args.get("state") or None
    if state and state not in JOB_STATES:
        raise InvalidInput(_("Unknown job state %(s)s; use one of %(all)s", s=state[:20], all=", ".join(JOB_STATES)))
    raw = request.args.get("ids")
    ids = None
    if raw:
        parts = raw.split(",")
        if len(parts) > 500 or not all(p.strip().isdigit() for p in parts):
            raise InvalidInput(_("ids must be job numbers separated by commas"))
        ids = [int(p) for p in parts]
    return state, ids


@bp.get("/jobs")
def jobs():
    state, ids = _args()
    with repo().session() as s:
        rows = _visible_jobs(s, state, ids)
        titles = {i.id: i.title for i in s.scalars(select(Item).where(Item.id.in_([j.item_id for j in rows if j.item_id])))}
        return render_template("admin/jobs.html", jobs=rows, titles=titles, state=state or "", states=JOB_STATES,
                               action=ActionForm(), ids=",".join(map(str, ids)) if ids else "")


@bp.get("/jobs.json")
def jobs_json():
    """``{"jobs": [...], "active": n}``; ``?ids=1,2`` or ``?state=running`` narrow it."""
    state, ids = _args()
    with repo().session() as s:
        rows = _visible_jobs(s, state, ids)
        titles = {i.id: i.title for i in s.scalars(select(Item).where(Item.id.in_([j.item_id for j in rows if j.item_id])))}
        out = []
        for j in rows:
            d = job_json(j)
            d["title"] = titles.get(j.item_id) or d["title"]
            out.append(d)
        active = sum(1 for j in rows if j.state in (JobState.QUEUED.value, JobState.RUNNING.value))
        return jsonify({"jobs": out, "active": active})


def _job_for_edit(s, job_id: int) -> Job:
    job = s.get(Job, job_id)
    if job is None:
        raise NotFound(_("No job %(id)s.", id=job_id))
    v = viewer()
    if not v.is_admin:
        item = s.get(Item, job.item_id) if job.item_id else None
        if item is None or item.institution_id != v.institution_id:
            raise NotFound(_("No job %(id)s.", id=job_id))
        if not can_edit(item, v):
            raise Forbidden(_("You may only manage jobs of your own institution."))
    return job


@bp.post("/jobs/<int:job_id>/retry")
def job_retry(job_id: int):
    if not ActionForm().validate():
        raise InvalidInput(_("The form expired; reload the page."))
    with repo().unit_of_work(viewer().agent) as uow:
        job = _job_for_edit(uow.session, job_id)
        queue.retry(uow.session, job.id)
        if job.item_id:
            uow.event("job retry", item=job.item_id, detail={"job": job.id, "kind": job.kind})
    flash(_("Job %(id)s queued again.", id=job_id))
    return redirect(request.referrer if _local(request.referrer) else url_for("admin.jobs"))


@bp.post("/jobs/<int:job_id>/cancel")
def job_cancel(job_id: int):
    if not ActionForm().validate():
        raise InvalidInput(_("The form expired; reload the page."))
    with repo().unit_of_work(viewer().agent) as uow:
        job = _job_for_edit(uow.session, job_id)
        queue.request_cancel(uow.session, job.id, by=viewer().name)
        uow.event("job cancellation", item=job.item_id, detail={"job": job.id, "kind": job.kind})
    flash(_("Job %(id)s cancelled (a running job stops at its next step).", id=job_id))
    return redirect(request.referrer if _local(request.referrer) else url_for("admin.jobs"))


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url + "admin/")
