"""Test and demo material generated on the fly: Chinese page images and Cantonese sentences.

Nothing here is committed as a binary: pages are rendered with the Noto CJK fonts that Debian
ships (``fonts-noto-cjk``), sentences come from the HKCanCor corpus bundled with PyPI
``pycantonese`` (traditional characters, real Cantonese: 嘅 咗 冇 啲 佢 喺 …).

* :func:`cantonese_sentences` — ``n`` clean sentences (BMP Han characters + full-width punctuation).
* :func:`render_text_page` — a page image plus the exact box of every rendered character, so tests
  can measure OCR character error rate and check that word boxes land on the characters.
* :func:`degrade` — make a clean rendering scan-like (slight rotation, blur, noise, paper tone).
* :func:`page_text` / :func:`cer` — ground truth from the boxes and the character error rate.
"""
from __future__ import annotations

import functools
import random
import unicodedata
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
#: face index inside the Noto CJK .ttc collections
_FACE = {"simp": 2, "trad": 3, "hk": 4}
_PUNCT = {",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；"}
#: vertical presentation forms drawn for punctuation in columns (the box keeps the ordinary char)
_VERTICAL_FORMS = {"，": "\ufe10", "。": "\ufe12", "：": "\ufe13", "；": "\ufe14", "！": "\ufe15", "？": "\ufe16"}

CharBox = dict[str, Any]  # {"text": str, "xywh": [x, y, w, h], "line": int}


# ---------------------------------------------------------------------------------------------
# sentences
@functools.lru_cache(maxsize=1)
def _hkcancor_sentences() -> tuple[str, ...]:
    import pycantonese  # heavy import: only when sentences are asked for

    out: list[str] = []
    seen: set[str] = set()
    for utt in pycantonese.hkcancor().utterances():
        raw = "".join(tok.word for tok in utt.tokens)
        text = "".join(_PUNCT.get(c, c) for c in raw)
        if not _clean(text) or text in seen:
            continue
        seen.add(text)
        out.append(text)
    return tuple(out)


def _clean(text: str) -> bool:
    """Only BMP Han characters and full-width punctuation, at least 6 Han characters,
    ending in sentence punctuation (so the rendered page reads like prose)."""
    han = 0
    for c in text:
        if c in "，。？！：；":
            continue
        if ord(c) > 0xFFFF or not unicodedata.name(c, "").startswith("CJK UNIFIED IDEOGRAPH"):
            return False
        han += 1
    return han >= 6 and text[-1] in "。？！"


def cantonese_sentences(n: int, *, seed: int = 0, min_chars: int = 8) -> list[str]:
    """``n`` distinct Cantonese sentences from HKCanCor (traditional characters), reproducible
    for a given ``seed``. Sentences are joined utterances with full-width punctuation; characters
    outside the BMP (which neither the fonts nor Tesseract handle well) are filtered out."""
    pool = [s for s in _hkcancor_sentences() if len(s) >= min_chars]
    if n > len(pool):
        raise ValueError(f"only {len(pool)} sentences of {min_chars}+ characters are available")
    return random.Random(seed).sample(pool, n)


# ---------------------------------------------------------------------------------------------
# rendering
@functools.lru_cache(maxsize=16)
def font(script: str = "trad", size: int = 44, serif: bool = False) -> ImageFont.FreeTypeFont:
    """The Noto CJK face for ``script`` ('trad', 'simp' or 'hk') at ``size`` px."""
    name = "NotoSerifCJK-Regular.ttc" if serif else "NotoSansCJK-Regular.ttc"
    return ImageFont.truetype(str(FONT_DIR / name), size, index=_FACE[script])


def to_script(text: str, script: str) -> str:
    """Convert ``text`` to simplified ('simp') with OpenCC; 'trad'/'hk' text is left as given."""
    if script != "simp":
        return text
    import opencc

    out = opencc.OpenCC("t2s").convert(text)
    if len(out) != len(text):
        return out
    # keep the original where OpenCC picks a character outside the BMP (嗰 → 𠮶): such forms are
    # rare in print, and neither the fonts nor Tesseract's models handle them well
    return "".join(o if ord(o) <= 0xFFFF else t for o, t in zip(out, text))


def render_text_page(text: str, *, script: Literal["trad", "simp", "hk"] = "trad", vertical: bool = False,
                     width: int = 1200, font_size: int = 44, english: str | list[str] | None = None,
                     margin: int | None = None, serif: bool = False, height: int | None = None,
                     line_spacing: float = 1.6) -> tuple[Image.Image, list[CharBox]]:
    """Render Chinese ``text`` on a white 8-bit gray page.

    ``script='simp'`` converts the text to simplified with OpenCC and uses the SC face; 'trad'
    (TC face) and 'hk' render the text as given. Newlines in ``text`` start a new paragraph
    (line or column). ``vertical`` sets columns top→bottom, right→left (古籍 style).
    ``english`` (horizontal only): a line (or list of lines) of English set after each Chinese
    paragraph in turn, for mixed pages.

    Returns ``(image, boxes)``: one box per rendered non-space character,
    ``{"text": ch, "xywh": [x, y, w, h], "line": n}`` in image pixels, in reading order. The
    ground truth text is :func:`page_text` of the boxes. With ``font_size`` 44 px a character is
    about 3.7 mm at 300 dpi, i.e. ordinary book type scanned at 300 dpi.
    """
    text = to_script(text, script)
    fnt = font(script, font_size, serif)
    margin = margin if margin is not None else font_size * 2
    pitch = int(font_size * line_spacing)
    paragraphs = [p for p in text.split("\n") if p.strip()]
    english_lines = [english] if isinstance(english, str) else list(english or [])
    if vertical and english_lines:
        raise ValueError("english lines are only set on horizontal pages")

    # lay out: list of (char, x, y) cells per line/column, in reading order
    lines: list[list[tuple[str, int, int]]] = []
    if not vertical:
        usable = width - 2 * margin
        y = margin
        for i, para in enumerate(paragraphs):
            x, line = margin, []
            for ch in para:
                adv = int(fnt.getlength(ch))
                if x + adv > margin + usable and line:
                    lines.append(line)
                    line, x, y = [], margin, y + pitch
                line.append((ch, x, y))
                x += adv
            if line:
                lines.append(line)
                y += pitch
            if i < len(english_lines):
                line, x = [], margin
                for word in english_lines[i].split():
                    wlen = int(fnt.getlength(word + " "))
                    if x + wlen > margin + usable and line:
                        lines.append(line)
                        line, x, y = [], margin, y + pitch
                    for ch in word:
                        line.append((ch, x, y))
                        x += int(fnt.getlength(ch))
                    x += int(fnt.getlength(" "))
                if line:
                    lines.append(line)
                    y += pitch
        page_h = height or (y + margin - pitch + font_size + margin // 2)
    else:
        page_h = height or width * 4 // 3
        usable = page_h - 2 * margin
        x = width - margin - font_size
        for para in paragraphs:
            y, col = margin, []
            for ch in para:
                if y + font_size > margin + usable and col:
                    lines.append(col)
                    col, y, x = [], margin, x - pitch
                col.append((ch, x, y))
                y += font_size
            if col:
                lines.append(col)
                x -= pitch
        if x + pitch < margin:
            raise ValueError("the text does not fit on the page; give a larger width or less text")

    img = Image.new("L", (width, page_h), 255)
    draw = ImageDraw.Draw(img)
    boxes: list[CharBox] = []
    for n, line in enumerate(lines):
        for ch, cx, cy in line:
            glyph = _VERTICAL_FORMS.get(ch, ch) if vertical else ch
            draw.text((cx, cy), glyph, font=fnt, fill=0)
            left, top, right, bottom = draw.textbbox((cx, cy), glyph, font=fnt)
            boxes.append({"text": ch, "xywh": [left, top, right - left, bottom - top], "line": n})
    return img, boxes


def page_text(boxes: list[CharBox]) -> str:
    """Ground-truth text of a rendering: characters of a line concatenated, lines joined by '\\n'.
    (Latin words lose their spaces; compare OCR output with whitespace removed — see :func:`cer`.)"""
    out: list[str] = []
    last = None
    for b in boxes:
        if last is not None and b["line"] != last:
            out.append("\n")
        out.append(b["text"])
        last = b["line"]
    return "".join(out)


def degrade(img: Image.Image, *, seed: int = 0, angle: float = 0.4, blur: float = 0.6,
            noise: float = 10.0, paper: int = 236) -> Image.Image:
    """Make a clean rendering look scanned: paper tone, a slight rotation about the centre,
    optical blur and Gaussian sensor noise (reproducible for ``seed``). Boxes move by at most
    ``sin(angle) * half the page size`` pixels (≈4 px for a 1200 px page at 0.4°)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    g = img.convert("L")
    arr = np.asarray(g, dtype=np.float32)
    arr = paper * (arr / 255.0)  # white → paper tone, ink stays dark
    page = Image.fromarray(arr.clip(0, 255).astype("uint8"))
    page = page.rotate(angle, resample=Image.BICUBIC, fillcolor=paper)
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(page, dtype=np.float32) + rng.normal(0, noise, (page.height, page.width))
    return Image.fromarray(arr.clip(0, 255).astype("uint8"))


def sample_page(kind: str, *, seed: int = 0, n_sentences: int = 6, width: int = 1000,
                font_size: int = 40) -> tuple[Image.Image, list[CharBox]]:
    """A scan-like test page of one of the kinds the OCR tests measure:
    'simp' (horizontal simplified), 'trad' (horizontal traditional), 'vert' (vertical traditional),
    'vsimp' (vertical simplified), 'mixed' (traditional with English lines). Returns the degraded image and the clean boxes."""
    sents = cantonese_sentences(n_sentences, seed=seed)
    paras = ["".join(sents[i:i + 2]) for i in range(0, len(sents), 2)]
    if kind == "simp":
        img, boxes = render_text_page("\n".join(paras), script="simp", width=width, font_size=font_size)
    elif kind == "trad":
        img, boxes = render_text_page("\n".join(paras), script="trad", width=width, font_size=font_size)
    elif kind in ("vert", "vsimp"):
        img, boxes = render_text_page("\n".join(paras), script="trad" if kind == "vert" else "simp", vertical=True,
                                      width=width * 3 // 4, height=width, font_size=font_size)
    elif kind == "mixed":
        eng = ["The Lingnan Heritage Repository keeps local documents.",
               "Canton Chamber of Commerce, Annual Report 1932.",
               "Oral history interview recorded in Foshan."]
        img, boxes = render_text_page("\n".join(paras), script="trad", width=width, font_size=font_size,
                                      english=eng)
    else:
        raise ValueError(f"unknown sample page kind {kind!r}")
    return degrade(img, seed=seed), boxes


def cer(truth: str, ocr: str) -> float:
    """Character error rate: Levenshtein distance / len(truth), whitespace ignored and both
    sides NFKC-normalised (full-width ，vs , is not an OCR error worth counting)."""
    a = "".join(unicodedata.normalize("NFKC", truth).split())
    b = "".join(unicodedata.normalize("NFKC", ocr).split())
    if not a:
        return 0.0 if not b else 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] / len(a)
