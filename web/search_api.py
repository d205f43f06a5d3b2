"""``/api/search``: the DESIGN search JSON for the web and outside clients."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from search.backend import FACETS
from web.app import repo_of
from web.params import int_arg

bp = Blueprint("search_api", __name__)


@bp.get("/api/search")
def api_search():
    """``?q=&<facet>=&sort=&page=&per_page=`` → ``{total, results, facets}`` (400 bad query, 503 backend down)."""
    from search.service import search

    repo = repo_of()
    filters = {name: request.args.getlist(name) for name in FACETS if request.args.getlist(name)}
    result = search(repo, request.args.get("q", ""), filters=filters,
                    sort=request.args.get("sort") or "relevance", page=int_arg("page", 1),
                    per_page=int_arg("per_page", 20, high=100), viewer=g.viewer)
    return jsonify(result)
