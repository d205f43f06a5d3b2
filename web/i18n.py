"""Showing text in the reader's script: UI locale → BCP 47 tag, OpenCC conversion, Dublin Core choice.

The UI locale (``zh_Hant`` / ``zh_Hans`` / ``en``) decides which script metadata is shown in.
A value tagged in the reader's script is shown as is; where only the other Chinese script
exists, the value is converted with OpenCC (``t2s`` / ``s2t``) and tagged with the script it is
now in, so ``lang`` attributes in the HTML stay truthful.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping

#: UI locale → the BCP 47 tag of the script it reads
LOCALE_TAGS = {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans", "en": "en"}
CHINESE = ("zh-Hant", "zh-Hans")


@dataclass(frozen=True)
class Shown:
    """A value as shown to the reader: the text, its language tag, and whether OpenCC made it."""

    value: str
    lang: str | None
    converted: bool = False

    def __str__(self) -> str:
        return self.value


@lru_cache(maxsize=4)
def _converter(config: str):
    from opencc import OpenCC  # opencc-python-reimplemented: pure Python, dictionaries load once

    return OpenCC(config)


def convert(text: str, target: str) -> str:
    """``text`` in ``target`` script (``zh-Hans`` → OpenCC t2s, ``zh-Hant`` → s2t; else unchanged)."""
    if not text:
        return text
    if target == "zh-Hans":
        return _converter("t2s").convert(text)
    if target == "zh-Hant":
        return _converter("s2t").convert(text)
    return text


def locale_tag(locale: str | None) -> str:
    """BCP 47 tag for a UI locale (default: traditional Chinese)."""
    return LOCALE_TAGS.get(str(locale or ""), "zh-Hant")


def preference(reader: str) -> tuple[str, ...]:
    """Languages to look for, best first, for a reader of ``reader`` (a BCP 47 tag)."""
    if reader == "zh-Hans":
        return ("zh-Hans", "zh-Hant", "en")
    if reader == "en":
        return ("en", "zh-Hant", "zh-Hans")
    return ("zh-Hant", "zh-Hans", "en")


def _present(value: str, lang: str | None, reader: str) -> Shown:
    """Convert a Chinese value to the reader's Chinese script when it is in the other one."""
    if reader in CHINESE and lang in CHINESE and lang != reader:
        converted = convert(value, reader)
        return Shown(converted, reader, converted != value)
    return Shown(value, lang)


def dc_values(metadata: Mapping[str, Any] | None, element: str, reader: str) -> list[Shown]:
    """The values of Dublin Core ``element`` to show to a reader of script ``reader``.

    Chinese readers see every Chinese value, converted with OpenCC to their script where it is in
    the other one, and duplicates that only differed by script once; English values are shown to
    them only when there is no Chinese value. English readers see the English values when there
    are any, else the Chinese values as written. Untagged values (dates, identifiers) are always
    shown.
    """
    vals = [v for v in (metadata or {}).get(element, []) if isinstance(v, dict) and v.get("value")]
    if not vals:
        return []
    langs = {v.get("lang") for v in vals}
    has_chinese = bool(langs & set(CHINESE))
    if reader in CHINESE:
        hidden = {"en"} if has_chinese else set()
    else:
        hidden = set(CHINESE) if "en" in langs else set()
    out: list[Shown] = []
    seen: set[str] = set()
    for v in vals:
        if v.get("lang") in hidden:
            continue
        shown = _present(str(v["value"]), v.get("lang"), reader)
        if shown.value in seen:
            continue
        seen.add(shown.value)
        out.append(shown)
    return out


def dc_first(metadata: Mapping[str, Any] | None, element: str, reader: str) -> Shown | None:
    """One value for a heading: the first written in the reader's own script, else the first
    :func:`dc_values` would show, or ``None``."""
    own = next((v for v in (metadata or {}).get(element, [])
                if isinstance(v, dict) and v.get("value") and v.get("lang") == reader), None)
    if own is not None:
        return Shown(str(own["value"]), reader)
    vals = dc_values(metadata, element, reader)
    return vals[0] if vals else None


def label(labels: Mapping[str, Any] | None, fallback: str, reader: str) -> Shown:
    """A name from a language map (``{"zh-Hant": …, "en": …}``) for ``reader``, else ``fallback``.

    The fallback (e.g. ``Collection.title``) is untagged; its script is guessed and converted.
    """
    labels = labels or {}
    for lang in preference(reader):
        if labels.get(lang):
            return _present(str(labels[lang]), lang, reader)
    if not fallback:
        return Shown("", None)
    from repository.dublin_core import guess_lang

    return _present(fallback, guess_lang(fallback), reader)


def text_for(text: str, lang: str | None, reader: str) -> Shown:
    """A free text (caption, heading) of known or guessed language shown in the reader's script."""
    if lang is None and text:
        from repository.dublin_core import guess_lang

        lang = guess_lang(text)
    return _present(text, lang, reader)


def display_elements(metadata: Mapping[str, Any] | None, order: Iterable[str]) -> list[str]:
    """The Dublin Core elements present in ``metadata``, in ``order``."""
    md = metadata or {}
    return [e for e in order if md.get(e)]
