"""Chinese OCR with Tesseract (through pytesseract): model choice per page, hOCR parsing, ALTO.

Why not one blind language combination: on scan-like pages ``chi_tra+chi_sim+eng`` makes several
times the character errors of the right single model, and a vertical page read with a horizontal
model is garbage (see tests/scan/test_ocr_quality.py for the measured numbers). So ``auto``
decides per page:

* **direction** from the ink projection profiles (horizontal text leaves blank *rows* between
  lines, vertical text blank *columns*); no OCR run needed;
* **script** (simplified / traditional) from the *glyphs*: both models output only their own
  script, so the text alone cannot tell. An item's first page is read with the model
  :func:`script_prior` guesses from glyph templates of frequent characters (no OCR run); later
  pages with the script the item's pages were found in. :func:`glyph_script_vote` then checks
  the reading by comparing the page's cells of script-specific characters (錢/钱, 個/个 …, by
  OpenCC) with both forms; only when the votes are not clear (or, in a settled item, are against
  the script read) is the page read with the other model too, and the script with more votes
  keeps its reading — no third run. See :func:`choose_and_read`.

An archivist can override per item or collection (``--lang chi_tra``, ``--vertical``); a fixed
model costs one Tesseract run per page.
"""
from __future__ import annotations

import functools
import os
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from config import InvalidInput

# Each page runs in its own tesseract process and pages run in parallel: keep every process on one
# core (OpenMP inside tesseract would otherwise oversubscribe the cores). Inherited by subprocesses.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytesseract  # noqa: E402  (after OMP_THREAD_LIMIT)

HORIZONTAL_PSM = 3  # fully automatic page segmentation
VERTICAL_PSM = 5  # a uniform block of vertically aligned text (measured better than 3 for _vert)
DEFAULT_DPI = 300
SCRIPT_MODELS = {"trad": "chi_tra", "simp": "chi_sim"}
_HOCR_NS = "{http://www.w3.org/1999/xhtml}"
_TITLE = re.compile(r"(\w+) ([^;]+)")


class OcrError(Exception):
    """Tesseract failed on a page (the message says why)."""


@dataclass
class OcrPage:
    """One page read by OCR (or from a PDF text layer)."""

    words: list[dict[str, Any]]  # {"text", "xywh": [x, y, w, h], "conf", "line"}
    text: str
    model: str
    confidence: float | None
    hocr: bytes | None = None
    candidates: dict[str, float] = field(default_factory=dict)  # model -> score used for the choice


# ---------------------------------------------------------------------------------------------
# running tesseract
def tesseract_hocr(image: Path | Image.Image, model: str, *, vertical: bool, dpi: int | None = None,
                   timeout: float = 600) -> bytes:
    """hOCR (with per-character boxes and confidences) of one page image."""
    psm = VERTICAL_PSM if vertical else HORIZONTAL_PSM
    config = f"--psm {psm} --dpi {dpi or DEFAULT_DPI} -c hocr_char_boxes=1"
    src = str(image) if isinstance(image, Path) else image
    try:
        return pytesseract.image_to_pdf_or_hocr(src, lang=model, extension="hocr", config=config, timeout=timeout)
    except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
        raise OcrError(f"tesseract ({model}) timed out after {timeout:.0f} s") from None
    except pytesseract.TesseractError as exc:
        raise OcrError(f"tesseract ({model}) failed: {exc.message.strip()[:300]}") from None
    except pytesseract.TesseractNotFoundError:
        raise OcrError("tesseract is not installed (Debian package tesseract-ocr)") from None


def read_page(image: Path | Image.Image, model: str, *, vertical: bool | None = None,
              dpi: int | None = None) -> OcrPage:
    """OCR one page with a fixed ``model`` ('chi_tra', 'chi_sim_vert', 'chi_tra+eng', …)."""
    vertical = model_is_vertical(model) if vertical is None else vertical
    hocr = tesseract_hocr(image, model, vertical=vertical, dpi=dpi)
    words = parse_hocr(hocr)
    return OcrPage(words=words, text=words_text(words), model=model, confidence=mean_confidence(words), hocr=hocr)


def model_is_vertical(model: str) -> bool:
    return any(part.endswith("_vert") for part in model.split("+"))


# ---------------------------------------------------------------------------------------------
# choosing the model
def resolve_models(lang: str | None, vertical: bool | None) -> str:
    """Turn the item/collection/settings choice into 'auto' or a concrete model list.
    ``vertical=True`` maps chi_tra → chi_tra_vert (and chi_sim → chi_sim_vert)."""
    lang = (lang or "auto").strip()
    if lang == "auto":
        return "auto"
    parts = [p for p in lang.split("+") if p]
    available = set(available_models())
    for p in parts:
        if p not in available:
            raise InvalidInput(f"OCR model {p!r} is not installed; installed: {', '.join(sorted(available))}")
    if vertical:
        parts = [p + "_vert" if p in ("chi_tra", "chi_sim") and p + "_vert" in available else p for p in parts]
    return "+".join(parts)


@functools.lru_cache(maxsize=1)
def available_models() -> tuple[str, ...]:
    try:
        return tuple(pytesseract.get_languages(config=""))
    except Exception:  # tesseract missing: every OCR call will say so
        return ()


def detect_vertical(img: Image.Image) -> tuple[bool, float]:
    """(is vertical, strength) from ink projection profiles of a reduced page.

    Horizontal text leaves many blank rows between lines and almost no blank columns inside the
    text block; vertical text the opposite. Strength is the difference of the two blank fractions
    (0…1); near 0 means the layout is ambiguous (pictures, tables)."""
    import numpy as np

    g = img.convert("L")
    factor = max(1, min(g.size) // 500)
    small = np.asarray(g.reduce(factor) if factor > 1 else g, dtype=np.float32)
    ink = small < (small.mean() - 2.5 * small.std() if small.std() > 0 else 128)
    if not ink.any():
        ink = small < 128
    rows, cols = np.where(ink.any(axis=1))[0], np.where(ink.any(axis=0))[0]
    if rows.size < 2 or cols.size < 2:
        return False, 0.0
    block = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    row_blank = float((block.mean(axis=1) < 0.002).mean())
    col_blank = float((block.mean(axis=0) < 0.002).mean())
    return col_blank > row_blank, abs(col_blank - row_blank)


def choose_and_read(image: Path, img: Image.Image, lang: str | None, vertical: bool | None,
                    dpi: int | None = None, *, prefer: str | None = None, settled: bool = False) -> OcrPage:
    """OCR a page with the model the settings ask for, or with ``auto`` the best model for it.

    ``auto``: direction from :func:`detect_vertical` (unless ``vertical`` is given); then the
    page is read with the ``prefer``-red script's model — the script the item's pages were found
    in so far; for an item's first page (``prefer=None``) the guess of :func:`script_prior`,
    which needs no OCR run; vertical pages always start traditional — and :func:`glyph_script_vote` compares the page's glyphs of script-specific characters with
    both forms — no extra Tesseract run. The page is done after that one run when

    * the votes are :func:`clearly` for the script read, or
    * ``settled`` (the item's script was already decided clearly on an earlier page: the pages of
      one item nearly always share their script) and the votes are not :func:`against` it — so a
      page with few script-specific characters does not cost a second run in a settled item.

    Otherwise it is read with the other model too, that reading votes as well, and the script
    with more votes wins (its reading is kept — no third run; ties: traditional).
    ``candidates`` records the votes and ``runs`` (1 or 2)."""
    models = resolve_models(lang, vertical)
    if models != "auto":
        return read_page(image, models, vertical=model_is_vertical(models) or bool(vertical), dpi=dpi)
    is_vert = vertical if vertical is not None else detect_vertical(img)[0]
    suffix = "_vert" if is_vert else ""
    # simplified-first only for horizontal pages: on a vertical traditional page (seed 8 of our
    # 10) the chi_sim_vert reading's glyph vote clearly, and wrongly, favoured simplified (with
    # the vote before the match floor; there are no vertical simplified test pages to re-measure)
    if prefer is None:
        prefer = "trad" if is_vert else script_prior(img)
    first_script = "simp" if prefer == "simp" and not is_vert else "trad"
    first = read_page(image, SCRIPT_MODELS[first_script] + suffix, vertical=is_vert, dpi=dpi)
    t1, s1 = glyph_script_vote(img, first.words, first_script)
    first.candidates = {"trad_votes": t1, "simp_votes": s1, "runs": 1, "first": first_script}
    if clearly(first_script, t1, s1) or (settled and first_script == prefer and not against(first_script, t1, s1)):
        return first
    other_script = "trad" if first_script == "simp" else "simp"
    second = read_page(image, SCRIPT_MODELS[other_script] + suffix, vertical=is_vert, dpi=dpi)
    t2, s2 = glyph_script_vote(img, second.words, other_script)
    votes = {"trad_votes": t1 + t2, "simp_votes": s1 + s2, "runs": 2, "first": first_script}
    trad, simp = (first, second) if first_script == "trad" else (second, first)
    best = simp if votes["simp_votes"] > votes["trad_votes"] else trad
    best.candidates = votes
    return best


#: Frequent characters whose simplified form differs (general written Chinese, plus 係 邊 講 識
#: for Cantonese), for :func:`script_prior`. Not taken from the test or bench texts.
PRIOR_CHARS = "們個這來說時會為國對學後發過經動現開還與問體長見當樣點種從頭實機關話無進讓裡麼東給幾間應聽愛車電錢買寫係邊講識"
PRIOR_LINES = 6  # text lines of the page looked at


def script_prior(img: Image.Image) -> str:
    """'simp' or 'trad': which model to read an item's first horizontal page with, guessed
    without OCR. The first :data:`PRIOR_LINES` text lines (ink projection profile) are cut into
    em cells on the line's regular character pitch (CJK print is set on an em grid), and each cell
    is compared — the same normalised correlation and shift search as :func:`glyph_script_vote` —
    with both forms of the :data:`PRIOR_CHARS` pairs (個/个 …). A cell votes when its best
    template correlates ≥ 0.6 and beats the other form of the same pair by ≥ 0.05.
    'simp' when the simplified votes are ≥ 4 and ≥ 2× the traditional ones.

    Only a guess — the reading is then checked by :func:`glyph_script_vote` as before; a wrong
    guess costs a second Tesseract run, never a wrong model. Measured (0.1 s CPU a page): right on
    all 12 bench pages (e.g. 11/3 traditional, 2/13 simplified votes) and on the 30 horizontal test
    pages (seeds 1–10: simplified 4–12 votes against 0–2; traditional and mixed never ≥ 2×
    simplified). Written here because no library offers script identification from images."""
    import numpy as np

    gray = img.convert("L")
    ink = 255.0 - np.asarray(gray, dtype=np.float32)
    thr = float(ink.mean() + 2.5 * ink.std())
    rows = (ink > thr).mean(axis=1) > 0.002
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rows.astype(np.int8), [0]])))
    bands = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a > 5]
    if not bands:
        return "trad"
    line_h = float(np.median([b - a for a, b in bands]))
    em = line_h * 1.05
    scale = _GLYPH / em
    small = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.BILINEAR,
                        reducing_gap=2.0)
    pad = _GLYPH + _SHIFT
    sink = np.pad(255.0 - np.asarray(small, dtype=np.float32), pad, mode="edge")
    size = _GLYPH + 2 * _SHIFT
    regions = []
    for a, b in [(a, b) for a, b in bands if b - a >= 0.6 * line_h][:PRIOR_LINES]:
        cols = np.flatnonzero((ink[a:b] > thr).any(axis=0))
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        n = max(1, round((x1 - x0) / em))
        pitch = (x1 - x0) / n
        top = int(round((a + b) / 2 * scale - _GLYPH / 2)) + pad - _SHIFT
        for k in range(n):
            left = int(round((x0 + (k + 0.5) * pitch) * scale - _GLYPH / 2)) + pad - _SHIFT
            regions.append(sink[top:top + size, left:left + size])
    if not regions:
        return "trad"
    matrix, forms, pair = _prior_templates()
    cells = np.lib.stride_tricks.sliding_window_view(np.stack(regions), (_GLYPH, _GLYPH), axis=(1, 2))
    cells = cells.reshape(len(regions), -1, _GLYPH * _GLYPH)
    norms = np.sqrt(np.maximum((cells * cells).sum(axis=2) - cells.sum(axis=2) ** 2 / (_GLYPH * _GLYPH), 1e-6))
    with _blas().limit(limits=1, user_api="blas"):
        best = ((cells @ matrix) / norms[:, :, None]).max(axis=1)  # (cells, templates)
    t_votes = s_votes = 0
    for row in best:
        j = int(row.argmax())
        rival = row[(pair == pair[j]) & (forms != forms[j])].max()
        if row[j] >= 0.6 and row[j] - rival >= 0.05:
            t_votes += forms[j] == 0
            s_votes += forms[j] == 1
    return "simp" if s_votes >= 4 and s_votes >= 2 * t_votes else "trad"


@functools.lru_cache(maxsize=1)
def _prior_templates():
    """(templates as columns, form of each column: 0 traditional / 1 simplified, pair index)."""
    import numpy as np

    cols, forms, pair = [], [], []
    for i, trad in enumerate(PRIOR_CHARS):
        simp = _other_form(trad, "trad")
        for form, (ch, script) in enumerate(((trad, "trad"), (simp, "simp"))):
            m = _templates(ch, script)
            cols.append(m)
            forms += [form] * m.shape[1]
            pair += [i] * m.shape[1]
    return np.concatenate(cols, axis=1), np.array(forms), np.array(pair)


def clearly(script: str, trad_votes: int, simp_votes: int) -> bool:
    """The votes clearly favour ``script``: ≥ 1.5× the other's votes and a lead of ≥ 4.

    Measured with the match-floored vote on the 40 test pages (seeds 1–10 × simp/trad/mixed/vert,
    ~100 characters each, so only 0–13 votes a page) and on the bench pages (~650 characters,
    40–70 votes): from a chi_tra(_vert) reading never true for a simplified page, from a chi_sim
    reading never true for a traditional page; true for every page (24 of the 40) whose reading
    with its own model had ≥ 6 votes, and for every bench page (e.g. 63 vs 5 votes)."""
    mine, other = (trad_votes, simp_votes) if script == "trad" else (simp_votes, trad_votes)
    return mine >= 1.5 * other and mine - other >= 4


def against(script: str, trad_votes: int, simp_votes: int) -> bool:
    """The votes do not support ``script``: the other script has at least as many votes (and at
    least one). Measured on the 40 test pages: every page read with the wrong script's model was
    against it (simplified pages read by chi_tra 1/4 … 1/11 traditional/simplified votes;
    horizontal traditional and mixed pages read by chi_sim 1/0 … 9/1); of the readings with the page's own
    model only one was (traditional seed 10: 0 vs 1 vote), which costs that page a second run,
    not a wrong model."""
    mine, other = (trad_votes, simp_votes) if script == "trad" else (simp_votes, trad_votes)
    return other >= 1 and other >= mine


def script_of(model: str | None) -> str | None:
    """'simp' / 'trad' for a chi_sim / chi_tra model (or its _vert), else None."""
    if not model:
        return None
    return "simp" if model.startswith("chi_sim") else "trad" if model.startswith("chi_tra") else None


def glyph_script_vote(img: Image.Image, words: list[dict[str, Any]], script: str) -> tuple[int, int]:
    """(traditional votes, simplified votes) from a page reading made with a ``script`` model.

    Tesseract's models only ever output their own script, so the *text* cannot tell the script.
    The glyphs can: for every character of the reading whose form differs in the other script
    (錢/钱, 個/个 …, by OpenCC), the page's character cell is compared by normalised correlation
    with both forms rendered in Noto CJK (sans and serif); the closer form votes. Tesseract's
    character boxes are approximate, so the em-sized cell is searched over small shifts around the
    box centre (the same search for both forms). Written here because no library offers script
    identification from glyph images.

    A cell that matches *neither* form well (best correlation < :data:`_MIN_MATCH`) does not vote:
    such cells are characters Tesseract misread or boxes that miss their glyph, and they used to
    vote at random — on our 2000-px bench pages a third of all votes were wrong, and the simpler
    form (系 for 係) often won by matching a part of the complex one. With the floor, ≥ 95 % of
    the remaining votes are right (measured on the bench pages and the 40 test pages; see
    :func:`clearly`)."""
    import numpy as np

    heights = sorted(max(w["xywh"][2], w["xywh"][3]) for w in words if len(w["text"]) == 1 and _is_han(w["text"]))
    if not heights:
        return 0, 0
    pairs = []
    for w in words:
        ch = w["text"]
        if len(ch) != 1 or not _is_han(ch):
            continue
        other = _other_form(ch, script)
        # forms outside the BMP (嗰 → 𠮶) are rare in print and missing from the fonts: no vote
        if other == ch or len(other) != 1 or not _is_han(other) or ord(other) > 0xFFFF:
            continue
        pairs.append((w, (ch, other) if script == "trad" else (other, ch)))
    if not pairs:
        return 0, 0
    em = heights[len(heights) // 2] * 1.08
    # the whole page reduced once so that an em is _GLYPH px: every cell and every shift is then a
    # plain array window (was: a crop + resize per cell and shift, ~0.3 s CPU per page)
    scale = _GLYPH / em
    gray = img.convert("L")
    small = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.BILINEAR,
                        reducing_gap=2.0)
    ink = 255.0 - np.asarray(small, dtype=np.float32)
    pad = _GLYPH + _SHIFT
    ink = np.pad(ink, pad, mode="edge")
    size = _GLYPH + 2 * _SHIFT
    regions = np.empty((len(pairs), size, size), dtype=np.float32)
    for i, (w, _) in enumerate(pairs):
        x, y, bw, bh = w["xywh"]
        left = int(round((x + bw / 2) * scale - _GLYPH / 2)) + pad - _SHIFT
        top = int(round((y + bh / 2) * scale - _GLYPH / 2)) + pad - _SHIFT
        regions[i] = ink[top:top + size, left:left + size]
    with _blas().limit(limits=1, user_api="blas"):
        return _vote_cells(regions, pairs)


def _vote_cells(regions, pairs) -> tuple[int, int]:
    """(traditional, simplified) votes of the cells (see :func:`glyph_script_vote`)."""
    import numpy as np

    t_votes = s_votes = 0
    for start in range(0, len(pairs), 64):  # batches keep the window array small (≤ 12 MB)
        chunk = pairs[start:start + 64]
        # every shift of every cell: (cells, shifts, _GLYPH²), zero-mean unit vectors
        cells = np.lib.stride_tricks.sliding_window_view(regions[start:start + 64], (_GLYPH, _GLYPH), axis=(1, 2))
        cells = cells.reshape(len(chunk), -1, _GLYPH * _GLYPH)
        # the templates have zero mean, so a window's correlation is its raw dot product divided
        # by its centred norm (no centred copy of every window needed)
        n = _GLYPH * _GLYPH
        norms = np.sqrt(np.maximum((cells * cells).sum(axis=2) - cells.sum(axis=2) ** 2 / n, 1e-6))
        # both faces of both forms of each cell's character: (cells, _GLYPH², 4)
        both = np.stack([np.concatenate([_templates(t, "trad"), _templates(s, "simp")], axis=1)
                         for _, (t, s) in chunk])
        corr = np.matmul(cells, both) / norms[:, :, None]  # (cells, shifts, 4)
        ct = corr[:, :, :2].max(axis=(1, 2))
        cs = corr[:, :, 2:].max(axis=(1, 2))
        voting = np.maximum(ct, cs) >= _MIN_MATCH
        s_votes += int((voting & (cs > ct)).sum())
        t_votes += int((voting & (cs <= ct)).sum())
    return t_votes, s_votes


@functools.lru_cache(maxsize=1)
def _blas():
    """Keeps numpy's BLAS (OpenBLAS) on one thread around the glyph comparisons (matrix products):
    pages already run in parallel threads, and BLAS threads on top only spin — measured 10–20×
    the CPU for the same script_prior call on 2 cores. threadpoolctl, because the usual
    OPENBLAS_NUM_THREADS only works if set before numpy is first imported, which a library
    cannot promise."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.lru_cache(maxsize=8192)
def _other_form(ch: str, script: str) -> str:
    """``ch`` (a character of ``script``) converted to the other script by OpenCC."""
    return (_t2s() if script == "trad" else _s2t()).convert(ch)


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def _is_han(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" or ord(c) >= 0x20000


@functools.lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


_GLYPH = 24  # side of the normalised glyph bitmaps compared
_SHIFT = 4  # cells are searched ± this many pixels (of _GLYPH per em, i.e. ± 0.17 em) in x and y
_MIN_MATCH = 0.5  # a cell votes only if one form correlates at least this well (see glyph_script_vote)


def _unit(a):
    import numpy as np

    v = a.astype(np.float32).ravel()
    v = v - v.mean()
    n = float(np.linalg.norm(v))
    return v / n if n else None


@functools.lru_cache(maxsize=8192)
def _templates(ch: str, script: str):
    """The character drawn in its em square (sans and serif faces): a matrix whose columns are
    unit vectors."""
    import numpy as np
    from PIL import ImageDraw

    from ingest.samples import font

    out = []
    for serif in (False, True):
        f = font(script, 64, serif)
        canvas = Image.new("L", (64, 64), 0)
        ascent, _ = f.getmetrics()
        # the ideographic em box: Noto CJK puts it 0.88 em above and 0.12 em below the baseline
        ImageDraw.Draw(canvas).text((0, 64 * 0.88), ch, font=f, fill=255, anchor="ls")
        v = _unit(np.asarray(canvas.resize((_GLYPH, _GLYPH), Image.BILINEAR), dtype=np.float32))
        if v is not None:
            out.append(v)
    while len(out) < 2:  # a face without the glyph: a blank template, which matches nothing
        out.append(np.zeros(_GLYPH * _GLYPH, dtype=np.float32))
    return np.stack(out, axis=1)


# ---------------------------------------------------------------------------------------------
# hOCR
def _title(el: ET.Element) -> dict[str, str]:
    return dict(_TITLE.findall(el.get("title", "")))


def _bbox(value: str) -> list[int]:
    x0, y0, x1, y1 = (int(float(v)) for v in value.split()[:4])
    return [x0, y0, max(1, x1 - x0), max(1, y1 - y0)]


def parse_hocr(hocr: bytes | str) -> list[dict[str, Any]]:
    """Words of a Tesseract hOCR page: ``{"text", "xywh", "conf", "line"}`` in reading order.

    Han text is split into one entry per character (Tesseract's ``ocrx_cinfo`` boxes, from
    ``hocr_char_boxes=1``), so search can highlight exactly the matched characters; Latin words
    and numbers stay whole words. ``line`` numbers the lines (columns on vertical pages) 0, 1, …"""
    data = hocr if isinstance(hocr, bytes) else hocr.encode("utf-8")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OcrError(f"unreadable hOCR from tesseract: {exc}") from None
    words: list[dict[str, Any]] = []
    line_no = -1
    for line in root.iter():
        cls = line.get("class", "")
        if cls not in ("ocr_line", "ocr_caption", "ocr_textfloat", "ocr_header"):
            continue
        line_no += 1
        for word in line.iter(f"{_HOCR_NS}span"):
            if word.get("class") != "ocrx_word":
                continue
            wt = _title(word)
            chars = [c for c in word.iter(f"{_HOCR_NS}span") if c.get("class") == "ocrx_cinfo"]
            text = "".join((c.text or "") for c in chars) if chars else "".join(word.itertext())
            text = unicodedata.normalize("NFC", text.strip())
            if not text:
                continue
            wconf = float(wt.get("x_wconf", "0"))
            if chars and any(_is_han(ch) for ch in text):
                pending: list[dict[str, Any]] = []
                wbox = _bbox(wt["bbox"])
                # a multi-character word taller than wide is a piece of a vertical column
                cells = _char_boxes(wbox, [_title(c).get("x_bboxes") for c in chars], vertical=wbox[3] > wbox[2])
                for c, cell in zip(chars, cells):
                    ct = _title(c)
                    ch = (c.text or "").strip()
                    if not ch:
                        continue
                    conf = round(float(ct.get("x_conf", wconf)), 1)
                    entry = {"text": ch, "xywh": cell, "conf": conf, "line": line_no}
                    # keep runs of Latin letters/digits inside a mixed word together
                    if pending and not _is_han(ch) and not _is_han(pending[-1]["text"][-1]) \
                            and ch.isalnum() and pending[-1]["text"][-1].isalnum():
                        _merge(pending[-1], entry)
                    else:
                        pending.append(entry)
                words.extend(pending)
            else:
                words.append({"text": text, "xywh": _bbox(wt["bbox"]), "conf": round(wconf, 1), "line": line_no})
    return words


def _char_boxes(wbox: list[int], cboxes: list[str | None], *, vertical: bool) -> list[list[int]]:
    """Boxes for the characters of one word. Tesseract's LSTM symbol boxes are approximate and on
    vertical pages plainly wrong (x = 0, width 0 — measured with tesseract 5.3), while word boxes
    are good. So: one character → the word box; several → their symbol boxes if all lie inside the
    word box, else the word box cut into equal cells along the writing direction."""
    n = len(cboxes)
    if n == 1:
        return [wbox]
    x, y, w, h = wbox
    parsed = [_bbox(b) for b in cboxes if b]
    if len(parsed) == n and all(b[2] > 1 and b[3] > 1 and b[0] >= x - 3 and b[1] >= y - 3
                                and b[0] + b[2] <= x + w + 3 and b[1] + b[3] <= y + h + 3 for b in parsed):
        return parsed
    if vertical:
        step = h / n
        return [[x, int(y + i * step), w, max(1, int(step))] for i in range(n)]
    step = w / n
    return [[int(x + i * step), y, max(1, int(step)), h] for i in range(n)]


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    x0, y0, w0, h0 = into["xywh"]
    x1, y1, w1, h1 = other["xywh"]
    left, top = min(x0, x1), min(y0, y1)
    right, bottom = max(x0 + w0, x1 + w1), max(y0 + h0, y1 + h1)
    into["xywh"] = [left, top, right - left, bottom - top]
    into["conf"] = round(min(into["conf"], other["conf"]), 1)
    into["text"] += other["text"]


def words_text(words: list[dict[str, Any]]) -> str:
    """Plain text: lines joined by newlines; Han characters joined directly, a space only
    between two non-Han tokens (English words, numbers)."""
    out: list[str] = []
    last: dict[str, Any] | None = None
    for w in words:
        if last is not None:
            if w["line"] != last["line"]:
                out.append("\n")
            elif not _is_han(w["text"][0]) and not _is_han(last["text"][-1]) \
                    and unicodedata.category(w["text"][0])[0] in "LN":
                out.append(" ")
        out.append(w["text"])
        last = w
    return "".join(out)


def mean_confidence(words: list[dict[str, Any]]) -> float | None:
    confs = [w["conf"] for w in words if w.get("conf") is not None and w["conf"] >= 0]
    return round(sum(confs) / len(confs), 1) if confs else None


# ---------------------------------------------------------------------------------------------
# ALTO
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"


def to_alto(words: list[dict[str, Any]], width: int, height: int, *, image_name: str = "",
            software: str = "Lingnan Heritage Repository + Tesseract") -> bytes:
    """ALTO 4 XML of one page (one TextBlock; a TextLine per line/column; a String per word or
    Han character with WC = confidence 0…1). Written here rather than by a second Tesseract run
    (``tesseract … alto``) so that pages whose text comes from a PDF text layer get the very same
    ALTO, and OCR pages are not read twice."""
    ET.register_namespace("", ALTO_NS)
    q = lambda tag: f"{{{ALTO_NS}}}{tag}"  # noqa: E731
    alto = ET.Element(q("alto"))
    desc = ET.SubElement(alto, q("Description"))
    ET.SubElement(desc, q("MeasurementUnit")).text = "pixel"
    src = ET.SubElement(desc, q("sourceImageInformation"))
    ET.SubElement(src, q("fileName")).text = image_name
    proc = ET.SubElement(ET.SubElement(desc, q("Processing"), ID="OCR_0"), q("processingSoftware"))
    ET.SubElement(proc, q("softwareName")).text = software
    layout = ET.SubElement(alto, q("Layout"))
    page = ET.SubElement(layout, q("Page"), ID="page_1", PHYSICAL_IMG_NR="1", HEIGHT=str(height), WIDTH=str(width))
    space = ET.SubElement(page, q("PrintSpace"), HPOS="0", VPOS="0", WIDTH=str(width), HEIGHT=str(height))
    if words:
        block = ET.SubElement(space, q("TextBlock"), ID="block_1", **_alto_box(_union([w["xywh"] for w in words])))
        by_line: dict[int, list[dict[str, Any]]] = {}
        for w in words:
            by_line.setdefault(w.get("line", 0), []).append(w)
        for n, (line_no, lw) in enumerate(by_line.items()):
            tl = ET.SubElement(block, q("TextLine"), ID=f"line_{n + 1}", **_alto_box(_union([w["xywh"] for w in lw])))
            for i, w in enumerate(lw):
                attrs = {"ID": f"string_{n + 1}_{i + 1}", "CONTENT": w["text"], **_alto_box(w["xywh"])}
                if w.get("conf") is not None:
                    attrs["WC"] = f"{max(0.0, min(1.0, w['conf'] / 100)):.2f}"
                ET.SubElement(tl, q("String"), **attrs)
    return ET.tostring(alto, encoding="utf-8", xml_declaration=True)


def _union(boxes: list[list[int]]) -> list[int]:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return [x0, y0, x1 - x0, y1 - y0]


def _alto_box(b: list[int]) -> dict[str, str]:
    return {"HPOS": str(b[0]), "VPOS": str(b[1]), "WIDTH": str(b[2]), "HEIGHT": str(b[3])}
