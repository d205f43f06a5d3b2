"""The UI catalogs: complete, compilable, placeholder-safe, and actually used by rendered pages."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"
LOCALES = ["zh_Hant", "zh_Hans", "en"]
CHINESE = ["zh_Hant", "zh_Hans"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%%")


def catalog(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def entries(locale: str):
    return [m for m in catalog(locale) if m.id]


def forms(value) -> list[str]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_compiles_without_errors(locale):
    cat = catalog(locale)
    problems = [(m.id, errs) for m, errs in cat.check()]  # what `pybabel compile` reports as errors
    assert problems == []
    buf = io.BytesIO()
    write_mo(buf, cat)
    assert buf.getvalue()[:4] == b"\xde\x12\x04\x95"  # GNU .mo magic (little-endian)
    if locale in CHINESE:
        assert len(buf.getvalue()) > 10_000  # every entry went in (fuzzy ones would be left out)


@pytest.mark.parametrize("locale", CHINESE)
def test_chinese_catalogs_are_complete_and_reviewed(locale):
    msgs = entries(locale)
    assert len(msgs) > 300
    untranslated = [m.id for m in msgs if not all(forms(m.string))]
    fuzzy = [m.id for m in msgs if m.fuzzy]
    assert untranslated == [] and fuzzy == []


def test_catalogs_hold_the_same_msgids_as_the_template():
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    for locale in LOCALES:
        assert {m.id for m in entries(locale)} == template, locale


@pytest.mark.parametrize("locale", CHINESE)
def test_placeholders_survive_translation(locale):
    wrong = []
    for m in entries(locale):
        wanted = sorted(PLACEHOLDER.findall(forms(m.id)[-1]))
        for s in forms(m.string):
            if sorted(PLACEHOLDER.findall(s)) != wanted:
                wrong.append((m.id, s))
    assert wrong == []


@pytest.mark.parametrize("locale", CHINESE)
def test_chinese_translations_are_in_their_own_script(locale):
    """A zh_Hans string with traditional-only characters (or the reverse) is a slip; examples that
    show both scripts on purpose (廣州 / 广州) are the only exception."""
    import opencc

    # Character by character: a phrase-level conversion would also rewrite correct variants (才 → 纔).
    convert = opencc.OpenCC("t2s" if locale == "zh_Hans" else "s2t")
    slips = []
    for m in entries(locale):
        for s in forms(m.string):
            if "广州" in s and "廣州" in s:
                continue
            wrong = [c for c in s if "\u3400" <= c <= "\u9fff" and convert.convert(c) != c]
            if wrong:
                slips.append((m.id, s, wrong))
    assert slips == []


def test_error_titles_looked_up_at_run_time_are_in_the_catalogs():
    """web/errors.py passes TITLES through gettext at run time; unmarked_strings.py keeps them extracted."""
    from web.errors import TITLES

    for locale in CHINESE:
        translated = {m.id: m.string for m in entries(locale)}
        for title in [*TITLES.values(), "Error"]:
            assert translated.get(title), (locale, title)


# --- rendered pages -------------------------------------------------------------------------

def html(resp) -> str:
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_home_page_in_each_language(client, site):
    hant = html(client.get("/?lang=zh_Hant"))
    hans = html(client.get("/?lang=zh_Hans"))
    en = html(client.get("/?lang=en"))
    assert "檢索館藏" in hant and "嶺南文獻庫" in hant and '<html lang="zh-Hant">' in hant
    assert "检索馆藏" in hans and "岭南文献库" in hans and '<html lang="zh-Hans">' in hans
    assert "Search the collections" in en and "Lingnan Heritage Repository" in en
    assert "檢索館藏" not in en and "Search the collections" not in hant + hans


def test_staff_login_page_in_each_language(client):
    hant = html(client.get("/admin/login?lang=zh_Hant"))
    hans = html(client.get("/admin/login?lang=zh_Hans"))
    en = html(client.get("/admin/login?lang=en"))
    assert "職員登入" in hant and "用戶名稱" in hant and "密碼" in hant
    assert "工作人员登录" in hans and "用户名" in hans and "密码" in hans
    assert "Staff login" in en and "User name" in en and "Password" in en
    assert "Staff login" not in hant + hans


def test_item_page_in_each_language(client, site):
    url = f"/items/{site.published}"
    hant = html(client.get(url + "?lang=zh_Hant"))
    hans = html(client.get(url + "?lang=zh_Hans"))
    en = html(client.get(url + "?lang=en"))
    assert "關於此項目" in hant and "引用此項目" in hant
    assert "关于此条目" in hans and "引用此条目" in hans
    assert "About this item" in en and "Cite this item" in en


def test_error_page_title_is_translated(client):
    assert "找不到" in client.get("/items/987654?lang=zh_Hant").get_data(as_text=True)
    assert "Not found" in client.get("/items/987654?lang=en").get_data(as_text=True)
