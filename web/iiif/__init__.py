"""IIIF for the repository: Image API 3.0, Presentation 3.0, Content Search 1.0/2.0, Mirador.

One blueprint (``iiif``, registered in :data:`web.app.BLUEPRINTS` as ``web.iiif:bp``); every
response from it — errors too — carries ``Access-Control-Allow-Origin: *``. ``bp`` is loaded
lazily so that ``heritage iiif-warm`` does not pay for importing the route modules.
"""
from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "bp":
        from web.iiif import content_search, image_routes, presentation, viewer  # noqa: F401  (routes)
        from web.iiif.blueprint import bp

        return bp
    raise AttributeError(name)
