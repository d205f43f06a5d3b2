"""PDF pages with PyMuPDF: validation, text layer (kept, no OCR) and rendering for viewing/OCR.

A page with a text layer keeps that text: its characters' boxes (PyMuPDF ``rawdict``) are scaled
from PDF points to the rendered page image's pixels. A page without one (a scanned PDF) is
rendered and OCR'd like any scan. Encrypted PDFs are refused: the archive must be able to open
its originals forever without a password.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from PIL import Image

from config import InvalidInput, TooLarge

RENDER_DPI = 300
#: a page has a text layer when it carries at least this many non-space characters
MIN_TEXT_CHARS = 10


def _open(path: Path):
    import pymupdf

    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # pymupdf.FileDataError, RuntimeError … for damaged files
        raise InvalidInput(f"{path.name}: not a readable PDF (damaged or truncated?): {exc}") from None
    encryption = (doc.metadata or {}).get("encryption")
    if doc.needs_pass or doc.is_encrypted or encryption:
        # also owner-password-only ("permissions") encryption: PDF/A forbids it, and preservation
        # copies must stay readable without any key
        doc.close()
        raise InvalidInput(f"{path.name}: the PDF is encrypted (password-protected); "
                           f"save an unencrypted copy and ingest that")
    return doc


def page_count(path: Path, max_pixels: int) -> int:
    """Validate the PDF (opens, not encrypted, every page parses and can be rendered within the
    pixel cap) and return its number of pages."""
    doc = _open(path)
    try:
        n = doc.page_count
        if n < 1:
            raise InvalidInput(f"{path.name}: the PDF has no pages")
        if getattr(doc, "is_repaired", False):
            raise InvalidInput(f"{path.name}: the PDF is damaged (truncated or corrupt); PyMuPDF had to repair it")
        for i in range(n):
            try:
                page = doc.load_page(i)
                page.get_text("text")
                page.get_pixmap(dpi=8)  # cheap render: catches broken content streams and images
            except Exception as exc:
                raise InvalidInput(f"{path.name}: page {i + 1} cannot be read: {exc}") from None
            render_dpi(page.rect.width, page.rect.height, max_pixels, name=f"{path.name} page {i + 1}")
        return n
    finally:
        doc.close()


def render_dpi(width_pt: float, height_pt: float, max_pixels: int, *, name: str = "page") -> int:
    """RENDER_DPI, lowered so the rendered page stays within ``max_pixels``."""
    if width_pt <= 0 or height_pt <= 0:
        raise InvalidInput(f"{name}: absurd page size {width_pt}x{height_pt} pt")
    dpi = RENDER_DPI
    while (width_pt * dpi / 72) * (height_pt * dpi / 72) > max_pixels and dpi > 36:
        dpi = int(dpi * 0.8)
    if (width_pt * dpi / 72) * (height_pt * dpi / 72) > max_pixels:
        raise TooLarge(f"{name}: the page ({width_pt:.0f}x{height_pt:.0f} pt) is too large to render")
    return dpi


def render_page(path: Path, index: int, max_pixels: int) -> tuple[Image.Image, list[dict[str, Any]] | None, int]:
    """(page image, text-layer words in image pixels or None for a scanned page, dpi)."""
    import pymupdf

    doc = _open(path)
    try:
        page = doc.load_page(index)
        dpi = render_dpi(page.rect.width, page.rect.height, max_pixels, name=f"{path.name} page {index + 1}")
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
        img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        words = text_layer_words(page, pix.width / page.rect.width, pix.height / page.rect.height)
        return img, words, dpi
    finally:
        doc.close()


def _is_han(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" or ord(c) >= 0x20000


def text_layer_words(page, sx: float, sy: float) -> list[dict[str, Any]] | None:
    """Words of the page's text layer, or None when it has (almost) none.

    Han characters become one entry each (their own glyph boxes), other characters are grouped
    into words at spaces; boxes are scaled by (sx, sy) from points to image pixels. ``conf`` is
    None: the text was typeset, not recognised."""
    raw = page.get_text("rawdict")
    words: list[dict[str, Any]] = []
    n_chars = 0
    line_no = -1
    for block in raw.get("blocks", []):
        for line in block.get("lines", []):
            line_no += 1
            cur: dict[str, Any] | None = None
            for span in line.get("spans", []):
                for ch in span.get("chars", []):
                    c = unicodedata.normalize("NFC", ch.get("c", ""))
                    x0, y0, x1, y1 = ch["bbox"]
                    box = [int(x0 * sx), int(y0 * sy), max(1, int((x1 - x0) * sx)), max(1, int((y1 - y0) * sy))]
                    if not c.strip():
                        cur = None
                        continue
                    n_chars += 1
                    if _is_han(c) or not c.isalnum():
                        words.append({"text": c, "xywh": box, "conf": None, "line": line_no})
                        cur = None
                    elif cur is not None:
                        right = max(cur["xywh"][0] + cur["xywh"][2], box[0] + box[2])
                        bottom = max(cur["xywh"][1] + cur["xywh"][3], box[1] + box[3])
                        cur["xywh"][1] = min(cur["xywh"][1], box[1])
                        cur["xywh"][2] = right - cur["xywh"][0]
                        cur["xywh"][3] = bottom - cur["xywh"][1]
                        cur["text"] += c
                    else:
                        cur = {"text": c, "xywh": box, "conf": None, "line": line_no}
                        words.append(cur)
    return words if n_chars >= MIN_TEXT_CHARS else None
