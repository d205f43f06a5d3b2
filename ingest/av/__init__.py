"""Oral histories: audio/video ingest, web transcodes, posters, waveforms and transcripts.

* :func:`is_media` — does ffprobe read this as a recording container we accept?
* :func:`probe` — the facts (:class:`ingest.av.transcode.MediaInfo`), or :class:`InvalidInput`
  saying why the file is refused (not media, no audio/video stream, truncated …).
* :func:`prepare` — called by :mod:`ingest.intake` inside the item's unit of work: checks the
  recording and its transcript, stores the original (and transcript + segments) and queues an
  ``"av"`` job. Anything wrong raises before the unit of work commits: no item, no file.
* the ``"av"`` job handler — makes the web copy (stream copy when possible), poster + strip for
  video or waveform for audio, records them, sets the item's state and queues reindexing.
* :func:`attach_transcript` — add or replace a transcript later (``heritage transcript attach``).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config import HeritageError, InvalidInput, NotFound
from ingest.av import transcripts as tx
from ingest.av.transcode import MediaInfo, make_access, make_poster, make_stills, make_strip, make_waveform
from ingest.av.transcode import probe as _probe
from ingest.worker import JobCancelled, JobContext, handler
from repository import Repository, UnitOfWork
from repository import jobs as queue
from repository.models import File, Item, ItemState, Job, Segment, utcnow

log = logging.getLogger("heritage.av")

JOB_KIND = "av"
MEDIA_TYPES = ("Sound", "MovingImage")
WORKER_AGENT = "heritage-worker"


def is_media(path: Path | str) -> bool:
    """True when ffprobe reads ``path`` as an accepted recording container.

    Deliberately lenient: a damaged recording still counts, so that :func:`prepare` can say
    exactly what is wrong with it (no stream, truncated …).
    """
    import ffmpeg

    from ingest.av.transcode import ACCEPTED_FORMATS, ffprobe_json

    try:
        data = ffprobe_json(path)  # cached: prepare's probe of the same file does not run ffprobe again
    except ffmpeg.Error:
        return False
    names = set(data.get("format", {}).get("format_name", "").split(","))
    return bool(names & ACCEPTED_FORMATS)


def probe(path: Path | str) -> MediaInfo:
    """Probe a recording; :class:`InvalidInput` with the reason when it cannot be used."""
    return _probe(path)


def prepare(uow: UnitOfWork, item: Item, files: list[Path], options: Any) -> Job:
    """Check the recording (and its transcript), store the original, queue the ``av`` job."""
    if len(files) != 1:
        raise InvalidInput("a recording is ingested as one file per item")
    path = Path(files[0])
    # storing the original (the long part for an hours-long file: copy + hash + fsync, or for a
    # file the caller hands over — a web upload — hash + fsync in place) runs in a thread while the
    # recording and its transcript are checked (ffprobe is another process; hashlib, fsync and file
    # I/O release the GIL). If a check fails a copy is discarded with the unit of work; a file
    # handed over is only taken (renamed into the store) once the checks have passed, so the
    # checks read it where it is and a refused upload leaves nothing in the store.
    take = bool(getattr(options, "take_files", False))
    with ThreadPoolExecutor(1, thread_name_prefix="store-original") as pool:
        storing = pool.submit(uow.store.digest_file if take else uow.store.put_file, path)
        try:
            info = probe(path)
            transcript_path = getattr(options, "transcript", None) or tx.sidecar(path)
            transcript = tx.load(Path(transcript_path), info.duration) if transcript_path else None
        except BaseException:
            if not take:
                _forget_on_rollback(uow, storing)
            raise
        stored = storing.result()
    if take:  # one rename; recorded by add_file below, so it goes again if the unit of work fails
        stored = uow.store.put_file(path, move=True, digest=stored)

    item.type = info.item_type
    item.duration = round(info.duration, 3)
    original = uow.add_file(item, path, role="original", mime=_mime_of(info, path), filename=path.name,
                            width=(info.video or {}).get("width"), height=(info.video or {}).get("height"),
                            duration=item.duration, tech=info.summary(), stored=stored)
    if transcript is not None:
        _save_transcript(uow, item, Path(transcript_path), transcript, replace=False)
    uow.session.flush()
    return queue.enqueue(uow.session, JOB_KIND, {"original": original.id, "filename": path.name},
                         item_id=item.id, created_by=getattr(options, "agent", "cli"))


def _forget_on_rollback(uow: UnitOfWork, storing: Future) -> None:
    """Wait for a store started in a thread; what it newly stored goes when the unit of work fails."""
    try:
        obj = storing.result()
    except Exception:
        return  # nothing stored (put_file removes its temporary file itself)
    if obj.created:
        uow.new_objects.append(obj.sha256)


_MIMES = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg", "aac": "audio/aac",
          "matroska": "video/x-matroska", "avi": "video/x-msvideo", "mpeg": "video/mpeg", "mpegts": "video/mp2t",
          "dv": "video/dv", "aiff": "audio/aiff", "w64": "audio/x-w64"}


def _mime_of(info: MediaInfo, path: Path) -> str:
    families = info.format_name.split(",")
    if "mov" in families:
        if path.suffix.lower() == ".mov":
            return "video/quicktime"
        return "video/mp4" if info.is_video else "audio/mp4"
    for fam in families:
        if fam in _MIMES:
            mime = _MIMES[fam]
            if fam in ("ogg", "matroska") and info.is_video:
                return "video/ogg" if fam == "ogg" else mime
            if fam == "matroska" and not info.is_video:
                return "audio/x-matroska"
            return mime
    return "application/octet-stream"


# ---- transcripts ----------------------------------------------------------------------------


def _save_transcript(uow: UnitOfWork, item: Item, path: Path, transcript: tx.Transcript, *,
                     replace: bool) -> int:
    """Store the transcript file, its WebVTT rendering and its segments on ``item``."""
    if replace:  # a new transcript or index replaces the old one completely (both kinds of segment)
        for seg in list(item.segments):
            item.segments.remove(seg)
        roles = {"transcript", "webvtt"}
        for f in list(item.files):
            if f.role in roles:
                item.files.remove(f)
        uow.session.flush()
    charset = "" if transcript.encoding.startswith("utf-8") else f"; charset={transcript.encoding}"
    uow.add_file(item, path, role="transcript", mime=transcript.mime + charset, filename=path.name,
                 tech={"format": transcript.format, "encoding": transcript.encoding,
                       "segments": len(transcript.segments)})
    vtt_kind = "transcript" if any(s.kind == "transcript" for s in transcript.segments) else "chapter"
    vtt_path = tx.write_temp(tx.to_webvtt(transcript.segments, kind=vtt_kind), ".vtt")
    try:
        uow.add_file(item, vtt_path, role="webvtt", mime="text/vtt", filename=path.stem + ".vtt",
                     tech={"generated_from": path.name, "kind": vtt_kind})
    finally:
        vtt_path.unlink(missing_ok=True)
    for s in transcript.segments:
        item.segments.append(Segment(kind=s.kind, start=round(s.start, 3), end=round(s.end, 3), text=s.text,
                                     speaker=s.speaker, title=s.title, keywords=s.keywords, synopsis=s.synopsis))
    return len(transcript.segments)


def attach_transcript(repo: Repository, item_id: int, path: Path | str, *, agent: str = "cli") -> int:
    """Add (or replace) the transcript of a recording; returns how many segments it has.

    The file is checked completely (format, encoding, every time code within the recording)
    before anything is saved; the item is queued for reindexing.
    """
    path = Path(path)
    with repo.unit_of_work(agent) as uow:
        item = uow.session.get(Item, item_id)
        if item is None or item.deleted_at is not None:
            raise NotFound(f"no item {item_id}")
        if item.type not in MEDIA_TYPES:
            raise InvalidInput(f"item {item_id} is not a recording (it is {item.type}); transcripts belong to "
                               f"audio or video items")
        transcript = tx.load(path, item.duration)
        n = _save_transcript(uow, item, path, transcript, replace=True)
        uow.event("metadata modification", item=item,
                  detail={"transcript": path.name, "format": transcript.format, "segments": n})
        uow.reindex(item)
        return n


# ---- the job ----------------------------------------------------------------------------------


@handler(JOB_KIND)
def run_av_job(ctx: JobContext) -> None:
    """Make the derivatives of one recording, then mark the item draft/published (or failed)."""
    repo = ctx.repo
    item_id = ctx.job.item_id
    with repo.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NotFound(f"item {item_id} no longer exists")
        original = s.scalar(select(File).where(File.item_id == item_id, File.role == "original"))
        if original is None:
            raise NotFound(f"item {item_id} has no original recording")
        done_roles = {f.role for f in item.files}
        filename = original.filename or "recording"
        src = repo.store.path(original.sha256)
        facts = dict(original.tech or {})
    try:
        _derive(ctx, item_id, src, filename, done_roles, facts)
    except JobCancelled:
        raise
    except Exception as exc:
        reason = str(exc) if isinstance(exc, HeritageError) else f"{type(exc).__name__}: {exc}"
        reason = reason.replace(src.name, filename)
        with repo.unit_of_work(WORKER_AGENT) as uow:
            item = uow.session.get(Item, item_id)
            item.state = ItemState.FAILED.value
            item.error = f"{filename}: {reason}" if not reason.startswith(filename) else reason
            uow.event("creation", item=item, outcome="failure", detail={"error": item.error})
        raise


def _derive(ctx: JobContext, item_id: int, src: Path, filename: str, done_roles: set[str],
            facts: dict[str, Any]) -> None:
    repo = ctx.repo
    if not src.is_file():
        raise NotFound(f"the stored original is missing ({src.name}); run `heritage fixity`")
    try:  # the facts probed (and checked completely) at ingest; probe again only if they are absent
        info = MediaInfo.from_summary(src, facts)
    except (KeyError, TypeError, ValueError):
        info = _probe(src, check=False)
    total = round(info.duration, 3)
    ctx.progress(0, total, f"transcoding {filename}")
    repo.settings.cache_dir.mkdir(parents=True, exist_ok=True)
    _sweep_workdirs(repo.settings.cache_dir, repo.settings.job_stale_seconds)
    workdir = Path(tempfile.mkdtemp(prefix="av-", dir=repo.settings.cache_dir))
    storing: list[tuple[Any, Future]] = []  # (derivative, its put into the store)
    try:
        # two helper threads beside the web copy's ffmpeg: the poster and strip (video) or the
        # waveform (audio) are made from the original, not the web copy, so their ffmpeg run goes
        # at the same time; each derivative is hashed, fsynced and moved into the store as soon as
        # it exists (hashlib and fsync release the GIL)
        with ThreadPoolExecutor(2, thread_name_prefix="av-job") as pool:
            stills: Future | None = None
            try:
                if info.is_video and not {"poster", "strip"} <= done_roles:
                    stills = pool.submit(_make_stills, info, workdir, done_roles)
                elif not info.is_video and "waveform" not in done_roles:
                    stills = pool.submit(lambda: [make_waveform(info, workdir)])
                if "access" not in done_roles:
                    for d in make_access(info, workdir,
                                         on_progress=lambda sec: ctx.progress(round(sec, 1), total,
                                                                              f"transcoding {filename}")):
                        storing.append((d, pool.submit(repo.store.put_file, d.path, move=True)))
                if stills is not None:
                    ctx.progress(total, total, "poster and thumbnail strip" if info.is_video else "waveform")
                    storing += [(d, pool.submit(repo.store.put_file, d.path, move=True)) for d in stills.result()]
                stored = [(d, fut.result()) for d, fut in storing]
            except BaseException:
                if stills is not None:
                    stills.exception()  # let it finish before the work directory goes
                _discard_stored(repo, storing)
                raise
        stem = Path(filename).stem
        try:
            with repo.unit_of_work(WORKER_AGENT) as uow:
                item = uow.session.get(Item, item_id)
                for d, obj in stored:
                    uow.add_file(item, d.path, role=d.role, mime=d.mime, filename=f"{stem}-{d.path.name}",
                                 width=d.width, height=d.height, duration=d.duration, tech=d.tech, stored=obj)
                item.error = None
                if item.publish_when_ready:
                    item.state = ItemState.PUBLISHED.value
                    item.published_at = utcnow()
                    uow.event("publication", item=item, detail={"when": "ingest finished"})
                else:
                    item.state = ItemState.DRAFT.value
                uow.reindex(item)
        except BaseException:
            _discard_stored(repo, storing)  # the unit of work only knows the objects it recorded
            raise
        ctx.progress(total, total, "done")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _make_stills(info: MediaInfo, workdir: Path, done_roles: set[str]) -> list[Any]:
    """Poster and strip in one run, or only the one a resumed job still lacks."""
    if "poster" not in done_roles and "strip" not in done_roles:
        return make_stills(info, workdir)
    return [make(info, workdir) for role, make in (("poster", make_poster), ("strip", make_strip))
            if role not in done_roles]


def _discard_stored(repo: Repository, storing: list[tuple[Any, Future]]) -> None:
    """No orphan: remove derivatives this job newly put into the store if nothing committed uses them."""
    created = []
    for _, fut in storing:
        try:
            obj = fut.result()
        except Exception:
            continue
        if obj.created:
            created.append(obj.sha256)
    if created:
        repo.discard(created)


def _sweep_workdirs(cache_dir: Path, older_than: int) -> None:
    """Remove work directories left by a worker that died mid-job (older than a stale job)."""
    import time

    limit = time.time() - max(older_than, 60) * 2
    for d in cache_dir.glob("av-*"):
        try:
            if d.is_dir() and d.stat().st_mtime < limit:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass
