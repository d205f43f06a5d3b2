"""Mirador on item pages: the template global the ``item/_viewer_image.html`` partial uses, and a
full-window viewer page ``/iiif/viewer/<item-id>`` (the same partial, nothing else around it).

Mirador itself comes from npm (``web/viewer/package.json``); ``npm install`` there copies its
prebuilt bundle to ``web/static/viewer/`` (git-ignored), which Flask serves as static files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, g, render_template, request

from repository.access import require_view
from repository.models import Item
from web.iiif.blueprint import base_url, bp, repo

MIRADOR_JS = "viewer/mirador.min.js"
#: UI locale → Mirador's language code
MIRADOR_LANGUAGES = {"zh_Hant": "zh-TW", "zh_Hans": "zh-CN", "en": "en"}


def mirador_installed() -> bool:
    """True when the Mirador bundle is in web/static/viewer (run scripts/setup.sh otherwise)."""
    return (Path(current_app.static_folder or "") / MIRADOR_JS).is_file()


@bp.app_template_global()
def iiif_viewer(item: Item) -> dict[str, Any] | None:
    """What the Mirador partial needs for ``item``, or None when the item has no page images.

    Reads ``page`` and ``q`` from the request (the page and highlight a search result pointed to).
    """
    pages = [p for p in item.pages if p.width and p.height]
    if item.type in ("Sound", "MovingImage") or not pages:
        return None
    manifest = f"{base_url()}/iiif/manifest/{item.id}"
    try:
        n = int(request.args.get("page", "1"))
    except ValueError:
        n = 1
    page_ns = {p.n for p in pages}
    if n not in page_ns:
        n = min(page_ns)
    from flask_babel import get_locale

    locale = str(get_locale() or "zh_Hant")
    q = (request.args.get("q") or "").strip()[:200]
    config = {
        "id": f"mirador-{item.id}",
        "language": MIRADOR_LANGUAGES.get(locale, "zh-TW"),
        "windows": [{
            "manifestId": manifest,
            "canvasId": f"{manifest}/canvas/{n}",
            "thumbnailNavigationPosition": "far-bottom" if len(pages) > 1 else "off",
            **({"defaultSearchQuery": q} if q else {}),
        }],
        "window": {
            "allowClose": False, "allowMaximize": False, "allowFullscreen": True,
            "defaultSideBarPanel": "search" if q else "info", "sideBarOpenByDefault": bool(q),
            "panels": {"info": True, "attribution": True, "canvas": True, "search": True, "annotations": False},
        },
        "workspace": {"type": "mosaic", "showZoomControls": True, "allowNewWindows": False},
        "workspaceControlPanel": {"enabled": False},
    }
    return {"manifest": manifest, "config": config, "installed": mirador_installed(),
            "script": f"/static/{MIRADOR_JS}", "page": n, "q": q,
            "drag_url": f"{manifest}?manifest={manifest}"}


@bp.get("/viewer/<int:item_id>")
def viewer_page(item_id: int):
    """Mirador alone, filling the window (the partial of the item page, without the page)."""
    with repo().session() as s:
        item = require_view(s.get(Item, item_id), g.viewer)
        html = render_template("item/_viewer_image.html", item=item, standalone=True)
        resp = current_app.response_class(html, mimetype="text/html")
        resp.cache_control.private = True
        return resp
