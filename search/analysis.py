"""Text analysis shared by both search backends and by highlighting (IIIF Content Search, transcripts).

One place decides what a "token" is, so Whoosh and Elasticsearch index exactly the same terms and
give the same result sets:

* :func:`normalise` folds a text **one output character per input character** (offsets into the
  normalised text are offsets into the original): NFKC (full/half width, compatibility forms),
  case folding, and traditional → simplified Chinese with OpenCC, character by character.
* :func:`tokens` cuts normalised text into Han **bigrams** (mode ``"bigram"``; a lone Han character
  is kept as itself) or Han **unigrams** (mode ``"unigram"``), and Latin (any non-Han) words.
  Cantonese characters (嘅 咗 冇 啲 佢 喺 冚 …) and CJK Extension B–H characters are Han like any other.
* :func:`jyutping` gives toneless Jyutping syllables (PyCantonese) so ``gwong2 zau1`` or
  ``gwong zau`` finds 廣州.
* :func:`find_matches` finds where a query matches inside one text (for ``<mark>`` and word boxes).

Why by hand: OpenCC converts whole phrases and may change a text's length; search needs a
per-character fold that keeps offsets, and a tokenizer both engines share exactly.
"""
from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple

#: Unicode blocks treated as Han ideographs (URO, Ext A–H, compatibility ideographs).
_HAN_RANGES = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF), (0x2A700, 0x2EE5F),
    (0x2F800, 0x2FA1F), (0x30000, 0x323AF), (0x3007, 0x3007),
)
#: Longest Latin word kept (longer ones are cut; protects both engines' term size limits).
MAX_WORD = 60
_JYUTPING_SYLLABLE = re.compile(r"^[a-z]{1,6}[1-6]?$")
_JYUTPING_RUN = re.compile(r"[a-z]{1,6}[1-6]")


_HAN_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _HAN_RANGES)
_HAN_RE = re.compile(f"[{_HAN_CLASS}]")
#: a run of Han characters — spaces and line breaks between them don't break it (Chinese is written
#: without spaces; OCR output puts them between characters and wraps lines mid-word) — or a word
#: of other letters/digits (Latin, kana, Hangul …)
_RUN = re.compile(f"([{_HAN_CLASS}](?:\\s*[{_HAN_CLASS}])*)|([^\\W{_HAN_CLASS}]+)")
_SPACE = re.compile(r"\s+")


def is_han(ch: str) -> bool:
    """True for a Han ideograph (including Cantonese characters and CJK Extension B+)."""
    return "\u4e00" <= ch <= "\u9fff" or _HAN_RE.match(ch) is not None


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t():
    from opencc import OpenCC

    return OpenCC("s2t")


@lru_cache(maxsize=200_000)
def fold_char(ch: str) -> str:
    """Fold one character: NFKC (when it stays one character), case fold, traditional → simplified."""
    n = unicodedata.normalize("NFKC", ch)
    if len(n) != 1:
        n = ch
    low = n.lower()
    if len(low) == 1:
        n = low
    if is_han(n):
        s = _t2s().convert(n)
        if len(s) == 1:
            n = s
    return n


class _FoldTable(dict):
    """Code point → folded character, filled on first use, for :meth:`str.translate` (one C-level
    dictionary look-up per character instead of a Python call per character)."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = fold_char(chr(code))
        return folded


_FOLD = _FoldTable()


def normalise(text: str) -> str:
    """The folded text, exactly as long as ``text`` (one output character per input character)."""
    return text.translate(_FOLD)


class Token(NamedTuple):
    """A term with its position (for phrases) and character offsets into the original text."""

    text: str
    pos: int
    start: int
    end: int


def tokens(text: str, mode: str = "bigram", *, normalised: bool = False) -> list[Token]:
    """Tokens of ``text``: Han bigrams (or unigrams with ``mode="unigram"``) and words.

    In bigram mode a Han run of one character yields that character (so isolated characters stay
    searchable in phrases); unigram mode yields every Han character. Offsets point into ``text``.
    """
    norm = text if normalised else normalise(text)
    out: list[Token] = []
    pos = 0
    for m in _RUN.finditer(norm):
        i, j = m.span()
        if m.group(1) is not None:
            idx = [k for k in range(i, j) if not norm[k].isspace()]
            if mode == "unigram" or len(idx) == 1:
                for k in idx:
                    out.append(Token(norm[k], pos, k, k + 1))
                    pos += 1
            else:
                for a, b in zip(idx, idx[1:]):
                    out.append(Token(norm[a] + norm[b], pos, a, b + 1))
                    pos += 1
        else:
            out.append(Token(norm[i:min(j, i + MAX_WORD)], pos, i, j))
            pos += 1
    return out


def terms(text: str, mode: str = "bigram") -> list[str]:
    """Just the token texts (what gets indexed)."""
    norm = normalise(text)
    out: list[str] = []
    for m in _RUN.finditer(norm):
        run = m.group(1)
        if run is not None:
            run = _SPACE.sub("", run)
            if mode == "unigram" or len(run) == 1:
                out.extend(run)
            else:
                out.extend(run[k:k + 2] for k in range(len(run) - 1))
        else:
            out.append(m.group(2)[:MAX_WORD])
    return out


@lru_cache(maxsize=1)
def _readings() -> dict[str, str]:
    """Character → Jyutping from the rime-cantonese data shipped in PyCantonese (loads in < 1 s,
    unlike ``pycantonese.characters_to_jyutping``, which first builds its word segmenter)."""
    from pycantonese.data.rime_cantonese import CHARS_TO_JYUTPING

    return {k: v for k, v in CHARS_TO_JYUTPING.items() if len(k) == 1}


def _char_jyutping(ch: str) -> str | None:
    jp = _readings().get(ch)
    if not jp:
        return None
    return re.sub(r"[1-6]", "", jp.split()[0]) or None


def jyutping(text: str) -> list[str]:
    """Toneless Jyutping syllables of the Han characters of ``text`` (廣州 → ["gwong", "zau"]).

    Characters are looked up one by one (cached), so polyphones get their most common reading;
    traditional and simplified forms are both tried.
    """
    out: list[str] = []
    for ch in text:
        if is_han(ch):
            syl = char_reading(ch)
            if syl:
                out.append(syl)
    return out


#: Indexed between the syllables of Han characters that do not stand together (other text between
#: them, or a character without a reading), so a Jyutping phrase cannot match across it. Never a
#: query term: query syllables are letters only.
JYUTPING_BREAK = "|"


def jyutping_terms(text: str) -> list[str]:
    """What the Jyutping field indexes: the syllables of each run of Han characters (spaces and line
    breaks inside a run don't break it, as for Han bigrams), with :data:`JYUTPING_BREAK` between
    runs, so ``gwong zau`` as a phrase finds 廣州 but not 光 … 酒."""
    out: list[str] = []
    for m in _RUN.finditer(text):
        run = m.group(1)
        if run is None:
            continue
        for ch in run:
            if ch.isspace():
                continue
            syl = char_reading(ch)
            if syl:
                out.append(syl)
            elif out and out[-1] != JYUTPING_BREAK:
                out.append(JYUTPING_BREAK)
        if out and out[-1] != JYUTPING_BREAK:
            out.append(JYUTPING_BREAK)
    if out and out[-1] == JYUTPING_BREAK:
        out.pop()
    return out


@lru_cache(maxsize=100_000)
def char_reading(ch: str) -> str | None:
    """The toneless Jyutping of one Han character (the traditional form first: 广 is also a
    character of its own, jim2, but in simplified text it means 廣, gwong2)."""
    trad = _s2t().convert(ch)
    return (_char_jyutping(trad) if trad != ch else None) or _char_jyutping(ch)


def jyutping_query(word: str) -> list[str] | None:
    """Toneless syllables if ``word`` reads as Jyutping (``gwong2``, ``gwong``, ``gwong2zau1``), else None."""
    w = word.lower()
    if _JYUTPING_SYLLABLE.match(w):
        return [re.sub(r"[1-6]", "", w)]
    if "".join(_JYUTPING_RUN.findall(w)) == w:
        return [re.sub(r"[1-6]", "", s) for s in _JYUTPING_RUN.findall(w)]
    return None


def other_script(q: str) -> str:
    """The query in the other Chinese script (traditional ⇄ simplified), for "did you mean"."""
    simp = _t2s().convert(q)
    if simp != q:
        return simp
    return _s2t().convert(q)


def _query_parts(query: str) -> list[str]:
    """Quoted phrases and words of a free-text query, without operators, field prefixes or NOT-ed words."""
    parts: list[str] = []
    negate = False
    for m in re.finditer(r'(-?)(?:[A-Za-z]+:)?"([^"]*)"|(\S+)', unicodedata.normalize("NFKC", query)):
        if m.group(3) is not None:
            part = m.group(3)
            if part in ("AND", "OR"):
                continue
            if part == "NOT":
                negate = True
                continue
            if part.startswith("-"):
                negate, part = True, part[1:]
            part = re.sub(r"^[A-Za-z]+:", "", part).strip("()")
        else:
            part = m.group(2)
            negate = negate or bool(m.group(1))
        if part.strip() and not negate:
            parts.append(part)
        negate = False
    return parts


class Matcher:
    """Finds where a query's words and phrases are in one text (for ``<mark>`` and word boxes).

    ``parts`` are (phrase, syllables) pairs: ``phrase`` (a word or phrase) matches on normalised
    text — a Han sequence wherever its characters appear contiguously in either script, Latin words
    whole; ``syllables`` (toneless Jyutping) match consecutive Han characters read that way. Either
    may be None. Built once per query; its patterns are compiled once.
    """

    def __init__(self, parts: Iterable[tuple[str | None, tuple[str, ...] | None]]):
        self.patterns = [p for p in (_part_pattern(ph) for ph, _ in parts if ph) if p is not None]
        self.syllables = list(dict.fromkeys(tuple(sy) for _, sy in parts if sy))

    def __bool__(self) -> bool:
        return bool(self.patterns or self.syllables)

    def find(self, text: str) -> list[tuple[int, int]]:
        """Sorted, merged (start, end) spans into ``text``."""
        if not text:
            return []
        norm = normalise(text)
        spans: list[tuple[int, int]] = []
        for pattern in self.patterns:
            spans.extend(m.span() for m in pattern.finditer(norm))
        for syllables in self.syllables:
            spans.extend(_jyutping_spans(text, syllables))
        if len(self.patterns) + len(self.syllables) == 1:
            return _merge(spans, ordered=True)  # one regex: already in order, without overlaps
        return _merge(spans)


def phrase_syllables(phrase: str) -> tuple[str, ...] | None:
    """The toneless syllables of a word or phrase written in Jyutping (every word must read as
    Jyutping: ``gwong2 zau1``, ``gwong zau``, ``gwong2zau1``), else None."""
    out: list[str] = []
    for word in phrase.split():
        syl = jyutping_query(word)
        if not syl:
            return None
        out.extend(syl)
    return tuple(out) or None


@lru_cache(maxsize=1024)
def matcher(query: str) -> Matcher:
    """A :class:`Matcher` for a free-text query: each word or quoted phrase is a part; one written
    in Jyutping also matches its reading (a quoted multi-syllable one as a phrase)."""
    return Matcher([(part, None if any(is_han(c) for c in part) else phrase_syllables(part))
                    for part in _query_parts(query)])


def find_matches(text: str, query: str) -> list[tuple[int, int]]:
    """Where ``query`` (a search query or a plain phrase) matches in ``text``: sorted, merged (start, end).

    Each word or quoted phrase of the query is matched on normalised text: a Han sequence matches
    wherever its characters appear contiguously in either script, a Latin word matches whole words.
    """
    return matcher(query).find(text)


_WORD_CHAR = f"[^\\W{_HAN_CLASS}]"


@lru_cache(maxsize=4096)
def _part_pattern(part: str) -> re.Pattern | None:
    """A regex over normalised text for one query word or phrase: its tokens in order, Han
    characters that touch in the query touching in the text, words whole, punctuation between."""
    toks = tokens(part, "unigram")
    if not toks:
        return None
    pieces: list[str] = []
    for k, t in enumerate(toks):
        if k:
            prev = toks[k - 1]
            touching = prev.end == t.start and is_han(prev.text[-1]) and is_han(t.text[0])
            pieces.append(r"\s*" if touching else r"\W*")
        if is_han(t.text[0]):
            pieces.append(re.escape(t.text))
        else:
            pieces.append(f"(?<!{_WORD_CHAR}){re.escape(t.text)}(?!{_WORD_CHAR})")
    return re.compile("".join(pieces))


def _jyutping_spans(text: str, syllables: tuple[str, ...] | list[str]) -> list[tuple[int, int]]:
    """Spans of consecutive Han characters (spaces and line breaks between them allowed, as in the
    index) that read as ``syllables``."""
    out: list[tuple[int, int]] = []
    n = len(syllables)
    first = syllables[0]
    for m in _RUN.finditer(text):
        if m.group(1) is None:
            continue
        chars = [(m.start() + k, c) for k, c in enumerate(m.group(1)) if not c.isspace()]
        for k in range(len(chars) - n + 1):
            if char_reading(chars[k][1]) != first:
                continue
            if all(char_reading(chars[k + j][1]) == syllables[j] for j in range(1, n)):
                out.append((chars[k][0], chars[k + n - 1][0] + 1))
    return out


def _merge(spans: Iterable[tuple[int, int]], ordered: bool = False) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in (spans if ordered else sorted(spans)):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def highlight(text: str, spans: list[tuple[int, int]], *, context: int = 40, max_snippets: int = 3) -> list[str]:
    """HTML snippets around ``spans`` with ``<mark>``; everything else escaped (XSS safe)."""
    snippets: list[str] = []
    windows: list[list[tuple[int, int]]] = []
    for s, e in spans:
        if windows and s - windows[-1][-1][1] <= context:
            windows[-1].append((s, e))
        elif len(windows) == max_snippets:
            break  # the snippets to show are complete
        else:
            windows.append([(s, e)])
    # each snippet is escaped in one call, with the <mark> tags as two control characters that
    # html.escape leaves alone (a text that holds one of them is escaped piece by piece instead)
    one_escape = "\x02" not in text and "\x03" not in text
    for group in windows:
        a = max(0, group[0][0] - context)
        b = min(len(text), group[-1][1] + context)
        pieces = ["…" if a > 0 else ""]
        cur = a
        if one_escape:
            for s, e in group:
                pieces += (text[cur:s], "\x02", text[s:e], "\x03")
                cur = e
            pieces.append(text[cur:b])
            body = html.escape("".join(pieces)).replace("\x02", "<mark>").replace("\x03", "</mark>")
        else:  # rare: the text holds one of the marker characters; escape piece by piece
            for s, e in group:
                pieces.append(html.escape(text[cur:s]))
                pieces.append("<mark>" + html.escape(text[s:e]) + "</mark>")
                cur = e
            pieces.append(html.escape(text[cur:b]))
            body = "".join(pieces)
        snippets.append(" ".join((body + ("…" if b < len(text) else "")).split()))
    return snippets


def iter_han(text: str) -> Iterator[str]:
    """The Han characters of ``text``."""
    return (c for c in text if is_han(c))
