"""Dublin Core metadata with language-tagged values.

Stored on ``Item.metadata_`` as ``{element: [{"value": str, "lang": "zh-Hant"|"zh-Hans"|"en"|None}]}``.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from config import InvalidInput

#: The elements an item may carry (DC 15 + place, call number kept as identifier).
ELEMENTS = (
    "title", "creator", "contributor", "date", "description", "subject", "place", "language",
    "type", "format", "identifier", "source", "rights", "relation", "publisher", "coverage",
)
#: Elements whose values are human-readable text and so carry a language tag.
TEXT_ELEMENTS = ("title", "creator", "contributor", "description", "subject", "place", "publisher",
                 "coverage", "source", "rights", "relation")
LANGS = ("zh-Hant", "zh-Hans", "en")
MAX_VALUE_LENGTH = 10_000
MAX_VALUES = 200

Metadata = dict[str, list[dict[str, Any]]]


def normalise(raw: dict[str, Any]) -> Metadata:
    """Validate and normalise metadata given as strings, lists of strings or tagged values.

    Raises :class:`InvalidInput` naming the field for unknown elements, bad language tags,
    control characters or over-long values.
    """
    out: Metadata = {}
    for element, values in (raw or {}).items():
        if element not in ELEMENTS:
            raise InvalidInput(f"unknown metadata field {element!r}; use one of {', '.join(ELEMENTS)}", field=element)
        if isinstance(values, (str, dict)):
            values = [values]
        if not isinstance(values, (list, tuple)):
            raise InvalidInput(f"{element}: expected text or a list of texts", field=element)
        if len(values) > MAX_VALUES:
            raise InvalidInput(f"{element}: at most {MAX_VALUES} values", field=element)
        clean: list[dict[str, Any]] = []
        for v in values:
            value, lang = (v.get("value"), v.get("lang")) if isinstance(v, dict) else (v, None)
            if value is None:
                continue
            if not isinstance(value, str):
                value = str(value)
            value = value.strip()
            if not value:
                continue
            if len(value) > MAX_VALUE_LENGTH:
                raise InvalidInput(f"{element}: a value is longer than {MAX_VALUE_LENGTH} characters", field=element)
            if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
                raise InvalidInput(f"{element}: contains control characters", field=element)
            if lang is not None and lang not in LANGS:
                raise InvalidInput(f"{element}: language must be one of {', '.join(LANGS)}, got {lang!r}", field=element)
            if lang is None and element in TEXT_ELEMENTS:
                lang = guess_lang(value)
            clean.append({"value": value, "lang": lang})
        if clean:
            out[element] = clean
    return out


_SIMPLIFIED_ONLY = set("这个们来说时会为国发经过还没学问关东车书长门见话让认页边从开无")
_TRADITIONAL_ONLY = set("這個們來說時會為國發經過還沒學問關東車書長門見話讓認頁邊從開無廣")


def guess_lang(text: str) -> str | None:
    """A cheap guess of zh-Hant / zh-Hans / en for an untagged value (OpenCC-based)."""
    han = [c for c in text if "\u3400" <= c <= "\u9fff" or "\U00020000" <= c <= "\U0003134f"]
    if not han:
        return "en" if re.search(r"[A-Za-z]", text) else None
    from opencc import OpenCC  # lazy: loading dictionaries costs ~50 ms

    s = "".join(han)
    to_simp = OpenCC("t2s").convert(s)
    to_trad = OpenCC("s2t").convert(s)
    changed_if_simplified = sum(a != b for a, b in zip(s, to_simp))
    changed_if_traditional = sum(a != b for a, b in zip(s, to_trad))
    if changed_if_simplified > changed_if_traditional:
        return "zh-Hant"
    if changed_if_traditional > changed_if_simplified:
        return "zh-Hans"
    return "zh-Hant"  # indistinguishable: Lingnan material is traditional by default


def values(md: Metadata, element: str) -> list[str]:
    return [v["value"] for v in md.get(element, [])]


def first(md: Metadata, element: str, prefer: Iterable[str] = ("zh-Hant", "zh-Hans", "en")) -> str | None:
    """The first value of ``element`` in the first preferred language available."""
    vals = md.get(element, [])
    for lang in prefer:
        for v in vals:
            if v.get("lang") == lang:
                return v["value"]
    return vals[0]["value"] if vals else None


_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_DECADE = re.compile(r"(?<!\d)(\d{3})0s(?!\d)")
_CN_ERA = {"民國": 1911, "民国": 1911}


def year_range(dates: Iterable[str]) -> tuple[int | None, int | None]:
    """Normalise free-text dates to a (from, to) year range.

    Understands ISO dates and years (``1925``, ``1925-03-01``), ranges (``1920-1949``,
    ``1920/1949``), decades (``1930s``), Republican-era years (``民國十四年`` / ``民國14年``) and
    Chinese numerals.
    """
    years: list[int] = []
    for d in dates:
        d = d.strip()
        for era, base in _CN_ERA.items():
            m = re.search(era + r"([〇零一二三四五六七八九十百\d]+)年", d)
            if m:
                years.append(base + _cn_number(m.group(1)))
        m = _DECADE.search(d)
        if m:
            years += [int(m.group(1)) * 10, int(m.group(1)) * 10 + 9]
        years += [int(y) for y in _YEAR.findall(d) if 100 <= int(y) <= 2100]
    if not years:
        return None, None
    return min(years), max(years)


def _cn_number(s: str) -> int:
    if s.isdigit():
        return int(s)
    digits = {c: i for i, c in enumerate("〇一二三四五六七八九")}
    digits["零"] = 0
    total, current = 0, 0
    for c in s:
        if c in digits:
            current = digits[c]
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        elif c == "百":
            total += (current or 1) * 100
            current = 0
    return total + current
