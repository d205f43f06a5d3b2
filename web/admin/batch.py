"""CSV batch in the browser: upload CSV + zip (or files) → dry-run report → ingest (all, or only good rows).

The uploaded material waits in ``<data>/tmp/batch-<token>/`` between the two steps; the token is
remembered in the user's session, so nobody else can run it. The folder is removed after the
run, and folders older than a day are swept whenever a new batch starts.
"""
from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from config import HeritageError, InvalidInput, NotFound
from ingest import batch as batchlib
from web.admin import bp
from web.admin.common import editable_collections, institution_slug, put_error, repo, safe_filename, temp_root, viewer
from web.admin.forms import choices, BatchForm, BatchRunForm

TOKEN = re.compile(r"^[a-f0-9]{32}$")
KEEP_SECONDS = 24 * 3600


def _form() -> BatchForm:
    form = BatchForm()
    with repo().session() as s:
        form.collection.choices = choices([("", _("(from the CSV)"))] + [(c.slug, c.title) for c in editable_collections(s)])
    return form


def _sweep() -> None:
    for d in temp_root().glob("batch-*"):
        try:
            if time.time() - d.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _plan(work: Path, default_collection: str | None):
    v = viewer()
    with repo().session() as s:
        allowed = None if v.is_admin else [c.slug for c in editable_collections(s)]
        inst = None if v.is_admin else institution_slug(s, v.institution_id)
    return batchlib.plan(repo(), (work / "batch.csv").read_bytes(), work / "files",
                         default_collection=default_collection, allowed_collections=allowed,
                         agent=v.agent, institution=inst)


@bp.route("/batch", methods=["GET", "POST"])
def batch():
    """Step 1: upload, and see the dry-run report of every row."""
    form = _form()
    if request.method == "GET":
        return render_template("admin/batch.html", form=form, plan=None)
    if not form.validate():
        return render_template("admin/batch.html", form=form, plan=None), 400
    _sweep()
    token = secrets.token_hex(16)
    work = temp_root() / f"batch-{token}"
    (work / "files").mkdir(parents=True)
    keep = False
    try:
        form.csv.data.save(work / "batch.csv")
        archive = form.archive.data
        if archive is not None and archive.filename:
            zpath = work / "upload.zip"
            archive.save(zpath)
            batchlib.extract_zip(zpath, work / "files", max_bytes=repo().settings.max_upload_bytes)
            zpath.unlink()
        for f in request.files.getlist("files"):
            if f and f.filename:
                f.save(work / "files" / safe_filename(f.filename))
        default = form.collection.data or None
        (work / "collection").write_text(default or "")
        plan = _plan(work, default)
        keep = True
    except HeritageError as exc:
        put_error(form, exc, "csv")
        return render_template("admin/batch.html", form=form, plan=None), 400
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    session.setdefault("batches", [])
    session["batches"] = (session["batches"] + [token])[-10:]
    return render_template("admin/batch.html", form=form, plan=plan, token=token, run=BatchRunForm(formdata=None)), \
        200 if plan.ok else 422


def _work_dir(token: str) -> Path:
    if not TOKEN.match(token) or token not in session.get("batches", []):
        raise NotFound(_("This batch is unknown or was already ingested; upload the CSV again."))
    work = temp_root() / f"batch-{token}"
    if not work.is_dir():
        raise NotFound(_("This batch is unknown or was already ingested; upload the CSV again."))
    return work


@bp.post("/batch/<token>/run")
def batch_run(token: str):
    """Step 2: check again (files may have changed), then ingest all rows or only the good ones."""
    work = _work_dir(token)
    form = BatchRunForm()
    if not form.validate():
        raise InvalidInput(_("The form expired; reload the page."))
    default = (work / "collection").read_text() or None
    plan = _plan(work, default)
    try:
        result = batchlib.run(repo(), plan, only_good=bool(form.only_good.data))
    except InvalidInput as exc:
        form.only_good.errors = [str(exc)]
        return render_template("admin/batch.html", form=_form(), plan=plan, token=token, run=form), 400
    shutil.rmtree(work, ignore_errors=True)
    session["batches"] = [t for t in session.get("batches", []) if t != token]
    flash(_("%(n)s items created; %(s)s rows skipped.", n=len(result.created), s=len(result.skipped)))
    ids = ",".join(str(job) for _l, _i, job in result.created)
    return redirect(url_for("admin.jobs", ids=ids) if ids else url_for("admin.batch"))
