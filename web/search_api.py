"""``/api/search``: the DESIGN search JSON for the web and outside clients."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, g, jsonify, request

from search.backend import FACETS
from web.app import repo_of
from web.params import int_arg

bp = Blueprint("search_api", __name__)


@bp.get("/api/search")
def api_search():
    """``?q=&<facet>=&sort=&page=&per_page=&hits_per_item=`` → ``{total, results, facets}`` (400 bad query,
    503 backend down). Each result has its first ``hits_per_item`` hit pages/segments, ``hits_total``
    (how many match in the item) and ``search_within`` (IIIF Content Search of the item for the rest)."""
    from search.service import DEFAULT_HITS_PER_ITEM, MAX_HITS_PER_ITEM, search
    from web.iiif.blueprint import base_url

    repo = repo_of()
    filters = {name: request.args.getlist(name) for name in FACETS if request.args.getlist(name)}
    result = search(repo, request.args.get("q", ""), filters=filters,
                    sort=request.args.get("sort") or "relevance", page=int_arg("page", 1),
                    per_page=int_arg("per_page", 20, high=100),
                    hits_per_item=int_arg("hits_per_item", DEFAULT_HITS_PER_ITEM, low=0, high=MAX_HITS_PER_ITEM),
                    viewer=g.viewer)
    if result["query"]:
        root, q = base_url(), quote(result["query"], safe="")
        for r in result["results"]:
            r["search_within"] = f"{root}/iiif/search/{r['id']}?q={q}"
    return jsonify(result)
