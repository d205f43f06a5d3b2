"""The ``iiif`` blueprint, its CORS headers, and the helpers every IIIF route uses."""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, Response, current_app, request
from werkzeug.sansio.utils import get_current_url

from repository import Repository

bp = Blueprint("iiif", __name__, url_prefix="/iiif")


@bp.after_request
def _cors(resp: Response) -> Response:
    resp.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        resp.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type, If-None-Match"
        resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    resp.headers.setdefault("Access-Control-Expose-Headers", "ETag, Link")
    return resp


def repo() -> Repository:
    """The repository of the running app."""
    return current_app.extensions["heritage"]


#: ``request.host_url`` (werkzeug: ``get_current_url(scheme, host)``) memoised on its two inputs:
#: werkzeug rebuilds it with an IRI conversion for every request, and every tile names its
#: canonical URL.
_host_url = lru_cache(maxsize=256)(get_current_url)


def base_url() -> str:
    """The public URL prefix (``settings.base_url``, else the request's host URL), no trailing /."""
    configured = current_app.config["HERITAGE"].base_url
    return (configured or _host_url(request.scheme, request.host)).rstrip("/")
