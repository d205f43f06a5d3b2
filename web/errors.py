"""Error pages and JSON errors. Never a traceback in a response body."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from config import HeritageError

log = logging.getLogger("heritage.web")

TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    416: "Range not satisfiable",
    500: "Something went wrong",
    501: "Not implemented",
    503: "Temporarily unavailable",
}


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/iiif/", "/healthz")) or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(status: int, message: str):
    if wants_json():
        resp = jsonify({"error": message, "status": status})
    else:
        resp = render_template("error.html", status=status, title=_(TITLES.get(status, "Error")),
                               message=message)
    resp = resp if not isinstance(resp, str) else __import__("flask").make_response(resp)
    resp.status_code = status
    if request.path.startswith("/iiif/"):
        resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(HeritageError)
    def _heritage(exc: HeritageError):
        status = exc.status if exc.status != 500 else 503
        return error_response(status, str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, _("The form expired or was not sent from this site. Reload the page and try again."))

    @app.errorhandler(413)
    def _too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"]
        return error_response(413, _("The upload is larger than the limit of %(mb)s MB.", mb=limit // (1024 * 1024)))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return error_response(exc.code or 500, exc.description or TITLES.get(exc.code or 500, "Error"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, _("An unexpected error occurred. It has been logged; please try again later."))
