"""Image API 3.0 routes: ``/iiif/3/<image-id>[/info.json | /<region>/<size>/<rotation>/<quality>.<fmt>]``."""
from __future__ import annotations

import os
from functools import lru_cache

from flask import Response, current_app, g, jsonify, redirect, request, send_file
from werkzeug.http import is_resource_modified

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


#: Parsing is a pure function of the path segments and the image size, and viewers ask for the
#: same few hundred tile paths over and over: parse each once (ImageRequest is immutable).
#: Errors are raised, never cached, so their messages stay in the asker's language.
_parse = lru_cache(maxsize=4096)(parse)


def _cache_control(public: bool) -> str:
    # set as one header string: the per-attribute CacheControl setters re-parse the header
    return f"public, max-age={PUBLIC_MAX_AGE}" if public else "private, max-age=0"


def _send_cached(path: str | os.PathLike | None, mime: str, etag: str) -> Response | None:
    """The cached file streamed by ``send_file`` (ranges, If-None-Match), or None if it is gone
    (never cached, or evicted by another process between the lookup and the open)."""
    if path is None:
        return None
    try:
        resp = send_file(path, mimetype=mime, etag=etag, conditional=True, max_age=None)
    except FileNotFoundError:
        return None
    # the ETag is the validator; the cache file's mtime (refreshed on hits) is not
    resp.headers.pop("Last-Modified", None)
    return resp


@bp.get("/3/<image_id>/<region>/<size>/<rotation>/<quality_format>")
def image(image_id: str, region: str, size: str, rotation: str, quality_format: str):
    """One rendered image; served from the tile cache when it was rendered before.

    Order of work: access check (one Core query, every request) → parse (memoised) → a
    conditional request whose ETag matches is answered 304 without touching the cache → the
    cached file is streamed with ``send_file`` (X-Sendfile when ``USE_X_SENDFILE`` is on) →
    otherwise the image is rendered and cached.
    """
    src = find_source(repo(), image_id, g.viewer)
    req = _parse(region, size, rotation, quality_format, src.width, src.height)
    canonical = req.canonical()
    cache = tile_cache()
    key = cache.key(src.sha256, canonical)
    link = f'<{service_id(image_id)}/{canonical}>;rel="canonical", <{PROFILE_URI}>;rel="profile"'
    cache_control = _cache_control(src.public)
    if request.if_none_match and not is_resource_modified(request.environ, etag=key):
        resp = Response(status=304)
        resp.set_etag(key)
    else:
        resp = _send_cached(cache.get(key), req.mime, key)
        if resp is None:
            min_pixels = current_app.config.get("IIIF_PYRAMID_MIN_PIXELS", PYRAMID_MIN_PIXELS)
            data = render(req, reader_for(src, repo().settings.cache_dir, min_pixels))
            resp = _send_cached(cache.put(key, data), req.mime, key)
            if resp is None:  # not cacheable (too big, cache off) or evicted at once
                resp = Response(data, mimetype=req.mime)
                resp.set_etag(key)
                resp = resp.make_conditional(request)
    resp.headers["Link"] = link
    resp.headers["Cache-Control"] = cache_control
    return resp
