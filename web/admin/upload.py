"""Upload: several files at once, each sent by its own XHR (per-file progress in admin.js).

``POST /admin/upload/file`` takes ONE file (and optionally its transcript) plus the options,
saves it to a private temp dir, hands it to :func:`ingest.intake.ingest_paths` (which sniffs
and validates) and always removes the temp dir. Answers JSON: ``{"item": id, "job": id}`` or
``{"error": message, "field": name}`` with status 400.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import jsonify, render_template, request
from flask_babel import gettext as _

from config import HeritageError
from web.admin import bp
from web.admin.common import editable_collections, institution_slug, repo, safe_filename, temp_root, viewer
from web.admin.forms import choices, UploadForm


def _form() -> UploadForm:
    form = UploadForm()
    with repo().session() as s:
        form.collection.choices = choices((c.slug, c.title) for c in editable_collections(s))
    return form


@bp.get("/upload")
def upload():
    return render_template("admin/upload.html", form=_form())


def _error(message: str, field: str | None = None, status: int = 400):
    return jsonify({"error": message, "field": field, "status": status}), status


@bp.post("/upload/file")
def upload_file():
    """Ingest one uploaded file (with an optional transcript) as one new item."""
    from ingest.intake import IngestOptions, ingest_paths

    form = _form()
    if not form.validate():
        name, errors = next(iter(form.errors.items()))
        return _error(f"{form[name].label.text}: {errors[0]}", name)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _error(_("No file was sent."), "file")
    transcript = request.files.get("transcript")
    tmp = Path(tempfile.mkdtemp(prefix="upload-", dir=temp_root()))
    try:
        path = tmp / safe_filename(upload.filename)
        upload.save(path)
        tpath = None
        if transcript is not None and transcript.filename:
            tdir = tmp / "transcript"
            tdir.mkdir()
            tpath = tdir / safe_filename(transcript.filename, "transcript.vtt")
            transcript.save(tpath)
            if tpath.stat().st_size == 0:
                return _error(_("%(name)s: the transcript is empty.", name=tpath.name), "transcript")
        v = viewer()
        with repo().session() as s:
            inst = institution_slug(s, v.institution_id) if not v.is_admin else None
        opts = IngestOptions(collection=form.collection.data, title=form.title.data or None, lang=form.lang_value,
                             vertical=True if form.vertical.data else None, transcript=tpath,
                             publish=bool(form.publish.data), agent=v.agent, institution=inst,
                             take_files=True)  # our temporary copy: moved into the store, not copied again
        if len(request.files.getlist("file")) > 1:
            return _error(_("Send one file per request."), "file")
        try:
            created = ingest_paths(repo(), [path], opts)
        except HeritageError as exc:
            msg = str(exc).replace(str(tmp) + "/", "").replace(str(tmp), "")  # never show server paths
            return _error(msg, exc.field or "file", exc.status if exc.status < 500 else 400)
        item_id, job_id = created[0]
        return jsonify({"item": item_id, "job": job_id, "file": upload.filename,
                        "url": f"/admin/items/{item_id}"}), 201
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
