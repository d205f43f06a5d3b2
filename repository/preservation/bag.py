"""BagIt (RFC 8493) export and import of one item, with the PyPI ``bagit`` library.

A bag holds, under ``data/``:

* ``originals/``      the item's original files, byte for byte
* ``item.json``       the item in the API shape plus a ``heritage`` section with everything needed
                      to re-create it (file roles/checksums, pages with word boxes, segments)
* ``dc.xml``          the Dublin Core record (``oai_dc``, values with ``xml:lang``)
* ``pages/NNNN.txt``  each page's text;  ``transcript.txt``: the time-coded transcript
* ``transcripts/``    uploaded transcript / WebVTT files
* ``derivatives/<role>/…`` page images, hOCR, access copies … (only with ``derivatives=True``)

Manifests use SHA-256, the same digests the object store is addressed by, so a bag's checksums
can be compared with the repository's directly.
"""
from __future__ import annotations

import json
import mimetypes
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import bagit
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from config import InvalidInput, NotFound
from repository import Repository, UnitOfWork, catalog, dublin_core
from repository.models import File, Institution, Item, ItemState, Job, Page, Segment, utcnow
from repository.preservation import dc_xml, records

BAG_FORMAT = "lingnan-heritage-bag/1"
ALWAYS_ROLES = ("original", "transcript", "webvtt")

#: re-derives an item from its original files (and uploaded transcript, if any) inside ``uow``;
#: it stores the originals itself and returns the queued job
Deriver = Callable[[UnitOfWork, Item, list[Path], Path | None], Job]


def _safe_name(name: str, fallback: str) -> str:
    name = Path(name or "").name
    name = re.sub(r"[\x00-\x1f\x7f/\\:]", "_", name).strip(" .")
    return name[:150] or fallback


def _ext(f: File) -> str:
    suffix = Path(f.filename or "").suffix
    return suffix if suffix and len(suffix) <= 6 else (mimetypes.guess_extension(f.mime or "") or ".bin")


def _load_item(s, item_id: int) -> Item:
    item = s.scalar(select(Item).where(Item.id == item_id).options(
        selectinload(Item.pages), selectinload(Item.segments), selectinload(Item.files)))
    if item is None:
        raise NotFound(f"no item {item_id}")
    return item


def export_bag(repo: Repository, item_id: int, dest: Path, *, derivatives: bool = False, agent: str = "cli",
               base: str = "") -> Path:
    """Write item ``item_id`` as a valid BagIt bag at ``dest`` (a new or empty directory)."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput(f"{dest} already exists and is not an empty directory; choose a new bag directory")
    with repo.session() as s:
        item = _load_item(s, item_id)
        base = base or repo.settings.base_url.rstrip("/")
        pages_by_id = {p.id: p.n for p in item.pages}
        created = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        try:
            file_entries = []
            for i, f in enumerate(sorted(item.files, key=lambda f: f.id), start=1):
                if f.role == "original":
                    rel = f"originals/{i:03d}-{_safe_name(f.filename, f.sha256[:16] + _ext(f))}"
                elif f.role in ALWAYS_ROLES:
                    rel = f"transcripts/{i:03d}-{_safe_name(f.filename, f.role + _ext(f))}"
                elif derivatives:
                    rel = f"derivatives/{f.role}/{i:03d}-{f.sha256[:16]}{_ext(f)}"
                else:
                    rel = None
                if rel:
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    repo.store.copy_out(f.sha256, dest / rel)
                file_entries.append({
                    "path": rel, "role": f.role, "mime": f.mime, "filename": f.filename, "sha256": f.sha256,
                    "size": f.size, "width": f.width, "height": f.height, "duration": f.duration,
                    "tech": f.tech or {}, "page": pages_by_id.get(f.page_id) if f.page_id else None})
            for p in item.pages:
                (dest / "pages").mkdir(exist_ok=True)
                (dest / "pages" / f"{p.n:04d}.txt").write_text(p.text or "", encoding="utf-8")
            transcript = [s_ for s_ in item.segments if s_.kind == "transcript"]
            if transcript:
                (dest / "transcript.txt").write_text("".join(
                    f"[{s_.start:.2f}-{s_.end:.2f}] {s_.speaker + ': ' if s_.speaker else ''}{s_.text}\n"
                    for s_ in transcript), encoding="utf-8")
            record = records.item_record(item, base)
            record["heritage"] = {
                "format": BAG_FORMAT, "item_id": item.id, "state": item.state,
                "published_at": item.published_at.isoformat() if item.published_at else None,
                "year_from": item.year_from, "year_to": item.year_to, "duration": item.duration,
                "ocr_languages": item.ocr_languages, "vertical": item.vertical,
                "derivatives_included": derivatives, "files": file_entries,
                "pages": [{"n": p.n, "width": p.width, "height": p.height, "label": p.label, "text": p.text,
                           "words": p.words or [], "ocr_status": p.ocr_status, "ocr_model": p.ocr_model,
                           "ocr_confidence": p.ocr_confidence} for p in item.pages],
                "segments": [{"kind": s_.kind, "start": s_.start, "end": s_.end, "text": s_.text,
                              "speaker": s_.speaker, "title": s_.title, "keywords": s_.keywords or [],
                              "synopsis": s_.synopsis} for s_ in item.segments],
            }
            (dest / "item.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
            (dest / "dc.xml").write_bytes(dc_xml.item_dc_xml(item, item_url=record["url"] if base else None))
            bag_info = {
                "Source-Organization": repo.settings.institution_name,
                "External-Identifier": f"item:{item.id}",
                "External-Description": item.title[:500],
                "Bag-Group-Identifier": f"collection:{item.collection.slug}",
                "Bag-Software-Agent": "lingnan-heritage (bagit-python)",
            }
            bagit.make_bag(str(dest), bag_info, processes=1, checksums=["sha256"])
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            else:
                for child in dest.iterdir():
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            raise
    with repo.unit_of_work(agent) as uow:
        uow.event("transfer", item=item_id, detail={"direction": "export", "bag": str(dest.resolve()),
                                                     "derivatives": derivatives})
    return dest


def validate_bag(path: Path) -> bagit.Bag:
    """Open and fully validate a bag; InvalidInput naming the failing file(s) otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise InvalidInput(f"{path}: not a directory (a bag is a directory with bagit.txt)")
    try:
        bag = bagit.Bag(str(path))
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        raise InvalidInput(f"the bag {path} failed validation: {_explain(bag, exc)}") from None
    except bagit.BagError as exc:
        raise InvalidInput(f"{path} is not a valid bag: {exc}") from None
    return bag


def _explain(bag: bagit.Bag, exc: bagit.BagValidationError) -> str:
    """Name the failing files: the Payload-Oxum check fails first and names none, so look closer."""
    details = [str(d) for d in (exc.details or [])]
    if not details:
        try:
            missing, extra = bag.compare_manifests_with_fs()
            details += [f"{p} is missing" for p in sorted(missing)]
            details += [f"{p} is not in the manifest" for p in sorted(extra)]
            if not details:
                bag._validate_entries(1)  # checksums, to name a file whose size changed
        except bagit.BagValidationError as inner:
            details += [str(d) for d in (inner.details or [])] or [str(inner)]
    return "; ".join(details + [str(exc)] if not exc.details else details)


@dataclass
class ImportResult:
    item_id: int
    job_id: int | None  # the re-derivation job when derivatives were not in the bag
    originals: list[str]  # sha256 of the stored originals


def _read_record(bag: bagit.Bag, root: Path) -> dict[str, Any]:
    try:
        record = json.loads((root / "data" / "item.json").read_text(encoding="utf-8"))
        heritage = record["heritage"]
        if heritage.get("format") != BAG_FORMAT:
            raise KeyError("format")
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidInput(f"{root}: data/item.json is missing or is not a {BAG_FORMAT} record") from None
    for entry in heritage["files"]:
        if entry.get("path"):
            rel = f"data/{entry['path']}"
            digest = bag.entries.get(rel, {}).get("sha256")
            if digest != entry["sha256"]:
                raise InvalidInput(f"{root}: {rel} does not match the checksum recorded in data/item.json")
    return record


def import_bag(repo: Repository, path: Path, *, agent: str = "cli", collection: str | None = None,
               derive: Deriver | None = None) -> ImportResult:
    """Validate the bag at ``path`` and re-create its item (same checksums).

    Originals are stored with ``uow.add_file``; pages, segments and derivatives come from the bag
    when it carries them, otherwise ``derive`` (the ingest pipeline) is asked to rebuild them.
    """
    root = Path(path)
    bag = validate_bag(root)
    record = _read_record(bag, root)
    h = record["heritage"]
    data = root / "data"
    files = h["files"]
    has_derivatives = bool(h.get("derivatives_included"))
    rederive = derive is not None and not has_derivatives and bool(files)
    was_published = h.get("state") == ItemState.PUBLISHED.value
    with repo.unit_of_work(agent) as uow:
        s = uow.session
        slug = collection or record.get("collection") or ""
        try:
            coll = catalog.collection(s, slug)
        except NotFound:
            raise NotFound(f"the bag's collection {slug!r} does not exist here; create it with "
                           f"`heritage collection add {slug} --title TITLE` or give --collection SLUG") from None
        inst = None
        if record.get("institution"):
            inst = s.scalar(select(Institution).where(Institution.slug == record["institution"]))
        metadata = dublin_core.normalise(record.get("metadata") or {})
        item = Item(collection=coll, institution=inst or coll.institution,
                    title=catalog.check_text(record.get("title") or "", "title", 1000),
                    type=record.get("type") or "Text", metadata_=metadata,
                    year_from=h.get("year_from"), year_to=h.get("year_to"), duration=h.get("duration"),
                    ocr_languages=h.get("ocr_languages"), vertical=h.get("vertical"),
                    state=ItemState.PROCESSING.value if rederive else ItemState.DRAFT.value,
                    publish_when_ready=was_published and rederive)
        s.add(item)
        s.flush()
        uow.event("transfer", item=item, detail={"direction": "import", "bag": str(root.resolve()),
                                                  "source_item": h.get("item_id")})
        originals = [f for f in files if f["role"] == "original"]
        job_id = None
        if rederive:
            transcript = next((data / f["path"] for f in files if f["role"] == "transcript" and f.get("path")), None)
            job = derive(uow, item, [data / f["path"] for f in originals], transcript)
            job_id = job.id
        else:
            pages: dict[int, Page] = {}
            for p in h.get("pages", []):
                page = Page(item=item, n=p["n"], width=p.get("width") or 0, height=p.get("height") or 0,
                            label=p.get("label"), text=p.get("text") or "", words=p.get("words") or [],
                            ocr_status=p.get("ocr_status") or "done", ocr_model=p.get("ocr_model"),
                            ocr_confidence=p.get("ocr_confidence"))
                s.add(page)
                pages[p["n"]] = page
            for sg in h.get("segments", []):
                s.add(Segment(item=item, kind=sg.get("kind") or "transcript", start=sg["start"], end=sg["end"],
                              text=sg.get("text") or "", speaker=sg.get("speaker"), title=sg.get("title"),
                              keywords=sg.get("keywords") or [], synopsis=sg.get("synopsis")))
            s.flush()
            for f in files:
                if not f.get("path"):
                    continue  # a derivative that was not exported
                page = pages.get(f["page"]) if f.get("page") else None
                uow.add_file(item, data / f["path"], role=f["role"], mime=f["mime"], filename=f.get("filename") or "",
                             page_id=page.id if page else None, width=f.get("width"), height=f.get("height"),
                             duration=f.get("duration"), tech=f.get("tech") or {})
            if was_published:
                item.state = ItemState.PUBLISHED.value
                item.published_at = utcnow()
                uow.event("publication", item=item, detail={"via": "bag import"})
        if not rederive:
            for f in originals:
                if not any(x.role == "original" and x.sha256 == f["sha256"] for x in item.files):
                    raise InvalidInput(f"{root}: original {f['path']} was not stored")  # pragma: no cover
        s.flush()
        stored = sorted(x.sha256 for x in s.scalars(select(File).where(File.item_id == item.id, File.role == "original")))
        uow.reindex(item)
        return ImportResult(item.id, job_id, stored)
