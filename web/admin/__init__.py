"""The archivists' workspace at ``/admin`` (login required).

Routes live in small modules, one job each: :mod:`.items` (metadata, pages, publish, trash),
:mod:`.upload` (several files with per-file progress), :mod:`.batch` (CSV batch with dry run),
:mod:`.jobs` (live progress, retry, cancel), :mod:`.exhibits` (exhibition editor), :mod:`.stats`
(the staff "data wall") and :mod:`.people` (users, institutions, collections; admins only).
Every change goes through ``repo.unit_of_work(viewer.agent)``, writes an audit Event and queues
the item for reindexing.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _staff_only():
    """Every /admin page needs a logged-in staff member (JSON endpoints answer 401)."""
    if g.viewer.is_staff:
        return None
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        return jsonify({"error": _("Log in first."), "status": 401}), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


from web.admin import batch, exhibits, items, jobs, people, stats, upload  # noqa: E402,F401  (register routes)
