"""``/api/search``: the DESIGN search JSON for the web and outside clients."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _

from config import InvalidInput
from search.backend import FACETS
from web.app import repo_of

bp = Blueprint("search_api", __name__)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(_("%(name)s must be a whole number", name=name), field=name) from None


@bp.get("/api/search")
def api_search():
    """``?q=&<facet>=&sort=&page=&per_page=`` → ``{total, results, facets}`` (400 bad query, 503 backend down)."""
    from search.service import search

    repo = repo_of()
    filters = {name: request.args.getlist(name) for name in FACETS if request.args.getlist(name)}
    result = search(repo, request.args.get("q", ""), filters=filters,
                    sort=request.args.get("sort") or "relevance", page=_int_arg("page", 1),
                    per_page=_int_arg("per_page", 20), viewer=g.viewer)
    return jsonify(result)
