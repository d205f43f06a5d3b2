"""web.i18n: which Dublin Core value a reader sees, in which script, with which lang tag."""
from __future__ import annotations

from web import i18n

MD = {
    "title": [{"value": "廣州報紙", "lang": "zh-Hant"}, {"value": "Canton papers", "lang": "en"}],
    "creator": [{"value": "陈国华", "lang": "zh-Hans"}],
    "date": [{"value": "1925", "lang": None}],
    "subject": [{"value": "報業", "lang": "zh-Hant"}, {"value": "粤语", "lang": "zh-Hans"}],
}


def test_value_in_readers_script_is_preferred():
    assert [(s.value, s.lang, s.converted) for s in i18n.dc_values(MD, "title", "zh-Hant")] == [("廣州報紙", "zh-Hant", False)]
    assert [(s.value, s.lang) for s in i18n.dc_values(MD, "title", "en")] == [("Canton papers", "en")]


def test_other_script_is_converted_with_opencc_and_retagged():
    (shown,) = i18n.dc_values(MD, "title", "zh-Hans")
    assert (shown.value, shown.lang, shown.converted) == ("广州报纸", "zh-Hans", True)
    (creator,) = i18n.dc_values(MD, "creator", "zh-Hant")
    assert (creator.value, creator.lang, creator.converted) == ("陳國華", "zh-Hant", True)


def test_english_reader_gets_the_original_chinese_when_no_english():
    (creator,) = i18n.dc_values(MD, "creator", "en")
    assert (creator.value, creator.lang, creator.converted) == ("陈国华", "zh-Hans", False)


def test_no_chinese_value_is_hidden_and_script_twins_show_once():
    both = [(s.value, s.lang) for s in i18n.dc_values(MD, "subject", "zh-Hans")]
    assert both == [("报业", "zh-Hans"), ("粤语", "zh-Hans")]
    twins = {"title": [{"value": "廣州報紙", "lang": "zh-Hant"}, {"value": "广州报纸", "lang": "zh-Hans"}]}
    assert [s.value for s in i18n.dc_values(twins, "title", "zh-Hant")] == ["廣州報紙"]
    assert [s.value for s in i18n.dc_values(twins, "title", "zh-Hans")] == ["广州报纸"]
    assert [s.value for s in i18n.dc_values(twins, "title", "en")] == ["廣州報紙", "广州报纸"]


def test_untagged_values_are_always_shown():
    assert [s.value for s in i18n.dc_values(MD, "date", "zh-Hans")] == ["1925"]
    assert i18n.dc_values(MD, "rights", "en") == []
    assert i18n.dc_values(None, "title", "en") == []


def test_cantonese_characters_survive_conversion():
    assert i18n.convert("佢哋喺度講嘢，冇咗啲嘢", "zh-Hans") == "佢哋喺度讲嘢，冇咗啲嘢"
    assert i18n.convert("广州嘅报纸", "zh-Hant") == "廣州嘅報紙"


def test_labels_and_locale_tags():
    labels = {"zh-Hant": "嶺南圖書館", "en": "Lingnan Library"}
    assert i18n.label(labels, "x", "en").value == "Lingnan Library"
    assert (i18n.label(labels, "x", "zh-Hans").value, i18n.label(labels, "x", "zh-Hans").lang) == ("岭南图书馆", "zh-Hans")
    assert i18n.label({}, "廣州報刊", "zh-Hans").value == "广州报刊"
    assert [i18n.locale_tag(x) for x in ("zh_Hant", "zh_Hans", "en", None, "xx")] == [
        "zh-Hant", "zh-Hans", "en", "zh-Hant", "zh-Hant"]


def test_heading_value_prefers_the_curators_own_script():
    md = {"title": [{"value": "嶺南風物誌", "lang": "zh-Hant"}, {"value": "岭南风物志", "lang": "zh-Hans"}]}
    assert i18n.dc_first(md, "title", "zh-Hans").value == "岭南风物志"
    assert i18n.dc_first(md, "title", "zh-Hant").value == "嶺南風物誌"
    assert i18n.dc_first({}, "title", "en") is None
