"""Intake: turn paths into new Items and queue their derivative jobs.

Every path (a file, or a directory = one multi-page item in natural order) is sniffed by
content, never by extension, and routed to its pipeline:

* scans (JPEG, PNG, TIFF, WebP, JPEG 2000, PDF) → :func:`ingest.scan.prepare`
* recordings (anything ffprobe reads with an audio/video stream) → :func:`ingest.av.prepare`

``prepare(uow, item, files, options)`` validates the files (raising
:class:`config.InvalidInput` with a message a person can act on), stores the originals with
``uow.add_file(..., role="original")`` and enqueues its job with :func:`repository.jobs.enqueue`.
Each item is created in its own unit of work, so a bad file leaves no item and no stored bytes.
"""
from __future__ import annotations

import dataclasses
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import select

from config import InvalidInput, NotFound
from repository import Repository, catalog, dublin_core
from repository import jobs as queue
from repository.models import Item, ItemState, Job, JobState

SCAN_KINDS = ("image", "pdf")
MEDIA_KIND = "media"


@dataclass
class IngestOptions:
    collection: str
    title: str | None = None
    lang: str | None = None  # None: the collection's, else the settings' default ("auto")
    vertical: bool | None = None
    transcript: Path | None = None
    publish: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    agent: str = "cli"
    institution: str | None = None  # default: the collection's institution
    settings: Any = None  # set by create_item to repo.settings (pipelines read limits from it)
    #: the files are the caller's temporary copies (a web upload): a pipeline may MOVE them into the
    #: store (hashed in place + renamed, no second copy) instead of copying; the caller must not use
    #: them afterwards. A refused file is left where it was (the caller removes its directory).
    #: The recording pipeline (ingest.av) honours it; scans are copied.
    take_files: bool = False


def check_path(path: Path) -> Path:
    """Refuse names with control characters or '..' components, and missing/empty files."""
    text = str(path)
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidInput(f"file name contains control characters: {text!r}")
    if ".." in Path(text).parts:
        raise InvalidInput(f"file name must not contain '..': {text}")
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise InvalidInput(f"{path.name}: the file is empty (0 bytes)")
    return path


def _natural_key(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def expand(path: Path) -> list[Path]:
    """A file, or the visible files of a directory in natural order (page2 before page10)."""
    check_path(path)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")), key=_natural_key)
        if not files:
            raise InvalidInput(f"{path}: the directory has no files")
        return [check_path(f) for f in files]
    return [path]


def sniff(path: Path) -> str:
    """'image', 'pdf' or 'media' by the file's content; InvalidInput for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head:
        raise InvalidInput(f"{path.name}: the file is empty (0 bytes)")
    if head.startswith(b"%PDF-"):
        return "pdf"
    signatures = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",
                  b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")
    if head.startswith(signatures) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    from ingest import av  # lazy: probing needs ffprobe

    if av.is_media(path):
        return MEDIA_KIND
    raise InvalidInput(
        f"{path.name}: not a supported file (scans: JPEG, PNG, TIFF, WebP, JPEG 2000, PDF; "
        f"recordings: WAV, MP3, FLAC, M4A, OGG/Opus, MP4, MOV, MKV, AVI, MPEG-2, DV)"
    )


def _pipeline(kind: str) -> Callable[..., Job]:
    if kind in SCAN_KINDS:
        from ingest import scan

        return scan.prepare
    from ingest import av

    return av.prepare


def create_item(repo: Repository, files: list[Path], options: IngestOptions) -> tuple[int, int]:
    """Create one item from ``files`` and queue its job; returns (item id, job id)."""
    kinds = {sniff(f) for f in files}
    if len(kinds & {MEDIA_KIND}) and len(files) > 1:
        raise InvalidInput("a recording is ingested as one file per item; give the files separately")
    kind = "pdf" if kinds == {"pdf"} else ("image" if kinds <= set(SCAN_KINDS) else MEDIA_KIND)
    title = options.title or files[0].parent.name if len(files) > 1 else (options.title or files[0].stem)
    title = catalog.check_text(title, "title", 1000)
    metadata = dublin_core.normalise({"title": title, **options.metadata})
    with repo.unit_of_work(options.agent) as uow:
        coll = catalog.collection(uow.session, options.collection)
        inst = catalog.institution(uow.session, options.institution) if options.institution else coll.institution
        years = dublin_core.year_range(dublin_core.values(metadata, "date"))
        item = Item(collection=coll, institution=inst, title=title, metadata_=metadata,
                    state=ItemState.PROCESSING.value, year_from=years[0], year_to=years[1],
                    type="Text", ocr_languages=options.lang or coll.ocr_languages,
                    vertical=options.vertical, publish_when_ready=options.publish)
        uow.session.add(item)
        uow.session.flush()
        if options.settings is None:
            options = dataclasses.replace(options, settings=repo.settings)
        job = _pipeline(kind)(uow, item, files, options)
        uow.event("ingestion", item=item, detail={"files": [f.name for f in files], "job": job.id})
        return item.id, job.id


def ingest_paths(repo: Repository, paths: Iterable[Path], options: IngestOptions,
                 on_item: Callable[[int], None] | None = None) -> list[tuple[int, int]]:
    """Create one item per path. All paths are checked before any item is made."""
    groups = [expand(Path(p)) for p in paths]
    for group in groups:
        for f in group:
            sniff(f)
    with repo.session() as s:
        catalog.collection(s, options.collection)
    created = []
    for group in groups:
        ids = create_item(repo, group, options)
        created.append(ids)
        if on_item:
            on_item(ids[0])
    return created


def wait_for(repo: Repository, job_ids: list[int], on_progress: Callable[[list[Job]], None] | None = None,
             run_here: bool = True, poll: float = 0.5) -> list[Job]:
    """Block until the jobs are finished; with ``run_here`` this process runs them itself
    (so ``--wait`` works without a separate worker). Returns the finished jobs."""
    from ingest.worker import Worker, load_handlers

    handlers = load_handlers()
    worker = Worker(repo, name=f"cli-wait:{id(job_ids)}")
    remaining = set(job_ids)
    while True:
        with repo.session() as s:
            pending = queue.pending(s, remaining)
            if on_progress:
                on_progress(list(s.scalars(select(Job).where(Job.id.in_(job_ids)))))
        if not pending:
            break
        job = queue.claim(repo.db, worker.name, kinds=list(handlers), stale_after=repo.settings.job_stale_seconds,
                          only_ids=list(remaining)) if run_here else None
        if job is not None:
            worker.run_job(job, handlers[job.kind])
        else:
            time.sleep(poll)
    from search import drain_outbox

    drain_outbox(repo)
    with repo.session() as s:
        return list(s.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id)))


def failed_jobs(jobs: list[Job]) -> list[Job]:
    return [j for j in jobs if j.state != JobState.DONE.value]
