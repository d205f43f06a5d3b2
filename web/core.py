"""Core routes: health check, the home page placeholder, language switch."""
from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request

from config import HeritageError
from web.app import LOCALES, repo_of

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness and readiness: the database answers and the data directory is there."""
    repo = repo_of()
    checks = {}
    try:
        repo.db.ping()
        checks["database"] = "ok"
    except HeritageError as exc:
        checks["database"] = str(exc)
    checks["storage"] = "ok" if repo.settings.data_dir.is_dir() else "missing"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), 200 if ok else 503


@bp.get("/lang/<code>")
def set_language(code: str):
    """Remember the reader's language choice in a cookie and go back."""
    if code not in LOCALES:
        code = "zh_Hant"
    target = request.args.get("next") or "/"
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    resp = redirect(target)
    resp.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return resp
