"""Stored files over HTTP, and what the audio/video player needs.

* ``GET/HEAD /media/<file_id>`` — any stored File (recording, web copy, poster, waveform,
  transcript, WebVTT, original scan, hOCR, ALTO, text, thumbnail …) to whoever may view its item,
  with the right Content-Type, HTTP Range (206 + Content-Range; 416 for a range that cannot be
  served), ``Accept-Ranges: bytes``, a strong ETag (the SHA-256) and conditional requests.
  A file of an item the viewer may not see is a 404, exactly like a file that does not exist.
* ``GET /media/items/<item_id>/find?q=…`` — which transcript segments match ``q`` (traditional ⇄
  simplified folding through :mod:`search.analysis`), for the search box of the player.
* template global ``av_player(item)`` — everything ``item/_player_av.html`` renders.

Range handling is werkzeug's (``send_file(conditional=True)``); this module only adds the
answers werkzeug leaves to the application: a 416 that keeps its ``Content-Range: bytes */N``
header, and refusing a ``Range`` header it cannot parse.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, make_response, request, send_file
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header

from config import InvalidInput, NotFound
from repository.access import require_view
from repository.models import File, Item
from web.app import repo_of
from web.params import clock

bp = Blueprint("media", __name__)

#: types a browser may render inline without risk; anything else is sandboxed
_INLINE_SAFE = ("audio/", "video/", "image/", "text/vtt", "text/plain", "application/pdf")
MAX_QUERY = 200


def _session():
    """One session per request (closed at teardown)."""
    if "media_session" not in g:
        g.media_session = repo_of().session()
    return g.media_session


@bp.teardown_app_request
def _close_session(exc: BaseException | None) -> None:
    s = g.pop("media_session", None)
    if s is not None:
        s.close()


def _visible_file(file_id: int) -> File:
    f = _session().get(File, file_id)
    if f is None:
        raise NotFound(_("No such file."))
    try:
        require_view(f.item, g.viewer)
    except NotFound:
        raise NotFound(_("No such file.")) from None
    return f


def _range_416(size: int) -> Response:
    resp = make_response(_("The requested byte range is not within the file (%(size)s bytes).", size=size), 416)
    resp.headers["Content-Range"] = f"bytes */{size}"
    resp.headers["Accept-Ranges"] = "bytes"
    resp.mimetype = "text/plain"
    return resp


@bp.route("/media/<int:file_id>", methods=["GET", "HEAD"])
def media(file_id: int):
    """The bytes of a stored file, with Range support and access control."""
    f = _visible_file(file_id)
    repo = repo_of()
    path = repo.store.path(f.sha256)
    if not path.is_file():
        raise NotFound(_("The file is missing from storage; the fixity check will report it."))
    size = path.stat().st_size
    header = request.headers.get("Range")
    if header is not None and parse_range_header(header) is None:
        return _range_416(size)
    try:
        resp = send_file(path, mimetype=f.mime or "application/octet-stream", conditional=True,
                         etag=f.sha256, last_modified=f.created_at, max_age=None,
                         download_name=f.filename or None, as_attachment=False)
    except RequestedRangeNotSatisfiable:
        return _range_416(size)
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if not (f.mime or "").startswith(_INLINE_SAFE):
        # stored HTML/XML (hOCR, ALTO) must never run as this site's page
        resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    # content-addressed bytes never change; unpublished ones must not sit in shared caches
    resp.headers["Cache-Control"] = "public, max-age=86400" if f.item.is_public else "private, no-cache"
    return resp


@bp.get("/media/items/<int:item_id>/find")
def find_in_transcript(item_id: int):
    """Transcript segments of an item that match ``q``: ``{"q", "matches": [{"index", "id",
    "start", "end", "spans": [[a, b]]}]}`` (spans are character offsets into the segment text)."""
    q = (request.args.get("q") or "").strip()
    if not q:
        raise InvalidInput(_("Type something to find in the transcript."), field="q")
    if len(q) > MAX_QUERY:
        raise InvalidInput(_("The search text is longer than %(n)s characters.", n=MAX_QUERY), field="q")
    item = require_view(_session().get(Item, item_id), g.viewer)
    matches = []
    for index, seg in enumerate(s for s in item.segments if s.kind == "transcript"):
        spans = find_spans(seg.text or "", q)
        if spans:
            matches.append({"index": index, "id": seg.id, "start": seg.start, "end": seg.end,
                            "spans": [list(s) for s in spans]})
    return jsonify({"q": q, "matches": matches})


def find_spans(text: str, q: str) -> list[tuple[int, int]]:
    """Where ``q`` matches in ``text`` with traditional ⇄ simplified folding."""
    try:
        from search.analysis import find_matches
    except ImportError:  # search capability not installed: per-character OpenCC folding
        return _fold_find(text, q)
    return list(find_matches(text, q))


def _fold_find(text: str, q: str) -> list[tuple[int, int]]:
    from opencc import OpenCC

    cc = OpenCC("t2s")

    def fold(s: str) -> str:
        return "".join((cc.convert(c) or c)[:1] for c in s).lower()

    hay = fold(text)
    spans = []
    for word in q.split():
        w = fold(word)
        at = hay.find(w)
        while w and at >= 0:
            spans.append((at, at + len(w)))
            at = hay.find(w, at + len(w))
    return sorted(spans)


@bp.app_template_global()
def av_player(item: Item) -> dict[str, Any]:
    """What the player partial needs: web copy, poster/waveform, captions, segments, start time."""
    files = {f.role: f for f in item.files if f.page_id is None and f.role != "original"}
    access = files.get("access")
    try:
        start = float(request.args.get("t") or 0)
        start = start if 0 <= start < 10**7 else 0.0
    except ValueError:
        start = 0.0
    if item.duration:
        start = min(start, item.duration)
    segments = [s for s in item.segments if s.kind == "transcript"]
    chapters = [s for s in item.segments if s.kind == "chapter"]
    return {
        "video": item.type == "MovingImage",
        "access": access,
        "src": f"/media/{access.id}" if access else None,
        "mime": access.mime if access else None,
        "poster": f"/media/{files['poster'].id}" if "poster" in files else None,
        "waveform": f"/media/{files['waveform'].id}" if "waveform" in files else None,
        "strip": f"/media/{files['strip'].id}" if "strip" in files else None,
        "captions": f"/media/{files['webvtt'].id}" if "webvtt" in files else None,
        "segments": segments,
        "chapters": chapters,
        "start": start,
        "q": (request.args.get("q") or "").strip()[:MAX_QUERY],
        "find_url": f"/media/items/{item.id}/find",
        "state": item.state,
    }


bp.add_app_template_filter(clock, "av_clock")
