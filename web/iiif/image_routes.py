"""Image API 3.0 routes: ``/iiif/3/<image-id>[/info.json | /<region>/<size>/<rotation>/<quality>.<fmt>]``."""
from __future__ import annotations

from flask import Response, current_app, g, jsonify, redirect, request, send_file

from web.iiif.blueprint import base_url, bp, repo
from web.iiif.cache import TileCache
from web.iiif.image import parse, render
from web.iiif.presentation import wants_jsonld
from web.iiif.info import CONTEXT, PROFILE_URI, info_json
from web.iiif.sources import PYRAMID_MIN_PIXELS, find_source, reader_for

#: One hour: short enough that an unpublished item soon drops out of shared caches too.
PUBLIC_MAX_AGE = 3600


def tile_cache() -> TileCache:
    """The app's tile cache under ``<cache_dir>/tiles`` (one per app)."""
    cache = current_app.extensions.get("iiif_tile_cache")
    if cache is None:
        settings = repo().settings
        cache = TileCache(settings.cache_dir / "tiles", settings.tile_cache_bytes)
        current_app.extensions["iiif_tile_cache"] = cache
    return cache


def service_id(image_id: str) -> str:
    return f"{base_url()}/iiif/3/{image_id}"


def _cache_headers(resp: Response, public: bool) -> Response:
    if public:
        resp.cache_control.public = True
        resp.cache_control.max_age = PUBLIC_MAX_AGE
    else:  # a staff member looking at a draft: never in a shared cache
        resp.cache_control.public = False
        resp.cache_control.private = True
        resp.cache_control.max_age = 0
    return resp


@bp.get("/3/<image_id>")
def image_base(image_id: str):
    """The base URI redirects to the image information (Image API 3.0 §2.1)."""
    find_source(repo(), image_id, g.viewer)
    return redirect(f"{service_id(image_id)}/info.json", code=303)


@bp.get("/3/<image_id>/info.json")
def image_info(image_id: str):
    """The info.json (as JSON-LD when the client asks for it)."""
    src = find_source(repo(), image_id, g.viewer)
    resp = jsonify(info_json(service_id(image_id), src.width, src.height))
    if wants_jsonld():
        resp.mimetype = "application/ld+json"
        resp.headers["Content-Type"] = f'application/ld+json;profile="{CONTEXT}"'
    resp.headers["Link"] = f'<{PROFILE_URI}>;rel="profile"'
    resp.vary.add("Accept")
    resp.set_etag(f"{src.sha256[:32]}-{src.width}x{src.height}-{hash(base_url()) & 0xFFFFFFFF:x}")
    resp = _cache_headers(resp, src.public)
    return resp.make_conditional(request)


@bp.get("/3/<image_id>/<region>/<size>/<rotation>/<quality_format>")
def image(image_id: str, region: str, size: str, rotation: str, quality_format: str):
    """One rendered image; served from the tile cache when it was rendered before."""
    src = find_source(repo(), image_id, g.viewer)
    req = parse(region, size, rotation, quality_format, src.width, src.height)
    canonical = req.canonical()
    cache = tile_cache()
    key = cache.key(src.sha256, canonical)
    path = cache.get(key)
    data = None
    if path is None:
        min_pixels = current_app.config.get("IIIF_PYRAMID_MIN_PIXELS", PYRAMID_MIN_PIXELS)
        data = render(req, reader_for(src, repo().settings.cache_dir, min_pixels))
        path = cache.put(key, data)
    if path is not None:
        resp = send_file(path, mimetype=req.mime, etag=key, conditional=True, max_age=PUBLIC_MAX_AGE)
    else:
        resp = Response(data, mimetype=req.mime)
        resp.set_etag(key)
        resp = resp.make_conditional(request)
    resp.headers["Link"] = (f'<{service_id(image_id)}/{canonical}>;rel="canonical", '
                            f'<{PROFILE_URI}>;rel="profile"')
    resp.headers.pop("Last-Modified", None)
    return _cache_headers(resp, src.public)
