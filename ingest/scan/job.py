"""The ``scan`` job: make every page of an item (derivatives + OCR), resumably and in parallel.

* Pages run in a thread pool of ``settings.workers`` threads; the heavy work is the tesseract
  subprocess (one core each, ``OMP_THREAD_LIMIT=1``) and Pillow, which release the GIL.
* Each finished page is committed on its own (Page row + its files) by the job's thread, so a
  killed worker loses at most the pages in flight; the job is re-run by another worker and
  skips pages already done (the unique (item, n) constraint makes a page impossible twice).
* A page that fails is recorded (Page.error, ocr_status 'failed'); the item then becomes
  'failed' with an error naming the pages, and is never published with holes.
* A big page image gets its IIIF pyramid in the page's thread (:mod:`ingest.scan.pyramid`), put
  in place only after the page is committed; an item that ends failed keeps none of them.
"""
from __future__ import annotations

import shutil
import threading
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from config import HeritageError, InvalidInput
from repository.models import Event, File, Item, ItemState, Page, utcnow

from ingest import images, ocr, pdf
from ingest.scan import pyramid
from ingest.worker import JobCancelled, JobContext, handler

HEARTBEAT_SECONDS = 10


@dataclass
class PageResult:
    n: int
    width: int = 0
    height: int = 0
    text: str = ""
    words: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    confidence: float | None = None
    status: str = "done"  # done | skipped (text layer) | failed
    error: str | None = None
    files: list[tuple[Path, str, str, dict[str, Any]]] = field(default_factory=list)  # path, role, mime, extra
    pyramid: Path | None = None  # of a big page image, in the work directory until committed
    detail: dict[str, Any] = field(default_factory=dict)


class ScriptHint:
    """The script of the item's pages decided so far (shared by the page threads). ``auto`` reads
    a page with the majority script's model first, and once a page was decided *clearly* (see
    :func:`ingest.ocr.choose_and_read`) the item is ``settled``: later pages take that first
    reading unless its own glyph vote is against it. So an item costs one Tesseract run per
    page, plus a second run on its first page when that page is not in the script tried first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {"trad": 0, "simp": 0}
        self.clear = {"trad": 0, "simp": 0}

    def record(self, model: str | None, candidates: dict[str, Any] | None = None) -> None:
        script = ocr.script_of(model)
        if not script:
            return
        votes = candidates or {}
        with self._lock:
            self.counts[script] += 1
            if "trad_votes" in votes and ocr.clearly(script, votes["trad_votes"], votes["simp_votes"]):
                self.clear[script] += 1

    def choice(self) -> tuple[str | None, bool]:
        """(script to read first: the majority so far — None before any page was decided, so
        that :func:`ingest.ocr.script_prior` guesses —, settled: some page was clearly in that
        script and none clearly in the other)."""
        with self._lock:
            if not any(self.counts.values()):
                return None, False
            prefer = "simp" if self.counts["simp"] > self.counts["trad"] else "trad"
            other = "trad" if prefer == "simp" else "simp"
            return prefer, self.clear[prefer] > 0 and self.clear[other] == 0


def process_page(spec: dict[str, Any], source: dict[str, Any], src_path: Path, workdir: Path, *,
                 lang: str | None, vertical: bool | None, max_pixels: int,
                 hint: ScriptHint | None = None) -> PageResult:
    """Make one page: decode → 8-bit page image + thumbnail → text (PDF layer or OCR) → hOCR, ALTO.
    Never raises for bad data: failures come back as a result with status 'failed'."""
    n = spec["n"]
    inner = spec["index"] or source["kind"] == "pdf"
    where = f"page {n} ({source['name']}, page {spec['index'] + 1})" if inner else f"page {n} ({source['name']})"
    try:
        text_words = None
        dpi: int | None = None
        if source["kind"] == "pdf":
            img, text_words, dpi = pdf.render_page(src_path, spec["index"], max_pixels)
        else:
            img = images.load_frame(src_path, spec["index"], max_pixels)
            dpi_info = img.info.get("dpi")
            dpi = int(dpi_info[0]) if dpi_info and 70 <= float(dpi_info[0]) <= 2400 else None
        stem = workdir / f"p{n:05d}"
        reuse = images.reusable_as_page(src_path, max_pixels) if source["kind"] == "image" else None
        if reuse:
            page_path, page_mime = src_path, reuse
        else:
            page_path, page_mime = images.save_page_image(img, stem)
        thumb = images.save_thumbnail(img, stem.with_suffix(".thumb.jpg"))
        res = PageResult(n=n, width=img.width, height=img.height)
        res.files += [(page_path, "page_image", page_mime, {"width": img.width, "height": img.height}),
                      (thumb, "thumbnail", "image/jpeg", {})]
        res.pyramid = pyramid.build_for_page(page_path, img.width, img.height, stem)
        if text_words is not None:
            res.words, res.status, res.model = text_words, "skipped", None
            res.text = ocr.words_text(text_words)
            res.detail = {"text": "pdf text layer"}
        else:
            prefer, settled = hint.choice() if hint else (None, False)
            read = ocr.choose_and_read(page_path, img, lang, vertical, dpi=dpi, prefer=prefer, settled=settled)
            if hint:
                hint.record(read.model, read.candidates)
            res.words, res.text, res.model, res.confidence = read.words, read.text, read.model, read.confidence
            res.detail = {"ocr_model": read.model, **({"auto": read.candidates} if read.candidates else {})}
            hocr = stem.with_suffix(".hocr")
            hocr.write_bytes(read.hocr or b"")
            res.files.append((hocr, "hocr", "text/vnd.hocr+html", {}))
        alto = stem.with_suffix(".alto.xml")
        alto.write_bytes(ocr.to_alto(res.words, img.width, img.height, image_name=f"page-{n}"))
        txt = stem.with_suffix(".txt")
        txt.write_text(res.text, encoding="utf-8")
        res.files += [(alto, "alto", "application/alto+xml", {}), (txt, "text", "text/plain; charset=utf-8", {})]
        return res
    except (HeritageError, ocr.OcrError) as exc:
        return PageResult(n=n, status="failed", error=f"{where}: {exc}")
    except Exception as exc:  # a bug or OS error on one page must not hide the others
        return PageResult(n=n, status="failed", error=f"{where}: {type(exc).__name__}: {exc}")


@handler("scan")
def run_scan(ctx: JobContext) -> None:
    """Handler of ``scan`` jobs (see module docstring)."""
    repo, payload = ctx.repo, ctx.payload
    settings = repo.settings
    specs: list[dict[str, Any]] = payload["pages"]
    sources: list[dict[str, Any]] = payload["sources"]
    with repo.session() as s:
        item = s.get(Item, ctx.job.item_id)
        if item is None or item.deleted_at is not None:
            raise InvalidInput(f"item {ctx.job.item_id} no longer exists")
        done_pages = [p for p in s.scalars(select(Page).where(Page.item_id == item.id))
                      if p.ocr_status in ("done", "skipped")]
        finished = {p.n for p in done_pages}
        hint = ScriptHint()
        for p in done_pages:  # a resumed job keeps reading the majority script first
            hint.record(p.ocr_model)
    lang = payload.get("lang") or settings.ocr_languages
    vertical = payload.get("vertical")
    todo = [p for p in specs if p["n"] not in finished]
    total = len(specs)
    done = total - len(todo)
    errors: list[dict[str, Any]] = []
    pyramids: list[str] = []  # put in place by this run: removed again if the item ends failed
    ctx.progress(done, total, "pages" if not todo else f"page {todo[0]['n']}", errors)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"scan-{ctx.job.id}-", dir=settings.cache_dir))
    pool = ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="scan-page")
    try:
        pending: set[Future] = set()
        for spec in todo:
            src = sources[spec["source"]]
            pending.add(pool.submit(process_page, spec, src, repo.store.path(src["sha256"]), workdir,
                                    lang=lang, vertical=vertical, max_pixels=settings.max_image_pixels, hint=hint))
        while pending:
            ready, pending = wait(pending, timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
            for fut in ready:
                res = fut.result()
                if placed := _commit_page(ctx, res):
                    pyramids.append(placed)
                done += 1
                if res.error:
                    errors.append({"page": res.n, "error": res.error})
                ctx.progress(done, total, f"page {res.n} {res.status}", errors)
            if not ready:
                ctx.progress(done, total, "ocr", errors)  # heartbeat + cancellation check
    except JobCancelled:
        pool.shutdown(wait=False, cancel_futures=True)
        _remove_pyramids(settings.cache_dir, pyramids)
        with repo.unit_of_work(f"worker:{ctx.worker}") as uow:
            item = uow.session.get(Item, ctx.job.item_id)
            item.state = ItemState.FAILED.value
            item.error = f"processing was cancelled after {done} of {total} pages"
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(workdir, ignore_errors=True)
    try:
        _finish_item(ctx, total)
    except _PagesFailed:
        _remove_pyramids(settings.cache_dir, pyramids)
        raise
    pyramid.ensure_item_pyramids(repo, ctx.job.item_id)  # pages made by an earlier run of this job


def _remove_pyramids(cache_dir: Path, shas: list[str]) -> None:
    for sha in shas:
        pyramid.remove_pyramid(cache_dir, sha)


def _commit_page(ctx: JobContext, res: PageResult) -> str | None:
    """One page (row + files) in one unit of work; a page someone else committed is left alone.
    Returns the page image's SHA-256 if this put its pyramid in place (after the commit)."""
    repo = ctx.repo
    page_sha = None
    try:
        with repo.unit_of_work(f"worker:{ctx.worker}") as uow:
            s = uow.session
            item = s.get(Item, ctx.job.item_id)
            page = s.scalars(select(Page).where(Page.item_id == item.id, Page.n == res.n)).first()
            if page is not None and page.ocr_status in ("done", "skipped"):
                return  # done by another worker meanwhile
            if page is None:
                page = Page(item=item, n=res.n)
                s.add(page)
            else:  # an earlier failed attempt: replace its files
                for f in s.scalars(select(File).where(File.page_id == page.id)):
                    s.delete(f)
            page.width, page.height = res.width, res.height
            page.text, page.words = res.text, res.words
            page.ocr_status, page.ocr_model, page.ocr_confidence = res.status, res.model, res.confidence
            page.error = res.error
            s.flush()
            for path, role, mime, extra in res.files:
                suffix = "".join(path.suffixes) or {"image/png": ".png", "image/jpeg": ".jpg"}.get(mime, "")
                f = uow.add_file(item, path, role=role, mime=mime, filename=f"page-{res.n}{suffix}",
                                 page_id=page.id, **extra)
                if role == "page_image":
                    page_sha = f.sha256
            if res.error:
                uow.event("creation", item=item, outcome="failure", detail={"page": res.n, "error": res.error})
            else:
                uow.event("creation", item=item, detail={"page": res.n, **res.detail})
    except IntegrityError:
        return None  # the same page was committed concurrently by another worker: keep theirs
    if res.pyramid is None or res.error or page_sha is None:
        return None
    return page_sha if pyramid.install_pyramid(repo.settings.cache_dir, res.pyramid, page_sha) else None


def _finish_item(ctx: JobContext, total: int) -> None:
    with ctx.repo.unit_of_work(f"worker:{ctx.worker}") as uow:
        s = uow.session
        item = s.get(Item, ctx.job.item_id)
        pages = list(s.scalars(select(Page).where(Page.item_id == item.id).order_by(Page.n)))
        failed = [p for p in pages if p.ocr_status == "failed"]
        missing = total - len([p for p in pages if p.ocr_status in ("done", "skipped")]) - len(failed)
        if failed or missing:
            item.state = ItemState.FAILED.value
            reasons = [p.error or f"page {p.n} failed" for p in failed]
            if missing:
                reasons.append(f"{missing} page(s) were not made")
            item.error = "; ".join(reasons)[:5000]
        else:
            item.error = None
            if item.publish_when_ready:
                item.state = ItemState.PUBLISHED.value
                item.published_at = utcnow()
                uow.event("publication", item=item, detail={"by": "ingest", "job": ctx.job.id})
            else:
                item.state = ItemState.DRAFT.value
        uow.reindex(item)
        error = item.error
    if error:
        raise _PagesFailed(error)


class _PagesFailed(HeritageError):
    """The job finished but some pages failed (the item says which)."""
