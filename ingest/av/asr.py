"""The seam for automatic speech recognition (ASR): transcriber plugins.

No model ships with the repository. A transcriber is any object with a ``name`` and a
``transcribe(media_path, *, language) -> list[SegmentData]`` method (:class:`Transcriber`).
Register one in code with :func:`register`, or from another package through the entry-point
group ``heritage.transcribers`` (``name = "package.module:factory"``); :func:`get` finds it by
name. :func:`transcribe_item` runs one on an item's recording and stores the segments exactly
like an attached transcript (WebVTT rendering, reindexing).
"""
from __future__ import annotations

import tempfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

from config import InvalidInput, NotFound
from ingest.av.transcripts import SegmentData, Transcript, check_times, format_time

ENTRY_POINT_GROUP = "heritage.transcribers"


@runtime_checkable
class Transcriber(Protocol):
    """Turns a recording into time-coded segments (speaker optional)."""

    name: str

    def transcribe(self, media_path: Path, *, language: str = "yue") -> list[SegmentData]:
        """Segments of speech in ``media_path`` (seconds from the start)."""
        ...


_REGISTRY: dict[str, Callable[[], Transcriber]] = {}


def register(name: str, factory: Callable[[], Transcriber]) -> None:
    """Make a transcriber available under ``name`` (a factory, so models load only when used)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    """Names of the transcribers registered in code or installed as entry points."""
    names = set(_REGISTRY)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def get(name: str) -> Transcriber:
    """The transcriber called ``name``; :class:`NotFound` listing the available ones otherwise."""
    if name not in _REGISTRY:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == name:
                _REGISTRY[name] = ep.load()
                break
    if name not in _REGISTRY:
        have = ", ".join(available()) or "none installed"
        raise NotFound(f"no transcriber {name!r} (available: {have})")
    t = _REGISTRY[name]()
    if not isinstance(t, Transcriber):
        raise InvalidInput(f"transcriber {name!r} does not provide name and transcribe()")
    return t


def transcribe_item(repo, item_id: int, name: str, *, language: str = "yue", agent: str = "cli") -> int:
    """Run transcriber ``name`` on an item's recording and attach its segments; returns how many."""
    from sqlalchemy import select

    from ingest.av import attach_transcript
    from ingest.av.transcripts import to_webvtt
    from repository.models import File, Item

    transcriber = get(name)
    with repo.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item {item_id}")
        f = s.scalar(select(File).where(File.item_id == item_id, File.role.in_(["access", "original"]))
                     .order_by(File.role))  # "access" sorts before "original"
        if f is None:
            raise NotFound(f"item {item_id} has no recording")
        media = repo.store.path(f.sha256)
        duration = item.duration
    segments = transcriber.transcribe(media, language=language)
    check_times(Transcript("vtt", "utf-8", segments), duration, f"transcriber {name}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"asr-{name}.vtt"
        path.write_text(to_webvtt(segments), encoding="utf-8")
        return attach_transcript(repo, item_id, path, agent=agent)


__all__ = ["Transcriber", "register", "available", "get", "transcribe_item", "format_time"]
