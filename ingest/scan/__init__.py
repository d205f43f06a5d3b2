"""Scans (images and PDFs) → pages with an image, OCR text, word boxes, hOCR and ALTO.

:func:`prepare` runs inside the intake's unit of work: it validates every file synchronously
(decodes every image frame, opens every PDF page; bombs, truncation, encryption, absurd sizes are
refused here, so bad input never makes an item), stores the originals and queues one ``scan`` job.
The job (:mod:`ingest.scan.job`) makes the pages, in parallel, one commit per page.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from config import InvalidInput, Settings, load_settings
from repository import UnitOfWork
from repository import jobs as queue
from repository.models import Item, Job

from ingest import images, ocr, pdf

from ingest.scan import job as _job  # noqa: F401  (registers the "scan" handler)

JOB_KIND = "scan"
_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "WEBP": "image/webp",
          "JPEG2000": "image/jp2", "MPO": "image/jpeg"}


def prepare(uow: UnitOfWork, item: Item, files: list[Path], options: Any) -> Job:
    """Validate ``files`` (in page order), store them as originals and queue the scan job."""
    from ingest.intake import sniff

    settings: Settings = getattr(options, "settings", None) or load_settings()
    lang = item.ocr_languages or settings.ocr_languages
    ocr.resolve_models(lang, item.vertical)  # refuses models that are not installed
    sources: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    for path in files:
        kind = sniff(path)
        if kind == "pdf":
            n = pdf.page_count(path, settings.max_image_pixels)
            mime = "application/pdf"
        elif kind == "image":
            n = images.frame_count(path, settings.max_image_pixels)
            with images.opened(path, settings.max_image_pixels) as img:
                mime = _MIMES.get(img.format or "", "application/octet-stream")
        else:
            raise InvalidInput(f"{path.name}: a recording cannot be part of a scanned item")
        f = uow.add_file(item, path, role="original", mime=mime, filename=path.name)
        uow.session.flush()
        sources.append({"file_id": f.id, "sha256": f.sha256, "kind": kind, "name": path.name})
        for i in range(n):
            pages.append({"n": len(pages) + 1, "source": len(sources) - 1, "index": i})
    if not pages:
        raise InvalidInput("no pages to ingest")
    payload = {"sources": sources, "pages": pages, "lang": lang, "vertical": item.vertical}
    return queue.enqueue(uow.session, JOB_KIND, payload, item_id=item.id, created_by=getattr(options, "agent", "cli"))
